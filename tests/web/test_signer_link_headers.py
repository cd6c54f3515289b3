"""Issue 21, L6: one rule for every answer under a signer's link, derived from the URL
map: every route whose URL carries a signer token (the `token` converter) or whose
form carries a receipt (`secret_view`), in every spelling routing accepts or
redirects, with every method, is answered no-store and no-referrer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.web.signer_links import SignerToken
from tests.helpers import SLUG, sign

FORGED = "1-" + "0" * 40
PURPOSES = {"confirm": "confirm", "discard": "confirm", "my_data": "data"}


def signer_link_rules(app) -> list:
    """Routes under a signer link, from the URL map: no hand-written list."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, SignerToken) for c in rule._converters.values())
        or getattr(app.view_functions[rule.endpoint], "signer_secret", False)
    ]


def spellings(path: str) -> list[str]:
    """The path, and the ways a client may write it that routing still reaches or
    redirects: doubled slashes anywhere, a trailing slash, a language prefix, more."""
    parts = path.split("/")
    doubled = ["/".join(parts[:i]) + "//" + "/".join(parts[i:]) for i in range(1, len(parts))]
    return [
        path,
        path + "/",
        path + "//",
        "/" + path,
        path.replace("/", "//"),
        *doubled,
        "/fa" + path,
        "/fa/" + path,
        "//fa" + path,
        "/fa/fr" + path,
        path + "/anything",
        path.upper(),
    ]


def fill(rule, signature: Signature | None) -> str:
    """The rule's URL with the signer's own token for its purpose (a forged one if the
    purpose is not a mailed link's, or with no signature), the campaign's slug, 1s."""
    values = {}
    view = rule.endpoint.rpartition(".")[2]
    purpose = PURPOSES.get(view, view)
    for name, converter in rule._converters.items():
        if isinstance(converter, SignerToken):
            valid = signature is not None and purpose in links.PURPOSES
            values[name] = links.make_token(signature, purpose) if valid else FORGED
        else:
            values[name] = SLUG if name == "slug" else "1"
    return rule.build(values)[1]


def test_l6_every_answer_under_a_signer_link_is_no_store_and_no_referrer(client, app):
    """Before, `/<slug>//confirm/<token>` was answered 308 by routing (merge_slashes)
    with neither header, since the after_request hook matched the path as written."""
    sign(client, email="walk@example.org")
    signature = db.session.scalars(select(Signature)).one()
    rules = signer_link_rules(app)
    endpoints = {rule.endpoint for rule in rules}
    assert {"petition.confirm", "petition.discard", "petition.withdraw"} <= endpoints
    assert {"petition.my_data", "petition.unsubscribe", "petition.log_verify"} <= endpoints
    # Every URL first: a POST to the withdraw link ends the other links.
    walk = [(rule, path) for rule in rules for path in (fill(rule, signature), fill(rule, None))]
    statuses = set()
    for rule, path in walk:
        for spelling in spellings(path):
            for method in sorted(rule.methods | {"PUT", "DELETE"}):
                # As a server passes the request line on (a test client would read
                # "//slug/…" as a host).
                response = client.open(
                    "/", method=method, environ_overrides={"PATH_INFO": spelling}
                )
                statuses.add(response.status_code)
                where = f"{method} {spelling} -> {response.status_code}"
                assert response.headers.get("Cache-Control") == "no-store", where
                assert response.headers.get("Referrer-Policy") == "no-referrer", where
    assert {200, 308, 404, 405} <= statuses  # pages, routing's redirects, errors


@pytest.mark.parametrize(
    "path", [f"/{SLUG}/", f"/fa/{SLUG}/", f"/{SLUG}/share", "/privacy", f"/{SLUG}/log/key"]
)
def test_other_pages_keep_their_own_caching(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_route_with_a_token_in_its_url_declares_it(app):
    """A new route naming a token with the default converter would escape the rule."""
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if "token" in name.lower() or "receipt" in name.lower():
                assert isinstance(converter, SignerToken), f"{rule.rule}: use <token:{name}>"
