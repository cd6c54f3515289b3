"""Your own account (password, two-factor) and, for owners, everyone's accounts."""

from __future__ import annotations

import segno
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from ...extensions import db
from ...models import AdminUser
from ...services.admins import accounts, passwords, totp
from .. import bp
from ..auth import Organizer, role_required
from ..forms import AccountCreateForm, ActionForm, PasswordChangeForm, RoleForm, TotpForm


@bp.route("/account", methods=["GET", "POST"])
@role_required("viewer")
def account():
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = current_user.user
        if not passwords.verify_password(user, form.current.data):
            form.current.errors.append(_("That is not your current password."))
            status = 422
        else:
            try:
                accounts.set_password(user, form.password.data, actor=user)
            except accounts.AccountError as exc:
                form.password.errors.append(str(exc))
                status = 422
            else:
                login_user(Organizer(user))  # this session continues under the new token
                flash(_("Your password is changed; other sessions are signed out."))
                return redirect(url_for("admin.account"), 303)
    elif form.is_submitted():
        status = 422
    return render_template("admin/organizers/account.html", form=form), status


@bp.route("/account/2fa", methods=["GET", "POST"])
@role_required("viewer")
def totp_setup():
    user = current_user.user
    if user.totp_enabled:
        return render_template("admin/organizers/totp.html", enabled=True, form=None)
    secret = totp.pending_totp_secret(user)  # server-side, never in the cookie
    form = TotpForm()
    status = 200
    if form.validate_on_submit():
        if totp.enable_totp(user, secret, form.code.data):
            flash(_("Two-factor authentication is on."))
            return redirect(url_for("admin.account"), 303)
        form.code.errors.append(_("That code is wrong or expired."))
        status = 422
    elif form.is_submitted():
        status = 422
    uri = totp.provisioning_uri(user, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template(
        "admin/organizers/totp.html", enabled=False, form=form, qr=qr, secret=secret
    ), status


@bp.get("/accounts")
@role_required("owner")
def accounts_page():
    users = db.session.scalars(db.select(AdminUser).order_by(AdminUser.email)).all()
    return render_template(
        "admin/organizers/accounts.html",
        users=users,
        form=AccountCreateForm(),
        action_form=ActionForm(),
        role_form=RoleForm,
    )


@bp.post("/accounts")
@role_required("owner")
def accounts_create():
    form = AccountCreateForm()
    if form.validate_on_submit():
        try:
            accounts.create(
                form.email.data, form.password.data, form.role.data, actor=current_user.user
            )
        except accounts.AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(_("The account is created."))
            return redirect(url_for("admin.accounts_page"), 303)
    users = db.session.scalars(db.select(AdminUser).order_by(AdminUser.email)).all()
    return render_template(
        "admin/organizers/accounts.html",
        users=users,
        form=form,
        action_form=ActionForm(),
        role_form=RoleForm,
    ), 422


def _user_or_404(user_id: int) -> AdminUser:
    user = db.session.get(AdminUser, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/accounts/<int:user_id>/<action>")
@role_required("owner")
def account_action(user_id: int, action: str):
    user = _user_or_404(user_id)
    me = current_user.user
    if action == "role":
        form = RoleForm()
        if form.validate_on_submit():
            if user.id == me.id and form.role.data != "owner":
                flash(_("You can't take the owner role from yourself."))
            else:
                accounts.set_role(user, form.role.data, actor=me)
                flash(_("The role is changed."))
        return redirect(url_for("admin.accounts_page"), 303)
    if action not in ("disable", "enable", "reset-2fa") or not ActionForm().validate_on_submit():
        abort(400)
    if action == "disable":
        if user.id == me.id:
            flash(_("You can't disable your own account."))
        else:
            accounts.set_disabled(user, True, actor=me)
            flash(_("The account is disabled and signed out."))
    elif action == "enable":
        accounts.set_disabled(user, False, actor=me)
        flash(_("The account is enabled."))
    else:
        totp.disable_totp(user, actor=me)
        if user.id == me.id:
            login_user(Organizer(user))
        flash(_("Two-factor authentication is reset for %(email)s.", email=user.email))
    return redirect(url_for("admin.accounts_page"), 303)
