"""Public routes. Each view parses the request, calls a service, and renders."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ...extensions import limiter
from ...i18n import current_language
from ...services.intake import abuse
from ...services.intake.links import make_token as signer_link_token
from ...services.intake.links import referral_code as signer_referral_code
from ...services.intake.validation import country_name
from ...services.pages import counting
from ...services.pages.campaigns import campaign_ref
from ...services.pages.content import CampaignContent, library
from ...services.signatures import confirmation, inbox
from ...services.signer_data import consents, privacy
from .. import bp
from ..bound_forms import NOTE_FIELD
from ..forms import (
    CorrectEmailForm,
    ResendForm,
    read_sign_form,
    refused_form,
)
from ..limits import config_limit, ip_and_petition
from ..pages import check_inbox_page, dead_link_page, load_campaign, render_campaign
from ..reach import embedding
from ..reach.embed import embed_check_inbox_page, embed_page
from . import submit


@bp.get("/")
def home():
    content = library().home()
    if content is None:
        return render_template("petition/empty.html")
    return render_campaign(content)


@bp.get("/<slug>/")
def campaign_page(slug: str):
    return render_campaign(load_campaign(slug))


@bp.get("/<slug>")
def campaign_page_without_slash(slug: str):
    load_campaign(slug)
    # The query is re-encoded, not passed as url_for keywords: `?slug=` or `?_method=`
    # would collide with url_for's own arguments (a 500 before).
    query = urlencode(list(request.args.items(multi=True)))
    return redirect(url_for(".campaign_page", slug=slug) + (f"?{query}" if query else ""), 308)


@bp.post("/<slug>/sign")
def sign(slug: str):
    """The sign POST. A valid one from the page's own form is usually answered before
    Flask runs (campaign/petition/signing/post_fastpath.py); this view answers the rest
    the same way."""
    content = load_campaign(slug)  # cross-site posts were refused (security.refuse_cross_site)
    embed = embedding.check_embed_token(slug)  # a bad token: embed.bad_embed_token answers
    render_form = embed_page if embed else render_campaign  # answer where the form was
    if not content.accepts_signatures:
        return render_form(content, status=409)
    language = current_language()
    submission = read_sign_form(request.form)  # the one validation pass
    if submission.errors:
        return render_form(content, refused_form(submission, language), 422)
    outcome = submit.accept(content, submission, language=language, ip=request.remote_addr)
    if embed:  # no cookie reaches a partner's iframe: the page's forms carry the note
        note = inbox.make_note(slug, request.form.get("email", ""), outcome.signature_id)
        return embed_check_inbox_page(content, note=note)
    # check-inbox shows the address masked and resends without retyping
    return with_note(
        redirect(url_for(".check_inbox", slug=slug), 303),
        slug,
        outcome.signature_id,
    )


def with_note(response: Response, slug: str, signature_id: int | None) -> Response:
    secure = current_app.config["SESSION_COOKIE_SECURE"]
    typed = request.form.get("email", "")
    return submit.leave_note(response, slug, typed, signature_id, secure=secure)


def noted(slug: str) -> inbox.Note | None:
    """The cookie's note, or the embed form's (sealed, so never one the visitor lacks)."""
    return inbox.read_note(note_token(), slug)


def note_token() -> str | None:
    return request.cookies.get(inbox.NOTE_COOKIE) or request.form.get(NOTE_FIELD) or None


def in_embed() -> bool:
    """A check-inbox form posted from the embed: answered inside the iframe."""
    return request.form.get("embed") == "1"


@bp.get("/<slug>/check-inbox")
def check_inbox(slug: str):
    content = load_campaign(slug)
    if request.args.get("embed"):
        return embed_check_inbox_page(content)
    return check_inbox_page(content)


@bp.post("/<slug>/resend")
@limiter.limit(config_limit("RATELIMIT_RESEND"), key_func=ip_and_petition)
def resend(slug: str):
    """Send the confirmation mail again: one request row, whatever the address's state
    (services/letters/mail_requests.py), so neither the answer nor its timing says anything."""
    content = load_campaign(slug)
    note = noted(slug)
    if note and "email" not in request.form:  # "send it again" to the address just typed
        try:
            inbox.resend(content, note.email, current_language())
        except ValueError:
            pass  # an address the form refused never reaches a note; nothing to send
        return answered(content, resent=True)
    form = ResendForm()
    if not form.validate():
        return inbox_page(content, resend_form=form, status=422)
    inbox.resend(content, form.email.data, current_language())
    return answered(content, resent=True)


def inbox_page(content: CampaignContent, **kwargs) -> ResponseReturnValue:
    """The check-inbox page where the form was: the embed's, or the site's."""
    if in_embed():
        return embed_check_inbox_page(content, note=note_token(), **kwargs)
    return check_inbox_page(content, **kwargs)


def answered(
    content: CampaignContent, *, resent: bool = False, corrected: bool = False
) -> ResponseReturnValue:
    """After resend or correct: the embed's page in the iframe (it has no cookie to be
    redirected with), else a redirect to the site's check-inbox page."""
    if in_embed():
        return embed_check_inbox_page(
            content, note=note_token(), resent=resent, corrected=corrected
        )
    flag = {"resent": 1} if resent else {"corrected": 1}
    return redirect(url_for(".check_inbox", slug=content.slug, **flag), 303)


