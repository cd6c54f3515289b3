"""Blind indexes: keyed hashes that let the database match signers without holding
who they are in the clear.

`dedup_key` (the canonical email) finds an address's submissions and enforces one
counted signature per address; `domain_hash` groups signatures by mail domain for the
abuse trends; `name_token_hashes` lets organizers search names word by word. Each hash
is an HMAC under HASH_KEY, domain-separated by its purpose so they can't be
cross-matched (services/sealing/crypto.py).
"""

from __future__ import annotations

from . import crypto


def name_words(name: str) -> set[str]:
    """Normalized words of a name, for the blind name index."""
    return {word.casefold() for word in name.replace("\u200c", " ").split() if len(word) > 1}


def name_token_hashes(name: str) -> set[str]:
    return {crypto.keyed_hash("name", word, 32) for word in name_words(name)}


def dedup_key(canonical_email: str) -> str:
    return crypto.keyed_hash("email", canonical_email)


def domain_hash(domain: str) -> str:
    return crypto.keyed_hash("domain", domain.lower(), 32)
