"""A paper signer's link (issue 26): the page of the row entered from a sheet, where
the mailbox owner confirms the address or says it is not theirs."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from ..extensions import limiter
from ..i18n import current_language
from ..services.pages.campaigns import campaign_ref
from ..services.paper import confirm as paper
from ..services.signer_data import consents
from . import bp
from .limits import config_limit
from .pages import dead_link_page, load_campaign


def _page(content, link: paper.PaperLink, token: str, state: str):
    return render_template(
        "petition/paper.html",
        campaign=content,
        text=content.text(current_language()),
        state=state,
        token=token,
        sheet=link.sheet,
        preview=paper.preview(link.signature) if state == "pending" else None,
    )


@bp.route("/<slug>/paper/<token:token>", methods=["GET", "POST"])
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def paper_confirm(slug: str, token: str):
    """GET shows how the name was collected; only the POST confirms the address."""
    content = load_campaign(slug)
    link = paper.open_link(campaign_ref(content).id, token)
    if link.state == "invalid":
        return dead_link_page(content, "petition/paper.html")
    if request.method == "POST" and link.state == "pending":
        paper.confirm(link.signature, consents.ticked(request.form))
        return redirect(url_for(".paper_confirm", slug=slug, token=token), 303)
    return _page(content, link, token, link.state)


@bp.post("/<slug>/paper/<token:token>/not-me")
@limiter.limit(config_limit("RATELIMIT_CONFIRM"))
def paper_not_me(slug: str, token: str):
    """ "This is not me": the address leaves the paper row (which still counts)."""
    content = load_campaign(slug)
    link = paper.open_link(campaign_ref(content).id, token)
    if link.state != "pending":
        return dead_link_page(content, "petition/paper.html")
    paper.not_me(link.signature)
    return _page(content, link, token, "not-me")
