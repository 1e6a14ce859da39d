"""The shared CRM workload (W1-W7) against a running Loom, beside the raw database.

One pass (:func:`bench.web.passes.run_pass`): an empty database, Loom's system tables
from ``loom migrate`` with metadata that holds no entity (only the ``admin`` role),
an admin user and token from the ``loom`` CLI, a fresh gunicorn server, then the
workload's steps over HTTP (:mod:`bench.web.loom_steps`) and the same work straight on
another database of the same server with SQLAlchemy Core (:mod:`bench.web.raw`). Every
timed request is checked against answers computed from the generated rows
(:mod:`bench.web.expected`); a wrong answer stops the pass.

    python -m bench.web --backend sqlite|postgresql [--passes 3] [--w7]

Nothing here runs at import time; nothing here is a test (tests/bench runs it small).
"""
