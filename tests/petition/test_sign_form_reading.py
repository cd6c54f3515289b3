"""The sign POST reads its fields once (forms.read_sign_form) instead of validating
through WTForms and then again in the service: it must refuse exactly what the form's
validators refuse, with the same message, and hand over the normalized values."""

from __future__ import annotations

import pytest
from markupsafe import escape
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form

from campaign.petition.forms import SignForm, read_sign_form
from campaign.services.signer_data import consents
from tests.helpers import SLUG, sign_data

GOOD = {"name": "  Parisa   Mohammadi ", "email": "Parisa@Example.ORG", "country": "IR"}
CASES = [
    {},
    GOOD,
    {**GOOD, "name": ""},
    {**GOOD, "name": "   "},
    {**GOOD, "name": "=HYPERLINK(1)"},
    {**GOOD, "name": "www.example.com"},
    {**GOOD, "email": ""},
    {**GOOD, "email": "no-at-sign"},
    {**GOOD, "email": "two@@example.org"},
    {**GOOD, "email": "x" * 250 + "@example.org"},
    {**GOOD, "country": ""},
    {**GOOD, "country": "XX"},
    {**GOOD, "country": "EU"},
    {**GOOD, "comment": "x" * 600},
    {**GOOD, "comment": "  a reason\u202e  "},
    {**GOOD, "public_consent": "y", "comment_consent": "false", "delivery_consent": ""},
]


@pytest.mark.parametrize("data", CASES)
def test_reading_refuses_what_the_form_refuses(app, data):
    with app.test_request_context(method="POST", data=data):
        form = SignForm()
        form.set_country_choices("en")
        form.validate()
        expected = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        submission = read_sign_form(MultiDict(data))
        assert {k: [v] for k, v in submission.errors.items()} == expected
        # Each box of the registry is read as WTForms' BooleanField reads a checkbox.
        boxes = type("Boxes", (Form,), {c.field: BooleanField() for c in consents.all_consents()})
        read = boxes(MultiDict(data))
        ticked = {c.key for c in consents.all_consents() if getattr(read, c.field).data}
        assert submission.consents == ticked
        if not expected:
            fields = submission.fields
            assert fields.name == "Parisa Mohammadi"
            assert fields.email.address == "Parisa@example.org"
            assert fields.email.canonical == "parisa@example.org"
            assert fields.country == "IR"


def test_a_refused_field_is_shown_beside_it_with_the_input_kept(client):
    data = sign_data(client, email="no-at-sign")
    response = client.post(f"/{SLUG}/sign", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    with client.application.test_request_context():
        message = read_sign_form(MultiDict(data)).errors["email"]
    assert str(escape(message)) in html
    assert 'value="no-at-sign"' in html
