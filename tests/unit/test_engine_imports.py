"""The engine package imports no Flask and does no work at import time."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import engine


def engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))


def test_importing_every_engine_module_loads_no_flask_and_opens_no_database(tmp_path):
    code = (
        "import importlib, sys\n"
        f"for name in {engine_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'flask' not in sys.modules, 'flask imported'\n"
        "import sqlalchemy.pool\n"
        "print('ok')\n"
    )
    # Run in an empty folder: importing must not create ./instance/loom.db or anything else.
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, env={"PATH": "", "PYTHONPATH": ":".join(sys.path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []
