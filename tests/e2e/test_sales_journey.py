"""A salesperson's day in a real browser: log in, browse deals, create one, break a rule,
watch a conditional field appear, switch to Chinese, log out.

Selectors follow the templates' stable hooks: ``data-testid``, ``name``, ``data-entity``,
``data-loom-field`` / ``data-error-for`` (records/form.html), ``data-column`` / ``data-filter``
(records/list.html). Every test ends by checking that no request left the live server and
that the page logged no console error (``page_watch``).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import expect

from tests.e2e.support import log_in, use_language

pytestmark = pytest.mark.e2e

#: The salesperson of the journey; the language test uses another one (languages persist).
SALES = "sales1"
LANGUAGE_USER = "sales2"
#: The message of the ``won_needs_amount`` rule in schemas/deal.yaml.
WON_NEEDS_AMOUNT = "A won deal needs an amount above zero."
#: A title a careless page would run as a script.
HOSTILE_TITLE = 'E2E hostile <img src=x onerror="window.loomPwned=1"><script>window.loomPwned=2</script>'
#: A moment for datetime-local inputs (``closed_at``).
CLOSED_AT = "2026-11-20T10:30"


def open_from_nav(page, entity: str) -> None:
    page.get_by_test_id("nav").locator(f'a[data-entity="{entity}"]').click()
    page.wait_for_url(re.compile(rf"/r/{entity}(\?.*)?$"))


def column_texts(page, column: str) -> list[str]:
    """The shown text of ``column`` in every row of the records table."""
    return page.get_by_test_id("records-table").evaluate(
        """(table, column) => {
             const heads = Array.from(table.querySelectorAll("thead th"));
             const index = heads.findIndex(th => th.dataset.column === column);
             if (index < 0) throw new Error("no column " + column);
             return Array.from(table.querySelectorAll("tbody tr[data-id]"),
                               tr => tr.children[index].textContent.trim());
           }""", column)


def first_account_name(page) -> str:
    """The name of an account the user can read (the first row of the accounts list)."""
    if not page.url.endswith("/r/account"):
        page.goto("/r/account")
    names = column_texts(page, "name")
    assert names, "the demo data gives the salesperson accounts"
    return names[0]


def field(page, name: str):
    """The wrapper of one field in the record form."""
    return page.get_by_test_id("record-form").locator(f'[data-loom-field="{name}"]')


def choose_related(page, name: str, text: str) -> None:
    """Pick ``text`` in the typeahead of relation field ``name``."""
    wrapper = field(page, name)
    wrapper.locator("[data-loom-typeahead-input]").fill(text[:12])
    wrapper.locator("[data-loom-typeahead-menu]").get_by_role("option", name=text, exact=True).click()
    expect(wrapper.locator("[data-loom-typeahead-id]")).not_to_have_value("")


def fill_new_deal(page, title: str, account: str, *, stage: str = "lead") -> None:
    """Fill the open new-deal form's title, customer (typeahead) and stage."""
    form = page.get_by_test_id("record-form")
    form.locator("input[name=title]").fill(title)
    choose_related(page, "account", account)
    form.locator("select[name=stage]").select_option(stage)


def create_deal(page, title: str, account: str) -> str:
    """Create a deal in stage "lead" through the form; the URL of its page."""
    page.goto("/r/deal/new")
    fill_new_deal(page, title, account)
    page.get_by_test_id("save").click()
    page.wait_for_url(re.compile(r"/r/deal/\d+$"))
    return page.url


def test_logging_in_shows_the_entities_and_logging_out_returns_to_login(page, page_watch):
    log_in(page, SALES)
    use_language(page, "en")
    entities = page.get_by_test_id("nav").locator("a[data-entity]").evaluate_all(
        "links => links.map(a => a.dataset.entity)")
    assert {"account", "contact", "deal"} <= set(entities)
    assert page.get_by_test_id("nav").locator('a[href^="/admin"]').count() == 0  # not an admin
    open_from_nav(page, "deal")
    assert page.get_by_test_id("page-title").inner_text() == "Deals"

    page.get_by_test_id("logout").click()
    page.wait_for_url(re.compile(r"/login(\?.*)?$"))
    assert page.get_by_test_id("login-form").is_visible()
    assert page.get_by_test_id("logout").count() == 0
    page.goto("/r/deal")  # the session is gone
    page.wait_for_url(re.compile(r"/login\?"))
    page_watch.assert_clean()


