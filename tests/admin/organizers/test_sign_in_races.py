"""Sign-in under parallel requests, with real threads on the real database (CI runs
this on PostgreSQL): no lost increments, no code accepted twice."""

from __future__ import annotations

import threading
import time

import pyotp
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AdminUser, AuditEvent
from campaign.services.admins import accounts, sign_in, totp
from tests.admin.helpers import EMAILS


def in_parallel(app, count: int, work) -> list:
    """Run `work(n)` in `count` threads, each in its own app context (own session and
    connection), released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(10)
                results[n] = work(n)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_parallel_wrong_passwords_cannot_dodge_the_lockout(app, users):
    """Eight wrong passwords at once against a limit of five: with a read-modify-write
    counter they overwrote each other's increment and the account never locked."""
    app.config["LOGIN_LOCK_AFTER"] = 5
    states = in_parallel(
        app,
        8,
        lambda n: (
            sign_in.authenticate(EMAILS["organizer"], f"wrong password {n}", f"192.0.2.{n}").state
        ),
    )
    assert states == ["bad"] * 8
    db.session.expire_all()
    user = accounts.find(EMAILS["organizer"])
    assert user.locked_until is not None
    assert user.failed_logins == 3  # 8 failures: locked (and reset) at the 5th, 3 since
    events = dict(
        db.session.execute(
            select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
        ).all()
    )
    assert events["login.failed"] == 8 and events["login.locked"] == 1


def test_one_totp_code_submitted_twice_at_once_signs_in_once(app, users):
    user = accounts.find(EMAILS["organizer"])
    secret = totp.pending_totp_secret(user)
    assert totp.enable_totp(user, secret, pyotp.TOTP(secret).now())
    code = pyotp.TOTP(secret).at(time.time() + 30)  # not the step used to enrol
    user_id = user.id  # read here: the threads must not touch this session

    def submit(_n: int) -> bool:
        me = db.session.get(AdminUser, user_id)
        accepted = totp.verify_totp(me, code)
        if accepted:
            sign_in.finish_sign_in(me, None, method="password+totp")
        else:
            db.session.rollback()
        return accepted

    assert sorted(in_parallel(app, 2, submit)) == [False, True]
