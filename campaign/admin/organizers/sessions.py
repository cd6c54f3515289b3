"""Sign-in (password, then TOTP if enrolled), sign-out."""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ...extensions import db
from ...models import AdminUser
from ...services.admins import accounts, sign_in, totp
from ...services.sealing import audit, crypto
from .. import bp
from ..auth import Organizer
from ..forms import ActionForm, LoginForm, TotpForm

PENDING_2FA_SECONDS = 300


def safe_next(target: str | None) -> str:
    """Only redirect back inside the admin, never to another site."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.index")


def fresh_session() -> None:
    """Drop everything in the session (no fixation), including the cached CSRF token."""
    session.clear()
    g.pop("csrf_token", None)


def _start_session(user: AdminUser, next_url: str | None):
    fresh_session()
    login_user(Organizer(user))
    session["admin_seen"] = int(time.time())
    return redirect(safe_next(next_url), 303)


def retry_after(status: int) -> dict[str, str]:
    """429 and 423 say when to try again (the rate-limit window; the lockout)."""
    if status == 429:
        return {"Retry-After": "60"}
    if status == 423:
        return {"Retry-After": str(current_app.config["LOGIN_LOCK_MINUTES"] * 60)}
    return {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error, status = None, 200
    if form.validate_on_submit():
        result = sign_in.authenticate(form.email.data, form.password.data, request.remote_addr)
        if result.state == "ok":
            return _start_session(result.user, form.next.data)
        if result.state == "needs_totp":
            fresh_session()
            session["pending_2fa"] = {
                "id": result.user.id,
                "at": int(time.time()),
                "next": form.next.data or "",
            }
            return redirect(url_for("admin.login_totp"), 303)
        if result.state == "limited":
            error, status = _("Too many sign-in attempts. Please wait a few minutes."), 429
        else:
            # Locked, unknown, disabled or wrong: one answer, so no address is confirmed.
            error, status = (
                _(
                    "That email address and password don't match an account, or "
                    "the account is locked for a while after too many failed "
                    "sign-ins."
                ),
                401,
            )
    elif request.method == "POST":
        status = 422
    return (
        render_template("admin/organizers/login.html", form=form, error=error),
        status,
        retry_after(status),
    )


@bp.route("/login/2fa", methods=["GET", "POST"])
def login_totp():
    pending = session.get("pending_2fa")
    if not pending or time.time() - pending["at"] > PENDING_2FA_SECONDS:
        session.pop("pending_2fa", None)
        return redirect(url_for("admin.login"))
    user = db.session.get(AdminUser, pending["id"])
    if user is None or user.disabled:
        session.clear()
        return redirect(url_for("admin.login"))
    form = TotpForm()
    error, status = None, 200
    if form.validate_on_submit():
        ip = request.remote_addr
        if sign_in.rate_limited(user.email, ip):
            error, status = _("Too many sign-in attempts. Please wait a few minutes."), 429
        elif sign_in.is_locked(user):
            error, status = _("This account is locked for a while. Please try again later."), 423
        elif totp.verify_totp(user, form.code.data):
            sign_in.finish_sign_in(user, crypto.ip_hash(ip), method="password+totp")
            return _start_session(user, pending.get("next"))
        else:
            sign_in.record_failure(user, user.email, crypto.ip_hash(ip), "totp")
            error, status = _("That code is wrong or expired."), 401
    elif request.method == "POST":
        status = 422
    return (
        render_template("admin/organizers/login_totp.html", form=form, error=error),
        status,
        retry_after(status),
    )


@bp.post("/logout")
def logout():
    form = ActionForm()
    if current_user.is_authenticated and form.validate_on_submit():
        user = current_user.user
        accounts.rotate_session(user)  # old cookies, copied or not, stop working
        audit.record("logout", actor=user)
        db.session.commit()
        logout_user()
        fresh_session()
        flash(_("You are signed out."))
    return redirect(url_for("admin.login"), 303)
