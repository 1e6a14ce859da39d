"""One clock: aware UTC time, the organisation's zone, simulated time, and bad zones."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from engine.clock import (SYSTEM_CLOCK, ConfigurationError, SimulatedClock, SystemClock,
                          clock_for_evaluation, evaluation_clock, local_time_text, zone)
from engine.config import Config

UTC = dt.timezone.utc


def test_the_system_clock_gives_aware_utc_and_utc_days_by_default():
    now = SystemClock().now()
    assert now.tzinfo is UTC and SystemClock().zone_name == "UTC"
    assert SYSTEM_CLOCK.naive_now().tzinfo is None


def test_today_and_day_start_follow_the_organisations_zone():
    clock = SimulatedClock(dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC), zone=zone("Asia/Shanghai"))
    assert clock.today() == dt.date(2026, 2, 1)
    assert clock.day_start(dt.date(2026, 2, 1)) == dt.datetime(2026, 1, 31, 16, tzinfo=UTC)
    assert clock.local(dt.datetime(2026, 1, 31, 16, 30)).strftime("%Y-%m-%d %H:%M") == \
        "2026-02-01 00:30"


def test_a_simulated_clock_is_set_and_advanced():
    clock = SimulatedClock(dt.datetime(2026, 3, 1, 12))  # naive is read as UTC
    assert clock.now() == dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert clock.advance(hours=13).today() == dt.date(2026, 3, 2)
    assert clock.set(dt.datetime(2027, 1, 1, tzinfo=UTC)).now().year == 2027


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "Asia/Shanghai'; DROP TABLE x; --", "../etc"])
def test_unknown_time_zone_is_a_configuration_error(name, monkeypatch):
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        zone(name)
    monkeypatch.setenv("LOOM_TIMEZONE", name or "Nowhere/At_All")
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        Config.from_env()


def test_loom_timezone_sets_the_configured_clocks_zone(monkeypatch):
    monkeypatch.setenv("LOOM_TIMEZONE", "Asia/Shanghai")
    assert Config.from_env().clock.zone_name == "Asia/Shanghai"
    assert Config.from_env(time_zone="Europe/Berlin").clock.zone_name == "Europe/Berlin"
    monkeypatch.delenv("LOOM_TIMEZONE")
    assert Config.from_env().clock.zone_name == "UTC"


def test_unknown_time_zone_stops_the_web_app_from_being_built(monkeypatch, tmp_path):
    from web import create_app

    monkeypatch.setenv("LOOM_TIMEZONE", "Atlantis/Capital")
    with pytest.raises(ConfigurationError, match="'Atlantis/Capital'"):
        create_app({"TESTING": True, "SECRET_KEY": "x",
                    "LOOM_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})


def test_unknown_time_zone_stops_the_command_line_with_a_message(monkeypatch, tmp_path):
    from web.cli import main

    monkeypatch.setenv("LOOM_TIMEZONE", "Atlantis/Capital")
    result = CliRunner().invoke(main, ["--database", f"sqlite:///{tmp_path / 'db'}", "check"])
    assert result.exit_code == 2
    assert "configuration error: unknown time zone 'Atlantis/Capital'" in result.output
    assert "Traceback" not in result.output


def test_the_evaluation_clock_is_set_around_a_block_and_reset_after():
    clock = SimulatedClock(dt.datetime(2030, 1, 1, tzinfo=UTC))
    with clock_for_evaluation(clock):
        assert evaluation_clock() is clock
    assert evaluation_clock() is SYSTEM_CLOCK


def test_sqlites_local_time_function_converts_stored_text():
    assert local_time_text("2026-01-31 16:30:00.000000", "Asia/Shanghai") == \
        "2026-02-01 00:30:00.000000"
    assert local_time_text("2026-07-01 12:00:00", "Europe/Berlin") == "2026-07-01 14:00:00.000000"
    assert local_time_text(None, "Asia/Shanghai") is None
    assert local_time_text("not a time", "Asia/Shanghai") is None


def test_cel_today_is_the_organisations_date_and_now_the_clocks_instant():
    from engine.rules import Environment

    env = Environment({"close_date": "timestamp"})
    at = dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)  # Feb 1, 00:30 in Shanghai
    today, now = env.compile("today()"), env.compile("now()")
    with clock_for_evaluation(SimulatedClock(at, zone=zone("Asia/Shanghai"))):
        assert today.evaluate({}) == dt.datetime(2026, 2, 1, tzinfo=UTC)
        assert now.evaluate({}) == at
    with clock_for_evaluation(SimulatedClock(at, zone=zone("America/New_York"))):
        assert today.evaluate({}) == dt.datetime(2026, 1, 31, tzinfo=UTC)


def test_an_instant_given_to_a_date_field_is_its_day_in_the_organisations_zone():
    from engine.fields import registry
    from engine.model import Field, Source, Text

    date = registry.get("date")
    f = Field(name="d", type=date, label=Text.of("D"), source=Source("<test>", ("d",)))
    with clock_for_evaluation(SimulatedClock(dt.datetime(2026, 1, 1), zone=zone("Asia/Shanghai"))):
        assert date.from_cel(f, dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC)) == dt.date(2026, 2, 1)
        assert date.from_cel(f, dt.datetime(2026, 2, 1, tzinfo=UTC)) == dt.date(2026, 2, 1)
