"""Admin accounts: roles, creating an account, changing its password, role or
disabled state (each audited), and the session token that ends old sign-ins.

No HTTP here: the admin's views and the `flask admin` commands both call it. Password
hashing is passwords.py's, signing in sign_in.py's, the second factor totp.py's.
"""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from sqlalchemy import func, select

from ...extensions import db
from ...models import AdminUser, utcnow
from ..sealing import audit
from .passwords import hash_password

ROLES = ("owner", "organizer", "viewer")
RANK = {"viewer": 1, "organizer": 2, "owner": 3}
PASSWORD_MIN = 12


class AccountError(ValueError):
    pass


def has_role(role: str, needed: str) -> bool:
    return RANK.get(role, 0) >= RANK[needed]


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_rules(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise AccountError(_("The password must have at least %(n)d characters.", n=PASSWORD_MIN))
    if len(password) > 1024:
        raise AccountError(_("The password is too long."))


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
