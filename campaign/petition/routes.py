"""Public routes. Each view parses the request, calls a service, and renders."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlencode

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address

from .. import page_fastpath
from ..extensions import limiter
from ..i18n import current_language
from ..services import (
    abuse,
    confirmation,
    counting,
    inbox,
    page_cache,
    privacy,
    public,
    sharing,
    signing,
)
from ..services.campaigns import campaign_ref, current_goal
from ..services.content import CampaignContent, library
from ..services.links import make_token as signer_link_token
from ..services.links import referral_code as signer_referral_code
from ..services.signing import SignatureInput, SigningError
from . import bp, embedding
from .forms import (
    CorrectEmailForm,
    LinksForm,
    ResendForm,
    SignForm,
    consent_texts,
    read_sign_form,
    refused_form,
    seconds_since_started,
    stamp_started,
)

SOURCE_PARAMS = ("source", "utm_source")


def load_campaign(slug: str) -> CampaignContent:
    content = library().get(slug)
    if content is None or len(slug) > 80:
        abort(404)
    return content


def source_from_request() -> tuple[str | None, str | None]:
    """The channel (?source= or utm_source) and sharer code (?ref=) a visitor came with."""
    source = next((request.args[p] for p in SOURCE_PARAMS if request.args.get(p)), None)
    medium = request.args.get("utm_medium")
    if source and medium:
        source = f"{source}/{medium}"
    return (source or None) and source[:64], (request.args.get("ref") or None)


def new_sign_form(language: str) -> SignForm:
    form = SignForm(formdata=None)
    form.set_country_choices(language)
    form.started.data = stamp_started()
    form.source.data, form.ref.data = source_from_request()
    return form


def render_campaign(
    content: CampaignContent,
    form: SignForm | None = None,
    status: int = 200,
    embed: bool = False,
):
    if embed:  # the sign form inside a partner's iframe: answer in the iframe
        from .reach import render_embed

        return render_embed(content, form, status)
    language = current_language()
    row = campaign_ref(content)
    count = counting.confirmed_count(row.id)
    goal = current_goal(row, content, count)
    if form is None and status == 200 and request.method in ("GET", "HEAD"):
        if page_cache.enabled():
            return cached_campaign_page(content, language, count, goal)
    if form is None and content.accepts_signatures:
        form = new_sign_form(language)
    page = render_template(
        "petition/campaign.html", **campaign_context(content, language, count, goal, form)
    )
    return page, status


def campaign_context(
    content: CampaignContent, language: str, count: int, goal: int, form: SignForm | None
) -> dict:
    """Everything the campaign page template shows."""
    row = campaign_ref(content)
    return {
        "campaign": content,
        "text": content.text(language),
        "state": content.state(),
        "count": count,
        "goal": goal,
        "form": form,
        "base_goal": max(row.goal, content.goal),
        "milestones": public.milestones(goal, count),
        "recent_signers": public.recent_signers(content, row.id, count),
        "comments": public.public_comments(content, row.id, count),
        "updates": public.campaign_updates(row.id, language),
    }


def cached_campaign_page(content: CampaignContent, language: str, count: int, goal: int):
    """The campaign page, the same bytes for every visitor in a language and count.

    No session and no per-visitor token (the sign form is guarded by the origin
    check), so it is `public`: nginx or a CDN may serve it, and this process's fast
    path (campaign/page_fastpath.py) answers repeats before Flask runs. The count
    may lag by COUNT_CACHE_SECONDS (the max-age), and by the stale-while-revalidate
    window while a shared cache refreshes it.
    """
    key = (
        content.slug,
        language,
        request.script_root,
        request.path,
        request.query_string,
        count,
        goal,
        content.state(),
        library().version,
    )
    page = page_cache.get(key)
    if page is None:
        form = new_sign_form(language) if content.accepts_signatures else None
        page = page_cache.put(
            key,
            render_template(
                "petition/campaign.html", **campaign_context(content, language, count, goal, form)
            ),
        )
    response = current_app.response_class(page.body, mimetype="text/html")
    config = current_app.config
    response.headers["Cache-Control"] = (
        f"public, max-age={config['COUNT_CACHE_SECONDS']}, "
        f"stale-while-revalidate={config['PAGE_STALE_SECONDS']}"
    )
    response.set_etag(page.etag)  # strong: the bytes are the same for everyone
    response.last_modified = int(page.built_at)
    page_fastpath.offer(page_cache.fast_seconds(config))
    return response.make_conditional(request)


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
    try:  # cross-site posts were refused before this view (security.refuse_cross_site)
        embed = embedding.check_embed_token(slug)
    except embedding.EmbedTokenInvalid as error:
        from .reach import render_embed

        return render_embed(load_campaign(slug), status=400, notice=error.description)
    content = load_campaign(slug)
    if not content.accepts_signatures:
        return render_campaign(content, status=409, embed=embed)
    language = current_language()
    submission = read_sign_form(request.form)  # the one validation pass
    if submission.errors:
        return render_campaign(content, refused_form(submission, language), 422, embed=embed)
    verdict = abuse.check_signing(
        slug=slug,
        ip=request.remote_addr,
        honeypot=submission.website,
        seconds_open=seconds_since_started(submission.started),
        canonical_email=submission.fields.email.canonical,
    )
    outcome = None
    if not verdict.drop:
        public_text, contact_text, comment_text, delivery_text = consent_texts()
        data = SignatureInput(
            name=submission.fields.name,
            email=submission.fields.email.address,
            country=submission.fields.country,
            comment=submission.fields.comment,
            public_consent=submission.public_consent,
            contact_consent=submission.contact_consent,
            language=language,
            source=submission.source,
            referrer_code=submission.ref,
            ip=request.remote_addr,
            consent_public_text=public_text,
            consent_contact_text=contact_text,
            comment_consent=submission.comment_consent,
            consent_comment_text=comment_text,
            delivery_consent=submission.delivery_consent,
            consent_delivery_text=delivery_text,
            fields=submission.fields,
        )
        try:
            outcome = signing.sign(
                content, data, flag_reason=verdict.flag_reason, send_mail=verdict.send_mail
            )
        except SigningError as error:
            refused = replace(submission, errors={error.field: error.message})
            return render_campaign(content, refused_form(refused, language), 422, embed=embed)
    if not embed:  # check-inbox shows the address masked and resends without retyping
        session[inbox.NOTE_KEY] = inbox.make_note(slug, request.form.get("email", ""), outcome)
    return redirect(url_for(".check_inbox", slug=slug, **({"embed": 1} if embed else {})), 303)


def config_limit(name: str):
    """A Flask-Limiter limit read from the config at request time."""
    return lambda: current_app.config[name]


def ip_and_petition() -> str:
    return f"{get_remote_address()}/{(request.view_args or {}).get('slug', '')}"


@bp.get("/<slug>/check-inbox")
def check_inbox(
    slug: str,
    form: ResendForm | None = None,
    status: int = 200,
    correct_form: CorrectEmailForm | None = None,
):
    content = load_campaign(slug)
    if request.args.get("embed"):
        from .reach import render_embed_check_inbox

        return render_embed_check_inbox(content)
    noted = inbox.noted_email(session.get(inbox.NOTE_KEY), slug)
    return render_template(
        "petition/check_inbox.html",
        campaign=content,
        text=content.text(current_language()),
        expiry_days=current_app.config["CONFIRM_EXPIRY_DAYS"],
        resend_form=form or ResendForm(formdata=None),
        correct_form=correct_form or CorrectEmailForm(formdata=None),
        masked_email=inbox.mask_email(noted) if noted else None,
        resent=request.args.get("resent") == "1",
        corrected=request.args.get("corrected") == "1",
    ), status


@bp.post("/<slug>/resend")
@limiter.limit(config_limit("RATELIMIT_RESEND"), key_func=ip_and_petition)
def resend(slug: str):
    """Send the confirmation mail again. The answer never says whether it did."""
    content = load_campaign(slug)
    noted = inbox.noted_email(session.get(inbox.NOTE_KEY), slug)
    if noted and "email" not in request.form:  # "send it again" to the address just typed
        try:
            signing.resend_confirmation(content, noted)
        except ValueError:
            pass  # an address the form refused never reaches a note; nothing to send
        return redirect(url_for(".check_inbox", slug=slug, resent=1), 303)
    form = ResendForm()
    if not form.validate():
        return check_inbox(slug, form, 422)
    signing.resend_confirmation(content, form.email.data)
    return redirect(url_for(".check_inbox", slug=slug, resent=1), 303)


@bp.post("/<slug>/correct-email")
@limiter.limit(config_limit("RATELIMIT_RESEND"), key_func=ip_and_petition)
def correct_email(slug: str):
    """Move this session's pending signature to a corrected address (same answer always)."""
    content = load_campaign(slug)
    form = CorrectEmailForm()
    if not form.validate():
        return check_inbox(slug, status=422, correct_form=form)
    note = session.get(inbox.NOTE_KEY)
    inbox.correct_email(content, note, form.email.data)  # same answer whatever it did
    if note and note.get("slug") == slug:
        session[inbox.NOTE_KEY] = {
            **note,
            **inbox.make_note(slug, form.email.data, None),
            "sid": note.get("sid"),
        }
    return redirect(url_for(".check_inbox", slug=slug, corrected=1), 303)


