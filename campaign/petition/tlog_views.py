"""The transparency log over HTTP: C2SP tlog-tiles under /<slug>/log/, and the public
receipt check. Tiles and entry bundles are immutable (long public caching), so any
static mirror or CDN can serve them; the checkpoint changes, so it is cached briefly."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import csrf, limiter
from ..i18n import current_language
from ..models import SignatureStatus, utc_iso
from ..services.log import receipts, tlog_evidence, tlog_keys, tlog_reader, tlog_store, tlog_witness
from ..services.pages import cache
from ..services.pages.campaigns import campaign_ref
from ..services.verifier import tlog
from ..web.signer_links import secret_view
from . import bp
from .limits import config_limit
from .pages import load_campaign

IMMUTABLE = "public, max-age=31536000, immutable"


def _plain(body: str | bytes, mimetype: str, cache: str):
    response = make_response(body)
    response.mimetype = mimetype
    response.headers["Cache-Control"] = cache
    response.headers["Access-Control-Allow-Origin"] = "*"  # public data, for any verifier
    return response


def _tile(data: bytes):
    """A tile or an entry bundle: immutable, and gzipped for a client that asks (C2SP
    tlog-tiles lets logs and mirrors serve them so; entry bundles shrink about 2x)."""
    if "gzip" not in request.headers.get("Accept-Encoding", "").lower():
        response = _plain(data, "application/octet-stream", IMMUTABLE)
    else:
        response = _plain(gzip.compress(data, mtime=0), "application/octet-stream", IMMUTABLE)
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _campaign_id(slug: str) -> int:
    return campaign_ref(load_campaign(slug)).id


@bp.app_template_global("transparency_key")
def transparency_key(slug: str) -> str:
    """The verifier key shown on the campaign page (key loaded once per process)."""
    keys = cache.store(cache.TLOG_KEYS)
    if slug not in keys:
        try:
            keys[slug] = tlog_keys.verifier_key(slug)
        except RuntimeError:  # no key configured in production: show none, don't fail
            current_app.logger.error("TLOG_SIGNING_KEY is not set")
            return ""
    return keys[slug]


@bp.app_template_global("signer_receipt")
def signer_receipt(signature) -> dict | None:
    """The thank-you page's receipt: text and QR code, for every confirmed signature,
    counted or held back by an abuse flag, and without the leaf index (which a held one
    has not got): the page is the same whether or not the signer is flagged (issue 21,
    L1; docs/SECURITY.md, "The flagged cannot tell")."""
    confirmed = signature is not None and signature.status == SignatureStatus.CONFIRMED
    raw = receipts.secret(signature) if confirmed else None
    if raw is None:
        return None
    text = receipts.text(tlog_keys.origin(signature.campaign.slug), None, raw)
    return {"text": text, "qr": receipts.qr_data_uri(text)}


@bp.get("/<slug>/log/checkpoint")
def log_checkpoint(slug: str):
    """The latest checkpoint, with every witness cosignature it has got so far."""
    last = tlog_store.latest_checkpoint(_campaign_id(slug))
    if last is None:
        abort(404)
    [note] = tlog_witness.cosigned_notes([last])
    return _plain(note, "text/plain", "public, max-age=5")


CHECKPOINTS_PER_PAGE = 500  # a checkpoint a minute: a page is about eight hours


@bp.get("/<slug>/log/checkpoints")
def log_checkpoints(slug: str):
    """Every checkpoint ever signed, oldest first, a page at a time (`?page=0`, `1`, …;
    links to the others in the body and in `Link`), so anyone can check the log only
    grew. A page holds the same checkpoints for good; only the last one grows."""
    raw = request.args.get("page", "0")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        abort(400)
    page = int(raw)
    checkpoints, total = tlog_store.checkpoints_page(_campaign_id(slug), page, CHECKPOINTS_PER_PAGE)
    pages = max(1, -(-total // CHECKPOINTS_PER_PAGE))
    if page >= pages:
        abort(404)

    def link(n: int) -> str | None:
        return url_for(".log_checkpoints", slug=slug, page=n) if 0 <= n < pages else None

    # Published to the hour only: a finer time would place each leaf in time for good.
    body = {
        "checkpoints": [
            {"size": c.size, "note": note, "published": utc_iso(hour(c.published_at))}
            for c, note in zip(checkpoints, tlog_witness.cosigned_notes(checkpoints), strict=True)
        ],
        "page": page,
        "pages": pages,
        "per_page": CHECKPOINTS_PER_PAGE,
        "total": total,
        "first": link(0),
        "prev": link(page - 1),
        "next": link(page + 1),
        "last": link(pages - 1),
    }
    # A full page changes only when a witness cosigns one of its checkpoints late.
    response = _plain(json.dumps(body), "application/json", "public, max-age=5")
    if page < pages - 1:
        response.headers["Cache-Control"] = "public, max-age=300"
    rels = ("first", "prev", "next", "last")
    response.headers["Link"] = ", ".join(f'<{body[r]}>; rel="{r}"' for r in rels if body[r])
    return response


@bp.get("/<slug>/log/proof/consistency/<int:old>/<int:new>")
def log_consistency(slug: str, old: int, new: int):
    """RFC 9162 consistency proof between two tree sizes (base64, one hash a line), for
    witnesses and verifiers that keep only checkpoints. Never changes: cached for good."""
    campaign_id = _campaign_id(slug)
    last = tlog_store.latest_checkpoint(campaign_id)
    if last is None or not 0 < old <= new <= last.size:
        abort(404)
    proof = tlog_reader.consistency_proof(campaign_id, old, new) if old < new else []
    body = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return _plain(body, "text/plain", IMMUTABLE)


@bp.post("/<slug>/log/cosignature")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
@csrf.exempt  # a witness is a program; only a valid cosignature of a known witness is kept
def log_cosignature(slug: str):
    """A witness sends back a checkpoint it cosigned (text/plain signed note)."""
    campaign_id = _campaign_id(slug)
    if request.content_length and request.content_length > 16_384:
        abort(413)
    try:
        added = tlog_witness.submit(campaign_id, request.get_data(as_text=True))
    except tlog_witness.CosignatureRefused as exc:
        return _plain(f"refused: {exc}\n", "text/plain", "no-store"), 422
    return _plain(f"stored {added}\n", "text/plain", "no-store")


@bp.get("/<slug>/log/bundle/<int:index>")
def log_bundle(slug: str, index: int):
    """Leaf `index`'s evidence bundle (services/log/tlog_evidence.py): public data only, by
    leaf index like a tile, to keep and check offline. It changes with each checkpoint."""
    response = _bundle(_campaign_id(slug), slug, index)
    if response is None:
        abort(404)
    return response


def _bundle(campaign_id: int, slug: str, index: int):
    data = tlog_evidence.bundle(campaign_id, slug, index)
    if data is None:
        return None
    response = _plain(json.dumps(data, indent=1) + "\n", "application/json", "public, max-age=60")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-leaf-{index}.json"'
    return response


@bp.get("/<slug>/log/key")
def log_key(slug: str):
    load_campaign(slug)
    return _plain(transparency_key(slug) + "\n", "text/plain", "public, max-age=300")


def _tile_address(rest: str) -> tuple[int, int]:
    index, sep, width = rest.partition(".p/")
    try:
        n = tlog.parse_tile_index(index)
    except ValueError:
        abort(404)
    if not sep:
        return n, tlog.TILE_WIDTH
    if (
        not (width.isascii() and width.isdigit())
        or width.startswith("0")
        or not 0 < int(width) < 256
    ):
        abort(404)
    return n, int(width)


@bp.get("/<slug>/log/tile/entries/<path:rest>")
def log_entries(slug: str, rest: str):
    n, width = _tile_address(rest)
    data = tlog_store.entries_bytes(_campaign_id(slug), n, width)
    if data is None:
        abort(404)
    return _tile(data)


@bp.get("/<slug>/log/tile/<int:level>/<path:rest>")
def log_tile(slug: str, level: int, rest: str):
    if level > 63:
        abort(404)
    n, width = _tile_address(rest)
    data = tlog_store.tile_bytes(_campaign_id(slug), level, n, width)
    if data is None:
        abort(404)
    return _tile(data)


@bp.route("/<slug>/log/verify", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_CONFIRM"), methods=["POST"])
@csrf.exempt  # holds no session state; a forged POST only checks a receipt
@secret_view  # the form carries a receipt: no-store, no-referrer (signer_links.py)
def log_verify(slug: str):
    """Check a receipt. POST, so the secret is in no URL or access log; never stored,
    never logged, and the answer is no-store."""
    content = load_campaign(slug)
    campaign_id = campaign_ref(content).id
    check, status = None, 200
    if request.method == "POST":
        raw = receipts.parse(request.form.get("receipt", ""))
        if raw is None:
            status = 422
        else:
            check = tlog_store.check_receipt(campaign_id, raw)
            # "Download your evidence" (the thank-you page, the check's result): the
            # bundle of the receipt's add, once a published checkpoint covers it.
            if request.form.get("download") and check.state in ("included", "removed"):
                bundle = _bundle(campaign_id, slug, check.index)
                if bundle is not None:
                    bundle.headers["Cache-Control"] = "no-store"
                    return bundle
    page = render_template(
        "petition/log_verify.html",
        campaign=content,
        text=content.text(current_language()),
        check=check,
        invalid=status == 422,
        key=transparency_key(slug),
        b64=lambda h: base64.b64encode(h).decode(),
        error=_("That is not a receipt. A receipt ends with a 43-character secret."),
    )
    return make_response(page, status)  # no-store, no-referrer: signer_links.SignerLinkHeaders