def test_filtering_deals_by_stage_shows_only_deals_in_that_stage(page, page_watch, signed_in):
    signed_in(SALES)
    open_from_nav(page, "deal")
    stages = Counter(column_texts(page, "stage"))
    assert len(stages) > 1, "the demo data gives the salesperson deals in several stages"
    stage, _ = stages.most_common(1)[0]
    total = page.get_by_test_id("total").inner_text()

    choice = page.get_by_test_id("filters").locator('[data-filter="stage"] select')
    choice.select_option(label=stage)
    page.get_by_test_id("filters").locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"[?&]f\.stage="))

    shown = column_texts(page, "stage")
    assert shown and set(shown) == {stage}
    assert choice.evaluate("select => select.selectedOptions[0].text") == stage  # kept
    assert page.get_by_test_id("total").inner_text() != total
    page_watch.assert_clean()


def test_filtering_deals_by_a_customer_chosen_in_the_typeahead(page, page_watch, signed_in):
    signed_in(SALES)
    open_from_nav(page, "deal")
    account = column_texts(page, "account")[0]  # a customer with at least one deal
    box = page.get_by_test_id("filters").locator('[data-filter="account"]')
    box.locator("[data-loom-typeahead-input]").fill(account[:12])
    box.locator("[data-loom-typeahead-menu]").get_by_role("option", name=account, exact=True).click()
    expect(box.locator("[data-loom-typeahead-id]")).not_to_have_value("")
    page.get_by_test_id("filters").locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"[?&]f\.account=\d+"))

    shown = column_texts(page, "account")
    assert shown and set(shown) == {account}
    filtered = page.get_by_test_id("filters").locator('[data-filter="account"]')
    expect(filtered.locator("[data-loom-typeahead-input]")).to_have_value(account)  # the name, not the id
    page_watch.assert_clean()


def test_a_deal_created_through_the_form_lands_on_its_page(page, page_watch, signed_in):
    signed_in(SALES, start="/r/account")
    account = first_account_name(page)
    open_from_nav(page, "deal")
    page.get_by_test_id("new-record").click()
    page.wait_for_url("**/r/deal/new")
    assert page.get_by_test_id("page-title").inner_text() == "New Deal"
    fill_new_deal(page, "E2E new deal", account, stage="qualified")
    field(page, "amount").locator("input").fill("1200")
    page.get_by_test_id("save").click()

    page.wait_for_url(re.compile(r"/r/deal/\d+$"))
    assert page.get_by_test_id("record-title").inner_text() == "E2E new deal"
    assert page.locator('[data-field="account"] dd').inner_text() == account
    assert page.locator('[data-field="stage"] dd').inner_text() == "Qualified"
    page_watch.assert_clean()


def test_a_broken_rule_is_shown_next_to_its_field_and_keeps_the_input(page, page_watch, signed_in):
    signed_in(SALES, start="/r/account")
    account = first_account_name(page)
    page.goto("/r/deal/new")
    fill_new_deal(page, "E2E won for nothing", account, stage="won")
    field(page, "amount").locator("input").fill("0")
    field(page, "closed_at").locator("input").fill(CLOSED_AT)
    page_watch.expect_status("/r/deal/new", 422)
    with page.expect_navigation() as navigation:
        page.get_by_test_id("save").click()

    assert navigation.value.status == 422
    assert page.url.endswith("/r/deal/new")
    amount = field(page, "amount")
    assert amount.locator('[data-error-for="amount"]').inner_text() == WON_NEEDS_AMOUNT
    assert amount.locator("input").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-error-for]").count() == 1
    assert page.locator("input[name=title]").input_value() == "E2E won for nothing"
    expect(page.locator("select[name=stage]")).to_have_value("won")
    expect(field(page, "account").locator("[data-loom-typeahead-input]")).to_have_value(account)
    expect(field(page, "closed_at")).to_be_visible()
    page_watch.assert_clean()


def test_choosing_lost_reveals_the_loss_reason_and_makes_it_required(page, page_watch, signed_in):
    signed_in(SALES, start="/r/account")
    account = first_account_name(page)
    page.goto("/r/deal/new")
    fill_new_deal(page, "E2E lost deal", account)
    stage = page.locator("select[name=stage]")
    reason = field(page, "loss_reason")
    control, label = reason.locator("select[name=loss_reason]"), reason.locator("label").first
    required = reason.locator("select[name=loss_reason][required]")
    expect(reason).to_be_hidden()
    expect(required).to_have_count(0)

    stage.select_option("lost")
    expect(reason).to_be_visible()
    expect(required).to_have_count(1)
    expect(label).to_contain_class("loom-required")

    stage.select_option("proposal")  # another stage hides it again, and it is not required
    expect(reason).to_be_hidden()
    expect(required).to_have_count(0)
    expect(label).not_to_contain_class("loom-required")

    stage.select_option("lost")
    field(page, "closed_at").locator("input").fill(CLOSED_AT)
    page.get_by_test_id("save").click()  # the browser refuses: no loss reason yet
    assert page.url.endswith("/r/deal/new")
    assert control.evaluate("select => select.validity.valueMissing")

    control.select_option("competitor")
    page.get_by_test_id("save").click()
    page.wait_for_url(re.compile(r"/r/deal/\d+$"))
    assert page.locator('[data-field="stage"] dd').inner_text() == "Lost"
    assert page.locator('[data-field="loss_reason"] dd').inner_text() == "Lost to a competitor"
    page_watch.assert_clean()


