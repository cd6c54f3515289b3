"""The check-inbox note: a sealed cookie of its own, not the Flask session."""

from __future__ import annotations

from campaign.services.signatures import inbox
from tests.helpers import SLUG, sign


def masked_address(client) -> str | None:
    html = client.get(f"/{SLUG}/check-inbox").get_data(as_text=True)
    start = html.find('class="sent-to"')
    return html[html.index(">", start) + 1 : html.index("<", start)] if start >= 0 else None


def test_signing_leaves_a_sealed_note_and_no_session(client, app):
    response = sign(client, email="shirin@example.org")
    assert response.status_code == 303
    cookies = response.headers.getlist("Set-Cookie")
    assert [c.split("=", 1)[0] for c in cookies] == [inbox.NOTE_COOKIE]  # no session cookie
    note = cookies[0]
    assert "HttpOnly" in note and "SameSite=Lax" in note and "Path=/" in note
    assert "shirin" not in note and "example.org" not in note  # sealed, not just signed
    assert masked_address(client) == "sh••••@example.org"


def test_a_forged_or_foreign_note_shows_nothing(client, app):
    sign(client, email="shirin@example.org")
    token = client.get_cookie(inbox.NOTE_COOKIE).value
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    client.set_cookie(inbox.NOTE_COOKIE, tampered)
    assert masked_address(client) is None
    with app.app_context():  # a note another petition left can't be replayed here
        foreign = inbox.make_note("another-petition", "shirin@example.org", 1)
    client.set_cookie(inbox.NOTE_COOKIE, foreign)
    assert masked_address(client) is None
    client.set_cookie(inbox.NOTE_COOKIE, "not a note")
    page = client.get(f"/{SLUG}/check-inbox")
    assert page.status_code == 200 and masked_address(client) is None


def test_the_note_names_the_submission_it_created(client, app):
    sign(client, email="shirin@example.org")
    with app.app_context():
        note = inbox.read_note(client.get_cookie(inbox.NOTE_COOKIE).value, SLUG)
    assert note is not None and note.email == "shirin@example.org"
    assert isinstance(note.signature_id, int)
