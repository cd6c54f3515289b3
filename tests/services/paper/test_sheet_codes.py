"""A paper sheet's code: printed by the server, checked on entry, forgiving of case."""

from __future__ import annotations

from campaign.services.paper import sheet_codes
from tests.helpers import SLUG


def test_a_printed_code_parses_back_to_its_number(app):
    with app.app_context():
        for number in (1, 42, 99999):
            assert sheet_codes.parse(SLUG, sheet_codes.sheet_code(SLUG, number)) == number


def test_a_code_is_forgiving_of_case_and_spaces(app):
    with app.app_context():
        code = sheet_codes.check_code(SLUG, 7)
        assert sheet_codes.parse(SLUG, f" 7 {code.lower()} ") == 7
        assert sheet_codes.parse(SLUG, f"7{code}") == 7
        # Nothing in the alphabet reads like another symbol on paper.
        assert not set("01OIL") & set(sheet_codes.ALPHABET)


def test_an_invented_code_is_refused(app):
    with app.app_context():
        good = sheet_codes.check_code(SLUG, 5)
        assert sheet_codes.parse(SLUG, f"6-{good}") is None  # another sheet's code
        assert sheet_codes.parse("another-campaign", f"5-{good}") is None
        assert sheet_codes.parse(SLUG, "5-ZZZZZZ" if good != "ZZZZZZ" else "5-222222") is None
        assert sheet_codes.parse(SLUG, "0-" + sheet_codes.check_code(SLUG, 0)) is None
        assert sheet_codes.parse(SLUG, "") is None
        assert sheet_codes.parse(SLUG, "five") is None
