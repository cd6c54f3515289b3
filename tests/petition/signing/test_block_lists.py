"""Block and allow lists on signing.

Domain rules (disposable mail, BLOCKED_EMAIL_DOMAINS, ALLOWED_EMAIL_DOMAINS) answer
with a message next to the email field: a real person just uses another address.
Individually blocked addresses (BLOCKED_EMAILS) and IP ranges (BLOCKED_IP_RANGES)
are dropped silently: the answer is the usual "check your inbox", after the same
writes as a signing's, holding nothing of theirs (a placeholder the mail worker
deletes), so not even the answer's timing tells that an address is blocked.
"""

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from tests.helpers import SLUG, deliver, hidden_fields, sign


def rows() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count(Signature.id))),
        db.session.scalar(select(func.count(OutboxMessage.id))),
    )


def kept(app) -> tuple[int, int]:
    """What is kept once the mail worker has run: signatures, and mail sent."""
    deliver(app)
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(Signature.id))),
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
        ),
    )


def placeholders() -> list[Signature]:
    return db.session.scalars(select(Signature).where(Signature.flag_reason == "blocked")).all()


def email_error(response) -> str:
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html
    return html


def test_disposable_address_gets_a_field_error(client, app):
    response = sign(client, email="someone@mailinator.com")
    assert response.status_code == 422
    assert "disposable" in email_error(response)
    assert rows() == (0, 0)


def test_disposable_subdomain_is_caught_too(client, app):
    assert sign(client, email="x@eu.mailinator.com").status_code == 422
    assert rows() == (0, 0)


def test_disposable_check_can_be_turned_off(client, app):
    app.config["BLOCK_DISPOSABLE_EMAIL"] = False
    assert sign(client, email="someone@mailinator.com").status_code == 303
    assert rows() == (1, 1)


def test_blocked_domain_gets_a_field_error(client, app):
    app.config["BLOCKED_EMAIL_DOMAINS"] = ["spam.example", "@Bad.Example"]
    for address in ("a@spam.example", "b@mail.spam.example", "c@bad.example"):
        response = sign(client, email=address)
        assert response.status_code == 422, address
        assert "use another address" in email_error(response)
    assert sign(client, email="d@notspam.example").status_code == 303
    assert rows() == (1, 1)


def test_allow_list_admits_only_its_domains(client, app):
    app.config["ALLOWED_EMAIL_DOMAINS"] = ["example.org", "mailinator.com"]
    response = sign(client, email="someone@example.net")
    assert response.status_code == 422
    assert "example.org" in email_error(response)
    assert sign(client, email="ok@example.org").status_code == 303
    assert sign(client, email="ok@sub.example.org").status_code == 303
    # An explicit allow entry overrides the public disposable list.
    assert sign(client, email="ok@mailinator.com").status_code == 303
    assert rows() == (3, 3)


def test_blocked_address_is_dropped_silently_in_canonical_form(client, app, mailbox):
    app.config["BLOCKED_EMAILS"] = ["Troll@Example.org", "not an address"]
    normal = sign(client, email="fine@example.org")
    blocked = sign(client, email="  TROLL@example.ORG ", name="Troll Name", comment="mine")
    assert blocked.status_code == normal.status_code == 303
    assert blocked.headers["Location"] == normal.headers["Location"] == f"/{SLUG}/check-inbox"
    assert rows() == (2, 2)  # the same writes as a signing (issue 21, M2) ...
    [placeholder] = placeholders()  # ... holding nothing of theirs
    assert placeholder.email_enc is None and placeholder.name_enc is None
    assert placeholder.comment_enc is None and placeholder.dedup_key is None
    assert placeholder.email_domain_hash is None and placeholder.ip_hash is None
    assert kept(app) == (1, 1)  # only the fine one: the worker deleted the placeholder
    assert [m["To"] for m in mailbox.messages] == ["fine@example.org"]


def test_blocked_address_with_alias_folding(client, app, mailbox):
    app.config["FOLD_EMAIL_ALIASES"] = True
    app.config["BLOCKED_EMAILS"] = ["troll@gmail.com"]
    assert sign(client, email="t.r.o.l.l+x@googlemail.com").status_code == 303
    assert len(placeholders()) == 1
    assert kept(app) == (0, 0)
    assert mailbox.messages == []


@pytest.mark.parametrize(
    "ranges, ip, dropped",
    [
        (["203.0.113.0/24"], "203.0.113.7", True),
        (["203.0.113.0/24"], "198.51.100.7", False),
        (["2001:db8::/32", "junk"], "2001:db8::1", True),
        (["203.0.113.0/24"], "::ffff:203.0.113.9", True),
    ],
)
def test_blocked_ip_range_is_dropped_silently(client, app, mailbox, ranges, ip, dropped):
    app.config["BLOCKED_IP_RANGES"] = ranges
    page = client.get(f"/{SLUG}/", environ_base={"REMOTE_ADDR": ip})
    assert page.status_code == 200
    data = hidden_fields(page.get_data(as_text=True))
    data.update(name="Maryam Ahmadi", email="ip@example.org", country="DE")
    response = client.post(f"/{SLUG}/sign", data=data, environ_base={"REMOTE_ADDR": ip})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{SLUG}/check-inbox"
    assert rows() == (1, 1)  # the same writes either way
    assert len(placeholders()) == (1 if dropped else 0)
    assert kept(app) == ((0, 0) if dropped else (1, 1))
