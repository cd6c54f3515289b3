"""Sealing to the organizers' key in envelopes (services/sealing/organizer_key.py): one
HPKE seal of a fresh AES key serves a bounded run of rows, each sealed under it with
its row key as associated data; rows sealed before envelopes (o1) still open."""

from __future__ import annotations

import binascii
import gc
import multiprocessing
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from campaign.services.sealing import organizer_key

PLAIN = organizer_key.pack("Parvaneh Kazemi", "parvaneh@example.org", "For Ali")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def envelope_of(token: str) -> str:
    return token.split(".")[2]


def v1_token(public: organizer_key.X25519PublicKey, plain: bytes, row_key: str) -> str:
    """A value sealed as rows were before envelopes: one HPKE seal per row, the row key
    in its `info` (the format the module's docstring gives)."""
    data = organizer_key.SUITE.encrypt(
        plain, public, info=organizer_key.INFO + row_key.encode("ascii")
    )
    head = f"o1.{organizer_key.key_id(public)}."
    return head + binascii.b2a_base64(data, newline=False).decode("ascii")


@pytest.fixture
def key():
    return organizer_key.generate()


def test_rows_sealed_together_share_an_envelope_and_each_opens_only_on_its_own_row(key):
    sealer = organizer_key.Sealer(key.public_key())
    rows = {secrets.token_hex(16): organizer_key.pack(f"Signer {i}", None, None) for i in range(5)}
    tokens = {row_key: sealer.seal(plain, row_key) for row_key, plain in rows.items()}
    assert len({envelope_of(token) for token in tokens.values()}) == 1
    assert all(token.startswith(f"o2.{organizer_key.key_id(key)}.") for token in tokens.values())
    opener = organizer_key.Opener([key])
    for row_key, token in tokens.items():
        assert opener.open_raw(token, row_key) == rows[row_key]
    first, second = list(tokens)[:2]
    with pytest.raises(organizer_key.OrganizerKeyError, match="wrong row"):
        organizer_key.Opener([key]).open_raw(tokens[first], second)  # moved to another row


def test_an_envelope_serves_a_bounded_number_of_rows_and_seconds(key):
    clock = Clock()
    sealer = organizer_key.Sealer(key.public_key(), rows=3, seconds=5.0, clock=clock)
    seal = [sealer.seal(PLAIN, secrets.token_hex(16)) for _ in range(7)]
    envelopes = [envelope_of(token) for token in seal]
    assert envelopes[0] == envelopes[1] == envelopes[2] != envelopes[3]
    assert envelopes[3] == envelopes[4] == envelopes[5] != envelopes[6]
    clock.now += 5.1  # the envelope of row 7 is too old for the next row
    assert envelope_of(sealer.seal(PLAIN, "r")) != envelopes[6]
    before = envelope_of(sealer.seal(PLAIN, "r"))
    sealer.forget()
    assert envelope_of(sealer.seal(PLAIN, "r")) != before


def test_threads_sharing_a_sealer_never_overfill_an_envelope(key):
    sealer = organizer_key.Sealer(key.public_key(), rows=10, seconds=60.0)
    row_keys = [secrets.token_hex(16) for _ in range(400)]
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda row_key: sealer.seal(PLAIN, row_key), row_keys))
    per_envelope: dict[str, int] = {}
    for token in tokens:
        per_envelope[envelope_of(token)] = per_envelope.get(envelope_of(token), 0) + 1
    assert max(per_envelope.values()) == 10 and len(per_envelope) == 40
    opener = organizer_key.Opener([key])
    assert all(opener.open_raw(t, r) == PLAIN for t, r in zip(tokens, row_keys, strict=True))


