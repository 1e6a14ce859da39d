"""Fresh databases, Loom's system tables and an admin token, and a gunicorn server.

:class:`Databases` makes the pass's empty databases (SQLite files in a temporary
folder; PostgreSQL databases ``loom_bench``, ``loom_bench_raw`` and
``loom_bench_copy`` on the server of ``LOOM_BENCH_PG_URL``) and removes them after.
:func:`prepare_loom` runs the ``loom`` CLI as an operator would: ``migrate`` with
metadata that holds no entity (only the ``admin`` role, which ``user create --role``
needs), ``user create``, ``token create``. :class:`Server` starts gunicorn with
:data:`GUNICORN_ARGS`, waits until it answers, reads its memory from ``/proc`` and
stops it. Changes nothing outside the temporary folder and those databases.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import sqlalchemy as sa

from engine.storage.db import Database

REPO = Path(__file__).resolve().parents[2]
#: The one metadata file of a pass: the shipped admin role (no entity).
ADMIN_ROLE = REPO / "schemas" / "roles" / "admin.yaml"
#: Server holding the PostgreSQL databases of a pass (the user must be allowed to create them).
PG_ADMIN_URL = os.environ.get("LOOM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#: Names of the pass's databases: Loom's, the raw rows', the raw COPY rows'
#: (``LOOM_BENCH_PG_PREFIX`` changes the common prefix, so two runs can share a server).
_PREFIX = os.environ.get("LOOM_BENCH_PG_PREFIX", "loom_bench")
if not _PREFIX.isidentifier() or not _PREFIX.islower():
    raise SystemExit(f"LOOM_BENCH_PG_PREFIX must be a lower-case identifier, not {_PREFIX!r}")
DATABASE_NAMES = {"loom": _PREFIX, "raw": f"{_PREFIX}_raw", "copy": f"{_PREFIX}_copy"}
#: The production server: 2 processes (one per core) of 4 threads each; everything else default.
#: (``LOOM_BENCH_GUNICORN_ARGS``, split on spaces, replaces them to compare settings.)
GUNICORN_ARGS = tuple(os.environ.get("LOOM_BENCH_GUNICORN_ARGS", "").split()) or (
    "-w", "2", "--threads", "4", "-k", "gthread")
#: The app gunicorn serves.
APP = "web:create_app()"
#: The benchmark's user (an admin: W1 and W6 use the metadata API).
BENCH_USER = "bench"
#: Seconds to wait for the server to answer, and after that for its second worker to boot.
START_TIMEOUT = 60.0
SETTLE_SECONDS = 2.0
HOST = "127.0.0.1"


class Databases:
    """The pass's empty databases for ``backend``; ``url(role)`` of ``loom``, ``raw``, ``copy``."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tmp = Path(tempfile.mkdtemp(prefix="loom-bench-"))

    def url(self, role: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp / (role + '.db')}"
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE_NAMES[role]

    def _admin(self, sql: list[str]) -> None:
        engine = sa.create_engine(Database(PG_ADMIN_URL).url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in sql:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def __enter__(self) -> Self:
        if self.backend == "postgresql":
            names = DATABASE_NAMES.values()
            self._admin([f"DROP DATABASE IF EXISTS {n} WITH (FORCE)" for n in names]
                        + [f"CREATE DATABASE {n}" for n in names])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend == "postgresql":
            self._admin([f"DROP DATABASE IF EXISTS {n} WITH (FORCE)"
                         for n in DATABASE_NAMES.values()])
        shutil.rmtree(self.tmp, ignore_errors=True)


def server_env(url: str, workdir: Path) -> dict[str, str]:
    """The environment of the ``loom`` CLI and of gunicorn for one pass."""
    meta = workdir / "metadata"
    if not meta.exists():
        meta.mkdir(parents=True)
        shutil.copy(ADMIN_ROLE, meta / ADMIN_ROLE.name)
    env = dict(os.environ)
    env.update({
        "LOOM_DATABASE_URL": url,
        "LOOM_METADATA_DIRS": str(meta),
        "LOOM_INSTANCE_DIR": str(workdir / "instance"),
        "LOOM_SECRET_KEY": secrets.token_hex(32),
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    return env


def loom_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``loom ARGS`` (``python -m web.cli``); its standard output, or an error naming it."""
    done = subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"loom {' '.join(args)} exited {done.returncode}:\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare_loom(env: dict[str, str]) -> str:
    """Migrate the system tables, create the admin user; its new API token."""
    loom_cli(env, "migrate")
    loom_cli(env, "user", "create", BENCH_USER, "--password-stdin", "--role", "admin",
             stdin=secrets.token_urlsafe(24) + "\n")
    return loom_cli(env, "token", "create", BENCH_USER, "--name", "bench").strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving Loom on a free port of 127.0.0.1 until :meth:`stop`."""

    def __init__(self, env: dict[str, str], workdir: Path, args: tuple[str, ...] = GUNICORN_ARGS):
        self.port = free_port()
        self.command = [str(Path(sys.executable).parent / "gunicorn"), *args,
                        "-b", f"{HOST}:{self.port}", APP]
        self.log_path = workdir / "gunicorn.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.command, cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self) -> None:
        import http.client

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}: {self.log()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request("GET", "/login")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException):
                status = None
            finally:
                conn.close()
            if status is not None and status < 500 and len(self.workers()) >= 2:
                time.sleep(SETTLE_SECONDS)
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT} s: {self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def workers(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def memory(self) -> dict:
        """VmRSS and VmHWM (MiB) of the master and each worker."""
        return {"master": _status(self.proc.pid),
                "workers": [{"pid": pid, **_status(pid)} for pid in self.workers()]}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _status(pid: int) -> dict:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        pass
    return values
