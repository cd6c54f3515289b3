"""Public routes. Each view parses the request, calls a service, and renders."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf

from ..i18n import current_language
from ..services import abuse, counting, page_cache, privacy, signing
from ..services.campaigns import campaign_ref, current_goal
from ..services.content import CampaignContent, library
from ..services.signing import SignatureInput, SigningError
from . import bp
from .forms import CONTACT_CONSENT, PUBLIC_CONSENT, SignForm, seconds_since_started, stamp_started

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


def render_campaign(content: CampaignContent, form: SignForm | None = None, status: int = 200):
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
        "petition/campaign.html",
        campaign=content,
        text=content.text(language),
        state=content.state(),
        count=count,
        goal=goal,
        form=form,
    )
    return page, status


def cached_campaign_page(content: CampaignContent, language: str, count: int, goal: int):
    """The campaign page from the page cache, with this visitor's token and stamp.

    Adds validators (ETag, Last-Modified) and answers 304 when this session's copy
    is current. The page is `private`: it carries the session's CSRF token, so a
    shared cache (CDN) must not hand it to anyone else (see docs/deploy.md).
    """
    state = content.state()
    key = (
        content.slug, language, request.script_root, request.path,
        request.query_string, count, goal, state, library().version,
    )  # fmt: skip
    session_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    had_session = bool(session.get(session_field))
    page = page_cache.get(key)
    if page is None:
        form = new_sign_form(language) if content.accepts_signatures else None
        html = render_template(
            "petition/campaign.html", campaign=content, text=content.text(language),
            state=state, count=count, goal=goal, form=form,
        )  # fmt: skip
        page = page_cache.put(
            key, html, token=generate_csrf() if form else None,
            started=form.started.data if form else None,
        )  # fmt: skip
    else:
        html = page_cache.fill(page, token=generate_csrf(), started=stamp_started())
    response = make_response(html, 200)
    swr = current_app.config.get("PAGE_STALE_SECONDS", 30)
    response.headers["Cache-Control"] = f"private, max-age=0, stale-while-revalidate={swr}"
    response.last_modified = int(page.built_at)
    # Old tokens stay valid only without a time limit; with one, a kept copy may not.
    if current_app.config.get("WTF_CSRF_TIME_LIMIT") is None:
        response.set_etag(page_cache.etag(page, session.get(session_field)), weak=True)
        if request.if_none_match:
            if request.if_none_match.contains_weak(response.get_etag()[0]):
                return not_modified(response)
        elif had_session and request.if_modified_since:
            if int(page.built_at) <= request.if_modified_since.timestamp():
                return not_modified(response)
    return response


def not_modified(response):
    response.status_code = 304
    response.set_data(b"")
    response.headers.pop("Content-Length", None)
    return response


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
    return redirect(url_for(".campaign_page", slug=slug, **request.args), 308)


@bp.post("/<slug>/sign")
def sign(slug: str):
    content = load_campaign(slug)
    if not content.accepts_signatures:
        return render_campaign(content, status=409)
    language = current_language()
    form = SignForm()
    form.set_country_choices(language)
    if not form.validate():
        form.started.data = form.started.data or stamp_started()
        return render_campaign(content, form, 422)
    verdict = abuse.check_signing(
        slug=slug,
        ip=request.remote_addr,
        honeypot=form.website.data,
        seconds_open=seconds_since_started(form.started.data),
    )
    if not verdict.drop:
        data = SignatureInput(
            name=form.name.data,
            email=form.email.data,
            country=form.country.data,
            comment=form.comment.data,
            public_consent=form.public_consent.data,
            contact_consent=form.contact_consent.data,
            language=language,
            source=form.source.data,
            referrer_code=form.ref.data,
            ip=request.remote_addr,
            consent_public_text=str(PUBLIC_CONSENT),
            consent_contact_text=str(CONTACT_CONSENT),
        )
        try:
            signing.sign(content, data, flag_reason=verdict.flag_reason,
                         send_mail=verdict.send_mail)  # fmt: skip
        except SigningError as error:
            getattr(form, error.field).errors.append(error.message)
            return render_campaign(content, form, 422)
    return redirect(url_for(".check_inbox", slug=slug), 303)


@bp.get("/<slug>/check-inbox")
def check_inbox(slug: str):
    content = load_campaign(slug)
    return render_template(
        "petition/check_inbox.html",
        campaign=content,
        text=content.text(current_language()),
        expiry_days=current_app.config["CONFIRM_EXPIRY_DAYS"],
    )


CONFIRM_STATUS = {"invalid": 404, "expired": 410, "closed": 409}


@bp.route("/<slug>/confirm/<token>", methods=["GET", "POST"])
def confirm(slug: str, token: str):
    """GET shows a button; only the POST confirms, since mail scanners follow links."""
    content = load_campaign(slug)
    if request.method == "POST":
        result = signing.confirm(content, token)
        if result.state == "confirmed":
            return redirect(url_for(".confirm", slug=slug, token=token), 303)
    else:
        result = signing.check_confirmation(content, token)
    return render_template(
        "petition/confirm.html",
        campaign=content,
        text=content.text(current_language()),
        state=result.state,
        signature=result.signature,
        token=token,
    ), CONFIRM_STATUS.get(result.state, 200)


@bp.route("/<slug>/withdraw/<token>", methods=["GET", "POST"])
def withdraw(slug: str, token: str):
    content = load_campaign(slug)
    signature = signing.find_by_token(token, "manage")
    if signature is None or signature.campaign.slug != slug:
        # An erased signature's links stop matching; say so rather than "not found".
        gone = signing.was_erased(token)
        return render_template(
            "petition/withdraw.html", campaign=content, text=content.text(current_language()),
            state="gone" if gone else "invalid",
        ), 410 if gone else 404  # fmt: skip
    state = "ask"
    if request.method == "POST":
        privacy.withdraw(signature)
        counting.forget_cached_counts()
        state = "done"
    return render_template(
        "petition/withdraw.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
    )


@bp.get("/privacy")
def privacy_page():
    config = current_app.config
    return render_template(
        "petition/privacy.html",
        expiry_days=config["CONFIRM_EXPIRY_DAYS"],
        ip_days=config["IP_HASH_RETENTION_DAYS"],
        anonymize_days=config["ANONYMIZE_AFTER_CLOSE_DAYS"],
    )

