"""What production refuses: weak keys and placeholder contacts (issue 21, L5).

Production is an https BASE_URL (the scheme in any case: `HTTPS://` is https) that
is not a test site (`ALLOW_DEV_SECRETS=1`), or `REQUIRE_SECRETS=1`. There `create_app`
refuses to start on any problem these functions find; `flask content load` prints
the contact problems as warnings wherever it runs.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import string
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

MIN_KEY_BYTES = 32  # each key must hold at least 32 random bytes (256 bits)
HEX = frozenset(string.hexdigits)
BASE64 = frozenset(string.ascii_letters + string.digits + "+/-_=")


def is_https(url: str) -> bool:
    """Whether `url` is https, whatever the case of its scheme (RFC 3986: schemes are
    case-insensitive), so `HTTPS://` can't slip past the production check."""
    return urlsplit(url.strip()).scheme.lower() == "https"


def is_production(config: Mapping) -> bool:
    """Whether the production checks refuse to start: `REQUIRE_SECRETS=1`, or an https
    BASE_URL that is not a test site (`ALLOW_DEV_SECRETS=1`)."""
    https = is_https(config.get("BASE_URL", ""))
    return bool(config.get("REQUIRE_SECRETS")) or (https and not config.get("ALLOW_DEV_SECRETS"))


def random_bytes_in(text: str) -> float:
    """An upper estimate of the random bytes a text key holds: its length times the
    bits per character of the smallest usual alphabet it is written in (hex,
    base64, printable), and nothing for a key of few distinct characters
    ("aaaa…", "abab…") or a word repeated. `secrets.token_hex(32)`,
    `secrets.token_urlsafe(32)` and `flask keys generate` pass."""
    if len(set(text)) < 10:
        return 0.0
    chars = set(text)
    alphabet = 16 if chars <= HEX else 64 if chars <= BASE64 else 95
    return len(text) * math.log2(alphabet) / 8


def raw_key_bytes(key: str) -> bytes | None:
    """An ENCRYPTION_KEYS or TLOG_SIGNING_KEY entry decoded (base64, either alphabet)."""
    try:
        return base64.urlsafe_b64decode(key.strip().replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        return None


def weak_keys(config: Mapping) -> list[str]:
    """Each configured key that holds fewer than 32 random bytes, by name."""
    problems = []
    for name in ("SECRET_KEY", "HASH_KEY"):
        value = config.get(name) or ""
        if value and random_bytes_in(value) < MIN_KEY_BYTES:
            problems.append(f"{name} is shorter than {MIN_KEY_BYTES} random bytes")
    named = [("ENCRYPTION_KEYS", key) for key in config.get("ENCRYPTION_KEYS") or []]
    if config.get("TLOG_SIGNING_KEY"):
        named.append(("TLOG_SIGNING_KEY", config["TLOG_SIGNING_KEY"]))
    for name, key in named:
        raw = raw_key_bytes(key)
        # 32 random bytes have ~30 distinct values; a key of zeros or a pattern has few.
        if raw is None or len(raw) < MIN_KEY_BYTES or len(set(raw)) < 16:
            problems.append(f"{name} holds a key that is not {MIN_KEY_BYTES} random bytes")
    return problems


# RFC 2606 and RFC 6761: names that can never be someone's mailbox.
RESERVED_SUFFIXES = (".invalid", ".example", ".test", ".localhost", ".local", ".localdomain")
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org", "localhost"})


def placeholder_contact(address: str) -> bool:
    """Whether an organizer contact is a placeholder no one reads: a reserved or
    special-use domain (`contact@petition.invalid`, `…@example.org`, `…@x.test`), a
    bare IP address, or no domain at all."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".").strip("[]")
    if not at or not local or not domain or "." not in domain:
        return True
    try:
        ipaddress.ip_address(domain)
        return True
    except ValueError:
        pass
    return (
        domain in RESERVED_DOMAINS
        or any(domain.endswith(suffix) or domain == suffix[1:] for suffix in RESERVED_SUFFIXES)
        or any(domain.endswith("." + reserved) for reserved in RESERVED_DOMAINS)
    )


def contact_problems(campaigns: Iterable) -> list[str]:
    """A line per campaign whose footer and privacy page would show a placeholder
    contact (an empty one shows none, and is not refused here)."""
    return [
        f"{c.slug}: organizer_contact {c.organizer_contact!r} is a placeholder; set "
        "ORGANIZER_CONTACT to the organizers' real address (or put it in its campaign.toml)"
        for c in campaigns
        if c.organizer_contact and placeholder_contact(c.organizer_contact)
    ]
