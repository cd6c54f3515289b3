"""Nothing public depends on one person, except the count (issue 21.2; tests/safety/worlds.py).

Each scenario builds world A, where the target address did something, and world B,
where it did not (balanced by a decoy where the count would differ), walks every
public route of the URL map in each as an outsider and as an attacker holding only
their own links, receipt and share code, and asks for byte-identical answers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import update

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.signer_data import privacy
from tests.safety import worlds
from tests.safety.worlds import DECOY, SAME_SITE, TARGET, World, differences


@pytest.fixture
def build(new_world) -> Callable[..., dict[str, str]]:
    """Build one world: the attacker's set-up, then `act`, then the walk."""

    def make(act: Callable[[World], None], **config) -> dict[str, str]:
        world = new_world(**config)
        with world.app.app_context():
            world.setup_attacker()
            act(world)
            world.deliver()
        return world.walk()

    return make


def nothing(world: World) -> None:
    pass


def signs(email: str, query: str = "") -> Callable[[World], None]:
    return lambda world: world.sign(email, query=query)


def confirms(email: str, query: str = "") -> Callable[[World], None]:
    def act(world: World) -> None:
        world.sign(email, query=query)
        world.confirm(email)

    return act


def withdraws(email: str) -> Callable[[World], None]:
    def act(world: World) -> None:
        confirms(email)(world)
        world.withdraw(email)

    return act


def erased(email: str) -> Callable[[World], None]:
    """Confirmed, then erased (an organizer's erase, or the retention purge's)."""

    def act(world: World) -> None:
        confirms(email)(world)
        signature = db.session.get(Signature, world.row(email).id)
        privacy.erase(signature)
        db.session.commit()
        world.deliver()

    return act


def held(email: str, reason: str) -> Callable[[World], None]:
    """Signed, flagged by an abuse check as `abuse.check_signing` records it, confirmed."""

    def act(world: World) -> None:
        world.sign(email)
        db.session.execute(
            update(Signature)
            .where(Signature.id == world.row(email).id)
            .values(flagged=True, flag_reason=reason)
        )
        db.session.commit()
        world.confirm(email)

    return act


def on_paper(email: str) -> Callable[[World], None]:
    """Entered from a paper sheet with this address (issue 26), and mailed."""
    return lambda world: world.enter_paper(2, email)


def on_paper_confirmed(email: str) -> Callable[[World], None]:
    """Entered on paper, and the address confirmed by its owner from the paper mail."""

    def act(world: World) -> None:
        world.enter_paper(2, email)
        answer = world.app.test_client().post(world.link(email, "paper"), headers=SAME_SITE)
        assert answer.status_code == 303, answer.status_code
        world.deliver()

    return act


def on_paper_after(online: str, email: str) -> Callable[[World], None]:
    """`online` confirmed online, then a sheet names `email` (anyone can write anyone's
    address on a sheet at a rally, then watch the count, the API and the log)."""

    def act(world: World) -> None:
        confirms(online)(world)
        world.enter_paper(2, email)

    return act


def through_attacker_link(world: World) -> None:
    confirms(TARGET, query=f"?ref={world.held.ref}")(world)


SCENARIOS = {
    # name: (world A's act, world B's act, config for both)
    "pending": (signs(TARGET), nothing, {}),
    "confirmed": (confirms(TARGET), confirms(DECOY), {}),
    "withdrawn": (withdraws(TARGET), withdraws(DECOY), {}),
    "erased": (erased(TARGET), erased(DECOY), {}),
    "flagged too fast, pending": (signs(TARGET), nothing, {"MIN_FORM_SECONDS": 3600}),
    "flagged by a rate limit, confirmed": (held(TARGET, "rate limit (ip)"), nothing, {}),
    "blocked": (signs(TARGET), nothing, {"BLOCKED_EMAILS": [TARGET]}),
    "signed through the attacker's link": (through_attacker_link, confirms(TARGET), {}),
    "entered on paper with this email": (on_paper(TARGET), on_paper(DECOY), {}),
    "entered on paper, address confirmed": (
        on_paper_confirmed(TARGET),
        on_paper_confirmed(DECOY),
        {},
    ),
    "entered on paper with an address that signed online": (
        on_paper_after(TARGET, TARGET),
        on_paper_after(DECOY, TARGET),
        {},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_nothing_public_depends_on_one_person(build, scenario):
    act_a, act_b, config = SCENARIOS[scenario]
    world_a = build(act_a, **config)
    world_b = build(act_b, **config)
    assert world_a.keys() == world_b.keys()
    found = differences(world_a, world_b)
    assert not found, f"{scenario}: answers differ\n\n" + "\n\n".join(found)


def test_a_route_the_harness_cannot_fill_fails_the_walk(app):
    """A new route is walked without anyone listing it; one the harness cannot build
    a request for (an argument it has no values for, a public POST with no form)
    fails instead of being skipped."""
    held = worlds.Held(tokens=dict.fromkeys(set(worlds.TOKEN_PURPOSE.values()), "1-x"))
    walked = {request.endpoint for request in worlds.requests(app, held)}
    assert walked == {rule.endpoint for rule in worlds.public_rules(app)}
    app.add_url_rule("/<slug>/new/<int:page>", "petition.new_thing", lambda slug, page: "")
    with pytest.raises(worlds.UntaughtRoute, match="petition.new_thing: no values for <page>"):
        worlds.requests(app, held)
    app.url_map._rules.pop()  # noqa: SLF001 - undo the test's route
    app.add_url_rule("/<slug>/new", "petition.new_post", lambda slug: "", methods=["POST"])
    with pytest.raises(worlds.UntaughtRoute, match="petition.new_post: a public POST"):
        worlds.requests(app, held)
