"""Two real app servers (gunicorn, two workers each) on one database and one Redis.

Dedup, counts and rate limits must hold across both, as they do behind a load
balancer. On PostgreSQL (CI) both share the test database; on SQLite, one file.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services.intake import links
from tests.helpers import SLUG, TEST_REDIS_URL, hidden_fields, require


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client for one server, that doesn't follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sign(self, email: str, name: str = "Maryam Ahmadi") -> int:
        status, html = self.request(f"/{SLUG}/")
        assert status == 200
        data = hidden_fields(html)
        data.update(name=name, email=email, country="DE")
        return self.request(f"/{SLUG}/sign", data)[0]

    def count(self) -> str:
        html = self.request(f"/{SLUG}/")[1]
        return re.search(r'<p class="count"><strong>([^<]*)</strong>', html).group(1)


def signatures() -> list[Signature]:
    db.session.expire_all()
    return db.session.scalars(select(Signature).order_by(Signature.id)).all()


@pytest.mark.slow
@pytest.mark.redis
def test_dedup_counts_and_rate_limits_hold_across_two_servers(app, app_config, live_server):
    require(bool(TEST_REDIS_URL), "needs Redis (TEST_REDIS_URL)")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    shared = dict(
        REDIS_URL=TEST_REDIS_URL,
        RATELIMIT_ENABLED=True,
        RATELIMIT_KEY_PREFIX=prefix,
        RATELIMIT_SIGN="2 per minute",
        RATELIMIT_CONFIRM="3 per minute",
        RATELIMIT_RESEND="100 per minute",
        COUNT_CACHE_SECONDS=0,
    )
    one, two = live_server(**shared), live_server(**shared)
    a, b = Browser(one.url), Browser(two.url)

    # Dedup: the same person through both servers is one address (its own row and link
    # per submission; the first confirmation ends the other, checked below).
    assert a.sign("Both@Example.org") == 303
    assert b.sign("both@example.ORG", name="Someone Else") == 303
    signature, other = signatures()
    assert signature.dedup_key == other.dedup_key
    kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["confirm", "confirm"]

    # Signing limits are shared: the third signing from this IP, on either server, is
    # answered as usual but flagged and not counted.
    assert a.sign("third@example.org") == 303
    third = signatures()[-1]
    assert third.flagged and third.flag_reason == "rate limit (ip)"
    assert not signature.flagged

    # Counts: confirmed through one server, the other shows it (cache window 0 here).
    assert a.count() == b.count() == "0"
    token = links.make_token(signature, "confirm")
    status, html = a.request(f"/{SLUG}/confirm/{token}")  # confirm hit 1
    assert status == 200
    status, _ = a.request(f"/{SLUG}/confirm/{token}", hidden_fields(html))  # hit 2
    assert status == 303
    assert b.count() == "1"
    assert a.count() == "1"
    assert other.id not in [row.id for row in signatures()]  # gone with the confirmation

    # Confirm limits are shared: hit 3 on the other server passes, then both refuse.
    assert b.request(f"/{SLUG}/confirm/1-{'0' * 40}")[0] == 404
    assert a.request(f"/{SLUG}/confirm/1-{'0' * 40}")[0] == 429
    assert b.request(f"/{SLUG}/confirm/1-{'0' * 40}")[0] == 429

    import redis

    keys = redis.Redis.from_url(TEST_REDIS_URL).keys(f"*{prefix}*")
    assert keys, "the limits live in Redis"
    assert db.session.scalar(select(func.count(Signature.id))) == 2
