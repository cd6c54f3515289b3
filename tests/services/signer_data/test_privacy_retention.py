"""Keys, retention and erasure: `flask keys rotate`, `flask signatures purge`,
`flask campaign anonymize`, IP hashes and what a signature never stores."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Campaign, NameToken, OutboxMessage, Signature, SignatureStatus
from campaign.services.intake import links
from campaign.services.letters import reminders
from campaign.services.pages import cache, counting
from campaign.services.pages.content import library
from campaign.services.sealing import crypto, sealed
from campaign.services.signatures import confirmation, moderation
from campaign.services.signer_data import privacy, retention
from tests.helpers import SLUG, sign


def use_keys(app, keys: list[str]) -> None:
    app.config["ENCRYPTION_KEYS"] = keys
    cache.keys_changed(app)


def only(model):
    db.session.expire_all()
    return db.session.scalars(select(model)).one()


def test_keys_rotate_reencrypts_without_downtime(client, app):
    old = app.config["ENCRYPTION_KEYS"][0]
    sign(client, email="rotate@example.org", comment="kept")
    new = Fernet.generate_key().decode()
    use_keys(app, [new, old])  # step 1: new key first, old kept: both decrypt
    assert privacy.signer_record(only(Signature), sealed.EXPORT).email == "rotate@example.org"
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    # The queued confirmation holds no body to re-encrypt: the worker renders it.
    assert "signatures: re-encrypted 1," in result.output
    use_keys(app, [new])  # step 2: the old key is gone; everything still reads
    record = privacy.signer_record(only(Signature), sealed.EXPORT)
    assert (record.email, record.comment) == ("rotate@example.org", "kept")
    assert only(OutboxMessage).payload_enc is None
    use_keys(app, [old])  # and a leaked old key no longer opens the data
    with pytest.raises(crypto.CryptoError):
        privacy.signer_record(only(Signature), sealed.EXPORT)


def test_purge_deletes_expired_unconfirmed_and_old_ip_hashes(client, app):
    sign(client, email="old@example.org")
    sign(client, email="fresh@example.org")
    old, fresh = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    old.created_at -= timedelta(days=app.config["CONFIRM_EXPIRY_DAYS"] + 1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["signatures", "purge"])
    assert "deleted 1 expired signatures" in result.output
    assert db.session.scalars(select(Signature.id)).all() == [fresh.id]
    assert db.session.scalar(select(func.count(NameToken.signature_id))) == 2  # fresh's two
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1

    assert only(Signature).ip_hash
    app.config["IP_HASH_RETENTION_DAYS"] = 1
    fresh.created_at -= timedelta(days=2)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["signatures", "purge"])
    assert "cleared 1 IP hashes" in result.output
    assert only(Signature).ip_hash is None


def test_ip_hash_is_keyed_and_rotates_daily(app):
    from datetime import datetime

    day1, day2 = datetime(2026, 1, 1, 12), datetime(2026, 1, 2, 12)
    assert crypto.ip_hash("203.0.113.5", day1) == crypto.ip_hash("203.0.113.5", day1)
    assert crypto.ip_hash("203.0.113.5", day1) != crypto.ip_hash("203.0.113.5", day2)
    assert "203.0.113.5" not in crypto.ip_hash("203.0.113.5", day1)


def test_no_raw_ip_or_user_agent_is_stored(client, app):
    agent = "Mozilla/5.0 (X11; Linux) UniqueAgent/9.9"
    page = client.get(
        f"/{SLUG}/", environ_base={"REMOTE_ADDR": "198.51.100.77"}, headers={"User-Agent": agent}
    )
    from tests.helpers import hidden_fields

    data = hidden_fields(page.get_data(as_text=True))
    data.update(name="Maryam Ahmadi", email="ua@example.org", country="DE")
    client.post(
        f"/{SLUG}/sign",
        data=data,
        environ_base={"REMOTE_ADDR": "198.51.100.77"},
        headers={"User-Agent": agent},
    )
    signature = only(Signature)
    values = " ".join(str(getattr(signature, c.key)) for c in Signature.__table__.columns)
    assert "198.51.100.77" not in values and "UniqueAgent" not in values
    assert signature.ip_hash == crypto.ip_hash("198.51.100.77")


def test_anonymize_erases_closed_campaigns_and_keeps_counts(client, app):
    for n, country in enumerate(["DE", "IR", "IR"]):
        sign(client, email=f"anon{n}@example.org", country=country)
    for signature in db.session.scalars(select(Signature)).all():
        client.post(f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}")
    campaign = only(Campaign)
    assert counting.confirmed_count(campaign.id, fresh=True) == 3
    days = app.config["ANONYMIZE_AFTER_CLOSE_DAYS"]
    recent = date.today() - timedelta(days=days - 1)
    assert retention.anonymize_campaign(campaign, recent) == 0  # not yet: nothing erased
    long_ago = date.today() - timedelta(days=days + 1)
    assert retention.anonymize_campaign(campaign, long_ago) == 3
    assert retention.anonymize_campaign(campaign, long_ago) == 0  # safe to run again
    rows = db.session.scalars(select(Signature)).all()
    assert all(s.email_enc is None and s.name_enc is None and s.dedup_key is None for s in rows)
    assert sorted(s.country for s in rows) == ["DE", "IR", "IR"]  # counts by country kept
    assert all(s.created_at for s in rows)  # and by day
    assert all(s.status == SignatureStatus.CONFIRMED for s in rows)
    assert counting.confirmed_count(campaign.id, fresh=True) == 3
    assert db.session.scalar(select(func.count(NameToken.signature_id))) == 0


def test_anonymize_command_runs_on_a_schedule_safely(client, app):
    sign(client, email="sched@example.org")
    result = app.test_cli_runner().invoke(args=["campaign", "anonymize"])
    assert result.exit_code == 0 and f"{SLUG}: erased 0" in result.output  # still open
    result = app.test_cli_runner().invoke(args=["campaign", "anonymize", "--slug", SLUG, "--force"])
    assert f"{SLUG}: erased 1" in result.output


def test_every_signer_mail_has_withdraw_and_data_links(client, app, mailbox):
    from tests.helpers import deliver

    app.config["CONFIRM_REMINDER_HOURS"] = 0
    sign(client, email="links@example.org")  # confirm

    signature = only(Signature)
    signature.created_at -= timedelta(hours=1)
    db.session.commit()
    deliver(app)
    assert reminders.send_reminders() == 1  # reminder
    deliver(app)
    confirmation.confirm(library().get(SLUG), links.make_token(signature, "confirm"))
    sign(client, email="links@example.org")  # already-signed note
    deliver(app)
    assert len(mailbox.messages) == 3
    for message in mailbox.messages:
        assert mailbox.links(message, "withdraw"), message["Subject"]
        assert mailbox.links(message, "my-data"), message["Subject"]


def test_withdrawing_drops_unsent_mail_and_stops_all_mail(client, app, mailbox):
    from tests.helpers import deliver

    sign(client, email="stop@example.org")
    signature = only(Signature)
    withdraw = links.make_token(signature, "withdraw")
    assert client.post(f"/{SLUG}/withdraw/{withdraw}").status_code == 200
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0  # the queued mail is gone
    assert deliver(app) == 0 and mailbox.messages == []

    app.config["CONFIRM_REMINDER_HOURS"] = 0
    assert reminders.send_reminders() == 0  # and no reminder either


@pytest.mark.parametrize("way", ["erase", "withdraw", "anonymize"])
def test_erasure_drops_an_organizers_reason_and_keeps_the_status(client, app, way):
    """An organizer's reason is free text that can name or describe the signer; every
    erasure (an owner's, the signer's withdrawal, anonymization) clears it."""
    sign(client, email="reason@example.org", name="Reza Karimi")
    signature = only(Signature)
    client.post(f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}")
    signature = only(Signature)
    assert moderation.invalidate(signature, "Reza Karimi, brother of the organizer in Shiraz")
    if way == "erase":
        assert moderation.erase(signature)
    elif way == "withdraw":
        assert privacy.withdraw(signature)
    else:
        retention.anonymize_campaign(only(Campaign), None, force=True)
    row = only(Signature)
    assert row.erased_at is not None and row.invalid_reason is None
    expected = SignatureStatus.WITHDRAWN if way == "withdraw" else SignatureStatus.INVALIDATED
    assert row.status == expected and row.invalidated_at is not None
