"""The delivery consent: its own checkbox, off by default, its wording stored."""

from __future__ import annotations

import re

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import ConsentWording, Signature
from campaign.services.signer_data import privacy
from tests.helpers import sign

WORDING = "Give my full name and country to the addressees when the petition is delivered"


def only_signature() -> Signature:
    return db.session.scalars(select(Signature)).one()


def test_the_form_offers_the_delivery_consent_unticked(client):
    html = client.get("/1988-massacre-inquiry/").get_data(as_text=True)
    assert WORDING in html
    box = re.search(r'<input[^>]*name="delivery_consent"[^>]*>', html).group(0)
    assert 'type="checkbox"' in box and "checked" not in box


def test_not_ticking_it_means_not_named(client):
    assert sign(client).status_code == 303
    signature = only_signature()
    assert signature.delivery_consent is False
    # The wording shown is stored even when the box was left empty, as for the others.
    wording = db.session.get(ConsentWording, signature.consent_wording_id)
    assert wording.delivery_text == WORDING


def test_ticking_it_is_stored_with_its_exact_wording_in_the_signers_language(client):
    assert sign(client, prefix="/fr", delivery_consent="y").status_code == 303
    signature = only_signature()
    assert signature.delivery_consent is True
    wording = db.session.get(ConsentWording, signature.consent_wording_id)
    assert wording.language == "fr"
    assert wording.delivery_text.startswith("Transmettre mon nom complet et mon pays")
    assert privacy.data_copy(signature)["name_in_delivery_pack"] is True


def test_withdrawal_takes_the_delivery_consent_back(client):
    sign(client, delivery_consent="y")
    signature = only_signature()
    privacy.withdraw(signature)
    assert signature.delivery_consent is False and signature.name_enc is None
