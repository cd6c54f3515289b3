"""The flagged cannot tell (issue 21.5): a signer held back by an abuse flag sees the
same pages and gets the same mail as anyone; only the count (and, once they check
their receipt, the log) differs. docs/SECURITY.md, "The flagged cannot tell"."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.letters import reminders
from campaign.services.log import tlog_store
from campaign.services.pages.campaigns import campaign_ref
from campaign.services.pages.content import library
from tests.helpers import SLUG
from tests.safety.worlds import TARGET, World, normalise

COUNT = re.compile(r'<p class="thanks-count">.*?</p>', re.S)  # the count: allowed to differ


def flag(world: World, email: str, reason: str) -> None:
    """Mark the address's submission as `abuse.check_signing` records a flag."""
    db.session.execute(
        update(Signature)
        .where(Signature.id == world.row(email).id)
        .values(flagged=True, flag_reason=reason)
    )
    db.session.commit()


def what_the_signer_sees(world: World, *, flagged: bool) -> list[str]:
    """The target signs, is flagged or not, confirms: their pages and mail, in order.
    They agree to campaign mail, and keep that box at confirm: a confirmed signer's
    address is otherwise sealed to the organizers' key, and no receipt mail can go."""
    browser = world.app.test_client()
    world.sign(TARGET, client=browser, contact_consent="y")
    if flagged:
        flag(world, TARGET, "rate limit (ip)")
    path = world.confirm(TARGET, client=browser, boxes={"contact_consent": "y"})
    seen = [COUNT.sub("", browser.get(path).get_data(as_text=True))]  # the thank-you page
    world.deliver()
    seen.append(COUNT.sub("", browser.get(path).get_data(as_text=True)))  # and later
    for message in world.mailbox.to(TARGET):
        body = message.get_body(("plain",)).get_content()
        seen.append(normalise(f"{message['Subject']}\n{body}"))
    return seen


def test_l1_a_flagged_signer_gets_a_receipt_like_anyone(new_world):
    """L1: a shadow-flagged signer's thank-you page had no receipt, and no receipt mail
    came, so they learned they were flagged. Now both are the same as anyone's."""
    world = new_world()
    with world.app.app_context():
        counted = what_the_signer_sees(world, flagged=False)
    world = new_world()
    with world.app.app_context():
        held = what_the_signer_sees(world, flagged=True)
        # Held: not counted, so not in the log (adds − removes is the count).
        assert tlog_store.log_count(campaign_ref(library().get(SLUG)).id) == 0
    assert any("receipt" in mail.split("\n")[0].lower() for mail in held[2:])
    assert 'class="receipt-text"' in held[0]
    assert held == counted


def test_l4_a_too_fast_submission_gets_its_reminder(new_world):
    """L4: a form sent faster than MIN_FORM_SECONDS (a browser's autofill) is flagged
    "too fast" and mailed; its reminder never came, unlike anyone else's."""
    world = new_world(MIN_FORM_SECONDS=3600, CONFIRM_REMINDER_HOURS=1)
    with world.app.app_context():
        world.sign(TARGET)
        row = world.row(TARGET)
        assert row.flag_reason == "too fast"
        world.deliver()  # its confirmation mail
        db.session.execute(
            update(Signature)
            .where(Signature.id == row.id)
            .values(created_at=row.created_at - timedelta(hours=2))
        )
        db.session.commit()
        assert reminders.send_reminders() == 1
        world.deliver()
        first, reminder = world.mailbox.to(TARGET)
        assert reminder["Subject"] != first["Subject"]
        assert world.mailbox.links(reminder, "confirm") == world.mailbox.links(first, "confirm")
