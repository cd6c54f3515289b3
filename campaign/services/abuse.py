"""Abuse checks on signing. Abusers are answered like everyone else ("check your
inbox"), so they learn nothing; what they sent is flagged rather than counted."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from flask import current_app
from limits import parse_many

from ..extensions import limiter


@dataclass(frozen=True)
class Verdict:
    flag_reason: str | None = None  # keep the signature, but don't count it
    send_mail: bool = True  # False for bots: don't mail whoever they named
    drop: bool = False  # record nothing at all (blocked sources)


CLEAN = Verdict()


def over_limit(scope: str, limits: str, *identity: str) -> bool:
    """Count one hit against each limit in `limits`; True if any is exceeded."""
    if not limiter.enabled or not current_app.config["RATELIMIT_ENABLED"]:
        return False
    strategy = limiter.limiter
    exceeded = False
    for item in parse_many(limits):
        if not strategy.hit(item, scope, *identity):
            exceeded = True
    return exceeded


def ip_blocked(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in current_app.config["BLOCKED_IP_RANGES"]:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_signing(
    *, slug: str, ip: str | None, honeypot: str | None, seconds_open: float | None
) -> Verdict:
    if ip_blocked(ip):
        return Verdict(drop=True)
    if honeypot:
        return Verdict("honeypot", send_mail=False)
    minimum = current_app.config["MIN_FORM_SECONDS"]
    if minimum and (seconds_open is None or seconds_open < minimum):
        return Verdict("too fast", send_mail=False)
    config = current_app.config
    if over_limit("sign-ip", config["RATELIMIT_SIGN"], slug, ip or "-"):
        return Verdict("rate limit (ip)")
    if over_limit("sign-petition", config["RATELIMIT_SIGN_PER_PETITION"], slug):
        return Verdict("rate limit (petition)")
    return CLEAN
