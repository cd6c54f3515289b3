"""Random bytes for the values sealed per message: nonces, link secrets, MIME
boundaries.

From OpenSSL's CSPRNG as Python's `ssl` module links it (`ssl.RAND_bytes`; the
system's OpenSSL 3 here): a DRBG seeded and reseeded from the kernel, and reseeded in
a forked child (OpenSSL 1.1.1 and later), so a child never repeats its parent's bytes. Not
`os.urandom`: CPython hands the GIL over around each getrandom() call, and the mail
worker drew six a message, each a hand-over between its eight threads (issue 22).
"""

from __future__ import annotations

import base64
import ssl


def random_bytes(count: int) -> bytes:
    """`count` cryptographically strong random bytes."""
    return ssl.RAND_bytes(count)


def random_token(count: int) -> str:
    """`secrets.token_urlsafe(count)`'s format: `count` random bytes, URL-safe base64
    without padding."""
    return base64.urlsafe_b64encode(random_bytes(count)).rstrip(b"=").decode("ascii")
