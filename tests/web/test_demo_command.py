"""``loom demo``: the demo company's clock is Asia/Shanghai unless LOOM_TIMEZONE says otherwise."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.mark.slow
@pytest.mark.parametrize(("env", "shown"), [(None, "Asia/Shanghai"), ("Europe/Berlin", "Europe/Berlin")])
def test_the_demo_uses_shanghai_time_unless_loom_timezone_is_set(tmp_path, monkeypatch, env, shown):
    from web.cli import main

    if env is None:
        monkeypatch.delenv("LOOM_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("LOOM_TIMEZONE", env)
    result = CliRunner().invoke(main, ["--database", f"sqlite:///{tmp_path / 'demo.db'}", "demo",
                                       "--scale", "0.005", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"time zone: {shown}" in result.output
    from engine.demo.users import demo_logins

    logins = [line.split()[0] for line in result.output.splitlines() if "  role " in line]
    assert logins == [username for username, *_ in demo_logins()] and len(logins) == 11


def test_the_web_command_adds_serve_without_changing_the_engines_group():
    from engine.cli import demo as engine_demo
    from engine.cli import main as engine_main
    from web.cli import main

    assert "serve" in main.commands and "serve" not in engine_main.commands
    assert engine_main.commands["demo"] is engine_demo
    assert main.commands["demo"] is not engine_demo
    assert set(engine_main.commands) < set(main.commands)


def test_a_busy_port_names_the_option_to_choose_another(capsys):
    import socket

    from web.cli import _run

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            _run(object(), "127.0.0.1", port)  # never served: the port check comes first
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert f"port {port}" in message and "--port" in message and "in use" in message
