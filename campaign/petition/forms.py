"""The sign form. Field rules live in `services.intake.validation`; the form carries them
to the page, so each message appears next to its field."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from babel import support
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.i18n import messages_path
from wtforms.validators import InputRequired, ValidationError

from ..services.intake import email_typos
from ..services.intake.validation import (
    COMMENT_MAX,
    NAME_MAX,
    SignerFields,
    accepted_email,
    clean_comment,
    country_choices,
    known_country,
    normalize_email,
    normalize_name,
)
from ..services.pages import cache
from ..services.signer_data import consents


def rule(check):
    """A WTForms validator from a `services.intake.validation` function."""

    def validator(form, field) -> None:
        if field.data:
            try:
                check(field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    return validator


def wtforms_translations():
    """WTForms' own messages for the current locale, loaded once per process.

    Flask-WTF reads the catalog from disk on every request that builds a form;
    on the sign POST that was a measurable share of the request (docs/benchmarks.md).
    """
    locale = str(get_locale() or "en")
    return cache.remember(
        cache.FORM_TRANSLATIONS,
        locale,
        lambda: _CatalogTranslations(
            support.Translations.load(messages_path(), [locale], domain="wtforms")
        ),
    )


class _CatalogTranslations:
    """The gettext/ngettext pair WTForms asks its Meta for."""

    def __init__(self, catalog) -> None:
        self.catalog = catalog

    def gettext(self, string: str) -> str:
        return self.catalog.ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ungettext(singular, plural, n)


class SignForm(FlaskForm):
    class Meta:
        # No session token: the public forms are guarded by the origin check
        # (security.refuse_cross_site), so the campaign page needs no session.
        csrf = False

        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return None
            return wtforms_translations()

    name = StringField(
        _l("Full name"),
        validators=[InputRequired(_l("Please enter your name.")), rule(normalize_name)],
        render_kw={"autocomplete": "name", "maxlength": NAME_MAX},
    )
    email = EmailField(
        _l("Email"),
        validators=[InputRequired(_l("Please enter your email address.")), rule(accepted_email)],
        # The providers whose typos the form's script offers to fix (services/intake/email_typos).
        render_kw={
            "autocomplete": "email",
            "maxlength": 254,
            "inputmode": "email",
            "data-typo-domains": " ".join(email_typos.PROVIDERS),
        },
    )
    country = SelectField(
        _l("Country"),
        validate_choice=False,
        validators=[InputRequired(_l("Please choose your country.")), rule(known_country)],
        render_kw={"autocomplete": "country"},
    )
    comment = TextAreaField(
        _l("Why I signed (optional)"),
        validators=[rule(clean_comment)],
        render_kw={"maxlength": COMMENT_MAX, "rows": 2},
    )
    # The consent boxes come from the registry (services/signer_data/consents.py); the template
    # draws them, ticked as `consents_ticked` says (a refused POST's ticks).
    consents_ticked: frozenset[str] = frozenset()
    # Abuse checks: a field people never see, and when the form was shown.
    website = StringField(
        _l("Leave this field empty"), render_kw={"autocomplete": "off", "tabindex": "-1"}
    )
    started = HiddenField()
    source = HiddenField()
    ref = HiddenField()

    def set_country_choices(self, language: str) -> None:
        self.country.choices = [("", _l("Choose your country"))] + country_choices(language)


# What the sign POST reads, field by field: (name, rule, message when empty or None if
# optional). The same rules and messages as SignForm's validators, which render the
# form (and its `required` attributes); the POST skips building the form unless a
# field is refused, since WTForms costs a large share of a signing (docs/benchmarks.md).
SIGNER_RULES = (
    ("name", normalize_name, _l("Please enter your name.")),
    ("email", accepted_email, _l("Please enter your email address.")),
    ("country", known_country, _l("Please choose your country.")),
    ("comment", clean_comment, None),
)


@dataclass(frozen=True)
class SignSubmission:
    """A sign POST read once: the normalized fields, or the message for each refused one."""

    fields: SignerFields | None
    errors: dict[str, str]
    # the keys of the consent boxes ticked (services/signer_data/consents.py)
    consents: frozenset[str]
    website: str  # the honeypot
    started: str
    source: str
    ref: str


def read_sign_form(formdata) -> SignSubmission:
    """Validate a sign POST's fields, once, with the form's rules and messages."""
    clean: dict = {}
    errors: dict[str, str] = {}
    for name, check, required in SIGNER_RULES:
        raw = formdata.get(name, "")
        if not raw:
            if required is not None:
                errors[name] = str(required)
            else:
                clean[name] = None
            continue
        try:
            clean[name] = check(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    return SignSubmission(
        fields=None if errors else SignerFields(**clean),
        errors=errors,
        consents=consents.ticked(formdata),
        website=formdata.get("website", ""),
        started=formdata.get("started", ""),
        source=formdata.get("source", ""),
        ref=formdata.get("ref", ""),
    )


def refused_form(submission: SignSubmission, language: str) -> SignForm:
    """The sign form filled from the POST, with each refused field's message (not
    validated again), for the page shown with a 422."""
    form = SignForm()
    form.set_country_choices(language)
    for name, message in submission.errors.items():
        getattr(form, name).errors = [message]
    form.started.data = form.started.data or stamp_started()
    form.consents_ticked = submission.consents
    return form


# The form's `started` stamp: "<unix seconds>.<HMAC>", keyed by SECRET_KEY. A plain
# HMAC, not itsdangerous' serializer, which cost four times as much on every sign POST
# (key derivation, JSON and base64 each time). A stamp made before this format reads as
# missing, which only holds that submission for its signer's confirmation.
STAMP_PURPOSE = b"form-started\x00"


def _stamp_mac(seconds: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, STAMP_PURPOSE + seconds.encode(), hashlib.sha256).hexdigest()[:32]


def stamp_started() -> str:
    seconds = str(int(time.time()))
    return f"{seconds}.{_stamp_mac(seconds)}"


def seconds_since_started(stamp: str | None) -> float | None:
    """How long the signer had the form open, or None if the stamp is missing or forged."""
    seconds, _, mac = (stamp or "").partition(".")
    if not (seconds.isascii() and seconds.isdigit() and len(seconds) <= 12):
        return None
    if not hmac.compare_digest(mac.encode(), _stamp_mac(seconds).encode()):
        return None
    return time.time() - int(seconds)


class ResendForm(FlaskForm):
    """ "Send my confirmation email again", on the check-inbox page."""

    class Meta:
        csrf = False  # guarded by the origin check, like the sign form

    email = EmailField(
        _l("Your email address"),
        validators=[InputRequired(_l("Please enter your email address.")), rule(normalize_email)],
        render_kw={"autocomplete": "email", "maxlength": 254, "inputmode": "email"},
    )


class CorrectEmailForm(FlaskForm):
    """ "Wrong address? Correct it", on the check-inbox page. The address typed before
    must be typed again: on a shared browser, the next person must not be able to move
    someone's submission to their own mailbox (issue 21, L7)."""

    NOT_NOTED = _l("This is not the address you signed with in this browser.")

    typed = EmailField(
        _l("The address you typed"),
        validators=[InputRequired(_l("Please type the address you signed with."))],
        render_kw={"autocomplete": "off", "maxlength": 254, "inputmode": "email"},
    )
    email = EmailField(
        _l("Correct email address"),
        validators=[InputRequired(_l("Please enter your email address.")), rule(normalize_email)],
        render_kw={"autocomplete": "email", "maxlength": 254, "inputmode": "email"},
    )


class LinksForm(FlaskForm):
    """ "Mail me my links again", on /privacy (same neutral answer as resending), for one
    campaign: one request asks about one petition, not every one at once (issue 21, M2).
    The view sets the choices (`campaign.choices`)."""

    campaign = SelectField(
        _l("Petition"), validators=[InputRequired(_l("Please choose a petition."))]
    )

    email = EmailField(
        _l("The email address you signed with"),
        validators=[InputRequired(_l("Please enter your email address.")), rule(normalize_email)],
        render_kw={"autocomplete": "email", "maxlength": 254, "inputmode": "email"},
    )
