"""Under the Content-Security-Policy, the behaviour that used to be inline still works: the
confirmation before a delete, "select all", the page-size choice, Swagger UI. Any
violation would be a console error, which fails the test (``page_watch``)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_list_controls_work_without_inline_scripts(page, signed_in):
    signed_in("admin", start="/r/deal")
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    page.check("[data-select-all]")
    boxes = page.locator('input[name="ids"]')
    assert boxes.count() > 0
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.select_option("#per-page", "50")
    page.wait_for_url(re.compile(r"per_page=50"))


def test_a_dismissed_delete_confirmation_keeps_the_record(page, signed_in):
    signed_in("admin", start="/r/deal")
    page.locator("table a[href^='/r/deal/']").first.click()
    url = page.url
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("[data-testid=delete]")
    page.wait_for_timeout(300)
    assert asked == ["Delete this record?"]
    assert page.url == url
    assert page.locator("[data-testid=delete]").is_visible()


def test_swagger_ui_runs_under_the_policy(page, signed_in):
    signed_in("admin", start="/api/v1/docs")
    page.wait_for_selector("#swagger-ui .opblock", timeout=15000)
    assert page.locator("#swagger-ui .opblock").count() > 5
