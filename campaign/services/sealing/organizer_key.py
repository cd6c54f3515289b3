"""The organizers' key: signers' names, emails and comments sealed to a public key
whose private half never sits on the server (issue 23).

HPKE (RFC 9180) from `cryptography` (>= 47: `hazmat.primitives.hpke`), base mode,
single shot: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. The server holds
only the public key (`ORGANIZER_PUBLIC_KEY`, text `x25519:<base64url>`), so it can
seal but never open.

Sealing is envelope encryption (KEM/DEM, as HPKE itself is inside): a `Sealer` makes a
random AES-256-GCM key, seals it once to the organizers' key with HPKE (the
"envelope"), and seals each row's fields under it with a fresh random nonce, the row's
random `row_key` as associated data (a sealed value moved to another row no longer
opens). An envelope serves at most `ENVELOPE_ROWS` rows and `ENVELOPE_SECONDS`
seconds, in memory only, then is forgotten: under load one X25519 operation serves a
batch of mails instead of each (the HPKE seal is 54 µs, AES-GCM 3 µs), and a copy of
the server holds only envelopes it cannot open. docs/SECURITY.md, "The server is
copied", gives the reasoning.

A sealed value reads `o2.<key id>.<base64 envelope>.<base64(nonce | ciphertext)>`; the
key id (8 hex digits of a hash of the public key) picks the private key when
organizers hold several (rotation: old rows open with the old key until `flask keys
reseal` moves them). Rows sealed before envelopes read `o1.<key id>.<base64(enc |
ciphertext)>` (one HPKE seal each, `info` bound to the row key) and still open.

Pure: no Flask, no database. The offline tools (`flask export open`, `flask delivery
pack --from-export`, `flask keys reseal`) open with the private key; the app never does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from .randomness import random_bytes

VERSION = "o2"
HEAD = VERSION + "."
V1_HEAD = "o1."  # one HPKE seal per row (before envelopes): still opened
_DECODE = json.JSONDecoder().raw_decode
PUBLIC_PREFIX = "x25519:"
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
INFO = b"campaign signatures sealed v1\x00"  # o1: HPKE info, with the row key
ENVELOPE_INFO = b"campaign signatures envelope v2\x00"  # o2: HPKE info of the envelope
ROW_AAD = b"campaign signature sealed v2\x00"  # o2: the row's AES-GCM associated data
ENVELOPE_ROWS = 256
ENVELOPE_SECONDS = 5.0
OPENED_ENVELOPES = 256  # an opener's cache: the envelopes of the rows just opened
PEM_BLOCK = re.compile(
    rb"-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:ENCRYPTED )?PRIVATE KEY-----",
    re.S,
)
LOSS_WARNING = (
    "Without this private key nobody can read the names, emails and comments of "
    "confirmed signers: not the organizers, not the server, not the developers. "
    "Lose every copy and the names are lost for good. Keep it off the server."
)


class OrganizerKeyError(ValueError):
    """A malformed key or sealed value, or one no key at hand opens."""


@dataclass(frozen=True)
class Sealed:
    """What the organizer copy holds: the three fields, sealed together."""

    name: str | None
    email: str | None
    comment: str | None


def generate() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_text(key: X25519PublicKey | X25519PrivateKey) -> str:
    """The text for ORGANIZER_PUBLIC_KEY."""
    if isinstance(key, X25519PrivateKey):
        key = key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def parse_public(text: str) -> X25519PublicKey:
    text = (text or "").strip()
    if not text.startswith(PUBLIC_PREFIX):
        raise OrganizerKeyError("ORGANIZER_PUBLIC_KEY must read x25519:<base64> (keygen prints it)")
    try:
        raw = base64.urlsafe_b64decode(text[len(PUBLIC_PREFIX) :].encode("ascii"))
        return X25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise OrganizerKeyError("ORGANIZER_PUBLIC_KEY is not an X25519 public key") from exc


def key_id(key: X25519PublicKey | X25519PrivateKey) -> str:
    if isinstance(key, X25519PrivateKey):
        key = key.public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(b"campaign organizer key id\x00" + raw).hexdigest()[:8]


def private_pem(key: X25519PrivateKey) -> bytes:
    """The key file: PKCS#8 PEM, unencrypted (kept on an offline, encrypted disk)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def printable_copy(key: X25519PrivateKey, passphrase: str) -> str:
    """A paper backup: the key as passphrase-encrypted PKCS#8 PEM, with how to use it."""
    if len(passphrase) < 12:
        raise OrganizerKeyError("the printed copy's passphrase needs at least 12 characters")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    ).decode("ascii")
    return (
        "Petition organizers' private key: printed copy (passphrase protected)\n"
        f"Key id: {key_id(key)}\nPublic key: {public_text(key)}\n\n{LOSS_WARNING}\n\n"
        "To use it: type or scan the block below into a file, then pass that file as\n"
        "--key to `flask export open`; it asks for the passphrase.\n\n" + pem
    )


