"""The email domain policy as a plain service, without HTTP."""

import pytest

from campaign.services.intake import abuse
from campaign.services.intake.validation import accepted_email, is_disposable, normalize_email


def test_is_disposable_checks_parent_domains():
    assert is_disposable("mailinator.com")
    assert is_disposable("a.b.mailinator.com")
    assert not is_disposable("example.org")
    assert not is_disposable("com")


def test_accepted_email_applies_lists(app):
    app.config["BLOCKED_EMAIL_DOMAINS"] = ["blocked.example"]
    assert accepted_email("a@example.org").domain == "example.org"
    with pytest.raises(ValueError):
        accepted_email("a@blocked.example")
    with pytest.raises(ValueError):
        accepted_email("a@mailinator.com")


def test_internationalized_domains_match_in_idna_form(app):
    app.config["BLOCKED_EMAIL_DOMAINS"] = ["xn--bcher-kva.example"]
    with pytest.raises(ValueError):
        accepted_email("a@bücher.example")


def test_email_blocked_uses_canonical_form(app):
    app.config["BLOCKED_EMAILS"] = ["Person@Example.org"]
    assert abuse.email_blocked(normalize_email("person@example.org").canonical)
    assert not abuse.email_blocked(normalize_email("other@example.org").canonical)
