"""The sign form inside a partner's iframe: its page, its check-inbox page, and the
answer to a bad embed token (in the iframe, not an error page that refuses framing).

The token itself (signed, bound, single-use) is embedding.py's.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from ...i18n import current_language
from ...services.pages.content import CampaignContent, library
from ...services.signatures import inbox
from ...web.app_wide import error_response
from ...web.security import allow_framing
from .. import bp
from ..forms import CorrectEmailForm, ResendForm, SignForm, stamp_started
from ..pages import counter_context, load_campaign, source_from_request
from . import embedding
from .share import campaign_url, share_url_language


def new_embed_form(language: str) -> SignForm:
    """The sign form without the session CSRF token (which would also set a cookie)."""
    form = SignForm(formdata=None, meta={"csrf": False})
    form.set_country_choices(language)
    form.started.data = stamp_started()
    source, form.ref.data = source_from_request()
    form.source.data = source or "embed"  # organizers see what came through partner sites
    return form


def embed_page(
    content: CampaignContent,
    form: SignForm | None = None,
    status: int = 200,
    notice: str | None = None,
) -> ResponseReturnValue:
    """The embed page (also re-rendered by the sign view for errors in the iframe)."""
    allow_framing()
    context = counter_context(content)
    if form is None and content.accepts_signatures:
        form = new_embed_form(current_language())
    embed_token = None
    if form is not None:
        embed_token = embedding.make_token(content.slug, form.started.data or "")
    html = render_template(
        "petition/reach/embed.html",
        **context,
        form=form,
        embed_token=embed_token,
        notice=notice,
        page_url=campaign_url(content.slug, share_url_language()),
    )
    return html, status


@bp.get("/<slug>/embed")
def embed(slug: str) -> ResponseReturnValue:
    return embed_page(load_campaign(slug))


def embed_check_inbox_page(
    content: CampaignContent,
    note: str | None = None,
    resend_form: ResendForm | None = None,
    correct_form: CorrectEmailForm | None = None,
    status: int = 200,
    *,
    resent: bool = False,
    corrected: bool = False,
) -> ResponseReturnValue:
    """ "Check your inbox" in the iframe, with the site's resend and correct-address
    forms. A partner's iframe gets no cookie of ours, so the sealed note (`note`, from
    the sign POST) travels in the forms instead (bound_forms.NOTE_FIELD)."""
    allow_framing()
    noted = inbox.read_note(note, content.slug)
    return render_template(
        "petition/reach/embed_check_inbox.html",
        campaign=content,
        text=content.text(current_language()),
        expiry_days=current_app.config["CONFIRM_EXPIRY_DAYS"],
        note=note if noted else None,
        masked_email=inbox.mask_email(noted.email) if noted else None,
        resend_form=resend_form or ResendForm(formdata=None),
        # No session in a partner's iframe: the bound token stands for the form's token.
        correct_form=correct_form or CorrectEmailForm(formdata=None, meta={"csrf": False}),
        resent=resent or request.args.get("resent") == "1",
        corrected=corrected,
    ), status


@bp.errorhandler(embedding.EmbedTokenInvalid)
def bad_embed_token(error: embedding.EmbedTokenInvalid) -> ResponseReturnValue:
    """A bad, expired or spent embed token: a fresh form with the notice, in the iframe."""
    content = library().get((request.view_args or {}).get("slug", ""))
    if content is None:  # the sign view loads the campaign first; never left without one
        return error_response(400, error.description)
    return embed_page(content, status=400, notice=error.description)
