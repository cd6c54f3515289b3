"""`flask keys rotate`: every encrypted column, conditional on the row, resumable;
and what removing the old key afterwards does to a 2FA admin."""

from __future__ import annotations

import threading

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import AdminUser, OutboxMessage, Signature, SignatureStatus
from campaign.services.admins import accounts, totp
from campaign.services.outbox import mail
from campaign.services.outbox.mail_transport import Mail
from campaign.services.pages import cache
from campaign.services.sealing import crypto, organizer_key, rotation, sealed
from campaign.services.signer_data import privacy
from tests.admin.helpers import EMAILS, csrf_from, login
from tests.helpers import deliver, sign


def use_keys(app, keys: list[str]) -> None:
    app.config["ENCRYPTION_KEYS"] = keys
    cache.keys_changed(app)


def enrol(user: AdminUser) -> str:
    secret = totp.pending_totp_secret(user)
    assert totp.enable_totp(user, secret, pyotp.TOTP(secret).now())
    return secret


def every_encrypted_value() -> dict[tuple[str, str], list[str]]:
    """(table, column) -> the non-null values, for every *_enc column of the models."""
    db.session.expire_all()
    found = {}
    for table, columns in rotation.encrypted_columns().items():
        for column in columns:
            t = db.metadata.tables[table]
            found[(table, column)] = list(
                db.session.scalars(select(t.c[column]).where(t.c[column].is_not(None)))
            )
    return found


def test_rotation_covers_every_encrypted_column(client, app, users):
    old = app.config["ENCRYPTION_KEYS"][0]
    # Sealed to an organizer key with public consent: the public display (display_enc).
    app.config["ORGANIZER_PUBLIC_KEY"] = organizer_key.public_text(organizer_key.generate())
    sign(
        client,
        name="Maryam Ahmadi",
        email="maryam@example.org",
        comment="For my father",
        public_consent="y",
    )
    deliver(app)  # the worker seals it as it mails the link
    signature = db.session.scalars(select(Signature)).one()
    # one value in the pre-AES-GCM format (unbound Fernet), to be rebound as well
    signature.comment_enc = Fernet(old).encrypt(b"For my father").decode()
    db.session.commit()
    enrol(accounts.find(EMAILS["organizer"]))
    totp.pending_totp_secret(accounts.find(EMAILS["viewer"]))  # enrolment under way
    # Signer mail is rendered by the worker (no stored body); an organizer alert is not.
    mail.enqueue(Mail(to="owner@example.org", subject="Alert", text="body"), kind="alert")
    db.session.commit()
    before = every_encrypted_value()
    # The test itself must see every column: a new *_enc column needs data here.
    assert all(before.values()), [k for k, v in before.items() if not v]
    assert {"admin_users", "outbox", "signatures"} <= {table for table, _ in before}

    new = Fernet.generate_key().decode()
    use_keys(app, [new, old])
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch", "1"])
    assert result.exit_code == 0, result.output
    use_keys(app, [new])  # the old key is gone
    primary = crypto.keyring().primary
    after = every_encrypted_value()
    for (table, column), values in after.items():
        assert len(values) == len(before[(table, column)])
        for value in values:
            assert value.startswith(f"g1.{primary}."), (table, column)
    record = privacy.signer_record(db.session.scalars(select(Signature)).one(), sealed.EXPORT)
    assert (record.name, record.comment) == ("Maryam Ahmadi", "For my father")
    message = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.payload_enc.is_not(None))
    ).one()
    assert crypto.decrypt_field(
        message.payload_enc, column="outbox.payload_enc", row_key=message.idempotency_key
    )


def test_rotation_refuses_a_table_it_cannot_bind(app, monkeypatch):
    monkeypatch.delitem(rotation.ROW_KEYS, "outbox")
    with pytest.raises(rotation.RotationError):
        rotation.rotate_all()


def test_key_rotation_cannot_undo_withdrawal(client, app):
    """A withdrawal commits between rotation's read of a batch and its rewrite: the
    rewrite must not bring the erased name, address and comment back."""
    old = app.config["ENCRYPTION_KEYS"][0]
    sign(client, name="Reza Karimi", email="reza@example.org", comment="Free them")
    signature_id = db.session.scalars(select(Signature.id)).one()
    use_keys(app, [Fernet.generate_key().decode(), old])
    original = crypto.rotate_field
    withdrawn = threading.Event()

    def withdraw_meanwhile():
        with app.app_context():
            privacy.withdraw(db.session.get(Signature, signature_id))
            db.session.remove()
        withdrawn.set()

    def rotate_field(token, **kwargs):
        # The batch of signatures was read; the signer withdraws now.
        if kwargs["column"].startswith("signatures.") and not withdrawn.is_set():
            worker = threading.Thread(target=withdraw_meanwhile)
            worker.start()
            worker.join(30)
        return original(token, **kwargs)

    crypto.rotate_field = rotate_field
    try:
        report = rotation.rotate_all()
    finally:
        crypto.rotate_field = original
    assert withdrawn.is_set()
    assert report.tables["signatures"].skipped == 1
    db.session.expire_all()
    row = db.session.get(Signature, signature_id)
    assert row.status == SignatureStatus.WITHDRAWN
    assert (row.name_enc, row.email_enc, row.comment_enc) == (None, None, None)


def test_rotation_is_resumable(client, app):
    old = app.config["ENCRYPTION_KEYS"][0]
    for n in range(3):
        sign(client, name=f"Signer {'ABC'[n]}", email=f"s{n}@example.org")
    use_keys(app, [Fernet.generate_key().decode(), old])
    calls = []

    def interrupt(table, done):
        calls.append(table)
        if table == "signatures" and done == 1:
            raise KeyboardInterrupt  # Ctrl-C after the first batch

    with pytest.raises(KeyboardInterrupt):
        rotation.rotate_all(batch=1, progress=interrupt)
    report = rotation.rotate_all(batch=1)
    assert (report.tables["signatures"].current, report.tables["signatures"].rewritten) == (1, 2)
    again = rotation.rotate_all(batch=1)
    assert again.tables["signatures"].rewritten == 0


def totp_sign_in(app, secret: str, offset: int = 30):
    import time

    client = app.test_client()
    assert login(client, EMAILS["organizer"]).status_code == 303
    page = client.get("/admin/login/2fa").get_data(as_text=True)
    return client.post(
        "/admin/login/2fa",
        data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).at(time.time() + offset)},
    )


def test_old_key_removed_after_rotation_keeps_2fa_sign_in(app, users):
    old = app.config["ENCRYPTION_KEYS"][0]
    secret = enrol(accounts.find(EMAILS["organizer"]))
    new = Fernet.generate_key().decode()
    use_keys(app, [new, old])
    rotation.rotate_all()
    use_keys(app, [new])
    assert totp_sign_in(app, secret).status_code == 303


def test_old_key_removed_without_rotation_is_no_500(app, users):
    secret = enrol(accounts.find(EMAILS["organizer"]))
    use_keys(app, [Fernet.generate_key().decode()])
    assert totp_sign_in(app, secret).status_code == 401
