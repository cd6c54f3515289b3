"""AES-256-GCM bound to column and row (services/sealing/crypto.py), and old Fernet tokens."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.pages import cache
from campaign.services.sealing import crypto, sealed
from campaign.services.signer_data import privacy
from tests.helpers import sign


def use_keys(app, keys: list[str]) -> None:
    app.config["ENCRYPTION_KEYS"] = keys
    cache.keys_changed(app)


def signatures() -> list[Signature]:
    db.session.expire_all()
    return list(db.session.scalars(select(Signature).order_by(Signature.id)))


def test_ciphertext_swapped_between_rows_is_refused(client, app):
    """Someone who can write to the database moves one signer's name (or address)
    onto another signer's row: the value no longer decrypts anywhere but its own row."""
    sign(client, name="Maryam Ahmadi", email="maryam@example.org")
    sign(client, name="Reza Karimi", email="reza@example.org")
    first, second = signatures()
    assert privacy.signer_record(first, sealed.EXPORT).name == "Maryam Ahmadi"
    first.name_enc, second.name_enc = second.name_enc, first.name_enc
    db.session.commit()
    for row in signatures():
        with pytest.raises(crypto.CryptoError):
            privacy.signer_record(row, sealed.EXPORT)
    # Nor can a value move to another column of the same row.
    first, _ = signatures()
    first.name_enc = crypto.seal_signer("Maryam Ahmadi", "name_enc", first.row_key)
    first.comment_enc = first.email_enc
    db.session.commit()
    with pytest.raises(crypto.CryptoError):
        crypto.signer_value(signatures()[0], "comment_enc")
    assert crypto.signer_value(signatures()[0], "name_enc") == "Maryam Ahmadi"


def test_new_values_are_aes_gcm_with_a_key_id(client, app):
    sign(client, name="Sara Tehrani", email="sara@example.org", comment="For my aunt")
    (row,) = signatures()
    primary = crypto.keyring().primary
    for column in ("name_enc", "email_enc", "comment_enc"):
        token = getattr(row, column)
        assert token.startswith(f"g1.{primary}.")
        assert "Sara" not in token and "aunt" not in token
    # Another key first: the old tokens still open, picked by their key id.
    use_keys(app, [Fernet.generate_key().decode(), *app.config["ENCRYPTION_KEYS"]])
    assert privacy.signer_record(row, sealed.EXPORT).comment == "For my aunt"


def test_old_fernet_tokens_are_still_read(client, app):
    """Tokens written before AES-GCM (unbound Fernet) read until `keys rotate`."""
    sign(client, name="Nima Rahimi", email="nima@example.org")
    (row,) = signatures()
    row.name_enc = Fernet(app.config["ENCRYPTION_KEYS"][0]).encrypt(b"Nima Rahimi").decode()
    db.session.commit()
    assert privacy.signer_record(signatures()[0], sealed.EXPORT).name == "Nima Rahimi"
    assert crypto.decrypt(crypto.encrypt("old API")) == "old API"
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(row.email_enc)  # a row-bound token needs its row


def test_a_token_under_an_unknown_key_is_an_error_not_garbage(client, app):
    sign(client, name="Omid Jalali", email="omid@example.org")
    use_keys(app, [Fernet.generate_key().decode()])
    with pytest.raises(crypto.CryptoError):
        privacy.signer_record(signatures()[0], sealed.EXPORT)
