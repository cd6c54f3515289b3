"""Loading the signed-in organizer for Flask-Login, roles, and session rules.

The session holds `<id>:<session_token>`; rotating the token (on logout or a
password change) ends every session of that account on the server side.
"""

from __future__ import annotations

import hmac
import time
from functools import wraps

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, logout_user

from ..extensions import db, login_manager
from ..models import AdminUser
from ..services.admins.accounts import has_role
from ..services.intake.validation import parse_id
from ..services.pages.campaigns import get_row
from ..services.pages.content import library
from . import bp


class Organizer(UserMixin):
    def __init__(self, user: AdminUser) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_token}"

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def email(self) -> str:
        return self.user.email

    def can(self, role: str) -> bool:
        return has_role(self.user.role, role)


@login_manager.user_loader
def load_organizer(session_id: str) -> Organizer | None:
    user_id, _sep, token = (session_id or "").partition(":")
    if parse_id(user_id) is None:
        return None
    user = db.session.get(AdminUser, int(user_id))
    if user is None or user.disabled or not hmac.compare_digest(user.session_token, token):
        return None
    return Organizer(user)


login_manager.login_view = "admin.login"
login_manager.login_message = None  # the sign-in page explains itself


def role_required(role: str):
    """Signed out: to sign-in. Signed in without `role` (or higher): 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorator


PUBLIC_ENDPOINTS = {"admin.login", "admin.login_totp"}
ENROL_ENDPOINTS = {"admin.account", "admin.totp_setup", "admin.totp_qr", "admin.logout"}


@bp.before_request
def session_rules():
    """Idle timeout, and (with ADMIN_REQUIRE_2FA) enrolment before anything else."""
    if not current_user.is_authenticated:
        return None
    now = int(time.time())
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    seen = session.get("admin_seen")
    if seen is not None and now - int(seen) > idle:
        logout_user()
        session.clear()
        g.pop("csrf_token", None)
        flash(_("You were signed out after a period of inactivity."))
        return redirect(url_for("admin.login", next=request.full_path))
    session["admin_seen"] = now
    if (
        current_app.config["ADMIN_REQUIRE_2FA"]
        and not current_user.user.totp_enabled
        and request.endpoint not in ENROL_ENDPOINTS | PUBLIC_ENDPOINTS
    ):
        flash(_("Please set up two-factor authentication before you continue."))
        return redirect(url_for("admin.totp_setup"))
    return None


@bp.after_request
def admin_headers(response):
    """Admin pages hold personal data: never cached, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.app_context_processor
def admin_context() -> dict:
    if not request or not request.blueprint == "admin":
        return {}
    user = current_user if current_user.is_authenticated else None
    # The menu names the same pages everywhere: pages without a campaign (audit,
    # accounts) link to the home campaign's dashboard, signers, export and updates.
    campaigns = library().all() if user else []
    menu = library().home() or (campaigns[0] if campaigns else None)
    return {"admin_user": user, "menu_campaign": menu}


def campaign_or_404(slug: str):
    content = library().get(slug)
    if content is None:
        abort(404)
    return content, get_row(content)
