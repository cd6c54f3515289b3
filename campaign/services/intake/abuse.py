"""Abuse checks on signing. Abusers are answered like everyone else ("check your
inbox"), so they learn nothing; what they sent is flagged rather than counted."""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from limits import parse_many
from sqlalchemy import func, select

from ...extensions import db, limiter
from ...models import AdminUser, AuditEvent, Signature, utcnow
from ..outbox import mail
from ..outbox.mail_transport import render_mail
from ..pages import cache
from .validation import normalize_email

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    flag_reason: str | None = None  # keep the signature, but don't count it
    send_mail: bool = True  # False for bots: don't mail whoever they named
    drop: bool = False  # blocked sources: keep nothing of theirs (signing.placeholder)


CLEAN = Verdict()
# Sent faster than MIN_FORM_SECONDS: maybe a bot, maybe a browser's autofill. Mailed
# like any signature; confirming it from the mailbox clears this flag (confirmation.confirm).
FAST = "too fast"


def over_limit(scope: str, limits: str, *identity: str) -> bool:
    """Count one hit against each limit in `limits`; True if any is exceeded."""
    if not limiter.enabled or not current_app.config["RATELIMIT_ENABLED"]:
        return False
    strategy = limiter.limiter
    # The same prefix as Flask-Limiter's own keys, so instances sharing one Redis
    # for different sites (or test runs) don't count each other's hits.
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "campaign"
    exceeded = False
    for item in parse_many(limits):
        try:
            if not strategy.hit(item, prefix, scope, *identity):
                exceeded = True
        except Exception:  # noqa: BLE001 - storage down (Redis): fail open, as Flask-Limiter does
            if not current_app.config.get("RATELIMIT_SWALLOW_ERRORS", True):
                raise
            log.exception("rate-limit storage unavailable; %s not limited", scope)
            return False
    return exceeded


def _blocked_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    ranges = tuple(current_app.config["BLOCKED_IP_RANGES"])
    return cache.settings_value("blocked_networks", lambda: _networks(ranges), ranges)


def _networks(ranges: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for network in ranges:
        try:
            networks.append(ipaddress.ip_network(network.strip(), strict=False))
        except ValueError:
            log.warning("BLOCKED_IP_RANGES: ignoring %r, not a CIDR range", network)
    return networks


def ip_blocked(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):  # ::ffff:1.2.3.4 is 1.2.3.4
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in _blocked_networks())


def _blocked_canonicals() -> frozenset[str]:
    """BLOCKED_EMAILS in the same canonical form as the dedup key uses."""
    listed = tuple(current_app.config["BLOCKED_EMAILS"])
    fold = current_app.config["FOLD_EMAIL_ALIASES"]
    return cache.settings_value("blocked_emails", lambda: _canonicals(listed), (listed, fold))


def _canonicals(listed: tuple[str, ...]) -> frozenset[str]:
    canonicals = set()
    for raw in listed:
        try:
            canonicals.add(normalize_email(raw).canonical)
        except ValueError:
            log.warning("BLOCKED_EMAILS: ignoring %r, not an email address", raw)
    return frozenset(canonicals)


def email_blocked(canonical: str) -> bool:
    """An individually blocked address. Dropped silently, unlike blocked domains: the
    list holds people who must not be signed up (e.g. someone who asked never to be,
    or addresses a harasser keeps using), and whoever typed it should learn nothing."""
    return canonical in _blocked_canonicals()


def check_signing(
    *,
    slug: str,
    ip: str | None,
    honeypot: str | None,
    seconds_open: float | None,
    canonical_email: str | None = None,
) -> Verdict:
    """The one abuse decision on a submission: drop it (a blocked source or address),
    flag it, or accept it. The signing service records what this decides."""
    if ip_blocked(ip) or (canonical_email is not None and email_blocked(canonical_email)):
        return Verdict(drop=True)
    if honeypot:
        return Verdict("honeypot", send_mail=False)
    minimum = current_app.config["MIN_FORM_SECONDS"]
    fast = bool(minimum and (seconds_open is None or seconds_open < minimum))
    config = current_app.config
    # Fast forms count against the limits too: they are mailed now.
    if over_limit("sign-ip", config["RATELIMIT_SIGN"], slug, ip or "-"):
        return Verdict("rate limit (ip)")
    if over_limit("sign-petition", config["RATELIMIT_SIGN_PER_PETITION"], slug):
        return Verdict("rate limit (petition)")
    return Verdict(FAST) if fast else CLEAN


