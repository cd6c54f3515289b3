"""Sealing is this campaign's default, in the suite too (issue 23): every test app seals
to the run's organizer key (tests/helpers.py). The legacy path, without a key, runs only
where a test says so with `@pytest.mark.unsealed`."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.exports import export_signers
from campaign.services.intake import links
from campaign.services.sealing import sealed
from campaign.services.signer_data.signers import SignerFilter
from tests.helpers import ORGANIZER_PUBLIC_KEY, SLUG, deliver, organizer_copy, sign

FIELDS = {"name": "Golnar Rezaei", "email": "golnar@example.org", "comment": "For my uncle"}


def signed_mailed_confirmed(client, app) -> Signature:
    assert sign(client, **FIELDS).status_code == 303
    deliver(app)
    row = db.session.scalars(select(Signature)).one()
    token = links.make_token(row, "confirm")
    assert client.post(f"/{SLUG}/confirm/{token}").status_code == 303
    db.session.expire_all()
    return db.session.get(Signature, row.id)


def full_export(row: Signature) -> list[dict]:
    text = "".join(export_signers.export_csv(row.campaign_id, "full", SignerFilter()))
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_every_test_app_seals_to_the_runs_organizer_key(client, app):
    assert app.config["ORGANIZER_PUBLIC_KEY"] == ORGANIZER_PUBLIC_KEY
    row = signed_mailed_confirmed(client, app)
    assert (row.name_enc, row.email_enc, row.comment_enc) == (None, None, None)
    opened = organizer_copy(row)
    assert (opened.name, opened.email, opened.comment) == tuple(FIELDS.values())
    [exported] = full_export(row)
    assert exported["name"] == "" and exported["sealed"].startswith(row.row_key + ":o2.")


@pytest.mark.unsealed
def test_without_an_organizer_key_a_confirmed_row_stays_readable_to_the_server(client, app):
    """The legacy path (before issue 23, or a deployment that has not set the key)."""
    assert not app.config["ORGANIZER_PUBLIC_KEY"]
    row = signed_mailed_confirmed(client, app)
    assert row.organizer_sealed is None
    assert sealed.unseal(sealed.DELIVERY, "name", row.name_enc, row.row_key) == FIELDS["name"]
    [exported] = full_export(row)
    assert "sealed" not in exported and exported["email"] == FIELDS["email"]
