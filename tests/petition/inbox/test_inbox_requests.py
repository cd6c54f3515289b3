"""What the worker does with the public forms' requests (services/letters/mail_requests.py):
resend, "mail me my links again" for one petition, "wrong address?" (with the noted
address retyped, L7), and the extra-mail cap as a rolling window (L2)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature, utcnow
from campaign.services.intake import links
from campaign.services.letters import mail_requests, signer_mail
from campaign.services.letters.signer_mail import extra_mails_left
from campaign.services.outbox import mail, mail_send
from campaign.services.pages.content import ContentLibrary, library
from campaign.services.signatures import confirmation, signing
from campaign.services.signer_data import privacy
from tests.helpers import ROOT, SLUG, deliver, hidden_fields, sign
from tests.services.outbox.test_mail import FlakyMailbox

SECOND = "second-petition"


def form(client, page: str) -> dict:
    g.pop("csrf_token", None)  # one app context for the test: a fresh token per browser
    return hidden_fields(client.get(page).get_data(as_text=True))


def links_again(client, email: str, campaign: str | None = SLUG):
    data = form(client, "/privacy") | {"email": email}
    if campaign is None:
        data.pop("campaign", None)
    else:
        data["campaign"] = campaign
    return client.post("/privacy/links", data=data)


def correct(client, typed: str, email: str):
    data = form(client, f"/{SLUG}/check-inbox") | {"typed": typed, "email": email}
    return client.post(f"/{SLUG}/correct-email", data=data)


def signed(email: str, name: str = "Shirin Rahimi", slug: str = SLUG) -> Signature:
    outcome = signing.sign(
        library().get(slug),
        signing.SignatureInput.from_raw(name=name, email=email, country="DE"),
    )
    return db.session.get(Signature, outcome.signature_id)


def confirmed(app, email: str, slug: str = SLUG, choices=frozenset({"contact"})) -> Signature:
    """A confirmed signer, by default one who agreed to campaign mail (sealed to the
    organizers' key, issue 23, only such a signer's address stays readable)."""
    signature = signed(email, slug=slug)
    deliver(app)
    token = links.make_token(signature, "confirm")
    assert confirmation.confirm(library().get(slug), token, choices).state == "confirmed"
    db.session.refresh(signature)
    return signature


def subjects(mailbox, address: str) -> list[str]:
    return [m["Subject"] for m in mailbox.to(address)]


# --- L7: "wrong address?" on a shared browser ---------------------------------------


def test_l7_wrong_address_needs_the_noted_address_retyped(app, client, mailbox):
    """Shirin signs on a shared computer with a private comment and leaves. The next
    person, on the same browser, asks to have "her" mail sent to their own mailbox:
    without her full address, nothing moves, and no mail names her."""
    sign(client, email="shirin.r@example.org", name="Shirin Rahimi", comment="my brother")
    deliver(app)
    for typed in ("", "sh••••••@example.org", "someone@example.org"):
        response = correct(client, typed, "next.person@example.net")
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'id="typed-error"' in html
        assert "Shirin" not in html and "shirin.r@" not in html
    deliver(app)
    assert mailbox.to("next.person@example.net") == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # her first mail only


def test_wrong_address_moves_a_pending_submission_when_the_noted_one_is_retyped(
    app, client, mailbox
):
    sign(client, email="shirin@exmaple.org", name="Shirin Rahimi")  # the typo is the domain
    deliver(app)
    [old_link] = mailbox.links(mailbox.to("shirin@exmaple.org")[0], "confirm")
    response = correct(client, " SHIRIN@exmaple.org", "shirin@example.org")  # canonical form
    assert response.status_code == 303 and response.headers["Location"].endswith("corrected=1")
    deliver(app)
    [mail] = mailbox.to("shirin@example.org")
    [link] = mailbox.links(mail, "confirm")
    path = link.replace("http://petition.test", "")
    assert client.post(path).status_code == 303  # it confirms
    assert client.get(old_link.replace("http://petition.test", "")).status_code == 404
    # The note now holds the corrected address: retyping the typo no longer matches.
    assert correct(client, "shirin@exmaple.org", "other@example.org").status_code == 422


def test_wrong_address_on_a_confirmed_submission_moves_nothing(app, client, mailbox):
    sign(client, email="done@example.org")
    deliver(app)
    signature = db.session.scalar(select(Signature))
    token = links.make_token(signature, "confirm")
    assert confirmation.confirm(library().get(SLUG), token).state == "confirmed"
    assert correct(client, "done@example.org", "elsewhere@example.org").status_code == 303
    deliver(app)
    assert mailbox.to("elsewhere@example.org") == []
    db.session.refresh(signature)
    assert signature.status == "confirmed"


# --- "mail me my links again": one petition, decided by the worker --------------------


def test_links_again_mails_only_a_confirmed_or_pending_signer(app, client, mailbox):
    confirmed(app, "kept@example.org")
    waiting = signed("waiting@example.org")
    deliver(app)
    gone = confirmed(app, "gone@example.org")
    privacy.withdraw(gone)
    for address in ("kept@", "waiting@", "gone@", "never@"):
        assert links_again(client, f"{address}example.org").status_code == 303
    deliver(app)
    assert subjects(mailbox, "kept@example.org")[-1].startswith("Your links for")
    [first, again] = mailbox.to("waiting@example.org")  # its confirmation link again
    assert mailbox.links(first, "confirm") == mailbox.links(again, "confirm")
    assert len(mailbox.to("gone@example.org")) == 1  # the first confirmation only
    assert mailbox.to("never@example.org") == []
    assert db.session.get(Signature, waiting.id).status == "pending"


def test_links_again_reaches_a_sealed_signer_who_kept_no_readable_address(app, client, mailbox):
    """Confirmed without campaign mail, so sealed to the organizers with no readable
    address left (issue 23): the request carries the typed address, and the links go
    there. Before, the worker found no address and sent nothing."""
    quiet = confirmed(app, "Quiet.Signer@example.org", choices=frozenset())
    assert quiet.email_enc is None and quiet.organizer_sealed
    before = len(mailbox.to("quiet.signer@example.org"))
    assert links_again(client, "quiet.signer@example.org").status_code == 303
    deliver(app)
    [mail] = mailbox.to("quiet.signer@example.org")[before:]
    assert mail["Subject"].startswith("Your links for")
    assert mailbox.links(mail, "withdraw")
    row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert json.loads(row.context) == {"slug": SLUG}  # the request forgot the address


def test_links_again_to_a_typed_address_survives_a_relay_that_says_try_later(app, client, mailbox):
    """The request forgets the typed address once decided: a retry sends the mail
    rendered then, stored sealed to its row (before, the retry found no address and
    dropped it)."""
    confirmed(app, "retry.signer@example.org", choices=frozenset())
    flaky = FlakyMailbox(failures=1)
    flaky.start()
    try:
        app.config["SMTP_URL"] = flaky.url
        assert links_again(client, "retry.signer@example.org").status_code == 303
        assert mail_send.deliver_due() == (0, 1)  # 451 from the relay
        row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        assert row.kind == "links" and row.payload_enc and "retry" not in row.payload_enc
        row.next_attempt_at = utcnow()
        db.session.commit()
        assert mail_send.deliver_due() == (1, 0)
        [mail] = flaky.to("retry.signer@example.org")
        assert mail["Subject"].startswith("Your links for")
        db.session.refresh(row)
        assert row.status == "sent" and row.payload_enc is None
    finally:
        flaky.stop()


@pytest.fixture
def two_petitions(app, tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    shutil.copytree(ROOT / "content" / SLUG, content / SECOND)
    toml = content / SECOND / "campaign.toml"
    toml.write_text(
        toml.read_text()
        .replace(f'slug = "{SLUG}"', f'slug = "{SECOND}"')
        .replace("home = true", "home = false")
    )
    app.extensions["campaign.content"] = ContentLibrary(content)


def test_m2_links_again_asks_about_one_petition(app, client, mailbox, two_petitions):
    """One request asks about one petition, not every one at once: the form names it."""
    html = client.get("/privacy").get_data(as_text=True)
    assert 'name="campaign"' in html and f'value="{SECOND}"' in html
    confirmed(app, "second@example.org", slug=SECOND)
    before = len(mailbox.to("second@example.org"))
    assert links_again(client, "second@example.org", campaign=None).status_code == 422
    assert links_again(client, "second@example.org", campaign="no-such").status_code == 422
    assert links_again(client, "second@example.org", campaign=SLUG).status_code == 303
    deliver(app)
    assert len(mailbox.to("second@example.org")) == before  # it signed the other one
    assert links_again(client, "second@example.org", campaign=SECOND).status_code == 303
    deliver(app)
    assert subjects(mailbox, "second@example.org")[-1].startswith("Your links for")


def test_a_request_row_keeps_no_address(app, client, mailbox):
    confirmed(app, "quiet@example.org")
    links_again(client, "quiet@example.org")
    row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    context = json.loads(row.context)
    assert "quiet" not in row.context and set(context) == {"slug", "ask"}
    deliver(app)
    db.session.refresh(row)
    assert json.loads(row.context) == {"slug": SLUG} and row.kind == "links"


def test_a_request_that_fails_for_good_forgets_its_typed_address(app, client, mailbox, monkeypatch):
    """A request whose rendering failed every time was given up with its sealed part
    (the address as typed) still in its row: the renderer's forgetting was rolled
    back with each failure. Giving up now keeps the campaign alone."""
    confirmed(app, "given.up@example.org", choices=frozenset())
    assert links_again(client, "given.up@example.org").status_code == 303

    def broken(outbox):
        raise ValueError("the renderer failed")

    monkeypatch.setitem(mail.RENDERERS, mail_requests.LINKS, broken)
    row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    for _ in range(mail_send.MAX_ATTEMPTS):
        assert "ask" in json.loads(row.context)
        row.next_attempt_at = utcnow()
        db.session.commit()
        assert mail_send.deliver_due() == (0, 1)
        db.session.refresh(row)
    assert row.status == "failed" and row.payload_enc is None
    assert json.loads(row.context) == {"slug": SLUG}


# --- L2: the extra-mail cap is a rolling window -------------------------------------


def test_l2_spent_extra_mails_come_back_after_the_window(app, client, mailbox, monkeypatch):
    """Anyone can spend a signer's extra mails (three "links again" for their address);
    that used to switch the signer's own "mail me my links again" off for good."""
    limit = app.config["ALREADY_SIGNED_MAIL_LIMIT"]
    signature = confirmed(app, "target@example.org")
    for _ in range(limit + 1):  # a stranger, or a harasser
        links_again(client, "target@example.org")
    deliver(app)
    assert len(subjects(mailbox, "target@example.org")) == 1 + limit  # confirm + capped
    db.session.refresh(signature)
    assert extra_mails_left(signature) == 0
    links_again(client, "target@example.org")  # the signer, the same day: still capped
    deliver(app)
    assert len(subjects(mailbox, "target@example.org")) == 1 + limit

    window = app.config.get("EXTRA_MAIL_WINDOW_HOURS", 24)
    later = utcnow() + timedelta(hours=window, minutes=1)
    monkeypatch.setattr(signer_mail, "utcnow", lambda: later)  # a day later
    db.session.refresh(signature)
    assert extra_mails_left(signature) == limit
    links_again(client, "target@example.org")
    deliver(app)
    assert subjects(mailbox, "target@example.org")[-1].startswith("Your links for")
    db.session.refresh(signature)
    assert signature.already_signed_mails == limit + 1  # the lifetime total still counts
