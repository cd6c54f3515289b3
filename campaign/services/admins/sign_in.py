"""Admins signing in: the password step, failed attempts counted atomically,
lockout, rate limits, and the audited finish (after the TOTP step when it is on).

No HTTP here: the admin's sign-in views (admin/organizers/sessions.py) call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, update

from ...extensions import db
from ...models import AdminUser, utcnow
from ..intake import abuse
from ..sealing import audit, crypto
from .accounts import find, normalize_email
from .passwords import verify_password


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
