"""Numbers on Persian pages: Persian digits and the Persian thousands separator."""

from __future__ import annotations

from campaign.i18n import number
from tests.helpers import SLUG


def test_persian_thousands_use_the_arabic_separator(app):
    """Review #33: the milestones read «۲,۵۰۰», an ASCII comma between Persian digits,
    where the case writes «۱٬۵۰۰» (U+066C)."""
    with app.test_request_context(f"/{SLUG}/?lang=fa"):
        app.preprocess_request()
        assert number(12500) == "۱۲\u066c۵۰۰"
    with app.test_request_context(f"/{SLUG}/"):
        app.preprocess_request()
        assert number(12500) == "12,500"


def test_the_persian_page_has_no_ascii_comma_between_digits(client):
    page = client.get(f"/fa/{SLUG}/").get_data(as_text=True)
    assert "۰,۰" not in page and "۵,۰" not in page
    assert "\u066c" in page  # the goal, 10٬000, at least
