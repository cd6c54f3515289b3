"""Issue 21, M2: the same database work for every address.

Resend, "mail me my links again", "wrong address?" and signing a blocked address each
do the same work on the request whatever the address's state: no submission, pending,
confirmed, withdrawn, erased, blocked, or with its extra mails spent. Each test here
runs the form once per state and compares the SQL statements the request ran
(SQLAlchemy's `before_cursor_execute`, parameters left out) and the rows it added per
table. Deterministic: the guard; tests/petition/inbox/test_same_work_timing.py times them.

Before the fix each form read the address's submission first and wrote only for some
states (an UPDATE of the cap and an outbox INSERT for a pending or confirmed one,
nothing for an unknown one, or once the cap was spent), and a blocked address wrote
nothing at all, so the answer's timing told whether an address had signed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from flask import g
from sqlalchemy import event, func, select

from campaign.extensions import db
from campaign.models import NameToken, OutboxMessage, Signature
from campaign.services.intake import links
from campaign.services.letters.signer_mail import take_extra_mail
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from campaign.services.signer_data import privacy
from tests.helpers import SLUG, deliver, hidden_fields, sign

# The states an address (or the submission a browser noted) can be in.
STATES = ("none", "pending", "confirmed", "withdrawn", "erased", "blocked", "capped")
TABLES = (Signature, NameToken, OutboxMessage)


@contextmanager
def recorded() -> Iterator[list[str]]:
    """The SQL statements run on the app's engine meanwhile, whitespace-normalized."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def row_counts() -> tuple[int, ...]:
    db.session.commit()  # a fresh snapshot (SQLite reads within one transaction)
    return tuple(db.session.scalar(select(func.count()).select_from(t)) for t in TABLES)


def work(post: Callable[[], object]) -> tuple[int, list[str], tuple[int, ...]]:
    """One request's status, the statements it ran, and the rows it added per table."""
    before = row_counts()
    with recorded() as statements:
        response = post()
    after = row_counts()
    return (
        response.status_code,
        statements,
        tuple(a - b for a, b in zip(after, before, strict=True)),
    )


def address(state: str) -> str:
    return f"{state}-state@example.org"


def confirm(signature_id: int) -> None:
    signature = db.session.get(Signature, signature_id)
    token = links.make_token(signature, "confirm")
    assert confirmation.confirm(library().get(SLUG), token).state == "confirmed"


def put_in_state(app, signature_id: int | None, state: str) -> None:
    """Move a submission (already mailed) into `state`; `none` and `blocked` have none."""
    if state in ("none", "blocked", "pending"):
        return
    if state == "capped":  # its extra mails spent: what today lets anyone do
        for _ in range(app.config["ALREADY_SIGNED_MAIL_LIMIT"] + 1):
            take_extra_mail(signature_id)
        db.session.commit()
        return
    confirm(signature_id)
    signature = db.session.get(Signature, signature_id)
    if state == "withdrawn":
        privacy.withdraw(signature)
    elif state == "erased":
        privacy.erase(signature)
        db.session.commit()


def signed(app, client, state: str, email: str) -> int | None:
    """Sign `email` through `client` (which keeps the note) and mail it; the id noted."""
    if state == "none":
        return None
    response = sign(client, email=email, name="Shirin Rahimi", comment="private words")
    assert response.status_code == 303
    deliver(app)
    db.session.commit()
    return db.session.scalar(select(func.max(Signature.id)))


@pytest.fixture
def blocked(app):
    app.config["BLOCKED_EMAILS"] = [address("blocked")]


def assert_same_work(
    results: dict[str, tuple[int, list[str], tuple[int, ...]]], reference_state: str = "none"
) -> None:
    reference = results[reference_state]
    for state, result in results.items():
        assert result[0] == reference[0], (state, result[0])
        assert result[2] == reference[2], (state, "rows added", result[2], reference[2])
        assert result[1] == reference[1], (state, result[1], reference[1])


def post_form(client, url: str, page: str, **fields):
    """The form on `page`, filled in, ready to post: the page GET is not measured."""
    # Requests share the fixture's app context, so Flask-WTF's per-request token cache
    # (g.csrf_token) would hand one browser's token to the next.
    g.pop("csrf_token", None)
    data = hidden_fields(client.get(page).get_data(as_text=True))
    data.update(fields)
    return lambda: client.post(url, data=data)