CONFIRM_STATUS = {"invalid": 404, "expired": 410, "closed": 409}


@bp.route("/<slug>/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def confirm(slug: str, token: str):
    """GET shows a button; only the POST confirms, since mail scanners follow links."""
    content = load_campaign(slug)
    if request.method == "POST":
        result = confirmation.confirm(content, token)
        if result.state == "confirmed":
            return redirect(url_for(".confirm", slug=slug, token=token), 303)
    else:
        result = confirmation.check_confirmation(content, token)
    pending = result.state == "pending"
    thanked = result.state in ("confirmed", "already")
    row = campaign_ref(content)
    page = render_template(
        "petition/confirm.html",
        campaign=content,
        text=content.text(current_language()),
        state=result.state,
        signature=result.signature,
        referral_code=signer_referral_code(result.signature) if result.signature else None,
        token=token,
        preview=confirmation.preview(result.signature) if pending else None,
        # The thank-you page: the count, and how many signed through this signer's link.
        count=counting.confirmed_count(row.id) if thanked else None,
        signed_through=sharing.referral_count(result.signature) if thanked else 0,
    )
    # It shows the submission's name and comment: security.signer_link_headers makes it
    # no-store and no-referrer, as every mailed-link URL.
    return page, CONFIRM_STATUS.get(result.state, 200)


@bp.post("/<slug>/confirm/<token>/discard")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def discard(slug: str, token: str):
    """ "This is not me": delete the pending submission this confirm link belongs to."""
    content = load_campaign(slug)
    done = confirmation.discard(content, token)
    page = render_template(
        "petition/discarded.html",
        campaign=content,
        text=content.text(current_language()),
        done=done,
    )
    return page, 200 if done else 404


def signer_from_link(slug: str, token: str, purpose: str):
    """The signature a mailed link names for this purpose (withdraw, data, unsubscribe)."""
    signature = confirmation.find_by_token(token, purpose)
    return signature if signature is not None and signature.campaign.slug == slug else None


def dead_link_page(content: CampaignContent, template: str):
    """Any link that matches nothing: one 404, whether its id is unknown, erased or
    withdrawn, so a forged link tells a prober nothing about who signed."""
    page = render_template(
        template, campaign=content, text=content.text(current_language()), state="invalid"
    )
    return page, 404  # no-store, no-referrer: security.signer_link_headers


@bp.route("/<slug>/withdraw/<token>", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def withdraw(slug: str, token: str):
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "withdraw")
    if signature is None:
        return dead_link_page(content, "petition/withdraw.html")
    state = "ask"
    if request.method == "POST":
        privacy.withdraw(signature)
        public.forget_public_views()
        state = "done"
    data_token = signer_link_token(signature, "data") if state == "ask" else None
    page = render_template(
        "petition/withdraw.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
        data_token=data_token,
    )
    return page


@bp.get("/<slug>/my-data/<token>")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def my_data(slug: str, token: str):
    """The signer's copy of everything held about their signature (from the mailed link)."""
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "data")
    text = content.text(current_language())
    if signature is None:
        return dead_link_page(content, "petition/my_data.html")
    copy = privacy.data_copy(signature)
    if request.args.get("format") == "json":
        response = current_app.response_class(
            json.dumps(copy, ensure_ascii=False, indent=2), mimetype="application/json"
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{slug}-my-data.json"'
        return response
    from ..services.validation import country_name

    page = render_template(
        "petition/my_data.html",
        campaign=content,
        text=text,
        state="ok",
        data=copy,
        token=token,
        withdraw_token=signer_link_token(signature, "withdraw"),
        country=country_name(copy["country"], current_language()),
    )
    return page


@bp.route("/<slug>/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(slug: str, token: str):
    """GET asks; POST unsubscribes. Idempotent, and it changes nothing but consent."""
    content = load_campaign(slug)
    signature = signer_from_link(slug, token, "unsubscribe")
    if signature is None:
        return dead_link_page(content, "petition/unsubscribe.html")
    state = "ask"
    if request.method == "POST":
        if signature.contact_consent or signature.unsubscribed_at is None:
            privacy.unsubscribe(signature)
        state = "done"
    page = render_template(
        "petition/unsubscribe.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
    )
    return page


@bp.get("/privacy")
def privacy_page(links_form: LinksForm | None = None, status: int = 200):
    config = current_app.config
    return render_template(
        "petition/privacy.html",
        expiry_days=config["CONFIRM_EXPIRY_DAYS"],
        ip_days=config["IP_HASH_RETENTION_DAYS"],
        anonymize_days=config["ANONYMIZE_AFTER_CLOSE_DAYS"],
        # "Mail me my links again": data rights for a signer who lost their mail.
        links_form=links_form or LinksForm(formdata=None),
        links_sent=request.args.get("sent") == "1",
    ), status
