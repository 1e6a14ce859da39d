"""Hand-edited and stale list URLs (issue 11, defect 7): each gets a clear message in the
user's language, or a sensible result, and never a 500 or internal names."""

from __future__ import annotations

import re

import pytest

from tests.web.records.test_lists import row_ids, service_ids

NOTICE = re.compile(r'data-testid="list-notice">([^<]*)<')


def _english(login, username: str = "admin"):
    client = login(username)
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def _notices(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return NOTICE.findall(response.get_data(as_text=True))


def _page_label(response) -> str:
    return re.search(r"Page \d+ of \d+", response.get_data(as_text=True)).group(0)


def test_an_unknown_sort_says_so_without_internal_names_and_keeps_the_usual_order(app, login):
    response = _english(login).get("/r/deal?sort=nonexistent&per_page=50")
    notices = _notices(response)
    assert len(notices) == 1 and "nonexistent" in notices[0] and "usual order" in notices[0]
    assert "filter" not in notices[0].lower() and "known:" not in notices[0]
    assert "expected_close_date" not in notices[0]
    assert row_ids(response) == service_ids(app, "admin", "deal")


def test_a_column_that_cannot_be_sorted_by_is_named_by_its_label(login):
    response = _english(login).get("/r/account?sort=tags")
    assert any("Tags" in n and "tags" not in n for n in _notices(response))


def test_a_page_beyond_the_last_shows_the_last_page_and_says_so(app, login):
    client = _english(login)
    first = client.get("/r/deal?per_page=25")
    pages = int(re.search(r"Page 1 of (\d+)", first.get_data(as_text=True)).group(1))
    response = client.get("/r/deal?per_page=25&page=999")
    notices = _notices(response)
    assert notices == [f"There is no page 999: the list has {pages}. Showing the last page."]
    assert _page_label(response) == f"Page {pages} of {pages}"
    last = client.get(f"/r/deal?per_page=25&page={pages}")
    assert row_ids(response) == row_ids(last) and row_ids(response)


def test_a_page_that_is_not_a_number_shows_the_first_page_and_says_so(login):
    response = _english(login).get("/r/deal?page=abc&per_page=xyz")
    notices = _notices(response)
    assert any("“abc” is not a page number" in n for n in notices)
    assert any("“xyz” is not a number of records per page" in n for n in notices)
    assert _page_label(response).startswith("Page 1 of")


def test_an_inverted_date_range_is_read_the_right_way_round(app, login):
    client = _english(login, "manager")
    inverted = client.get("/r/deal?f.expected_close_date.from=2026-12-31"
                          "&f.expected_close_date.to=2026-01-01&per_page=200")
    expected = service_ids(app, "manager", "deal", limit=200, filter=[
        {"field": "expected_close_date", "op": "gte", "value": "2026-01-01"},
        {"field": "expected_close_date", "op": "lte", "value": "2026-12-31"}])
    assert row_ids(inverted) == expected and expected
    notices = _notices(inverted)
    assert len(notices) == 1 and "Expected close" in notices[0] and "wrong way round" in notices[0]


def test_an_inverted_number_range_is_read_the_right_way_round(app, login):
    response = _english(login, "manager").get(
        "/r/deal?f.amount.from=900000&f.amount.to=100000&per_page=200")
    expected = service_ids(app, "manager", "deal", limit=200, filter=[
        {"field": "amount", "op": "gte", "value": "100000"},
        {"field": "amount", "op": "lte", "value": "900000"}])
    assert row_ids(response) == expected and expected


def test_a_select_filter_takes_several_values(app, login):
    client = _english(login)
    response = client.get("/r/deal?f.stage=won&f.stage=lost&per_page=200")
    expected = service_ids(app, "admin", "deal", limit=200, filter=[
        {"field": "stage", "op": "in", "value": ["won", "lost"]}])
    won = service_ids(app, "admin", "deal", limit=200, filter=[
        {"field": "stage", "op": "eq", "value": "won"}])
    assert row_ids(response) == expected and len(expected) > len(won) > 0
    page = response.get_data(as_text=True)
    box = re.search(r'<select[^>]*name="f.stage"[^>]*>.*?</select>', page, re.DOTALL).group(0)
    assert "multiple" in box.split(">")[0]
    assert set(re.findall(r'<option value="(\w+)" selected>', box)) == {"won", "lost"}
    # Paging and sorting keep both choices.
    assert "f.stage=won&amp;f.stage=lost" in page


def test_an_unknown_choice_is_named_and_the_others_still_filter(app, login):
    response = _english(login).get("/r/deal?f.stage=won&f.stage=mars&per_page=200")
    assert row_ids(response) == service_ids(app, "admin", "deal", limit=200, filter=[
        {"field": "stage", "op": "eq", "value": "won"}])
    notices = _notices(response)
    assert len(notices) == 1 and "Stage" in notices[0] and "mars" in notices[0]
    assert "is not one of" not in notices[0] and "$." not in notices[0]


def test_list_messages_speak_chinese(login):
    client = login("admin")
    with client.session_transaction() as session:
        session["lang"] = "zh-CN"
    notices = _notices(client.get("/r/deal?sort=nonexistent&page=abc&f.stage=mars"))
    assert len(notices) == 3
    assert all(not re.search(r"[A-Za-z]{4,}", n.replace("nonexistent", "").replace("mars", ""))
               for n in notices), notices


@pytest.mark.parametrize("query", [
    "sort=-", "sort=--title", "sort=account.name", "page=-1", "page=0", "page=99999999999999999999",
    "per_page=0", "per_page=-5", "f.amount.from=1e999999", "f.amount.from=NaN",
    "f.expected_close_date.from=2026-02-30", "f.stage=", "f.account=abc", "f.owner=-3",
    "f.created_at.from=9999-12-31", "f.created_at.to=0001-01-01", "sort=owner&page=2"])
def test_malformed_list_urls_never_break_the_list(login, query):
    response = _english(login).get(f"/r/deal?{query}")
    assert response.status_code == 200, (query, response.status_code)
    assert 'data-testid="records-table"' in response.get_data(as_text=True)
