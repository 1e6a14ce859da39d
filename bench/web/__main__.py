"""``python -m bench.web --backend sqlite|postgresql [--passes 3] [--w7] [--out DIR]``.

Runs the passes one after another, writes one JSON file per pass and a summary JSON
into ``--out`` (default: a new folder under the system's temporary folder), and
prints the summary table of medians (Loom beside raw, the ratio, the target).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from bench.w3_bulk import _server_version
from bench.web.expected import Scale
from bench.web.passes import run_pass
from bench.web.report import machine, summary, table

#: Packages whose versions go into the results.
PACKAGES = ("flask", "gunicorn", "sqlalchemy", "psycopg", "werkzeug")


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="only print the table of the pass JSON files in DIR")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--w7", action="store_true", help="also grow deal to 1,000,000 rows")
    parser.add_argument("--w2", type=int, default=Scale.w2, help="W2 deals (smaller: a quick run)")
    parser.add_argument("--w3", type=int, default=Scale.w3, help="W3 deals (smaller: a quick run)")
    parser.add_argument("--w7-rows", type=int, default=Scale.w7, help="W7 deals (with --w7)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON results")
    args = parser.parse_args(argv)
    if args.report:
        passes = [json.loads(f.read_text())
                  for f in sorted(args.report.glob(f"pass-{args.backend}-*.json"))]
        print(table(summary(passes)))
        return 0
    scale = Scale(w2=args.w2, w3=args.w3, w7=args.w7_rows)
    out = args.out or Path(tempfile.mkdtemp(prefix=f"loom-bench-web-{args.backend}-"))
    out.mkdir(parents=True, exist_ok=True)
    context = {"machine": machine(), "database": _server_version(args.backend),
               "packages": _versions(), "command": " ".join(["python -m bench.web", *sys.argv[1:]])}
    passes = []
    for n in range(1, args.passes + 1):
        print(f"pass {n}/{args.passes} on {args.backend}", flush=True)
        started = time.perf_counter()
        result = run_pass(args.backend, scale, w7=args.w7,
                          log=lambda line: print(line, flush=True))
        result.update(context, pass_number=n, wall_s=round(time.perf_counter() - started, 1))
        (out / f"pass-{args.backend}-{n}.json").write_text(json.dumps(result, indent=2, default=str))
        passes.append(result)
    rows = summary(passes)
    (out / f"summary-{args.backend}.json").write_text(
        json.dumps({**context, "rows": rows, "server": passes[0].get("server")}, indent=2,
                   default=str))
    print(f"\n{args.backend}: {context['database']}; {context['machine']['cores']} cores, "
          f"{context['machine']['cpu']}; results in {out}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