def test_m2_resend_does_the_same_work_for_every_address(app, client, mailbox, blocked):
    for state in STATES:
        put_in_state(app, signed(app, client, state, address(state)), state)
    page = f"/{SLUG}/check-inbox"
    work(post_form(app.test_client(), f"/{SLUG}/resend", page, email="warm@example.org"))
    results = {
        state: work(post_form(app.test_client(), f"/{SLUG}/resend", page, email=address(state)))
        for state in STATES
    }
    assert_same_work(results)
    assert results["none"][0] == 303
    assert results["none"][2] == (0, 0, 1)  # one bodiless outbox row, whoever asks


def test_m2_resend_again_from_the_note_does_the_same_work(app, client, mailbox, blocked):
    """ "Send it again" on the check-inbox page, to the address this browser noted."""
    clients = {state: app.test_client() for state in STATES if state != "none"}
    for state, browser in clients.items():
        put_in_state(app, signed(app, browser, state, address(state)), state)
    page = f"/{SLUG}/check-inbox"
    work(post_form(clients["pending"], f"/{SLUG}/resend", page))
    results = {
        state: work(post_form(browser, f"/{SLUG}/resend", page))
        for state, browser in clients.items()
    }
    assert_same_work(results, "pending")
    assert results["pending"][0] == 303
    assert results["pending"][2] == (0, 0, 1)


def test_m2_links_again_does_the_same_work_for_every_address(app, client, mailbox, blocked):
    for state in STATES:
        put_in_state(app, signed(app, client, state, address(state)), state)

    def links_again(email: str):
        return post_form(app.test_client(), "/privacy/links", "/privacy", email=email)

    work(links_again("warm@example.org"))
    results = {state: work(links_again(address(state))) for state in STATES}
    assert_same_work(results)
    assert results["none"][0] == 303
    assert results["none"][2] == (0, 0, 1)


def test_m2_wrong_address_does_the_same_work_whatever_the_submission(app, mailbox, blocked):
    """The note of each browser names a submission in another state (the blocked one a
    placeholder, `none` one discarded by its owner); the visitor retypes the address."""
    clients = {state: app.test_client() for state in ("warm", *STATES)}
    for state, browser in clients.items():
        pending = state in ("none", "warm")
        signature_id = signed(app, browser, "pending" if pending else state, address(state))
        put_in_state(app, signature_id, state)
        if state == "none":  # "this is not me": the noted submission is gone
            token = links.make_token(db.session.get(Signature, signature_id), "confirm")
            assert confirmation.discard(library().get(SLUG), token)
    page = f"/{SLUG}/check-inbox"

    def correct(state: str):
        url = f"/{SLUG}/correct-email"
        return post_form(clients[state], url, page, typed=address(state), email="new@example.org")

    work(correct("warm"))  # the note now holds the new address: a browser of its own
    results = {state: work(correct(state)) for state in STATES}
    assert_same_work(results)
    assert results["none"][0] == 303
    assert results["none"][2] == (0, 0, 1)


def test_m2_blocked_address_writes_what_a_signing_writes(app, client, mailbox, blocked):
    """Signing a blocked address writes the same rows as any signing (a placeholder
    holding nothing of theirs), where it wrote nothing and answered three times sooner."""
    sign(client, email="warm@example.org")
    for name in ("Shirin Rahimi", "Maryam Ahmadi Karimi"):  # name tokens: as many rows
        normal = work(partial(sign, client, email="someone-new@example.org", name=name))
        refused = work(partial(sign, client, email=address("blocked"), name=name))
        assert normal[0] == refused[0] == 303
        assert normal[2] == refused[2] == (1, len(name.split()), 1)


def test_m2_requests_need_no_worker_to_answer_and_still_work(app, client, mailbox):
    """The decision moved to the worker: with nothing delivered, a request only queued."""
    outcome = signing.sign(
        library().get(SLUG),
        signing.SignatureInput.from_raw(name="Roya K", email="roya@example.org", country="DE"),
    )
    deliver(app)
    before = len(mailbox.to("roya@example.org"))
    resend = post_form(client, f"/{SLUG}/resend", f"/{SLUG}/check-inbox", email="roya@example.org")
    assert resend().status_code == 303
    assert len(mailbox.to("roya@example.org")) == before  # nothing sent on the request
    deliver(app)
    [first, again] = mailbox.to("roya@example.org")
    assert mailbox.links(first, "confirm") == mailbox.links(again, "confirm")
    assert db.session.get(Signature, outcome.signature_id).status == "pending"
