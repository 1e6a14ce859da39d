"""The ``loom`` command: the engine's commands plus ``serve``, and ``demo`` that serves.

The engine's CLI (the :mod:`engine.cli` package) knows nothing of the web; this module adds the
commands that need it to a copy of the engine's group, so the import direction stays
web -> engine and importing this module changes nothing of the engine's own group (whose
``demo`` sets up without serving).
"""

from __future__ import annotations

import copy
import os
import sys

import click

from engine.cli import demo as engine_demo
from engine.cli import main as engine_main
from engine.cli.common import fail

#: The engine's group with the web's commands; the engine's group keeps its own commands.
main = copy.copy(engine_main)
main.commands = dict(engine_main.commands)

#: Where ``loom serve`` and ``loom demo`` listen unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


def _app(obj):  # noqa: ANN001, ANN202
    from web import create_app

    return create_app({"LOOM_DATABASE_URL": obj.config.database_url,
                       "LOOM_METADATA_DIRS": os.pathsep.join(str(d) for d in obj.config.metadata_dirs),
                       "LOOM_TIMEZONE": obj.config.clock.zone_name})


def _start_automation(obj) -> None:  # noqa: ANN001
    """Start a ``loom worker`` process for this command (and, when ``LOOM_REDIS_URL`` is
    unset, the embedded Redis it shares); both end when this command ends."""
    import atexit
    import subprocess
    import tempfile
    from pathlib import Path

    url = os.environ.get("LOOM_REDIS_URL")
    server = None
    if not url:
        from engine.automation.embedded import EmbeddedRedisUnavailable, start_embedded_redis

        try:
            server = start_embedded_redis(Path(tempfile.mkdtemp(prefix="loom-redis-")))
        except EmbeddedRedisUnavailable as exc:
            click.secho(f"workflows will not run: {exc}", fg="yellow")
            return
        url = server.url
    env = dict(os.environ, LOOM_REDIS_URL=url, LOOM_DATABASE_URL=obj.config.database_url,
               LOOM_METADATA_DIRS=os.pathsep.join(str(d) for d in obj.config.metadata_dirs),
               LOOM_TIMEZONE=obj.config.clock.zone_name)
    import threading

    command = [sys.executable, "-m", "web.cli", "worker", "--scheduler-interval", "10"]
    state = {"process": subprocess.Popen(command, env=env), "stopping": False}

    def watch() -> None:
        """Start the worker again if it ends while the server runs (at most every 5 s)."""
        while not state["stopping"]:
            code = state["process"].wait()
            if state["stopping"]:
                return
            click.secho(f"workflows: the worker ended (exit code {code}); starting it again",
                        fg="yellow", err=True)
            threading.Event().wait(5)
            if not state["stopping"]:
                state["process"] = subprocess.Popen(command, env=env)

    def stop() -> None:
        state["stopping"] = True
        process = state["process"]
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if server is not None:
            server.stop()

    threading.Thread(target=watch, name="loom-worker-watch", daemon=True).start()
    atexit.register(stop)
    # A service manager stops the server with SIGTERM: exit normally, so the worker and the
    # embedded Redis stop too.
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    where = "an embedded Redis" if server is not None else url.split("@")[-1]
    click.echo(f"workflows: a worker process (pid {state['process'].pid}) on {where}")


def _run(app, host: str, port: int) -> None:  # noqa: ANN001
    import errno
    import socket

    from werkzeug.serving import run_simple

    # Werkzeug reports a busy port on stderr and exits without saying how to choose another.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the server binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            fail(f"port {port} on {host} is in use: choose another with --port, "
                 f"e.g. --port {port + 1} (and --host for another address)", 2)
    click.secho(f"Loom is serving on http://{host}:{port}/  (Ctrl+C stops it)", fg="green")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Do not start a workflow worker with the server.")
@click.pass_obj
def serve(obj, host: str, port: int, no_worker: bool) -> None:  # noqa: ANN001
    """Serve Loom with the development server and a workflow worker (production: gunicorn
    and `loom worker` processes, see docs/operations.md)."""
    app = _app(obj)
    if not no_worker:
        _start_automation(obj)
    _run(app, host, port)


@main.command("demo")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Size of the demo data (1.0 is about 120,000 rows).")
@click.option("--fresh", is_flag=True, help="Delete the SQLite demo database first.")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, print the logins, do not serve.")
@click.option("--no-worker", is_flag=True, help="Do not start a workflow worker with the server.")
@click.pass_context
def demo(ctx: click.Context, scale: float, fresh: bool, host: str, port: int, no_serve: bool,
         no_worker: bool) -> None:
    """Check, migrate and seed the demo CRM, create its users, and serve it."""
    from engine.demo.users import DEMO_PASSWORD, create_demo_users, demo_logins
    from engine.storage.tables import build_tables

    obj = ctx.obj
    ctx.invoke(engine_demo, scale=scale, fresh=fresh)
    create_demo_users(obj.db, build_tables(obj.model), clock=obj.config.clock)
    click.echo(f"time zone: {obj.config.clock.zone_name}")
    click.echo("")
    click.secho("Demo logins (password for every demo user: %s)" % DEMO_PASSWORD, bold=True)
    for username, display, role, team in demo_logins():
        click.echo(f"  {username:<9} {display:<6}  role {role}" + (f", team {team}" if team else ""))
    if no_serve:
        return
    click.echo("")
    app = _app(obj)
    if not no_worker:
        _start_automation(obj)
    _run(app, host, port)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
