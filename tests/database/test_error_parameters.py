"""A database error's text names no bound value: the values include link secrets,
signer copies and pending names, and errors are logged (the mail worker logs each
failed batch). SQLAlchemy prints them unless the engine hides them."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from campaign.extensions import db

SECRET = "link-secret-Zq9vW2"


def test_a_failed_statement_does_not_print_its_values(app):
    with pytest.raises(DBAPIError) as caught:
        db.session.execute(text("UPDATE no_such_table SET x = :secret"), [{"secret": SECRET}] * 3)
    db.session.rollback()
    assert SECRET not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
