"""The pipeline board in a browser at 1,366 x 768: drag a card, move one with the keyboard,
a refused move snapping back with the rule's message; and "Closed at" filled with now
when the stage makes it required."""

from __future__ import annotations

import re

import pytest

from engine.records import Actor
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1366, 768
#: A word in the titles of this module's deals: the board is filtered down to them.
MARK = "Kanbanprobe"
BOARD = f"/r/deal/board?q={MARK}"


@pytest.fixture(scope="module")
def deals(live_server) -> dict[str, int]:
    """Three deals of sales1 in "Qualified": two to move, one whose move to Won breaks a rule."""
    rt = live_server.app.extensions["loom"].current
    from engine import accounts

    sales1 = accounts.find_user(rt.db, rt.tables, "sales1")
    system = Actor.system()
    account = rt.service.list(system, "account", limit=1, sort=["id"], filter=[
        {"field": "owner", "op": "eq", "value": sales1["id"]}]).rows[0]["id"]
    out = {}
    for key, amount in (("drag", "1200.00"), ("keys", "3400.00"), ("zero", "0.00")):
        out[key] = rt.service.create(system, "deal", {
            "title": f"{MARK} {key}", "account": account, "stage": "qualified",
            "amount": amount, "owner": sales1["id"]})["id"]
    return out


def _stage(live_server, deal_id: int) -> str:
    rt = live_server.app.extensions["loom"].current
    return rt.service.get(Actor.system(), "deal", deal_id)["stage"]


def _card(page, deal_id: int):
    return page.locator(f'[data-card][data-id="{deal_id}"]')


def _column(page, value: str):
    return page.locator(f'[data-board-column="{value}"]')


def _open(page, signed_in):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    signed_in("sales1", start=BOARD)
    page.locator("[data-board][data-board-ready]").wait_for()  # board.js attached


def _drag(page, card, target) -> None:
    """Press on the card, move over the target column in steps, release (as a hand would)."""
    box, goal = card.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)  # the card's edge, not its link or form
    page.mouse.down()
    page.mouse.move(box["x"] + 25, box["y"] + 25, steps=4)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 30, steps=12)
    page.mouse.up()


def test_a_card_dragged_to_another_column_moves_the_deal(page, signed_in, live_server, deals):
    from playwright.sync_api import expect

    _open(page, signed_in)
    card = _card(page, deals["drag"])
    expect(_column(page, "qualified").locator(f'[data-id="{deals["drag"]}"]')).to_have_count(1)
    before = page.locator('[data-column="proposal"] [data-count]').inner_text()
    _drag(page, card, _column(page, "proposal"))
    expect(page.get_by_test_id("board-message")).to_contain_text("Moved to Proposal")
    expect(_column(page, "proposal").locator(f'[data-id="{deals["drag"]}"]')).to_have_count(1)
    expect(page.locator('[data-column="proposal"] [data-count]')).to_have_text(str(int(before) + 1))
    assert _stage(live_server, deals["drag"]) == "proposal"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "board-1366x768.png"))


def test_the_move_to_form_moves_a_card_with_the_keyboard_alone(page, signed_in, live_server,
                                                                deals):
    from playwright.sync_api import expect

    _open(page, signed_in)
    select = _card(page, deals["keys"]).get_by_test_id("move-to")
    select.focus()
    select.select_option("negotiation")
    page.keyboard.press("Tab")  # to the card's Move button
    expect(_card(page, deals["keys"]).get_by_test_id("move")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("board-message")).to_contain_text("Moved to Negotiation")
    expect(_column(page, "negotiation").locator(f'[data-id="{deals["keys"]}"]')).to_have_count(1)
    assert _stage(live_server, deals["keys"]) == "negotiation"


def test_a_move_that_breaks_a_rule_snaps_back_with_its_message(page, page_watch, signed_in,
                                                               live_server, deals):
    from playwright.sync_api import expect

    page_watch.expect_status("/r/deal/board/move", 422)  # the refusal, answered as JSON
    _open(page, signed_in)
    card = _card(page, deals["zero"])
    _drag(page, card, _column(page, "won"))
    expect(page.get_by_test_id("board-message")).to_contain_text(
        "A won deal needs an amount above zero.")
    expect(_column(page, "qualified").locator(f'[data-id="{deals["zero"]}"]')).to_have_count(1)
    expect(_column(page, "won").locator(f'[data-id="{deals["zero"]}"]')).to_have_count(0)
    assert _stage(live_server, deals["zero"]) == "qualified"


def test_choosing_won_fills_closed_at_with_now_in_the_users_zone(page, signed_in, deals):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    signed_in("sales1", start=f"/r/deal/{deals['keys']}/edit")
    closed = page.locator('input[name="closed_at"]')
    assert closed.input_value() == ""
    page.locator('select[name="stage"]').select_option("won")
    expect(closed).to_have_value(re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d"))
    zone = page.locator('[data-loom-field="closed_at"] [data-zone]').inner_text().strip()
    expected = page.evaluate(
        """zone => new Intl.DateTimeFormat("en-CA", {timeZone: zone, year: "numeric",
             month: "2-digit", day: "2-digit"}).format(new Date())""", zone)
    assert closed.input_value().startswith(expected)
