"""The admins' second factor (TOTP, RFC 6238): enrolment with a secret kept
encrypted on the account, codes accepted once each, and resetting it.

The secrets are credentials, not personal data: this module decrypts them itself
(crypto.decrypt_field, bound to the column and the account id), as
tests/services/sealing/test_decrypt_path.py allows.
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import update

from ...extensions import db
from ...models import AdminUser, utcnow
from ..sealing import audit, crypto
from .accounts import rotate_session

log = logging.getLogger(__name__)
# Bound to the column and the account id (services/sealing/crypto.py).
TOTP = "admin_users.totp_secret_enc"
TOTP_PENDING = "admin_users.totp_pending_enc"
PENDING_TOTP_LIFETIME = timedelta(minutes=30)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: AdminUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Petition admin")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (of now, or one either side for clock drift) whose code is `code`."""
    code = (code or "").replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    found = None
    for drift in (-1, 0, 1):
        moment = now + drift * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            found = totp.timecode(datetime.fromtimestamp(moment, UTC))
    return found


def totp_matches(secret: str, code: str) -> bool:
    return matching_step(secret, code) is not None


def verify_totp(user: AdminUser, code: str) -> bool:
    """Check a sign-in code; each code works once (RFC 6238 §5.2: no replay)."""
    if not user.totp_enabled or not user.totp_secret_enc:
        return False
    try:
        secret = crypto.decrypt_field(user.totp_secret_enc, column=TOTP, row_key=user.id)
    except crypto.CryptoError:
        # Its key was removed before `flask keys rotate` rewrote it: refuse the code
        # (an owner can reset 2FA) rather than fail the sign-in with a 500.
        log.error("admin %s: TOTP secret cannot be decrypted; reset its 2FA", user.id)
        return False
    step = matching_step(secret, code)
    if step is None:
        return False
    # Conditional UPDATE: of two submissions of one code at once, the database lets
    # exactly one move totp_last_step forward (the other waits for the row, then misses).
    accepted = db.session.execute(
        update(AdminUser)
        .where(
            AdminUser.id == user.id,
            (AdminUser.totp_last_step.is_(None)) | (AdminUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(user, ["totp_last_step"])
    return accepted == 1


def pending_totp_secret(user: AdminUser) -> str:
    """The secret being enrolled: kept encrypted on the account, not in the session
    cookie (Flask's cookie is signed, not encrypted). A fresh one after a while."""
    if (
        user.totp_pending_enc
        and user.totp_pending_at
        and (utcnow() - user.totp_pending_at < PENDING_TOTP_LIFETIME)
    ):
        try:
            return crypto.decrypt_field(user.totp_pending_enc, column=TOTP_PENDING, row_key=user.id)
        except crypto.CryptoError:
            pass  # its key is gone: start over with a new secret
    secret = new_totp_secret()
    user.totp_pending_enc = crypto.encrypt_field(secret, column=TOTP_PENDING, row_key=user.id)
    user.totp_pending_at = utcnow()
    db.session.commit()
    return secret


def enable_totp(user: AdminUser, secret: str, code: str) -> bool:
    if not totp_matches(secret, code):
        return False
    user.totp_secret_enc = crypto.encrypt_field(secret, column=TOTP, row_key=user.id)
    user.totp_enabled = True
    user.totp_last_step = matching_step(secret, code)
    user.totp_pending_enc = user.totp_pending_at = None
    audit.record("account.totp_enabled", actor=user, target=user.email)
    db.session.commit()
    return True


def disable_totp(user: AdminUser, *, actor: AdminUser | None = None) -> None:
    user.totp_secret_enc = None
    user.totp_enabled = False
    user.totp_pending_enc = user.totp_pending_at = None
    user.totp_last_step = None
    rotate_session(user)
    audit.record(
        "account.totp_reset", actor=actor, actor_email=None if actor else "cli", target=user.email
    )
    db.session.commit()