def load_private(data: bytes, passphrase: str | None = None) -> X25519PrivateKey:
    """A key file or a printed copy (its PEM block is found inside the text)."""
    block = PEM_BLOCK.search(data)
    if block is None:
        raise OrganizerKeyError("no private key found in that file")
    secret = passphrase.encode("utf-8") if passphrase else None
    try:
        key = serialization.load_pem_private_key(block.group(0), password=secret)
    except (TypeError, ValueError) as exc:
        raise OrganizerKeyError(f"cannot read the private key: {exc}") from exc
    if not isinstance(key, X25519PrivateKey):
        raise OrganizerKeyError("not an organizer key (X25519 expected)")
    return key


def is_encrypted(data: bytes) -> bool:
    return b"BEGIN ENCRYPTED PRIVATE KEY" in data


def load_private_file(path: str | Path, passphrase: str | None = None) -> X25519PrivateKey:
    return load_private(Path(path).read_bytes(), passphrase)


def pack(name: str | None, email: str | None, comment: str | None) -> bytes:
    return json.dumps([name, email, comment], ensure_ascii=False, separators=(",", ":")).encode()


def unpack(plain: bytes) -> Sealed:
    name, email, comment = json.loads(plain)
    return Sealed(name, email, comment)


@dataclass
class _Envelope:
    cipher: AESGCM
    text: str  # base64 of the HPKE-sealed AES key, as written in each row's value
    rows: int
    born: float  # by the sealer's clock
    expires: float  # time.monotonic() when the reaper drops it


