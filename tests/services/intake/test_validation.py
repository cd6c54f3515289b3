"""Input rules without HTTP: names in any script, and the email dedup form."""

from __future__ import annotations

import pytest

from campaign.services.intake.validation import (
    NAME_MAX,
    clean_comment,
    country_choices,
    country_codes,
    normalize_email,
    normalize_name,
)


@pytest.mark.parametrize(
    "raw",
    [
        "Maryam Ahmadi",
        "مریم احمدی",  # Persian
        "نگار\u200cسادات",  # Persian with a zero-width non-joiner inside a word
        "عبد الله",  # Arabic
        "李小龍",  # CJK
        "キム・ミンジュ",  # Japanese, with a middle dot
        "Zoë O’Brien-Łukasz",
        "Jean-Luc d'Arc (Jr.)",
        "Ψάπφω",
        "देवनागरी नाम",  # combining marks
        "a" * NAME_MAX,
    ],
)
def test_names_in_any_script_are_accepted(app, raw):
    assert normalize_name(raw) == raw


def test_name_whitespace_is_collapsed_and_nfc(app):
    assert normalize_name("  Zoe\u0308   Smith \n") == "Zoë Smith"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a" * (NAME_MAX + 1),
        '=HYPERLINK("x")',
        "+Maryam",
        "-Maryam",
        "@Maryam",
        "visit https://spam.example",
        "www.spam.example",
        "Buy cheap.com",
        "Mary\x00am",
        "Mary\x1bam",
        "Mary\u202eam",  # bidi override
        "Mary<script>",
        "12345",
        "...",
    ],
)
def test_bad_names_are_refused(app, raw):
    with pytest.raises(ValueError):
        normalize_name(raw)


def test_name_refusal_message_is_translatable_text(app):
    with pytest.raises(ValueError) as error:
        normalize_name("=1+1")
    assert "= + - or @" in str(error.value)


def test_email_domain_is_lowercased_and_local_part_casefolded(app):
    email = normalize_email("  Maryam.Ahmadi@Example.ORG ")
    assert email.address == "Maryam.Ahmadi@example.org"  # kept as typed for delivery
    assert email.canonical == "maryam.ahmadi@example.org"
    assert email.domain == "example.org"


def test_email_case_variants_share_one_canonical_form(app):
    spellings = ["Same@Example.org", "same@example.ORG", "SAME@EXAMPLE.ORG"]
    assert {normalize_email(s).canonical for s in spellings} == {"same@example.org"}


def test_email_local_part_is_nfc_then_casefolded(app):
    composed = normalize_email("Zo\u00eb@example.org").canonical
    decomposed = normalize_email("ZOE\u0308@example.org").canonical
    assert composed == decomposed == "zo\u00eb@example.org"
    assert normalize_email("STRASSE@example.org").canonical == "strasse@example.org"


def test_international_domain_is_idna_normalized(app):
    unicode = normalize_email("user@Bücher.example")
    assert unicode.canonical == "user@bücher.example"
    assert normalize_email("user@BÜCHER.example").canonical == unicode.canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "  ",
        "plainaddress",
        "a@@example.org",
        "a@example",
        "a b@example.org",
        "x" * 250 + "@example.org",
    ],
)
def test_bad_emails_are_refused(app, raw):
    with pytest.raises(ValueError):
        normalize_email(raw)


def test_aliases_are_not_folded_by_default(app):
    assert normalize_email("a.b+tag@gmail.com").canonical == "a.b+tag@gmail.com"


def test_gmail_aliases_fold_when_configured(app):
    app.config["FOLD_EMAIL_ALIASES"] = True
    forms = ["A.B+petition@gmail.com", "ab@gmail.com", "a.b@googlemail.com", "AB+x@GoogleMail.com"]
    assert {normalize_email(f).canonical for f in forms} == {"ab@gmail.com"}
    # Dots matter elsewhere; only the +tag is folded.
    assert normalize_email("a.b+tag@example.org").canonical == "a.b@example.org"
    assert normalize_email("a.b+tag@gmail.com", fold_aliases=False).canonical == "a.b+tag@gmail.com"


def test_comment_is_cleaned_and_capped(app):
    assert clean_comment("") is None
    assert clean_comment("  Justice\r\nnow \u202e ") == "Justice\nnow"
    assert clean_comment("x" * 500) == "x" * 500
    with pytest.raises(ValueError):
        clean_comment("x" * 501)


def test_countries_are_iso_codes_with_localized_names(app):
    codes = country_codes()
    assert {"IR", "DE", "FR", "SE", "JP"} <= codes
    assert not {"EU", "UN", "ZZ", "001"} & codes
    assert len(codes) > 240
    assert dict(country_choices("fa"))["IR"] == "ایران"
    assert dict(country_choices("fr"))["DE"] == "Allemagne"
