"""Rendering the public pages: load the campaign, build the sign form, the one page
context, and the campaign page (the same bytes for everyone, cached, when it can be).

Views parse the request, call their service, then render with these. Nothing here
writes data; the embed page (embed.py) and share pages (share.py) build on this.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from ..i18n import current_language
from ..services.intake import email_typos
from ..services.pages import counting, page_cache
from ..services.pages.campaigns import campaign_ref, current_goal
from ..services.pages.content import CampaignContent, library
from ..services.signatures import inbox
from ..services.signer_data import public
from ..web import page_fastpath
from .forms import CorrectEmailForm, ResendForm, SignForm, stamp_started

SOURCE_PARAMS = ("source", "utm_source")


def load_campaign(slug: str) -> CampaignContent:
    """The campaign a URL names, or a 404."""
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
    """The empty sign form, stamped and carrying the link's source and sharer code."""
    form = SignForm(formdata=None)
    form.set_country_choices(language)
    form.started.data = stamp_started()
    form.source.data, form.ref.data = source_from_request()
    return form


def render_campaign(
    content: CampaignContent, form: SignForm | None = None, status: int = 200
) -> ResponseReturnValue:
    """The campaign page; with a submitted form (errors, input kept) it is never cached."""
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
        # The count's parts (issue 26): online, confirmed by email; on paper.
        "parts": counting.parts(row.id),
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
    path (campaign/web/page_fastpath.py) answers repeats before Flask runs. The count
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
        counting.parts(campaign_ref(content).id).paper,  # the parts shown beside it
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


def counter_context(content: CampaignContent) -> dict:
    """The campaign, its text and its count: what the share, flyer and embed pages show."""
    language = current_language()
    row = campaign_ref(content)
    count = counting.confirmed_count(row.id)
    return {
        "campaign": content,
        "text": content.text(language),
        "state": content.state(),
        "count": count,
        "parts": counting.parts(row.id),
        "goal": current_goal(row, content, count),
    }


def typo_fix(note: inbox.Note | None) -> str | None:
    """The address this browser signed with, its domain's likely typo corrected."""
    return email_typos.suggest(note.email) if note else None


def check_inbox_page(
    content: CampaignContent,
    resend_form: ResendForm | None = None,
    correct_form: CorrectEmailForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """ "Check your inbox", with the address this browser signed with, masked."""
    note = inbox.read_note(request.cookies.get(inbox.NOTE_COOKIE), content.slug)
    return render_template(
        "petition/signing/check_inbox.html",
        campaign=content,
        text=content.text(current_language()),
        expiry_days=current_app.config["CONFIRM_EXPIRY_DAYS"],
        resend_form=resend_form or ResendForm(formdata=None),
        correct_form=correct_form or CorrectEmailForm(formdata=None),
        masked_email=inbox.mask_email(note.email) if note else None,
        # A likely typo in the domain, masked too: the form below corrects it (issue 24.5).
        masked_typo_fix=inbox.mask_email(fixed) if (fixed := typo_fix(note)) else None,
        resent=request.args.get("resent") == "1",
        corrected=request.args.get("corrected") == "1",
    ), status


def dead_link_page(content: CampaignContent, template: str) -> ResponseReturnValue:
    """Any link that matches nothing: one 404, whether its id is unknown, erased or
    withdrawn, so a forged link tells a prober nothing about who signed."""
    page = render_template(
        template, campaign=content, text=content.text(current_language()), state="invalid"
    )
    return page, 404  # no-store, no-referrer: signer_links.SignerLinkHeaders
