"""The privacy page, and data rights without the mail: "mail me my links again"."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..extensions import limiter
from ..i18n import current_language
from ..services.pages.content import library
from ..services.signatures import inbox
from . import bp
from .forms import LinksForm
from .limits import config_limit


def links_form(formdata=None) -> LinksForm:
    """The form, its petition chosen from those whose signers still have data (not
    archived), the one asked about (?campaign=) or the home petition first."""
    language = current_language()
    form = LinksForm(formdata=formdata)
    campaigns = [c for c in library().all() if c.state() in ("open", "closed")]
    form.campaign.choices = [(c.slug, c.text(language).title) for c in campaigns]
    if formdata is None:
        home = library().home()
        wanted = request.args.get("campaign") or (home.slug if home else None)
        form.campaign.data = wanted if any(c.slug == wanted for c in campaigns) else None
    return form


def privacy_page_html(links: LinksForm | None = None, status: int = 200) -> ResponseReturnValue:
    """What is kept and for how long, with the "mail me my links again" form."""
    config = current_app.config
    return render_template(
        "petition/privacy.html",
        expiry_days=config["CONFIRM_EXPIRY_DAYS"],
        ip_days=config["IP_HASH_RETENTION_DAYS"],
        anonymize_days=config["ANONYMIZE_AFTER_CLOSE_DAYS"],
        # "Mail me my links again": data rights for a signer who lost their mail.
        links_form=links or links_form(),
        links_sent=request.args.get("sent") == "1",
    ), status


@bp.get("/privacy")
def privacy_page() -> ResponseReturnValue:
    return privacy_page_html()


@bp.post("/privacy/links")
@limiter.limit(config_limit("RATELIMIT_RESEND"))
def mail_links_again() -> ResponseReturnValue:
    """Mail the signer's links for one petition again: one request row whatever the
    address's state (services/letters/mail_requests.py); the answer never says what was sent."""
    form = links_form(request.form)
    if not form.validate():
        return privacy_page_html(form, 422)
    content = library().get(form.campaign.data)
    inbox.mail_links_again(content, form.email.data, current_language())
    return redirect(url_for(".privacy_page", sent=1, _anchor="links-again"), 303)
