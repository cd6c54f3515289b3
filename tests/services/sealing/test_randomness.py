"""Random bytes for what is sealed per message (services/sealing/randomness.py)."""

from __future__ import annotations

import os
import random
import secrets

import pytest

from campaign.services.outbox import mail_worker
from campaign.services.sealing import signer_copy
from campaign.services.sealing.randomness import random_bytes, random_token
from tests.helpers import sign


def test_a_forked_child_never_repeats_its_parents_bytes():
    """The worker's processes are forked (`flask mail work --processes N`): a child that
    drew its parent's next bytes would reuse its nonces and link secrets."""
    random_bytes(16)  # the generator is seeded and running before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.write(write, random_bytes(32))
        os._exit(0)
    os.close(write)
    mine = random_bytes(32)
    theirs = os.read(read, 32)
    os.close(read)
    os.waitpid(child, 0)
    assert len(theirs) == 32 and theirs != mine


def test_tokens_keep_the_format_of_secrets_token_urlsafe():
    draws = {random_token(16) for _ in range(200)}
    assert len(draws) == 200
    assert {len(token) for token in draws} == {len(secrets.token_urlsafe(16))} == {22}
    assert all(
        set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for token in draws
    )
    assert len(signer_copy.new_secret()) == signer_copy.SECRET_CHARS


def test_sending_a_confirmation_draws_nothing_from_the_kernel(client, app, mailbox, monkeypatch):
    """Each os.urandom call hands the GIL to another of the worker's threads and back;
    the worker drew six a message (issue 22). Sealing a submission to the organizers
    and to its signer, and writing its mail, now draw from OpenSSL's generator."""
    for n in range(3):
        assert sign(client, email=f"draws{n}@example.org").status_code == 303
    drawn: list[int] = []
    urandom = os.urandom

    def counted(count: int) -> bytes:
        drawn.append(count)
        return urandom(count)

    monkeypatch.setattr(os, "urandom", counted)
    monkeypatch.setattr(random, "_urandom", counted)  # SystemRandom, hence `secrets`
    assert mail_worker.work(once=True, threads=1) == 3
    monkeypatch.undo()
    assert len(mailbox.messages) == 3
    assert app.config["ORGANIZER_PUBLIC_KEY"]  # sealed to the organizers, as in production
    assert drawn == []


@pytest.mark.parametrize("count", [0, 1, 12, 64])
def test_random_bytes_are_as_many_as_asked(count):
    assert len(random_bytes(count)) == count
