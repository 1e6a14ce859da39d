"""Bilingual texts of notifications: what is stored, and what a reader sees."""

from __future__ import annotations

import pytest

from engine.automation.notifications import NotificationError, bilingual, localized


def test_the_readers_language_is_picked_with_a_fallback_to_english():
    both = {"en": "Deal won", "zh-CN": "商机赢单"}
    assert localized(both, "zh-CN") == "商机赢单"
    assert localized(both, "en") == "Deal won"
    assert localized({"en": "Deal won"}, "zh-CN") == "Deal won"
    assert localized({"zh-CN": "商机赢单"}, "en") == "商机赢单"
    assert localized({"en": "", "zh-CN": "商机赢单"}, "en") == "商机赢单"
    assert localized("plain", "zh-CN") == "plain"
    assert localized(None, "en") == ""


def test_a_plain_title_is_stored_for_every_language_and_texts_are_trimmed():
    assert bilingual("  Hi ") == {"en": "Hi", "zh-CN": "Hi"}
    assert bilingual({"zh-CN": " 你好 ", "en": ""}) == {"zh-CN": "你好"}
    assert bilingual(None) is None


@pytest.mark.parametrize("value", [{}, {"en": " "}, {"de": "Hallo"}, ["en"], {"en": None}])
def test_unusable_texts_are_refused(value):
    with pytest.raises(NotificationError):
        bilingual(value)
