"""The web benchmark harness runs end to end on a tiny scale and every correctness check holds.

A real pass: empty SQLite database, ``loom migrate`` / ``user create`` / ``token create``,
a gunicorn server, W1-W6 over HTTP and the raw rows (W4 and W5 alternating with the raw
queries). No timing is asserted.
"""

from __future__ import annotations

import pytest

from bench.web.expected import PassData, Scale
from bench.web.passes import run_pass
from bench.web.report import summary, table

#: Small enough for a test, large enough for several W4 pages, two W3 batches and 4 clients.
TINY = Scale(w2=40, w3=400, w7=0, batch=200, clients=4)


@pytest.fixture(scope="module")
def tiny_pass():
    return run_pass("sqlite", TINY, log=lambda line: None)


def test_tiny_pass_creates_every_deal_and_answers_w4_and_w5_right(tiny_pass):
    expected = PassData(TINY).answers
    assert tiny_pass["expected"] == {"deals": 440, "w4_total": expected.w4_total}
    assert tiny_pass["loom"]["W3"]["rows"] == 400
    # W4 and W5 raise inside the pass on a wrong total, row, order or sum; here they ran.
    assert set(tiny_pass["loom"]) >= {"W1", "S0", "W2", "W3", "W4", "W5", "W6"}
    assert set(tiny_pass["raw"]) >= {"W3_core", "W4", "W5", "W6"}
    # W4 and W5 come out of the same alternating loop: percentiles on both sides.
    for step in ("W4", "W5"):
        for side in ("loom", "raw"):
            figures = tiny_pass[side][step]
            assert set(figures) == {"p50_ms", "p90_ms", "p99_ms"}, (side, step, figures)
            assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"]


def test_one_by_one_creates_succeed_from_concurrent_clients(tiny_pass):
    w2 = tiny_pass["loom"]["W2"]
    assert w2["requests"] == 40
    assert w2["errors"] == 0, w2["first_errors"]


def test_added_field_default_counts_every_existing_deal(tiny_pass):
    assert "check_failed" not in tiny_pass["loom"]["W6"], tiny_pass["loom"]["W6"]


def test_server_memory_is_read_after_every_step(tiny_pass):
    memory = tiny_pass["memory"]
    assert {"start", "W1", "W2", "W3", "W4", "W5", "W6", "end"} <= set(memory)
    assert len(memory["end"]["workers"]) == 2
    assert tiny_pass["peak_rss"]["worker_mib"] > 0


def test_summary_puts_loom_beside_raw_with_a_ratio(tiny_pass):
    rows = {r["metric"]: r for r in summary([tiny_pass])}
    w3 = rows["W3 bulk create (rows/s)"]
    assert w3["loom_median"] and w3["raw_median"] and w3["ratio"] is not None
    for metric in ("W4 list p50 (ms)", "W5 aggregate p50 (ms)"):
        assert rows[metric]["ratio"] is not None, rows[metric]
    assert "| W4 list p50 (ms) |" in table(list(rows.values()))
