"""The signing service without HTTP: sign, confirm, repeat, remind, purge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import (
    ConsentWording,
    NameToken,
    OutboxMessage,
    Signature,
    SignatureStatus,
    utcnow,
)
from campaign.services.intake import links
from campaign.services.letters import reminders
from campaign.services.outbox import mail_worker
from campaign.services.pages import counting
from campaign.services.pages.content import library
from campaign.services.sealing import blind_index, crypto
from campaign.services.signatures import confirmation, signing
from campaign.services.signatures.signing import SignatureInput, SigningError
from campaign.services.signer_data import privacy, retention
from tests.helpers import SLUG


def content():
    return library().get(SLUG)


def data(email: str = "signer@example.org", **fields) -> SignatureInput:
    values = {
        "name": "Parisa Mohammadi",
        "email": email,
        "country": "IR",
        "consent_public_text": "show",
        "consent_contact_text": "contact",
        **fields,
    }
    return SignatureInput.from_raw(**values)


def count_of(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def kinds() -> list[str]:
    return db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()


def token(signature_id: int, purpose: str = "confirm") -> str:
    return links.make_token(db.session.get(Signature, signature_id), purpose)


def age(signature_id: int, **delta) -> None:
    signature = db.session.get(Signature, signature_id)
    signature.created_at = utcnow() - timedelta(**delta)
    db.session.commit()


def test_sign_records_a_pending_encrypted_signature_and_its_mail(app):
    outcome = signing.sign(
        content(),
        data(
            "Parisa@Example.org", comment="For my uncle", public_consent=True, source="newsletter"
        ),
    )
    assert not outcome.repeat and not outcome.flagged
    signature = db.session.get(Signature, outcome.signature_id)
    assert signature.status == SignatureStatus.PENDING
    assert signature.dedup_key == blind_index.dedup_key("parisa@example.org")
    assert signature.dedup_key != "parisa@example.org"  # a keyed hash, not the address
    assert crypto.signer_value(signature, "email_enc") == "Parisa@example.org"
    assert crypto.signer_value(signature, "name_enc") == "Parisa Mohammadi"
    assert crypto.signer_value(signature, "comment_enc") == "For my uncle"
    assert "Parisa" not in (signature.email_enc + signature.name_enc)
    assert signature.public_consent and not signature.contact_consent
    assert signature.source == "newsletter"
    wording = db.session.get(ConsentWording, signature.consent_wording_id)
    assert (wording.public_text, wording.contact_text) == ("show", "contact")
    assert count_of(NameToken) == 2  # "parisa", "mohammadi", as keyed hashes
    assert kinds() == ["confirm"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "http://spam.example"), ("email", "nope"), ("country", "XX"), ("comment", "x" * 501)],
)
def test_bad_input_raises_for_its_field_and_writes_nothing(app, field, value):
    with pytest.raises(SigningError) as error:
        signing.sign(content(), data(**{field: value}))
    assert error.value.field == field and error.value.message
    assert count_of(Signature) == count_of(OutboxMessage) == 0


def test_repeat_submissions_each_get_their_own_link_capped(app, mailbox):
    app.config["ALREADY_SIGNED_MAIL_LIMIT"] = 2
    ids = [
        signing.sign(content(), data(email)).signature_id
        for email in (
            "same@example.org",
            "SAME@example.org",
            "Same@EXAMPLE.org",
            "same@example.ORG",
        )
    ]
    assert len(set(ids)) == 4 and count_of(Signature) == 4  # one row per submission
    assert kinds() == ["confirm"] * 4  # the request decides nothing: the worker does
    mail_worker.work(once=True)
    # The first mail, then two more while earlier ones wait; the fourth is deleted unmailed.
    assert len(mailbox.messages) == 3
    links_sent = [mailbox.links(m, "confirm")[0] for m in mailbox.messages]
    assert [link.rsplit("/", 1)[1] for link in links_sent] == [token(i) for i in ids[:3]]
    assert db.session.get(Signature, ids[3]) is None


def test_repeat_after_confirming_says_already_signed(app, mailbox):
    first = signing.sign(content(), data("done@example.org"))
    mail_worker.work(once=True)
    confirmation.confirm(content(), token(first.signature_id))
    repeat = signing.sign(content(), data("done@example.org"))
    mail_worker.work(once=True)
    confirm_mail, note = mailbox.messages
    assert mailbox.links(confirm_mail, "confirm")
    assert not mailbox.links(note, "confirm")  # nothing left to confirm
    assert mailbox.links(note, "withdraw")
    assert db.session.get(Signature, repeat.signature_id) is None  # redundant: deleted
    assert count_of(Signature) == 1


def test_aliases_are_one_signer_when_folding_is_on(app):
    app.config["FOLD_EMAIL_ALIASES"] = True
    one = signing.sign(content(), data("a.b+one@gmail.com")).signature_id
    two = signing.sign(content(), data("ab@googlemail.com")).signature_id
    key = db.session.get(Signature, one).dedup_key
    assert db.session.get(Signature, two).dedup_key == key
    app.config["FOLD_EMAIL_ALIASES"] = False
    three = signing.sign(content(), data("a.b+two@gmail.com")).signature_id
    assert db.session.get(Signature, three).dedup_key != key


def test_a_repeat_in_another_language_does_not_break_later_signers(app):
    signing.sign(content(), data("first@example.org"))
    french = {"language": "fr", "consent_public_text": "montrer", "consent_contact_text": "écrire"}
    assert signing.sign(content(), data("first@example.org", **french)).signature_id
    outcome = signing.sign(content(), data("second@example.org", **french))
    assert outcome.signature_id is not None
    assert count_of(Signature) == 3


def test_confirm_counts_once_and_is_safe_to_repeat(app):
    outcome = signing.sign(content(), data())
    cid = db.session.get(Signature, outcome.signature_id).campaign_id
    link = token(outcome.signature_id)
    assert confirmation.check_confirmation(content(), link).state == "pending"
    assert counting.confirmed_count(cid, fresh=True) == 0
    result = confirmation.confirm(content(), link)
    assert result.state == "confirmed" and result.signature.confirmed_at is not None
    assert confirmation.confirm(content(), link).state == "already"
    assert confirmation.check_confirmation(content(), link).state == "already"
    assert counting.confirmed_count(cid, fresh=True) == 1


def test_bad_tokens_are_invalid(app):
    outcome = signing.sign(content(), data())
    good = token(outcome.signature_id)
    withdraw = token(outcome.signature_id, "withdraw")
    for bad in (
        "",
        "garbage",
        good[:-1] + ("0" if good[-1] != "0" else "1"),
        withdraw,
        f"{outcome.signature_id + 1}-{good.split('-')[1]}",
        "9" * 30 + "-" + "a" * 40,
    ):
        assert confirmation.confirm(content(), bad).state == "invalid", bad
    assert count_of(Signature) == 1
    assert db.session.get(Signature, outcome.signature_id).status == SignatureStatus.PENDING


def test_expired_link_does_not_confirm(app):
    outcome = signing.sign(content(), data())
    age(outcome.signature_id, days=app.config["CONFIRM_EXPIRY_DAYS"], seconds=1)
    assert confirmation.confirm(content(), token(outcome.signature_id)).state == "expired"
    assert db.session.get(Signature, outcome.signature_id).status == SignatureStatus.PENDING


def test_closed_campaign_does_not_confirm(app):
    outcome = signing.sign(content(), data())
    closed = replace(content(), closes=date(2000, 1, 1))
    assert confirmation.confirm(closed, token(outcome.signature_id)).state == "closed"


def test_exactly_one_reminder(app, mailbox):
    app.config["CONFIRM_REMINDER_HOURS"] = 48
    old = signing.sign(content(), data("old@example.org")).signature_id
    young = signing.sign(content(), data("young@example.org")).signature_id
    confirmed = signing.sign(content(), data("confirmed@example.org")).signature_id
    expired = signing.sign(content(), data("expired@example.org")).signature_id
    mail_worker.work(once=True)  # the worker mails each submission its link (mailed_at)
    confirmation.confirm(content(), token(confirmed))
    age(old, hours=49)
    age(confirmed, hours=49)
    age(young, hours=47)
    age(expired, days=app.config["CONFIRM_EXPIRY_DAYS"], hours=1)

    assert reminders.send_reminders() == 1
    assert reminders.send_reminders() == 0  # never a second one
    assert kinds().count("reminder") == 1
    mail_worker.work(once=True)
    first, reminder = mailbox.to("old@example.org")  # delivered in the order queued
    assert reminder["Subject"] != first["Subject"]
    [link] = mailbox.links(reminder, "confirm")
    assert link.endswith(token(old))  # the same link as the first mail
    assert db.session.get(Signature, old).reminder_sent_at is not None


def test_purge_deletes_expired_unconfirmed_signatures_only(app):
    expired = signing.sign(content(), data("expired@example.org")).signature_id
    fresh = signing.sign(content(), data("fresh@example.org")).signature_id
    old_confirmed = signing.sign(content(), data("kept@example.org")).signature_id
    confirmation.confirm(content(), token(old_confirmed))
    for signature_id in (expired, old_confirmed):
        age(signature_id, days=app.config["CONFIRM_EXPIRY_DAYS"] + 1)

    assert retention.purge_expired() == 1
    remaining = set(db.session.scalars(select(Signature.id)))
    assert remaining == {fresh, old_confirmed}
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.signature_id == expired)
        )
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(NameToken).where(NameToken.signature_id == expired)
        )
        == 0
    )
    assert retention.purge_expired() == 0
    # The address is free again: signing anew starts over.
    assert not signing.sign(content(), data("expired@example.org")).repeat


def test_a_bot_posting_an_address_does_not_stop_its_owner_counting(app):
    # A honeypot post names the victim's address first; it is kept, flagged, unmailed.
    bot = signing.sign(
        content(), data("victim@example.org"), flag_reason="honeypot", send_mail=False
    )
    real = signing.sign(content(), data("victim@example.org"))
    assert not real.repeat and real.signature_id != bot.signature_id
    assert confirmation.confirm(content(), token(real.signature_id)).state == "confirmed"
    assert counting.confirmed_count(1, fresh=True) == 1


def test_a_clean_repeat_counts_though_an_earlier_submission_was_rate_limited(app):
    first = signing.sign(content(), data("burst@example.org"), flag_reason="rate limit (ip)")
    clean = signing.sign(content(), data("burst@example.org"))
    assert confirmation.confirm(content(), token(clean.signature_id)).state == "confirmed"
    assert counting.confirmed_count(1, fresh=True) == 1
    assert db.session.get(Signature, first.signature_id) is None  # the address's other one


def test_withdraw_rereads_the_signature_so_a_racing_withdrawal_counts_once(app):
    from sqlalchemy import text

    outcome = signing.sign(content(), data("twice@example.org"))
    confirmation.confirm(content(), token(outcome.signature_id))
    stale = db.session.get(Signature, outcome.signature_id)  # loaded while confirmed
    assert stale.status == "confirmed"
    # Meanwhile another request withdraws it, on its own connection, and commits.
    with db.engine.begin() as other:
        other.execute(
            text("UPDATE signatures SET status = 'withdrawn' WHERE id = :id"),
            {"id": outcome.signature_id},
        )
        other.execute(
            text(
                "UPDATE count_shards SET confirmed = confirmed - 1 "
                "WHERE campaign_id = 1 AND confirmed > 0 AND shard = "
                "(SELECT min(shard) FROM count_shards "
                " WHERE campaign_id = 1 AND confirmed > 0)"
            )
        )
    assert privacy.withdraw(stale) is False  # sees the withdrawal; adjusts nothing
    assert counting.confirmed_count(1, fresh=True) == 0


def test_erasing_drops_unsent_and_failed_mail(app):
    outcome = signing.sign(content(), data("gone@example.org"))
    db.session.execute(
        OutboxMessage.__table__.update()
        .values(status="failed")
        .where(OutboxMessage.signature_id == outcome.signature_id)
    )
    db.session.commit()
    privacy.withdraw(db.session.get(Signature, outcome.signature_id))
    assert count_of(OutboxMessage) == 0