def test_values_sealed_before_envelopes_still_open(key):
    row_key = secrets.token_hex(16)
    token = v1_token(key.public_key(), PLAIN, row_key)
    opener = organizer_key.Opener([key])
    assert organizer_key.token_key_id(token) == organizer_key.key_id(key)
    assert opener.open_raw(token, row_key) == PLAIN
    assert opener.open_fields(token, row_key) == (
        "Parvaneh Kazemi",
        "parvaneh@example.org",
        "For Ali",
    )
    with pytest.raises(organizer_key.OrganizerKeyError, match="wrong row"):
        opener.open_fields(token, secrets.token_hex(16))


def test_a_tampered_envelope_or_another_key_does_not_open(key):
    row_key = secrets.token_hex(16)
    token = organizer_key.Sealer(key.public_key()).seal(PLAIN, row_key)
    other = organizer_key.Sealer(organizer_key.generate().public_key()).seal(PLAIN, row_key)
    # The other key's envelope under this key's id: the HPKE open fails, nothing is cached.
    forged = token[:12] + envelope_of(other) + "." + token.split(".")[3]
    opener = organizer_key.Opener([key])
    with pytest.raises(organizer_key.OrganizerKeyError, match="does not open"):
        opener.open_fields(forged, row_key)
    assert opener.open_fields(token, row_key)[0] == "Parvaneh Kazemi"
    with pytest.raises(organizer_key.OrganizerKeyError, match="not among the keys given"):
        opener.open_fields(other, row_key)


def test_an_opener_keeps_only_the_latest_envelopes(key):
    sealer = organizer_key.Sealer(key.public_key(), rows=1)
    opener = organizer_key.Opener([key])
    for _ in range(organizer_key.OPENED_ENVELOPES + 20):
        row_key = secrets.token_hex(16)
        assert opener.open_raw(sealer.seal(PLAIN, row_key), row_key) == PLAIN
    assert len(opener._envelopes) == organizer_key.OPENED_ENVELOPES


def test_an_idle_sealer_drops_its_key_when_the_envelope_expires(key):
    """Nothing sealed afterwards: the key must still go (a quiet worker would otherwise
    keep, in memory, a key that opens rows confirmed since)."""
    sealer = organizer_key.Sealer(key.public_key(), seconds=0.2)
    sealer.seal(PLAIN, "r")
    assert sealer.holds_key
    deadline = time.monotonic() + 5
    while sealer.holds_key and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sealer.holds_key


def test_a_forked_child_starts_without_its_parents_envelope(key):
    sealer = organizer_key.Sealer(key.public_key())
    parent = envelope_of(sealer.seal(PLAIN, "r"))
    context = multiprocessing.get_context("fork")
    answers = context.SimpleQueue()
    child = context.Process(target=_in_child, args=(sealer.seal, lambda: sealer.holds_key, answers))
    child.start()
    child.join(30)
    held, in_child = answers.get()
    assert held is False and in_child != parent
    assert envelope_of(sealer.seal(PLAIN, "r")) == parent  # the parent's is untouched


def _in_child(seal, holds_key, answers) -> None:
    answers.put((holds_key(), envelope_of(seal(PLAIN, "r"))))


def test_one_reaper_thread_serves_every_envelope_and_ends_with_its_sealer(key):
    """A thread per envelope cost 0.15 ms of CPU each (three times the sealing) when
    every row had its own; one reaper per sealer does, holding it only weakly."""
    sealer = organizer_key.Sealer(key.public_key(), rows=1, seconds=0.1)
    for _ in range(20):
        sealer.seal(PLAIN, "r")
    reapers = [t for t in threading.enumerate() if t is sealer._reaper]
    assert len(reapers) == 1
    deadline = time.monotonic() + 5
    while sealer.holds_key and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not sealer.holds_key  # the last envelope, reaped after many
    sealer.seal(PLAIN, "r")  # a new envelope wakes the same reaper
    while sealer.holds_key and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not sealer.holds_key
    [reaper] = reapers
    del sealer, reapers
    gc.collect()
    reaper.join(5)
    assert not reaper.is_alive()
