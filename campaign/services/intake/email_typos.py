"""Likely typos in an email address's domain: "gmial.com" → "gmail.com" (issue 24.5).

The registries hold no maintained Python list: `mailcheck` is JavaScript, unchanged
since 2015, and `email-typo-fixer` rewrites addresses silently. So this is mailcheck's
rule on a short list: the providers most signers use (here, in Europe, in North
America and in Iran's diaspora); a domain one edit away from one of them (an insert, a
deletion, a substitution, or two neighbours swapped) is a likely typo of it.

A suggestion never blocks and never calls the address fake: the signer is offered
"Did you mean …?" and may keep what they typed. The sign form's script (static/js/
site.js) applies the same rule to the same list, which the form carries.
"""

from __future__ import annotations

# Each is a real, common mail domain; neighbours of one another (mail.com, email.com,
# gmail.com) are all listed, so a real address is never "corrected" into another.
PROVIDERS: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "yahoo.fr", "yahoo.de",
    "yahoo.co.uk", "yahoo.ca", "hotmail.com", "hotmail.fr", "hotmail.de", "hotmail.co.uk",
    "outlook.com", "outlook.fr", "outlook.de", "live.com", "live.fr", "live.de", "msn.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "protonmail.com", "proton.me", "pm.me",
    "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "orange.fr",
    "free.fr", "laposte.net", "wanadoo.fr", "sfr.fr", "mail.com", "email.com",
    "comcast.net", "btinternet.com", "tutanota.com", "zoho.com", "yandex.com", "mail.ru",
)  # fmt: skip


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (a swap of neighbours is one edit), capped."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return min(previous[-1], limit)


def suggest_domain(domain: str) -> str | None:
    """The provider `domain` is most likely a typo of, or None (also for a listed one)."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or domain in PROVIDERS:
        return None
    for provider in PROVIDERS:
        if edit_distance(domain, provider) == 1:
            return provider
    return None


def suggest(address: str) -> str | None:
    """`address` with its domain's likely correction, or None."""
    local, at, domain = address.rpartition("@")
    fixed = suggest_domain(domain) if at and local else None
    return f"{local}@{fixed}" if fixed else None
