"""A paper sheet's number and the check code printed beside it.

A sheet is named by its number and a check code keyed under HASH_KEY, e.g. "42-7KQ3XM":
whoever enters a sheet must type a code only a sheet printed by this server carries, so
sheets can't be invented by picking numbers. Six base-32 characters (30 bits) make a
guessed code valid about once in a billion tries; the alphabet has no 0/O or 1/I/L so
that a code read off paper is typed right.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols, none that read alike
CHECK_LENGTH = 6
_CODE = re.compile(r"^\s*(\d{1,7})\s*[-\s]?\s*([A-Za-z0-9]{6})\s*$")


def check_code(slug: str, number: int) -> str:
    """The check code printed on sheet `number` of campaign `slug`."""
    key = current_app.config["HASH_KEY"].encode("utf-8")
    digest = hmac.new(key, f"paper-sheet\x00{slug}\x00{number}".encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:8], "big")
    symbols = []
    for _ in range(CHECK_LENGTH):
        value, rest = divmod(value, len(ALPHABET))
        symbols.append(ALPHABET[rest])
    return "".join(symbols)


def sheet_code(slug: str, number: int) -> str:
    """What the sheet prints and the entry screen asks for: "42-7KQ3XM"."""
    return f"{number}-{check_code(slug, number)}"


def parse(slug: str, code: str) -> int | None:
    """The sheet number a typed code names, or None if it is not a code this server printed.

    Spaces, a missing dash and case are forgiven; the comparison is constant-time.
    """
    match = _CODE.match(code or "")
    if not match:
        return None
    number = int(match.group(1))
    typed = match.group(2).upper()
    if number < 1 or not hmac.compare_digest(typed, check_code(slug, number)):
        return None
    return number


__all__ = ["ALPHABET", "check_code", "parse", "sheet_code"]