@bp.post("/<slug>/correct-email")
@limiter.limit(config_limit("RATELIMIT_RESEND"), key_func=ip_and_petition)
def correct_email(slug: str):
    """Move the pending signature this browser noted to a corrected address (same answer
    and work whatever its state). The noted address must be retyped (issue 21, L7)."""
    content = load_campaign(slug)
    # The iframe holds no session: there the bound token, bound to the sealed note the
    # form carries and checked before this view, is the form's token (bound_forms.py).
    form = CorrectEmailForm(meta={"csrf": False}) if in_embed() else CorrectEmailForm()
    if not form.validate():
        return inbox_page(content, correct_form=form, status=422)
    note = noted(slug)
    language = current_language()
    if not inbox.correct_email(content, note, form.typed.data, form.email.data, language):
        form.typed.errors.append(CorrectEmailForm.NOT_NOTED)  # not the address noted here
        return inbox_page(content, correct_form=form, status=422)
    if in_embed():  # the embed's note moves to the corrected address with the form
        typed = request.form.get("email", "")
        fixed = inbox.make_note(slug, typed, note.signature_id if note else None)
        return embed_check_inbox_page(content, note=fixed, corrected=True)
    response = redirect(url_for(".check_inbox", slug=slug, corrected=1), 303)
    return with_note(response, slug, note.signature_id) if note else response


CONFIRM_STATUS = {"invalid": 404, "expired": 410, "closed": 409}


@bp.route("/<slug>/confirm/<token:token>", methods=["GET", "POST"])
def confirm(slug: str, token: str):
    """GET shows a button; only the POST confirms, since mail scanners follow links.
    A POST that confirms is usually answered before Flask runs (post_fastpath.py),
    which hands this view what it did otherwise (submit.CONFIRM_HANDOFF)."""
    content = load_campaign(slug)
    handed = request.environ.pop(submit.CONFIRM_HANDOFF, None)  # counted there already
    if handed is None and abuse.confirm_limited(request.remote_addr):
        abort(429)
    if request.method == "POST":
        # The boxes the owner left ticked on the page are the consents stored (H1).
        result = handed or confirmation.confirm(content, token, consents.ticked(request.form))
        if result.state == "confirmed":
            return redirect(url_for(".confirm", slug=slug, token=token), 303)
    else:
        result = confirmation.check_confirmation(content, token)
    pending = result.state == "pending"
    thanked = result.state in ("confirmed", "already")
    row = campaign_ref(content)
    page = render_template(
        "petition/signing/confirm.html",
        campaign=content,
        text=content.text(current_language()),
        state=result.state,
        signature=result.signature,
        referral_code=signer_referral_code(result.signature) if result.signature else None,
        token=token,
        preview=confirmation.preview(result.signature) if pending else None,
        # The thank-you page shows the count, and no per-sharer count: how many signed
        # through one person's link told that person whether the one they sent it to
        # signed (issue 21, H2; docs/SECURITY.md, "Nothing public depends on one person").
        count=counting.confirmed_count(row.id) if thanked else None,
    )
    # It shows the submission's name and comment: signer_links.SignerLinkHeaders makes it
    # no-store and no-referrer, as every mailed-link URL.
    return page, CONFIRM_STATUS.get(result.state, 200)


