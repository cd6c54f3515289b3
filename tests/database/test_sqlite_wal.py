"""SQLite's write-ahead log is checkpointed by a background thread
(campaign/database/sqlite_wal.py), not inside the commit of whichever request crosses
SQLite's threshold."""

from __future__ import annotations

import os
import time

from flask_migrate import upgrade
from sqlalchemy import text

from campaign import create_app
from campaign.database import sqlite_wal
from campaign.extensions import db
from tests.helpers import KEYS
from tests.helpers import test_config as make_config


def test_the_log_is_copied_back_by_the_thread_not_by_a_commit(tmp_path):
    path = tmp_path / "wal.db"
    app = create_app(make_config(f"sqlite:///{path}", **KEYS))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            backstop = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar()
            assert backstop == sqlite_wal.BACKSTOP_PAGES  # commits don't checkpoint at 1,000
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE filler (blob BLOB)"))
        size = path.stat().st_size  # before: the thread may copy pages while we write
        for _ in range(6):  # 6 MB through the log, in six requests' worth of commits
            with db.engine.begin() as connection:
                rows = [{"blob": os.urandom(1024)} for _ in range(1024)]
                connection.execute(text("INSERT INTO filler (blob) VALUES (:blob)"), rows)
        deadline = time.monotonic() + 10
        while path.stat().st_size < size + 4 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)  # the thread wakes every INTERVAL seconds
        assert path.stat().st_size >= size + 4 * 1024 * 1024  # the pages reached the file
        db.engine.dispose()
