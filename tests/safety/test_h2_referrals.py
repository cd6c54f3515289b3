"""H2 (issue 21): the thank-you page's per-sharer counter told an agent whether the one
person they sent a personal ?ref= link to had signed, and when they withdrew."""

from __future__ import annotations

import re

from tests.helpers import SLUG
from tests.safety.worlds import TARGET, World

COUNT = re.compile(r'<p class="thanks-count">.*?</p>', re.S)  # the total: allowed to move


def test_h2_referral_counter_is_not_an_oracle(database_url, smtp_server):
    smtp_server.messages.clear()
    world = World(database_url, smtp_server)
    try:
        with world.app.app_context():
            world.setup_attacker()
            thanks = f"/{SLUG}/confirm/{world.held.tokens['confirm']}"

            def seen() -> str:
                return COUNT.sub("", world.attacker.get(thanks).get_data(as_text=True))

            before = seen()
            world.sign(TARGET, query=f"?ref={world.held.ref}")  # the target's personal link
            assert seen() == before
            world.confirm(TARGET)
            assert seen() == before, "the sharer's page tells that the target confirmed"
            world.withdraw(TARGET)
            assert seen() == before, "the sharer's page tells that the target withdrew"
    finally:
        world.close()
