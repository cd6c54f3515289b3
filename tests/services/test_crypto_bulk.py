"""crypto.bulk_decryptor: the same results as decrypt(), for export loops."""

import pytest

from campaign.services import crypto


def test_bulk_decryptor_matches_decrypt(app):
    decrypt = crypto.bulk_decryptor()
    token = crypto.encrypt("Maryam Ahmadi")
    assert decrypt(token) == crypto.decrypt(token) == "Maryam Ahmadi"
    assert decrypt(None) is None
    with pytest.raises(crypto.CryptoError):
        decrypt(token[:-4] + "AAAA")