def test_switching_to_chinese_shows_chinese_labels(page, page_watch, signed_in):
    signed_in(LANGUAGE_USER, lang="en", start="/r/deal/new")
    nav = page.get_by_test_id("nav")
    assert nav.locator('a[data-entity="deal"]').inner_text() == "Deals"
    assert field(page, "title").locator("label").inner_text() == "Deal name"
    english_logout = page.get_by_test_id("logout").inner_text()

    use_language(page, "zh-CN")
    assert page.url.endswith("/r/deal/new")  # back where the user was
    assert nav.locator('a[data-entity="deal"]').inner_text() == "商机"
    assert nav.locator('a[data-entity="account"]').inner_text() == "客户"
    assert field(page, "title").locator("label").inner_text() == "商机名称"
    assert field(page, "stage").locator("label").inner_text() == "销售阶段"
    assert page.locator("select[name=stage] option[value=lost]").inner_text() == "输单"
    assert page.get_by_test_id("logout").inner_text() != english_logout  # the UI's own texts too

    page.goto("/r/deal")  # the choice sticks for the next pages
    assert page.get_by_test_id("page-title").inner_text() == "商机"
    page_watch.assert_clean()


def test_editing_a_deal_keeps_its_values_and_records_the_change(page, page_watch, signed_in):
    signed_in(SALES, start="/r/deal?f.stage=qualified")
    first = page.get_by_test_id("records-table").locator("tbody tr[data-id] td a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/r/deal/\d+$"))
    record_url = page.url
    page.get_by_test_id("edit").click()
    page.wait_for_url(re.compile(r"/r/deal/\d+/edit$"))

    form = page.get_by_test_id("record-form")
    assert form.locator("input[name=title]").input_value() == title
    assert form.locator("select[name=stage]").input_value() == "qualified"
    assert field(page, "account").locator("[data-loom-typeahead-id]").input_value() != ""
    form.locator("input[name=next_step]").fill("E2E: call back on Monday")
    page.get_by_test_id("save").click()

    page.wait_for_url(record_url)
    assert page.locator('[data-field="next_step"] dd').inner_text() == "E2E: call back on Monday"
    assert page.locator('[data-field="stage"] dd').inner_text() == "Qualified"
    change = page.get_by_test_id("history").locator('[data-action="update"] [data-change="next_step"]')
    assert "E2E: call back on Monday" in change.first.inner_text()
    page_watch.assert_clean()


def test_markup_typed_into_a_field_is_shown_as_text_and_never_run(page, page_watch, signed_in):
    signed_in(SALES, start="/r/account")
    account = first_account_name(page)
    create_deal(page, HOSTILE_TITLE, account)
    assert page.get_by_test_id("record-title").inner_text() == HOSTILE_TITLE
    assert page.evaluate("window.loomPwned") is None

    page.goto("/r/deal?q=E2E%20hostile")
    [shown] = column_texts(page, "title")  # long texts are cut short in lists
    assert shown.startswith('E2E hostile <img src=x onerror="window.loomPwned=1">')
    page.goto("/r/activity/new")  # an activity's deal typeahead lists it as text too
    field(page, "deal").locator("[data-loom-typeahead-input]").fill("E2E hostile")
    option = field(page, "deal").locator("[data-loom-typeahead-menu]").get_by_role("option")
    expect(option).to_have_text([HOSTILE_TITLE])
    assert page.evaluate("window.loomPwned") is None
    page_watch.assert_clean()


def test_deleting_a_deal_asks_first_and_then_removes_it(page, page_watch, signed_in):
    signed_in(SALES, start="/r/account")
    account = first_account_name(page)
    record_url = create_deal(page, "E2E deal to delete", account)
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_test_id("delete").click()
    assert questions == ["Delete this record?"]
    assert page.url == record_url  # dismissed: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete").click()
    page.wait_for_url(re.compile(r"/r/deal(\?.*)?$"))
    expect(page.get_by_role("alert")).to_contain_text("Deleted.")
    page_watch.expect_status(record_url.removeprefix(page_watch.origin), 404)
    assert page.goto(record_url).status == 404
    page_watch.assert_clean()
