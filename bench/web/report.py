"""Medians over passes, and the summary table: Loom beside raw, the ratio, the target.

:func:`summary` turns the pass dicts of one backend into rows of (metric, Loom median,
Loom values, raw median, raw values, ratio, target); :func:`table` prints them as
Markdown (the form bench/README.md keeps). Pure functions of the pass results.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: (metric, path in "loom", path in "raw", ratio direction, target text).
#: Ratio "rate" = Loom / raw (higher is better); "time" = Loom / raw (lower is better).
METRICS: tuple[tuple[str, str | None, str | None, str | None, str], ...] = (
    ("W1 define entities (s)", "W1.seconds", None, None, "—"),
    ("S0 1,000 accounts, bulk (s)", "S0.seconds", None, None, "info"),
    ("W2 one-by-one creates (req/s)", "W2.req_per_s", None, None, "≥ 500 req/s"),
    ("W2 errors (of 5,000; re-sent untimed)", "W2.errors", None, None, "0"),
    ("W2 latency p50 (ms)", "W2.p50_ms", None, None, "—"),
    ("W2 latency p99 (ms)", "W2.p99_ms", None, None, "—"),
    ("W3 bulk create (rows/s)", "W3.rows_per_s", "W3_core.rows_per_s", "rate", "≥ 0.50 of raw Core"),
    ("W3 raw COPY (rows/s)", None, "W3_copy.rows_per_s", None, "info"),
    ("W4 list p50 (ms)", "W4.p50_ms", "W4.p50_ms", "time", "≤ 1.2× raw"),
    ("W4 list p90 (ms)", "W4.p90_ms", "W4.p90_ms", "time", "—"),
    ("W4 list p99 (ms)", "W4.p99_ms", "W4.p99_ms", "time", "—"),
    ("W5 aggregate p50 (ms)", "W5.p50_ms", "W5.p50_ms", "time", "≤ 1.2× raw"),
    ("W6 add field (s)", "W6.seconds", "W6.seconds", "time", "≤ 0.05 s"),
    ("W6 first query (s)", "W6.first_query_s", "W6.first_query_s", "time", "info"),
    ("W7 list p50 at 1 M rows (ms)", "W7_W4.p50_ms", "W7_W4.p50_ms", "time", "—"),
    ("W7 aggregate p50 at 1 M rows (ms)", "W7_W5.p50_ms", "W7_W5.p50_ms", "time", "—"),
)


def _get(data: dict, path: str | None) -> Any:
    if path is None:
        return None
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _values(passes: list[dict], side: str, path: str | None) -> list[float]:
    return [v for v in (_get(p[side], path) for p in passes) if v is not None]


def summary(passes: list[dict]) -> list[dict[str, Any]]:
    rows = []
    for name, loom_path, raw_path, ratio, target in METRICS:
        loom = _values(passes, "loom", loom_path)
        raw = _values(passes, "raw", raw_path)
        if not loom and not raw:
            continue
        row = {"metric": name, "loom": loom, "raw": raw, "target": target,
               "loom_median": statistics.median(loom) if loom else None,
               "raw_median": statistics.median(raw) if raw else None, "ratio": None}
        if ratio and loom and raw and row["raw_median"]:
            row["ratio"] = round(row["loom_median"] / row["raw_median"], 2)
        rows.append(row)
    failed = [p["loom"]["W6"]["check_failed"] for p in passes
              if "check_failed" in p["loom"].get("W6", {})]
    for row in rows:
        if failed and row["metric"].startswith("W6 add field"):
            row["target"] += f" — CHECK FAILED in {len(failed)} of {len(passes)}: {failed[0]}"
    peaks = [p["peak_rss"] for p in passes if "peak_rss" in p]
    if peaks:
        for who in ("worker_mib", "master_mib"):
            values = [p[who] for p in peaks]
            rows.append({"metric": f"peak RSS (VmHWM) per {who.split('_')[0]} (MiB)",
                         "loom": values, "raw": [], "loom_median": statistics.median(values),
                         "raw_median": None, "ratio": None, "target": "≤ 150 MiB"})
    return rows


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == int(value) and abs(value) < 100:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def table(rows: list[dict[str, Any]], fmt: Callable[[float | None], str] = _fmt) -> str:
    lines = ["| metric | Loom median (all passes) | raw median (all passes) | Loom/raw | target |",
             "|---|---|---|---|---|"]
    for r in rows:
        def cell(median: float | None, values: list[float]) -> str:
            if median is None:
                return "—"
            return f"{fmt(median)} ({' · '.join(fmt(v) for v in values)})"

        lines.append(f"| {r['metric']} | {cell(r['loom_median'], r['loom'])} | "
                     f"{cell(r['raw_median'], r['raw'])} | "
                     f"{'—' if r['ratio'] is None else r['ratio']} | {r['target']} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """Cores, memory, CPU model, kernel, Python: the figures' context."""
    cpu, mem_kb = "", 0
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
        mem_kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    return {"cores": str(os.cpu_count()), "memory_gib": f"{mem_kb / 1024 / 1024:.1f}", "cpu": cpu,
            "kernel": platform.release(), "os": platform.platform(), "python": platform.python_version(),
            "git": _git()}


def _git() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()
    except OSError:
        return ""
