"""Signer links (confirm, withdraw, unsubscribe, data copy) and absolute URLs for mail.

A link token is `<signature id>-<HMAC of the signature's random nonce>`, one HMAC
per purpose. Nothing in the database is a usable token, a reminder can repeat the
same link, and erasing a signature (its nonce) kills every link to it.

Each purpose has its own token, so a link opens only what it was made for: the
unsubscribe token, which travels in a `List-Unsubscribe` header that mail
providers fetch and forwarding keeps, can unsubscribe and nothing else; the data
copy and withdraw tokens appear only in mail bodies.
"""

from __future__ import annotations

import hmac
import secrets

from flask import current_app

from ...models import Signature
from ..sealing import crypto
from .validation import parse_id

PURPOSES = ("confirm", "withdraw", "data", "unsubscribe", "paper")  # paper: issue 26


def new_nonce() -> str:
    return secrets.token_hex(16)


def make_token(signature: Signature, purpose: str) -> str:
    assert purpose in PURPOSES and signature.link_nonce
    return f"{signature.id}-{crypto.keyed_hash('link:' + purpose, signature.link_nonce, 40)}"


def parse_token(token: str) -> int | None:
    """The signature id a token names, or None if it isn't shaped like a token."""
    head, sep, tail = (token or "").partition("-")
    if not sep or len(tail) != 40:
        return None
    return parse_id(head)


def token_matches(signature: Signature, token: str, purpose: str) -> bool:
    if not signature.link_nonce:
        return False
    return hmac.compare_digest(make_token(signature, purpose), token)


def external_url(endpoint: str, language: str | None = None, **values) -> str:
    """An absolute URL from `BASE_URL`, usable outside a request (mail, CLI)."""
    adapter = current_app.url_map.bind("", url_scheme="https")
    path = adapter.build(endpoint, values)
    prefix = f"/{language}" if language else ""
    return f"{current_app.config['BASE_URL']}{prefix}{path}"


# --- referral codes (?ref=): who recruited whom is kept out of the database ---------
#
# A signer's own code is derived from the link nonce (so it is never stored), and a
# new signer's ?ref= is stored only as a keyed hash. The signer's row stores a keyed
# hash under another purpose, which matches no referrer_code: a dump (without
# HASH_KEY) can't join recruiter to recruits. Nothing public shows how many signed
# through one signer's link (issue 21, H2: it told a sharer whether one person signed).


def referral_code(signature: Signature) -> str | None:
    """The code in this signer's share links (None once erased)."""
    if not signature.link_nonce:
        return None
    return crypto.keyed_hash("referral-code", signature.link_nonce, 12)


def referrer_hash(code: str) -> str:
    """What a signature stores for the ?ref= code it came with."""
    return crypto.keyed_hash("referral", code, 16)


def own_referral_hash(link_nonce: str) -> str:
    """What a signature stores in `referral_code`: unique, and joinable to nothing."""
    return crypto.keyed_hash("referral-own", link_nonce, 16)
