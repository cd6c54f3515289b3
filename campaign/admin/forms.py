"""Admin forms. Every POST carries Flask-WTF's CSRF token."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from ..i18n import LANGUAGE_NAMES, current_language, number
from ..services.admins.accounts import PASSWORD_MIN, ROLES
from ..services.pages.content import CampaignContent
from ..services.paper.print_runs import MAX_SHEETS


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class TotpForm(FlaskForm):
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=7)],
    )


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""


class InvalidateForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class BulkForm(FlaskForm):
    email_domain = StringField(_l("Email domain"), validators=[Optional(), Length(max=253)])
    ip_hash = StringField(_l("IP hash"), validators=[Optional(), Length(max=32)])
    since = DateTimeLocalField(
        _l("Signed from (UTC)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    until = DateTimeLocalField(
        _l("Signed before (UTC)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    name_pattern = StringField(
        _l("Name pattern (* and ? wildcards)"), validators=[Optional(), Length(max=100)]
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])
    confirm_count = HiddenField()


FORMAT_CHOICES = [
    ("csv", _l("CSV")),
    ("jsonl", _l("JSON Lines (OSDI, for Action Network and similar)")),
    ("summary-csv", _l("Delivery summary, CSV (no personal data)")),
    ("summary-json", _l("Delivery summary, JSON (no personal data)")),
]


class ExportForm(FlaskForm):
    preset = SelectField(
        _l("Preset"),
        choices=[
            ("mailing", _l("Mailing list: confirmed signers who consented to contact")),
            ("delivery", _l("Delivery list: names and countries of confirmed signers")),
            ("full", _l("Full: every field")),
        ],
    )
    format = SelectField(_l("Format"), choices=FORMAT_CHOICES)
    excel = BooleanField(_l("For Excel (adds a byte-order mark)"))
    # The table's filters, carried along so the export matches what was shown.
    q = HiddenField()
    country = HiddenField()
    state = HiddenField()
    since = HiddenField()
    until = HiddenField()
    contact = HiddenField()
    source = HiddenField()


class UpdateForm(FlaskForm):
    # Off unless ticked: publishing mails nobody by accident (issue 24, item 11).
    send = BooleanField(_l("Email it to signers who agreed to hear from us"), default=False)
    # One per form shown: a double click or a resent form publishes once.
    publish_key = HiddenField(validators=[DataRequired(), Length(max=64)])


def add_update_fields(languages: list[str]) -> type[UpdateForm]:
    """An UpdateForm with a title and a body for each of the campaign's languages."""

    class Form(UpdateForm):
        pass

    for language in languages:
        setattr(
            Form,
            f"title_{language}",
            StringField(
                _l("Title (%(lang)s)", lang=language),
                validators=[Optional(), Length(max=200)],
                render_kw={"dir": "auto"},  # Persian typed here reads right to left
            ),
        )
        setattr(
            Form,
            f"body_{language}",
            TextAreaField(
                _l("Text (%(lang)s)", lang=language),
                validators=[Optional(), Length(max=20000)],
                render_kw={"dir": "auto", "rows": 14},
            ),
        )
    return Form


NEW_PASSWORD = [DataRequired(), Length(min=PASSWORD_MIN, max=1024)]


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=NEW_PASSWORD)
    repeat = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("password")]
    )


class AccountCreateForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES])
    password = PasswordField(_l("First password"), validators=NEW_PASSWORD)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[(r, r) for r in ROLES])


def offer_languages(field: SelectField, content: CampaignContent, submitted: bool) -> None:
    """A campaign's languages as `field`'s choices (delivery pack, sheets); before a
    submission, the page's language if the campaign has it, else the campaign's own."""
    field.choices = [(code, LANGUAGE_NAMES.get(code, code)) for code in content.languages]
    if not submitted:
        here = current_language()
        field.data = here if here in content.languages else content.default_language


class DeliveryForm(FlaskForm):
    """The delivery pack: the language of its headings, and PDF or printable page."""

    language = SelectField(_l("Language of the headings"), choices=[])
    format = SelectField(
        _l("Format"),
        choices=[
            ("pdf", _l("PDF")),
            ("html", _l("Web page, to print from the browser")),
        ],
    )


class SheetsForm(FlaskForm):
    """Printable sign-up sheets: their language, paper size and how many."""

    language = SelectField(_l("Language of the sheets"), choices=[])
    paper = SelectField(
        _l("Paper size"),
        choices=[("a4", _l("A4")), ("letter", _l("US Letter"))],
    )
    count = IntegerField(
        _l("How many sheets"),
        validators=[InputRequired(_l("Please say how many sheets to print."))],
        default=10,
    )

    def validate_count(self, field: IntegerField) -> None:
        if field.data is not None and not 1 <= field.data <= MAX_SHEETS:
            raise ValidationError(
                _(
                    "Print from %(min)s to %(max)s sheets at a time.",
                    min=number(1),
                    max=number(MAX_SHEETS),
                )
            )
