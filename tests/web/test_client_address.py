"""Issue 21, S1: behind a CDN every visitor arrives from one of its edges. The CDN's
header naming the visitor (TRUSTED_CLIENT_IP_HEADER) is the client's address, for
Flask and both fast paths alike, but only from the CDN's ranges through the trusted
proxy hops: from anyone else it is ignored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign import create_app
from campaign.extensions import db
from campaign.models import Signature
from campaign.services.sealing import crypto
from campaign.web import client_address
from tests.helpers import SLUG, sign_data
from tests.helpers import test_config as make_config

NGINX = "10.0.0.1"  # the trusted proxy, which connects to the app
EDGE = "203.0.113.9"  # one CDN edge, in its published range
CDN_RANGES = "198.51.100.0/24, 203.0.113.0/24"


def through(edge: str, client: str | None) -> dict:
    """What nginx passes on for a request the CDN edge `edge` forwarded for `client`."""
    headers = {"X-Forwarded-For": edge}
    if client is not None:
        headers["CF-Connecting-IP"] = client
    return {"headers": headers, "environ_base": {"REMOTE_ADDR": NGINX}}


@pytest.fixture
def behind_a_cdn(app_config):
    app_config.update(
        TRUSTED_PROXIES=1,
        TRUSTED_CLIENT_IP_HEADER="CF-Connecting-IP",
        TRUSTED_CLIENT_IP_FROM=[r.strip() for r in CDN_RANGES.split(",")],
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_SIGN="5 per minute;30 per hour",
        RATELIMIT_CONFIRM="20 per minute",
    )


def flags() -> list[str | None]:
    db.session.expire_all()
    return [s.flag_reason for s in db.session.scalars(select(Signature).order_by(Signature.id))]


def test_s1_signers_behind_one_cdn_edge_are_not_flagged_or_refused(behind_a_cdn, app, client):
    """Before, with docs/deploy.md's CDN and TRUSTED_PROXIES=1, every signer behind one
    edge shared its address: flagged from the sixth signature a minute, and 429 on the
    21st confirm-link request."""
    for n in range(8):
        response = client.post(
            f"/{SLUG}/sign",
            data=sign_data(client, email=f"s{n}@example.org"),
            **through(EDGE, f"192.0.2.{n + 1}"),
        )
        assert response.status_code == 303
    assert flags() == [None] * 8
    for n in range(25):
        page = client.get(f"/{SLUG}/confirm/1-{'0' * 40}", **through(EDGE, f"2001:db8::{n + 1:x}"))
        assert page.status_code == 404, n  # a dead link, not 429
    # One visitor is still limited on their own address.
    answers = [
        client.get(f"/{SLUG}/confirm/1-{'0' * 40}", **through(EDGE, "192.0.2.200")).status_code
        for _ in range(21)
    ]
    assert answers[:20] == [404] * 20 and answers[20] == 429


def test_s1_the_header_is_ignored_unless_the_cdn_sent_it(behind_a_cdn, app, client):
    """A client going round the CDN (from outside its ranges, or straight to the app)
    can't choose its address: the header is ignored and its own address counts."""
    for n in range(7):
        client.post(
            f"/{SLUG}/sign",
            data=sign_data(client, email=f"f{n}@example.org"),
            **through("192.0.2.77", f"192.0.2.{n + 10}"),  # not a CDN edge
        )
    assert flags() == [None] * 5 + ["rate limit (ip)"] * 2
    assert {s.ip_hash for s in db.session.scalars(select(Signature))} == {
        crypto.ip_hash("192.0.2.77")
    }
    direct = {"headers": {"CF-Connecting-IP": "192.0.2.1"}, "environ_base": {"REMOTE_ADDR": EDGE}}
    client.post(f"/{SLUG}/sign", data=sign_data(client, email="direct@example.org"), **direct)
    newest = db.session.scalars(select(Signature).order_by(Signature.id.desc())).first()
    assert newest.ip_hash == crypto.ip_hash(EDGE)  # no proxy hop: ProxyFix left it, so do we


def test_s1_flask_and_the_fast_path_see_the_same_client(behind_a_cdn, app, client):
    """The fast path (a plain sign POST) and Flask (the same POST with a query string,
    which the fast path passes on) store the same address's hash."""
    fast = client.post(
        f"/{SLUG}/sign",
        data=sign_data(client, email="fast@example.org"),
        **through(EDGE, "192.0.2.50"),
    )
    slow = client.post(
        f"/{SLUG}/sign?via=flask",
        data=sign_data(client, email="slow@example.org"),
        **through(EDGE, "192.0.2.50"),
    )
    assert fast.status_code == slow.status_code == 303
    hashes = {s.ip_hash for s in db.session.scalars(select(Signature))}
    assert hashes == {crypto.ip_hash("192.0.2.50")}


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"TRUSTED_PROXIES": 1}, "needs TRUSTED_CLIENT_IP_FROM"),
        ({"TRUSTED_CLIENT_IP_FROM": ["*"]}, "without TRUSTED_PROXIES"),
        (
            {
                "TRUSTED_PROXIES": 1,
                "TRUSTED_CLIENT_IP_FROM": ["*"],
                "TRUSTED_CLIENT_IP_HEADER": "X-Forwarded-For",
            },
            "not a list",
        ),
    ],
)
def test_a_header_anyone_could_set_refuses_to_start(database_url, settings, problem):
    config = make_config(database_url, **{"TRUSTED_CLIENT_IP_HEADER": "True-Client-IP", **settings})
    with pytest.raises(client_address.ClientAddressError, match=problem):
        create_app(config)
