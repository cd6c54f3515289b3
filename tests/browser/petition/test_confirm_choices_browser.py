"""The confirm page's consent boxes in a real browser against gunicorn (issue 21, H1):
a box the sign form ticked is shown ticked, the owner unticks it, and only what stays
ticked is stored (the confirm POST is answered by the WSGI fast path)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.signer_data import consents
from tests.browser.petition.test_signing_browser import (
    assert_accessible,
    confirmation_link,
    fill_sign_form,
)
from tests.helpers import SLUG

DELIVERY = "Give my full name and country to the addressees when the petition is delivered"
CONTACT = "Email me about this campaign (you can unsubscribe at any time)"


@pytest.fixture
def server(live_server, mailbox, app):
    """The app under gunicorn, mailing the test's SMTP server."""
    server = live_server(SMTP_URL=mailbox.url, COUNT_CACHE_SECONDS=0)
    app.config["BASE_URL"] = server.url  # the worker (the test's app) renders the links
    return server


def test_h1_the_owner_unticks_a_planted_consent_in_a_browser(server, app, mailbox, page):
    page.goto(f"{server.url}/{SLUG}/")
    fill_sign_form(page, "Target Person", "target@example.org")
    page.locator("details.choices > summary").click()
    page.get_by_label(DELIVERY).check()  # the stranger ticks "name me to the addressees"
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url(f"**/{SLUG}/check-inbox")

    page.goto(confirmation_link(app, mailbox, "target@example.org"))
    delivery, contact = page.get_by_label(DELIVERY), page.get_by_label(CONTACT)
    assert delivery.is_visible() and delivery.is_checked()  # shown, as submitted
    assert not contact.is_checked()
    assert_accessible(page, "confirm page with its choices")
    delivery.uncheck()  # the owner doesn't want that
    contact.check()  # and does want the campaign's mail
    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state()
    assert "Thank you" in page.get_by_role("heading", level=1).inner_text()

    db.session.expire_all()
    signature = db.session.scalars(select(Signature)).one()
    assert signature.status == "confirmed"
    assert consents.granted(signature.id) == {
        "public": False,
        "comment": False,
        "contact": True,
        "delivery": False,
    }
