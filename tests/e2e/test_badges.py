"""Coloured choices (stage, level, lifecycle stage, activity kind) are readable badges.

The browser computes each badge's text and background colours; their WCAG contrast
ratio must reach AA for normal text (4.5:1), and the background must not be the
page's (a badge with no background of its own looked empty before).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

#: WCAG 2.1 AA contrast for normal-size text.
MIN_CONTRAST = 4.5

_COLOURS = """() => Array.from(document.querySelectorAll(".loom-badge"), badge => {
    const style = getComputedStyle(badge);
    return {color: badge.dataset.color, text: badge.textContent.trim(),
            fg: style.color, bg: style.backgroundColor};
})"""


def _rgb(css: str) -> tuple[float, float, float, float]:
    """``rgb(1, 2, 3)`` / ``rgba(1, 2, 3, 0.5)`` -> (r, g, b, alpha)."""
    parts = [float(p) for p in css[css.index("(") + 1:css.index(")")].split(",")]
    return (*parts[:3], parts[3] if len(parts) == 4 else 1.0)


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    light, dark = sorted((_luminance(_rgb(fg)), _luminance(_rgb(bg))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_of_black_on_white_is_21():
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert contrast("rgb(255, 255, 255)", "rgb(255, 255, 255)") == 1.0


@pytest.mark.parametrize("path", ["/r/deal", "/r/account", "/r/activity"])
def test_every_badge_on_the_list_is_readable(page, page_watch, signed_in, path):
    signed_in("admin", start=path)
    badges = page.evaluate(_COLOURS)
    assert badges, f"the demo data shows coloured choices on {path}"
    colours = {b["color"] for b in badges}
    for badge in badges:
        assert badge["text"], badge
        assert _rgb(badge["bg"])[3] > 0 and _rgb(badge["bg"])[:3] != (255.0, 255.0, 255.0), badge
        assert contrast(badge["fg"], badge["bg"]) >= MIN_CONTRAST, badge
    assert len(colours) >= 2, colours
    page_watch.assert_clean()
