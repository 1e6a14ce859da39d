"""``loom demo``: the demo company's clock is Asia/Shanghai unless LOOM_TIMEZONE says otherwise."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.mark.slow
@pytest.mark.parametrize(("env", "shown"), [(None, "Asia/Shanghai"), ("Europe/Berlin", "Europe/Berlin")])
def test_the_demo_uses_shanghai_time_unless_loom_timezone_is_set(tmp_path, monkeypatch, env, shown):
    # Imported here, not at collection: importing web.cli puts the serving `demo` on the
    # engine's command group, which tests of the engine's CLI must not get.
    from web.cli import main

    if env is None:
        monkeypatch.delenv("LOOM_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("LOOM_TIMEZONE", env)
    result = CliRunner().invoke(main, ["--database", f"sqlite:///{tmp_path / 'demo.db'}", "demo",
                                       "--scale", "0.005", "--no-serve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"time zone: {shown}" in result.output