@bp.post("/<slug>/confirm/<token:token>/discard")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def discard(slug: str, token: str):
    """ "This is not me": delete the pending submission this confirm link belongs to."""
    content = load_campaign(slug)
    done = confirmation.discard(content, token)
    page = render_template(
        "petition/signing/discarded.html",
        campaign=content,
        text=content.text(current_language()),
        done=done,
    )
    return page, 200 if done else 404


def signer_from_link(slug: str, token: str, purpose: str):
    """The signature a mailed link names for this purpose (withdraw, data, unsubscribe)."""
    signature = confirmation.find_by_token(token, purpose)
    return signature if signature is not None and signature.campaign.slug == slug else None


@bp.route("/<slug>/withdraw/<token:token>", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def withdraw(slug: str, token: str):
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "withdraw")
    if signature is None:
        return dead_link_page(content, "petition/signing/withdraw.html")
    state = "ask"
    if request.method == "POST":
        privacy.withdraw(signature)
        state = "done"
    data_token = signer_link_token(signature, "data") if state == "ask" else None
    page = render_template(
        "petition/signing/withdraw.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
        data_token=data_token,
    )
    return page


@bp.get("/<slug>/my-data/<token:token>")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def my_data(slug: str, token: str):
    """The signer's copy of everything held about their signature (from the mailed link)."""
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "data")
    text = content.text(current_language())
    if signature is None:
        return dead_link_page(content, "petition/signing/my_data.html")
    secret = request.args.get("k") or None  # opens the signer's sealed copy (issue 23)
    copy = privacy.data_copy(signature, secret)
    if request.args.get("format") == "json":
        response = current_app.response_class(
            json.dumps(copy, ensure_ascii=False, indent=2), mimetype="application/json"
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{slug}-my-data.json"'
        return response
    page = render_template(
        "petition/signing/my_data.html",
        campaign=content,
        text=text,
        state="ok",
        data=copy,
        token=token,
        secret=secret,
        withdraw_token=signer_link_token(signature, "withdraw"),
        country=country_name(copy["country"], current_language()),
        withdrawn=consents.get(request.args.get("withdrawn", "")),
    )
    return page


@bp.post("/<slug>/my-data/<token:token>/withdraw-consent/<key>")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def withdraw_consent(slug: str, token: str, key: str):
    """Take back one consent from the data copy, keeping the signature. Bound to the
    data link's token, like the page it is posted from; an unknown key is a 404."""
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "data")
    if signature is None:
        return dead_link_page(content, "petition/signing/my_data.html")
    if not privacy.take_back(signature, key):
        abort(404)
    secret = request.args.get("k") or None  # back to the copy it opened (issue 23)
    return redirect(url_for(".my_data", slug=slug, token=token, withdrawn=key, k=secret), 303)


@bp.route("/<slug>/unsubscribe/<token:token>", methods=["GET", "POST"])
def unsubscribe(slug: str, token: str):
    """GET asks; POST unsubscribes. Idempotent, and it changes nothing but consent."""
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "unsubscribe")
    if signature is None:
        return dead_link_page(content, "petition/signing/unsubscribe.html")
    state = "ask"
    if request.method == "POST":
        if signature.contact_consent or signature.unsubscribed_at is None:
            privacy.unsubscribe(signature)
        state = "done"
    page = render_template(
        "petition/signing/unsubscribe.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
    )
    return page
