"""Fixtures of the two-worlds tests (tests/safety/worlds.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from campaign.models import common
from campaign.services.intake import links
from tests.helpers import using_postgres
from tests.safety import worlds
from tests.safety.worlds import World


@pytest.fixture
def fresh_database(database_template, truncate_all, tmp_path) -> Callable[[], str]:
    """An empty, migrated database each call: PostgreSQL's worker database emptied
    again (the worlds are built one after the other), or a new SQLite copy."""
    made = []

    def make() -> str:
        if using_postgres():
            truncate_all()
            return database_template
        path = tmp_path / f"world-{len(made)}.db"
        shutil.copyfile(database_template, path)
        made.append(path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def new_world(fresh_database, smtp_server, monkeypatch) -> Iterator[Callable[..., World]]:
    """A World on an empty database, with its clock frozen at one moment for the whole
    test and the signers' link nonces deterministic, so two worlds built one after the
    other start alike. Building one closes the last (on PostgreSQL they share a
    database, emptied in between); its mailbox is emptied too."""
    moment = datetime.now(UTC).replace(microsecond=0)
    opened: list[World] = []

    def make(**config) -> World:
        while opened:
            opened.pop().close()
        monkeypatch.setattr(links, "new_nonce", worlds.deterministic_nonces())
        monkeypatch.setattr(common, "datetime", worlds.frozen_clock(moment))
        smtp_server.messages.clear()
        world = World(fresh_database(), smtp_server, **config)
        opened.append(world)
        return world

    yield make
    while opened:
        opened.pop().close()
