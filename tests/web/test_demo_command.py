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


def test_the_web_command_adds_serve_without_changing_the_engines_group():
    from engine.cli import demo as engine_demo
    from engine.cli import main as engine_main
    from web.cli import main

    assert "serve" in main.commands and "serve" not in engine_main.commands
    assert engine_main.commands["demo"] is engine_demo
    assert main.commands["demo"] is not engine_demo
    assert set(engine_main.commands) < set(main.commands)