def confirm_limited(ip: str | None) -> bool:
    """Count one confirm-link request (GET or POST) from `ip`; True if over
    RATELIMIT_CONFIRM. Guessing links is hopeless (HMAC), but scanning them costs us."""
    return over_limit("confirm", current_app.config["RATELIMIT_CONFIRM"], ip or "-")


@dataclass(frozen=True)
class Trend:
    kind: str  # "ip" (daily IP hash) or "domain" (email domain hash)
    key: str  # the keyed hash: it names no one, but lets an organizer filter on it
    count: int  # signatures in the window
    expected: float  # the usual number per window, from the baseline period


TREND_MINIMUM = 10  # an hour with fewer signatures from one source never trends
TREND_FACTOR = 5.0  # ... nor one under this many times its usual rate
TREND_BASELINE = timedelta(days=1)  # the usual rate: per window over this period before


def trending(
    campaign_id: int,
    *,
    window: timedelta = timedelta(hours=1),
    baseline: timedelta = TREND_BASELINE,
    factor: float = TREND_FACTOR,
    minimum: int = TREND_MINIMUM,
    now: datetime | None = None,
) -> list[Trend]:
    """IP hashes and email domains signing far above their own normal rate.

    A group trends when it has at least `minimum` signatures in the last `window`
    and `factor` times its average per window over the `baseline` before that.
    Comparing each group with its own history keeps big mail providers quiet
    while a new domain or one address hammering the form stands out.
    """
    now = now or utcnow()
    start, past_start = now - window, now - baseline
    windows_in_baseline = max((baseline - window) / window, 1.0)
    trends: list[Trend] = []
    for kind, column in (("ip", Signature.ip_hash), ("domain", Signature.email_domain_hash)):
        recent = db.session.execute(
            select(column, func.count())
            .where(
                Signature.campaign_id == campaign_id,
                Signature.created_at >= start,
                column.is_not(None),
            )
            .group_by(column)
            .having(func.count() >= minimum)
        ).all()
        for key, count in recent:
            past = db.session.scalar(
                select(func.count()).where(
                    Signature.campaign_id == campaign_id,
                    column == key,
                    Signature.created_at >= past_start,
                    Signature.created_at < start,
                )
            )
            expected = past / windows_in_baseline
            if count >= factor * max(expected, 1.0):
                trends.append(Trend(kind, key, count, round(expected, 2)))
    return sorted(trends, key=lambda t: -t.count)


def alert_trends(campaign_id: int, slug: str, **thresholds) -> list[Trend]:
    """Mail organizers about new trends, once per trend per day; recorded in the audit log."""
    fresh = []
    since = utcnow() - timedelta(days=1)
    for trend in trending(campaign_id, **thresholds):
        target = f"{trend.kind}:{trend.key}"
        seen = db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.action == "abuse.trend",
                AuditEvent.target == target,
                AuditEvent.campaign_id == campaign_id,
                AuditEvent.at >= since,
            )
            .limit(1)
        )
        if seen is None:
            fresh.append(trend)
            db.session.add(
                AuditEvent(
                    action="abuse.trend",
                    campaign_id=campaign_id,
                    target=target,
                    details=json.dumps({"count": trend.count, "expected": trend.expected}),
                )
            )
    if fresh:
        organizers = db.session.scalars(
            select(AdminUser.email).where(
                AdminUser.disabled.is_(False), AdminUser.role.in_(("owner", "organizer"))
            )
        ).all()
        for address in organizers:
            message = render_mail("trend_alert", "en", to=address, slug=slug, trends=fresh)
            mail.enqueue(message, kind="trend-alert")
    db.session.commit()
    return fresh
