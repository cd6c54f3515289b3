"""The access-control matrix: every admin route, as each role and signed out.

Signed out → redirect to sign-in. A role without permission → 403. Allowed → neither.
A viewer never sees a signer's name or email anywhere.
"""

from __future__ import annotations

import pytest

from campaign.services.admins import accounts
from tests.admin.helpers import PASSWORD, login, make_signature, token_for
from tests.helpers import SLUG

ROLES = ("owner", "organizer", "viewer")
RANK = {"anonymous": 0, "viewer": 1, "organizer": 2, "owner": 3}


def matrix(signature_id: int, target_id: int) -> list[tuple[str, str, str, dict]]:
    """(method, path, minimum role, form data) for every admin route."""
    s = f"/admin/{SLUG}/signers/{signature_id}"
    return [
        ("GET", "/admin/", "viewer", {}),
        ("GET", f"/admin/{SLUG}/", "viewer", {}),
        ("GET", "/admin/account", "viewer", {}),
        ("POST", "/admin/account", "viewer", {"current": "wrong"}),
        ("GET", "/admin/account/2fa", "viewer", {}),
        ("POST", "/admin/account/2fa", "viewer", {"code": "000000"}),
        ("GET", f"/admin/{SLUG}/signers", "organizer", {}),
        ("GET", f"/admin/{SLUG}/signers?q=maryam%40example.org", "organizer", {}),
        ("GET", s, "organizer", {}),
        ("POST", f"{s}/invalidate", "organizer", {"reason": "test"}),
        ("POST", f"{s}/restore", "organizer", {}),
        ("POST", f"{s}/resend", "organizer", {}),
        ("POST", f"{s}/comment", "organizer", {}),
        ("POST", f"{s}/erase", "owner", {}),
        ("GET", f"/admin/{SLUG}/signers/bulk", "organizer", {}),
        ("POST", f"/admin/{SLUG}/signers/bulk", "organizer", {"email_domain": "example.org"}),
        ("GET", f"/admin/{SLUG}/export", "organizer", {}),
        ("POST", f"/admin/{SLUG}/export", "organizer", {"preset": "full", "format": "csv"}),
        ("GET", f"/admin/{SLUG}/delivery", "organizer", {}),
        ("POST", f"/admin/{SLUG}/delivery", "organizer", {"language": "en", "format": "html"}),
        ("GET", f"/admin/{SLUG}/sheets", "organizer", {}),
        (
            "POST",
            f"/admin/{SLUG}/sheets",
            "organizer",
            {"language": "en", "paper": "a4", "count": "0"},
        ),
        ("GET", f"/admin/{SLUG}/paper", "organizer", {}),
        ("POST", f"/admin/{SLUG}/paper", "organizer", {"code": "1-AAAAAA", "language": "en"}),
        ("POST", f"/admin/{SLUG}/paper/upload", "organizer", {"action": "dry-run"}),
        ("GET", f"/admin/{SLUG}/paper/1", "organizer", {}),
        ("GET", f"/admin/{SLUG}/updates", "organizer", {}),
        ("POST", f"/admin/{SLUG}/updates", "organizer", {"title_en": "", "body_en": ""}),
        ("GET", "/admin/audit", "owner", {}),
        ("GET", "/admin/accounts", "owner", {}),
        (
            "POST",
            "/admin/accounts",
            "owner",
            {"email": "x@admin.test", "role": "viewer", "password": PASSWORD},
        ),
        ("POST", f"/admin/accounts/{target_id}/disable", "owner", {}),
        ("POST", f"/admin/accounts/{target_id}/enable", "owner", {}),
        ("POST", f"/admin/accounts/{target_id}/reset-2fa", "owner", {}),
        ("POST", f"/admin/accounts/{target_id}/role", "owner", {"role": "viewer"}),
    ]


# Routes that any visitor may reach: tested separately below.
PUBLIC = {"admin.login", "admin.login_totp", "admin.logout"}


def test_matrix_covers_every_admin_route(app):
    signature_paths = {path.split("?")[0] for _, path, _, _ in matrix(1, 2)}
    adapter = app.url_map.bind("petition.test")
    covered = set()
    for path in signature_paths:
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(path, method=method)
            except Exception:  # noqa: BLE001,S112 - not every path takes both methods
                continue
            covered.add(endpoint)
    rules = app.url_map.iter_rules()
    admin_endpoints = {r.endpoint for r in rules if r.endpoint.startswith("admin.")}
    assert admin_endpoints - PUBLIC - covered == set()


@pytest.mark.parametrize("role", ("anonymous",) + ROLES)
def test_every_route_as_every_role(app, users, role):
    signature = make_signature()
    target = accounts.create("target@admin.test", PASSWORD, "organizer")
    client = app.test_client()
    if role != "anonymous":
        assert login(client, users[role].email).status_code == 303
        token = token_for(client, "/admin/account")
    else:
        token = token_for(client, "/admin/login")
    for method, path, needed, data in matrix(signature.id, target.id):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **data})
        where = f"{role} {method} {path} -> {response.status_code}"
        assert response.status_code < 500, where
        location = response.headers.get("Location", "")
        if role == "anonymous":
            assert response.status_code == 302 and "/admin/login" in location, where
        elif RANK[role] < RANK[needed]:
            assert response.status_code == 403, where
        else:
            assert response.status_code != 403 and "/admin/login" not in location, where
            assert response.status_code != 400, where  # the CSRF token was accepted
        assert response.headers["Cache-Control"] == "no-store", where
        assert "noindex" in response.headers["X-Robots-Tag"], where


def test_admin_post_without_csrf_token_is_refused(as_role):
    client = as_role("owner")
    response = client.post(
        "/admin/accounts", data={"email": "x@admin.test", "role": "viewer", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_viewer_sees_no_email_or_name_anywhere(app, users, as_role):
    make_signature(
        name="Shirin Tehrani", email="shirin.secret@example.org", country="FR", source="newsletter"
    )
    make_signature(
        name="Dariush Karimi", email="dariush.private@example.net", country="SE", status="pending"
    )
    client = as_role("viewer")
    pages = ["/admin/", f"/admin/{SLUG}/", "/admin/account", "/admin/account/2fa"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        for secret in (
            "shirin",
            "Shirin",
            "Tehrani",
            "dariush",
            "Dariush",
            "Karimi",
            "example.org",
            "example.net",
        ):
            assert secret not in html, f"{path} shows {secret}"
    # and every personal-data page is refused
    for path in (f"/admin/{SLUG}/signers", f"/admin/{SLUG}/signers/1", f"/admin/{SLUG}/export"):
        assert client.get(path).status_code == 403
    dashboard = client.get(f"/admin/{SLUG}/").get_data(as_text=True)
    assert "newsletter" in dashboard  # counts and sources are fine
    assert "<svg" in dashboard
