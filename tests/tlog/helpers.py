"""Signing and confirming through the real routes, and static mirrors of a log, for the
transparency-log tests."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.services.verifier import tlog
from tests.helpers import SLUG, sign


def sign_and_confirm(client, email: str, name: str = "Maryam Ahmadi") -> tuple[Signature, str]:
    """Returns the signature and the thank-you page's HTML."""
    assert sign(client, email=email, name=name).status_code == 303
    signature = db.session.scalars(select(Signature).order_by(Signature.id.desc()).limit(1)).one()
    token = links.make_token(signature, "confirm")
    assert client.get(f"/{SLUG}/confirm/{token}").status_code == 200
    response = client.post(f"/{SLUG}/confirm/{token}", follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    return db.session.get(Signature, signature.id), response.get_data(as_text=True)


def receipt_from(html: str) -> str:
    return re.search(r'<code class="receipt-text" dir="ltr">([^<]+)</code>', html).group(1)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def mirror(get, root: Path) -> None:
    """Copy every public artifact of the log (and the API count) to a directory."""
    prefix = f"/{SLUG}/log/"
    paths = ["checkpoint", "checkpoints", "key"]
    size = json.loads(get(prefix + "checkpoints"))["checkpoints"][-1]["size"]
    for level, n, width in tlog.tiles_for(size):
        paths.append(tlog.tile_path(level, n, width))
        if level == 0:
            paths.append(tlog.tile_path("entries", n, width))
    for path in paths:
        target = root / SLUG / "log" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(get(prefix + path))
    api = root / "api" / "v1" / "petitions" / SLUG
    api.parent.mkdir(parents=True, exist_ok=True)
    api.write_bytes(get(f"/api/v1/petitions/{SLUG}"))