class Sealer:
    """Seals to one public key (the app's: built once per process from the config).

    Thread-safe: the mail worker's threads share it. The envelope's AES key lives only
    in this object, never stored, and is dropped after `rows` rows or `seconds` seconds,
    whichever comes first: a reaper thread drops it even if nothing is sealed again (an
    idle worker must not keep a key that opens rows confirmed since), and a forked child
    starts with none (it must not share its parent's key or lock)."""

    def __init__(
        self,
        public: X25519PublicKey,
        *,
        rows: int = ENVELOPE_ROWS,
        seconds: float = ENVELOPE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.public = public
        self.key_id = key_id(public)
        self.head = f"{VERSION}.{self.key_id}."
        self._rows, self._seconds, self._clock = rows, seconds, clock
        self._after_fork()
        _LIVE.add(self)

    def seal(self, plain: bytes, row_key: str) -> str:
        envelope = self._take()
        nonce = random_bytes(12)
        data = nonce + envelope.cipher.encrypt(nonce, plain, ROW_AAD + row_key.encode("ascii"))
        return f"{self.head}{envelope.text}.{binascii.b2a_base64(data, newline=False).decode()}"

    @property
    def holds_key(self) -> bool:
        """Whether an envelope's AES key is held now."""
        return self._envelope is not None

    def forget(self) -> None:
        """Drop the current envelope now (its key with it): the next seal makes a new one."""
        with self._lock:
            self._envelope = None

    def _after_fork(self) -> None:
        self._lock = threading.Condition()
        self._envelope: _Envelope | None = None
        self._reaper: threading.Thread | None = None
        weakref.finalize(self, _wake, self._lock)  # the reaper ends with the sealer

    def _take(self) -> _Envelope:
        with self._lock:
            now, envelope = self._clock(), self._envelope
            spent = envelope is None or envelope.rows >= self._rows
            if spent or now - envelope.born > self._seconds:
                key = AESGCM.generate_key(bit_length=256)
                wrapped = SUITE.encrypt(key, self.public, info=ENVELOPE_INFO)
                text = binascii.b2a_base64(wrapped, newline=False).decode("ascii")
                expires = time.monotonic() + self._seconds
                envelope = self._envelope = _Envelope(AESGCM(key), text, 0, now, expires)
                if self._reaper is None:
                    self._reaper = threading.Thread(
                        target=_reap, args=(weakref.ref(self),), name="envelope-reaper"
                    )
                    self._reaper.daemon = True
                    self._reaper.start()
                self._lock.notify()
            envelope.rows += 1
            return envelope


def _wake(lock: threading.Condition) -> None:
    with lock:
        lock.notify_all()


def _reap(ref: weakref.ReferenceType[Sealer]) -> None:
    """A sealer's one reaper thread: drops each envelope when it expires. It holds the
    sealer weakly, and ends once the sealer is gone (its finalizer wakes it). It
    waits holding the lock's turn, so a new envelope's notify is never missed."""
    while (sealer := ref()) is not None:
        lock = sealer._lock
        with lock:
            envelope = sealer._envelope
            if envelope is not None and envelope.expires <= time.monotonic():
                sealer._envelope = envelope = None
            left = 60.0 if envelope is None else envelope.expires - time.monotonic()
            del sealer, envelope  # wait without keeping the sealer alive
            lock.wait(max(left, 0.0))


_LIVE: weakref.WeakSet[Sealer] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for sealer in list(_LIVE):
        sealer._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def token_key_id(token: str) -> str | None:
    """The key id a sealed value names (None if it is not one)."""
    if not token or token[:3] not in (HEAD, V1_HEAD):
        return None
    return token[3:11]


class Opener:
    """Opens sealed values with the private keys at hand (offline tools only)."""

    def __init__(self, keys: list[X25519PrivateKey]) -> None:
        self.keys = {key_id(key): key for key in keys}
        # Rows of one envelope sit together in an export: its AES key is kept for them.
        self._envelopes: OrderedDict[tuple[str, str], AESGCM] = OrderedDict()

    def open_raw(self, token: str, row_key: str) -> bytes:
        kid = token_key_id(token)
        key = self.keys.get(kid or "")
        if key is None:
            raise OrganizerKeyError(f"sealed to key {kid}, which is not among the keys given")
        try:
            return self._open(token, key, row_key)
        except Exception as exc:  # cryptography raises InvalidTag or ValueError
            raise OrganizerKeyError("a sealed value does not open: wrong row or corrupted") from exc

    def open(self, token: str, row_key: str) -> Sealed:
        return unpack(self.open_raw(token, row_key))

    def open_fields(self, token: str, row_key: str) -> tuple[str | None, str | None, str | None]:
        """(name, email, comment): `open` for `flask export open`'s hot loop, a million
        rows at a time (no dataclass, no re-dispatch; the same checks and errors)."""
        key = self.keys.get(token[3:11]) if token[:3] in (HEAD, V1_HEAD) else None
        if key is None:
            raise OrganizerKeyError(
                f"sealed to key {token_key_id(token)}, which is not among the keys given"
            )
        try:
            (name, email, comment), _end = _DECODE(self._open(token, key, row_key).decode("utf-8"))
        except Exception as exc:  # InvalidTag, ValueError (JSON, base64, shape): one answer
            raise OrganizerKeyError("a sealed value does not open: wrong row or corrupted") from exc
        return name, email, comment

    def _open(self, token: str, key: X25519PrivateKey, row_key: str) -> bytes:
        if token.startswith(V1_HEAD):
            data = binascii.a2b_base64(token[12:])
            return SUITE.decrypt(data, key, info=INFO + row_key.encode("ascii"))
        envelope, dot, body = token[12:].partition(".")
        if not dot:
            raise ValueError("no envelope")
        cached = (token[3:11], envelope)
        cipher = self._envelopes.get(cached)
        if cipher is None:
            cipher = AESGCM(SUITE.decrypt(binascii.a2b_base64(envelope), key, info=ENVELOPE_INFO))
            self._envelopes[cached] = cipher
            if len(self._envelopes) > OPENED_ENVELOPES:
                self._envelopes.popitem(last=False)
        data = binascii.a2b_base64(body)
        return cipher.decrypt(data[:12], data[12:], ROW_AAD + row_key.encode("ascii"))
