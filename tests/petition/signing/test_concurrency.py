"""Twenty people press "Sign" at the same instant with one email (in varied case),
against a real gunicorn server with several workers and threads.

Each submission is its own pending row, and every submitter gets the same answer (303
to "check your inbox"), so the race reveals nothing. The mail worker then mails at most
1 + ALREADY_SIGNED_MAIL_LIMIT of them; when all those links are confirmed at once, the
partial unique index over confirmed rows lets exactly one count. Runs on PostgreSQL
when TEST_DATABASE_URL is set, else SQLite.
"""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services.intake import links
from campaign.services.outbox import mail_worker
from campaign.services.pages import counting
from tests.helpers import SLUG, hidden_fields, start_server

SUBMITTERS = 20
SPELLINGS = ["Same@Example.org", "same@example.ORG", "SAME@EXAMPLE.ORG", "same@Example.Org"]

pytestmark = pytest.mark.slow


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # we want to see the 303 itself
        return None


class Session:
    """One visitor: their own cookie jar, CSRF token and form timestamp."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )
        self.form: dict[str, str] = {}

    def open_form(self) -> None:
        with self.opener.open(f"{self.base}/{SLUG}/", timeout=30) as response:
            self.form = hidden_fields(response.read().decode())
        assert self.form.get("started") and "csrf_token" not in self.form

    def post(self, path: str) -> int:
        # Public POSTs carry no session token: the origin check guards them.
        request = urllib.request.Request(f"{self.base}{path}", data=b"", method="POST")
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def submit(self, email: str) -> tuple[int, str]:
        data = {**self.form, "name": "Same Person", "email": email, "country": "FR"}
        request = urllib.request.Request(
            f"{self.base}/{SLUG}/sign", data=urllib.parse.urlencode(data).encode(), method="POST"
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.headers.get("Location", "")
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx land here
            return error.code, error.headers.get("Location", "")


@pytest.fixture
def busy_server(app_config, tmp_path):
    """gunicorn with 4 workers × 4 threads: requests really run in parallel."""
    server = start_server(
        {**app_config, "COUNT_CACHE_SECONDS": 0}, workers=4, threads=4, log_dir=tmp_path
    )
    yield server
    server.stop()


def test_simultaneous_signings_of_one_email_make_one_signature(busy_server, app):
    sessions = [Session(busy_server.url) for _ in range(SUBMITTERS)]
    for session in sessions:
        session.open_form()

    barrier = threading.Barrier(SUBMITTERS)

    def go(index: int) -> tuple[int, str]:
        barrier.wait(timeout=30)  # release all submissions together
        return sessions[index].submit(SPELLINGS[index % len(SPELLINGS)])

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        answers = list(pool.map(go, range(SUBMITTERS)))

    log = busy_server.log.read_text(errors="replace")
    assert set(answers) == {(303, f"/{SLUG}/check-inbox")}, (answers, log[-3000:])
    assert db.session.scalar(select(func.count(Signature.id))) == SUBMITTERS  # none lost
    # The worker mails the first submission plus the capped extra ones; the rest go.
    limit = app.config["ALREADY_SIGNED_MAIL_LIMIT"]
    mail_worker.work(once=True)
    pending = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    assert len(pending) == 1 + limit
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
        )
        == 1 + limit
    )

    # Every mailed link confirmed at the same instant: exactly one counts.
    tokens = [links.make_token(signature, "confirm") for signature in pending]
    confirm_barrier = threading.Barrier(len(tokens))

    def confirm(index: int) -> int:
        confirm_barrier.wait(timeout=30)
        return sessions[index].post(f"/{SLUG}/confirm/{tokens[index]}")

    with ThreadPoolExecutor(len(tokens)) as pool:
        statuses = list(pool.map(confirm, range(len(tokens))))
    log = busy_server.log.read_text(errors="replace")
    assert all(status in (200, 303, 404) for status in statuses), (statuses, log[-3000:])
    db.session.expire_all()
    rows = db.session.scalars(select(Signature)).all()
    assert [row.status for row in rows] == ["confirmed"], statuses
    assert counting.confirmed_count(rows[0].campaign_id, fresh=True) == 1
    assert "Traceback" not in log
