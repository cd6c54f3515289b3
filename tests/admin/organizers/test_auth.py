"""Sign-in: passwords, lockout, rate limits, TOTP, sessions, logout, and the CLI."""

from __future__ import annotations

import json
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import AdminUser, AuditEvent
from campaign.services.admins import accounts
from campaign.services.sealing import crypto
from tests.admin.helpers import EMAILS, PASSWORD, csrf_from, login, token_for


def actions() -> list[str]:
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_password_is_hashed_with_argon2(app, users):
    user = users["owner"]
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


def test_sign_in_sets_a_safe_cookie_and_is_audited(app, users):
    client = app.test_client()
    response = login(client, EMAILS["owner"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/admin/").status_code == 200
    assert "login" in actions()


def test_secure_cookie_over_https(database_url, monkeypatch, tmp_path):
    from campaign import create_app
    from tests.helpers import content_with_contact, test_config

    monkeypatch.setenv("BASE_URL", "https://petition.example")
    content = content_with_contact(tmp_path / "content")
    app = create_app(test_config(database_url, SMTP_URL="smtp://127.0.0.1:25", CONTENT_DIR=content))
    with app.app_context():
        accounts.create("tls@admin.test", PASSWORD, "viewer")
        client = app.test_client()
        page = client.get("/admin/login", base_url="https://petition.example")
        response = client.post(
            "/admin/login",
            base_url="https://petition.example",
            headers={"Referer": "https://petition.example/admin/login"},
            data={
                "csrf_token": csrf_from(page.get_data(as_text=True)),
                "email": "tls@admin.test",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 303
        assert "Secure" in response.headers["Set-Cookie"]
        db.session.remove()
        db.engine.dispose()


def test_wrong_password_is_refused_audited_and_locks_the_account(app, users):
    app.config["LOGIN_LOCK_AFTER"] = 3
    client = app.test_client()
    for _ in range(3):
        response = login(client, EMAILS["organizer"], "wrong password!!")
        assert response.status_code == 401
        assert "don&#39;t match" in response.get_data(as_text=True)
    # locked now: even the right password is refused, with the usual answer
    response = login(client, EMAILS["organizer"])
    assert response.status_code == 401
    assert actions().count("login.failed") == 4
    assert "login.locked" in actions()
    user = accounts.find(EMAILS["organizer"])
    assert user.locked_until is not None
    # an owner's reset unlocks
    accounts.set_password(user, "another long password")
    assert login(app.test_client(), EMAILS["organizer"], "another long password").status_code == 303


def body_without_token(response) -> str:
    return re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))


def test_locked_account_and_unknown_address_get_the_same_answer(app, users):
    """Account enumeration: a 423 only for real (locked) accounts told which exist."""
    app.config["LOGIN_LOCK_AFTER"] = 2
    for _ in range(2):
        login(app.test_client(), EMAILS["viewer"], "wrong password!!")
    assert accounts.find(EMAILS["viewer"]).locked_until is not None
    locked = login(app.test_client(), EMAILS["viewer"], "wrong password!!")
    unknown = login(app.test_client(), "nobody@admin.test", "wrong password!!")
    assert locked.status_code == unknown.status_code == 401
    assert body_without_token(locked) == body_without_token(unknown)
    assert "Retry-After" not in locked.headers and "Retry-After" not in unknown.headers


def test_unknown_account_gets_the_same_answer(app, users):
    response = login(app.test_client(), "nobody@admin.test", "whatever password")
    assert response.status_code == 401
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")).one()
    assert event.actor_email == "nobody@admin.test"


@pytest.fixture
def rate_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute", LOGIN_LOCK_AFTER=100)


def test_sign_in_is_rate_limited_per_ip_and_account(rate_limited, app, users):
    from campaign.extensions import limiter

    limiter.reset()
    client = app.test_client()
    statuses = [login(client, EMAILS["viewer"], "bad password here").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # the same IP is blocked for another account too
    assert login(client, EMAILS["owner"]).status_code == 429


def test_disabled_account_cannot_sign_in_and_its_sessions_end(app, users, as_role):
    client = as_role("organizer")
    assert client.get("/admin/").status_code == 200
    accounts.set_disabled(accounts.find(EMAILS["organizer"]), True)
    assert client.get("/admin/").status_code == 302
    assert login(app.test_client(), EMAILS["organizer"]).status_code == 401


def test_logout_invalidates_the_session_server_side(app, users, as_role):
    client = as_role("owner")
    stolen = client.get_cookie("session").value  # a copy of the cookie, as a thief would keep
    token = token_for(client)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/admin/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert "logout" in actions()


def test_idle_session_times_out(app, users, as_role):
    client = as_role("viewer")
    with client.session_transaction() as session:
        session["admin_seen"] = session["admin_seen"] - 31 * 60
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert client.get("/admin/").status_code == 302


def test_password_change_ends_other_sessions(app, users, as_role):
    first, second = as_role("organizer"), as_role("organizer")
    token = token_for(first)
    response = first.post(
        "/admin/account",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": "a brand new password",
            "repeat": "a brand new password",
        },
    )
    assert response.status_code == 303
    assert first.get("/admin/").status_code == 200  # this session continues
    assert second.get("/admin/").status_code == 302  # the other one ended
    assert "account.password" in actions()


def enrol_totp(client) -> str:
    page = client.get("/admin/account/2fa").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code, inline (CSP img-src data:)
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    response = client.post(
        "/admin/account/2fa", data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()}
    )
    assert response.status_code == 303
    return secret


def test_totp_enrolment_and_two_step_sign_in(app, users, as_role):
    secret = enrol_totp(as_role("organizer"))
    user = accounts.find(EMAILS["organizer"])
    assert (
        user.totp_enabled
        and crypto.decrypt_field(
            user.totp_secret_enc, column="admin_users.totp_secret_enc", row_key=user.id
        )
        == secret
    )
    assert secret not in (user.totp_secret_enc or "")

    client = app.test_client()
    response = login(client, EMAILS["organizer"])
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login/2fa")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    page = client.get("/admin/login/2fa").get_data(as_text=True)
    wrong = client.post("/admin/login/2fa", data={"csrf_token": csrf_from(page), "code": "000000"})
    assert wrong.status_code == 401
    # The enrolment used this time step's code; the next step's code is accepted (clock drift).
    code = pyotp.TOTP(secret).at(time.time() + 30)
    right = client.post("/admin/login/2fa", data={"csrf_token": csrf_from(page), "code": code})
    assert right.status_code == 303
    assert client.get("/admin/").status_code == 200

    # the same code a second time (seen over a shoulder, or phished) is refused
    other = app.test_client()
    login(other, EMAILS["organizer"])
    page = other.get("/admin/login/2fa").get_data(as_text=True)
    replay = other.post("/admin/login/2fa", data={"csrf_token": csrf_from(page), "code": code})
    assert replay.status_code == 401
    details = [
        json.loads(e.details or "{}")
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login"))
    ]
    assert {"password+totp"} <= {d.get("method") for d in details}


def test_required_2fa_sends_users_to_enrolment(app, users, as_role):
    app.config["ADMIN_REQUIRE_2FA"] = True
    client = as_role("viewer")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/account/2fa")
    enrol_totp(client)
    assert client.get("/admin/").status_code == 200


def test_next_redirect_stays_inside_the_admin(app, users):
    client = app.test_client()
    page = client.get("/admin/login?next=https://evil.example/").get_data(as_text=True)
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_from(page),
            "email": EMAILS["owner"],
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response.headers["Location"] == "/admin/"


def test_audit_log_refuses_update_delete_and_truncate(app, users):
    """Tampering with the audit log: UPDATE and DELETE (row triggers) and TRUNCATE (a
    statement trigger on PostgreSQL; SQLite has no TRUNCATE: "DELETE FROM" is it)."""
    from sqlalchemy import func, text
    from sqlalchemy.exc import DatabaseError

    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert before > 0
    statements = ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
    if db.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


# --- CLI ---------------------------------------------------------------------


def test_cli_creates_lists_disables_and_resets(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["admin", "create", "first@admin.test", "--role", "owner", "--password-stdin"],
        input="a long first password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created first@admin.test (owner)" in result.output
    result = runner.invoke(
        args=["admin", "create", "p@admin.test", "--role", "viewer"],
        input="a prompted password\na prompted password\n",
    )
    assert result.exit_code == 0, result.output
    short = runner.invoke(
        args=["admin", "create", "s@admin.test", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least" in short.output
    listing = runner.invoke(args=["admin", "list"]).output
    assert "first@admin.test\towner" in listing and "p@admin.test\tviewer" in listing
    assert runner.invoke(args=["admin", "disable", "p@admin.test"]).exit_code == 0
    assert db.session.scalar(select(AdminUser.disabled).where(AdminUser.email == "p@admin.test"))
    result = runner.invoke(
        args=["admin", "reset-password", "first@admin.test", "--password-stdin"],
        input="the second password\n",
    )
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "first@admin.test", "the second password").status_code == 303
    assert {"account.create", "account.disable", "account.password"} <= set(actions())


def test_owner_manages_accounts_in_the_admin(app, users, as_role):
    client = as_role("owner")
    token = token_for(client, "/admin/accounts")
    response = client.post(
        "/admin/accounts",
        data={
            "csrf_token": token,
            "email": "new@admin.test",
            "role": "viewer",
            "password": "a new user password",
        },
    )
    assert response.status_code == 303
    new = accounts.find("new@admin.test")
    assert new.role == "viewer"
    client.post(f"/admin/accounts/{new.id}/role", data={"csrf_token": token, "role": "organizer"})
    client.post(f"/admin/accounts/{new.id}/disable", data={"csrf_token": token})
    db.session.refresh(new)
    assert new.role == "organizer" and new.disabled
    html = client.get("/admin/audit").get_data(as_text=True)
    for action in ("account.create", "account.role", "account.disable", "login"):
        assert action in html


def test_totp_enrolment_secret_is_not_in_the_session_cookie(app, users, as_role):
    """Flask's session cookie is signed, not encrypted: anyone holding it (a shared
    computer, a proxy log, malware) could read a secret kept there and mint codes."""
    client = as_role("organizer")
    page = client.get("/admin/account/2fa").get_data(as_text=True)
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert secret not in repr(session)
    user = accounts.find(EMAILS["organizer"])
    assert user.totp_pending_enc and secret not in user.totp_pending_enc
    # the same secret on a reload (the QR code the user scanned stays valid)
    again = client.get("/admin/account/2fa").get_data(as_text=True)
    assert secret in again
    enrol_totp(client)
    db.session.expire_all()
    assert accounts.find(EMAILS["organizer"]).totp_pending_enc is None
