"""Rule evaluation throughput: a 3-clause CEL rule over deal records.

Prints Loom's figure (compiled CEL, bound the way the record service binds a
record) beside the same condition as a plain Python function, from the same
run. Target: >= 100,000 evaluations per second.

    python bench/rules_eval.py [--n 200000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from decimal import Decimal

from engine.compiler import compile_documents
from engine.spec import MemorySource

SPEC = {
    "entity": "deal",
    "label": "Deal",
    "fields": [
        {"name": "title", "type": "string", "required": True},
        {"name": "amount", "type": "decimal", "precision": 12, "scale": 2, "min": 0},
        {"name": "stage", "type": "select",
         "options": [{"value": v} for v in ("lead", "qualified", "proposal", "won", "lost")]},
        {"name": "probability", "type": "integer", "min": 0, "max": 100},
    ],
    "rules": [{"name": "won_is_certain",
               "assert": "stage != 'won' || (amount > 0.0 && probability == 100)",
               "message": "A won deal needs an amount and 100% probability"}],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    errors: list = []
    model = compile_documents(MemorySource(SPEC).documents(errors), errors)
    entity = model.entity("deal")
    rule = entity.rules[0]
    rng = random.Random(20260101)
    stages = ["lead", "qualified", "proposal", "won", "lost"]
    records = [{"amount": Decimal(rng.randint(0, 10**6)) / 100, "stage": rng.choice(stages),
                "probability": rng.randint(0, 100)} for _ in range(1000)]
    fields = {f.name: f for f in entity.fields}
    bindings = [{k: fields[k].type.to_cel(fields[k], v) for k, v in r.items()} for r in records]

    def plain(b: dict) -> bool:
        return b["stage"] != "won" or (b["amount"] > 0.0 and b["probability"] == 100)

    def run(fn) -> float:
        started = time.perf_counter()
        for i in range(args.n):
            fn(bindings[i % 1000])
        return args.n / (time.perf_counter() - started)

    # Same answers from both, or the figure means nothing.
    assert all(rule.assert_.holds(b) == plain(b) for b in bindings)
    loom = run(rule.assert_.holds)
    python = run(plain)
    result = {"bench": "rule_evaluation", "n": args.n, "rule": rule.assert_.source,
              "loom_evals_per_s": round(loom), "plain_python_evals_per_s": round(python),
              "ratio": round(loom / python, 3), "python": platform.python_version(),
              "machine": platform.machine()}
    print(json.dumps(result, indent=2))
    print(f"Loom CEL: {loom:,.0f} evals/s   plain Python: {python:,.0f} evals/s   "
          f"ratio {loom / python:.2f}   target >= 100,000 evals/s")


if __name__ == "__main__":
    main()
