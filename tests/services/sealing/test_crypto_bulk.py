"""crypto.field_decryptor: the same results as decrypt_field(), for export loops."""

import pytest

from campaign.services.sealing import crypto


def test_field_decryptor_matches_decrypt_field(app):
    decrypt = crypto.field_decryptor("signatures.name_enc")
    token = crypto.encrypt_field("Maryam Ahmadi", column="signatures.name_enc", row_key="r1")
    assert decrypt(token, "r1") == "Maryam Ahmadi"
    again = crypto.decrypt_field(token, column="signatures.name_enc", row_key="r1")
    assert again == "Maryam Ahmadi"
    assert decrypt(None, "r1") is None
    with pytest.raises(crypto.CryptoError):
        decrypt(token[:-4] + "AAAA", "r1")
