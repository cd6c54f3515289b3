"""Likely typos of big providers' domains (issue 24.5): a suggestion, never a verdict."""

from __future__ import annotations

import pytest

from campaign.services.intake.email_typos import PROVIDERS, edit_distance, suggest, suggest_domain
from campaign.services.intake.validation import accepted_email


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmial.com", "gmail.com"),  # two neighbours swapped
        ("gmail.con", "gmail.com"),
        ("gmail.co", "gmail.com"),
        ("yaho.com", "yahoo.com"),
        ("hotmial.com", "hotmail.com"),
        ("outlok.com", "outlook.com"),
        ("GMAIL.CON", "gmail.com"),
    ],
)
def test_common_typos_are_offered_the_provider(typed, meant):
    assert suggest_domain(typed) == meant
    assert suggest(f"Shirin@{typed}") == f"Shirin@{meant}"


@pytest.mark.parametrize("domain", [*PROVIDERS, "example.org", "gmx.com", "yahoo.it", "aim.com"])
def test_real_domains_are_left_alone(domain):
    assert suggest_domain(domain) is None


def test_edit_distance_counts_a_swap_as_one_edit():
    assert edit_distance("gmial.com", "gmail.com") == 1
    assert edit_distance("gmail.com", "gmail.com") == 0
    assert edit_distance("gmx.de", "web.de") == 2  # capped at the limit


def test_a_typo_on_the_disposable_list_is_not_called_disposable(app):
    with app.test_request_context():
        with pytest.raises(ValueError) as refused:
            accepted_email("shirin@gmial.com")
        assert "disposable" not in str(refused.value)
        assert "Did you mean shirin@gmail.com?" in str(refused.value)
        with pytest.raises(ValueError, match="disposable"):
            accepted_email("shirin@mailinator.com")
        assert accepted_email("shirin@gmail.con").domain == "gmail.con"  # not blocked
