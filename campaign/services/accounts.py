"""Admin accounts: argon2 password hashes, TOTP second factor, lockout.

No HTTP here: the admin's sign-in view and the `flask admin` commands both call it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from ..extensions import db
from ..models import AdminUser, utcnow
from . import abuse, audit, cache, crypto

log = logging.getLogger(__name__)
# Bound to the column and the account id (services/crypto.py).
TOTP = "admin_users.totp_secret_enc"
TOTP_PENDING = "admin_users.totp_pending_enc"
ROLES = ("owner", "organizer", "viewer")
RANK = {"viewer": 1, "organizer": 2, "owner": 3}
PASSWORD_MIN = 12
PENDING_TOTP_LIFETIME = timedelta(minutes=30)


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """argon2id with the library's defaults (RFC 9106 low-memory profile) unless the
    app config sets ARGON2_TIME_COST / ARGON2_MEMORY_COST (KiB)."""
    config = current_app.config
    time_cost = config.get("ARGON2_TIME_COST", 3)
    memory_cost = config.get("ARGON2_MEMORY_COST", 65536)

    def build() -> tuple[PasswordHasher, str]:
        hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
        # Verified against for unknown accounts, so timing doesn't reveal who has one.
        return hasher, hasher.hash("not-a-real-password")

    return cache.settings_value("argon2", build, (time_cost, memory_cost))


def _hasher() -> PasswordHasher:
    return _hasher_and_dummy()[0]


class AccountError(ValueError):
    pass


def has_role(role: str, needed: str) -> bool:
    return RANK.get(role, 0) >= RANK[needed]


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password_rules(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise AccountError(_("The password must have at least %(n)d characters.", n=PASSWORD_MIN))
    if len(password) > 1024:
        raise AccountError(_("The password is too long."))


def verify_password(user: AdminUser | None, password: str) -> bool:
    hasher, dummy = _hasher_and_dummy()
    try:
        hasher.verify(user.password_hash if user else dummy, password or "")
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def find(email: str) -> AdminUser | None:
    return db.session.scalar(
        select(AdminUser).where(func.lower(AdminUser.email) == normalize_email(email))
    )


def create(email: str, password: str, role: str, *, actor: AdminUser | None = None) -> AdminUser:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(_("Please give a valid email address."))
    if role not in ROLES:
        raise AccountError(_("The role must be one of %(roles)s.", roles=", ".join(ROLES)))
    check_password_rules(password)
    if find(email) is not None:
        raise AccountError(_("An account with this email already exists."))
    user = AdminUser(
        email=email,
        password_hash=hash_password(password),
        role=role,
        session_token=secrets.token_hex(32),
        created_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "account.create",
        actor=actor,
        actor_email=None if actor else "cli",
        target=email,
        details={"role": role},
    )
    db.session.commit()
    return user


def rotate_session(user: AdminUser) -> None:
    """Every cookie holding the old token stops working (logout everywhere)."""
    user.session_token = secrets.token_hex(32)


def set_password(user: AdminUser, password: str, *, actor: AdminUser | None = None) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    rotate_session(user)
    audit.record(
        "account.password", actor=actor, actor_email=None if actor else "cli", target=user.email
    )
    db.session.commit()


def set_disabled(user: AdminUser, disabled: bool, *, actor: AdminUser | None = None) -> None:
    user.disabled = disabled
    rotate_session(user)
    audit.record(
        "account.disable" if disabled else "account.enable",
        actor=actor,
        actor_email=None if actor else "cli",
        target=user.email,
    )
    db.session.commit()


def set_role(user: AdminUser, role: str, *, actor: AdminUser | None = None) -> None:
    if role not in ROLES:
        raise AccountError(_("The role must be one of %(roles)s.", roles=", ".join(ROLES)))
    before = user.role
    user.role = role
    rotate_session(user)
    audit.record(
        "account.role", actor=actor, target=user.email, details={"from": before, "to": role}
    )
    db.session.commit()


# --- sign-in ----------------------------------------------------------------


@dataclass
class SignIn:
    state: str  # ok | needs_totp | bad | locked | limited
    user: AdminUser | None = None


def is_locked(user: AdminUser) -> bool:
    return bool(user.locked_until and user.locked_until > utcnow())


def rate_limited(email: str, ip: str | None) -> bool:
    limits = current_app.config["RATELIMIT_LOGIN"]
    by_ip = abuse.over_limit("login-ip", limits, ip or "-")
    by_account = abuse.over_limit("login-account", limits, normalize_email(email))
    return by_ip or by_account


def record_failure(user: AdminUser | None, email: str, ip_hash: str | None, why: str) -> None:
    """Count a failed attempt in one atomic UPDATE (a read-modify-write would lose
    increments to parallel guesses, and the lockout would never trigger)."""
    config = current_app.config
    if user is not None:
        failed = db.session.execute(
            update(AdminUser)
            .where(AdminUser.id == user.id)
            .values(failed_logins=func.coalesce(AdminUser.failed_logins, 0) + 1)
            .returning(AdminUser.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        if failed >= config["LOGIN_LOCK_AFTER"]:
            # Conditional: of parallel attempts past the limit, one locks and resets.
            locked = db.session.execute(
                update(AdminUser)
                .where(
                    AdminUser.id == user.id, AdminUser.failed_logins >= config["LOGIN_LOCK_AFTER"]
                )
                .values(
                    failed_logins=0,
                    locked_until=utcnow() + timedelta(minutes=config["LOGIN_LOCK_MINUTES"]),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if locked:
                audit.record("login.locked", actor=user, target=user.email)
        db.session.expire(user, ["failed_logins", "locked_until"])
    audit.record(
        "login.failed",
        actor=user,
        actor_email=normalize_email(email)[:254],
        details={"reason": why, "ip_hash": ip_hash},
    )
    db.session.commit()


def authenticate(email: str, password: str, ip: str | None) -> SignIn:
    """Check the password step. Failed attempts are counted, audited and rate-limited."""
    ip_hash = crypto.ip_hash(ip)
    if rate_limited(email, ip):
        audit.record(
            "login.failed",
            actor_email=normalize_email(email)[:254],
            details={"reason": "rate limit", "ip_hash": ip_hash},
            commit=True,
        )
        return SignIn("limited")
    user = find(email)
    if user is not None and is_locked(user):
        verify_password(None, password)  # same work either way
        record_failure(None, email, ip_hash, "locked")
        return SignIn("locked")
    if not verify_password(user, password) or user.disabled:
        record_failure(user, email, ip_hash, "disabled" if user and user.disabled else "password")
        return SignIn("bad")
    if user.totp_enabled:
        db.session.commit()
        return SignIn("needs_totp", user)
    finish_sign_in(user, ip_hash)
    return SignIn("ok", user)


def finish_sign_in(user: AdminUser, ip_hash: str | None, *, method: str = "password") -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record("login", actor=user, details={"method": method, "ip_hash": ip_hash})
    db.session.commit()


# --- TOTP -------------------------------------------------------------------


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
