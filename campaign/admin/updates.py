"""Campaign updates: organizers write them (per language); they are mailed to consenters."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..services import updates
from . import bp
from .auth import campaign_or_404, role_required
from .forms import add_update_fields


@bp.route("/<slug>/updates", methods=["GET", "POST"])
@role_required("organizer")
def updates_page(slug: str):
    content, row = campaign_or_404(slug)
    languages = list(content.languages)
    form = add_update_fields(languages)()
    if not form.is_submitted():
        form.publish_key.data = updates.new_publish_key()  # one publish per form shown
    error, status = None, 200
    if form.validate_on_submit():
        texts = {
            lang: (form[f"title_{lang}"].data or "", form[f"body_{lang}"].data or "")
            for lang in languages
        }
        try:
            _posted, fresh = updates.post(
                content,
                row,
                texts,
                author_id=current_user.user.id,
                send=form.send.data,
                publish_key=form.publish_key.data,
            )
        except updates.UpdateError as exc:
            error, status = str(exc), 422
        else:
            if not fresh:
                flash(_("This update was already published; nothing was sent twice."))
            elif form.send.data:
                flash(_("The update is published; its mails are being queued."))
            else:
                flash(_("The update is published."))
            return redirect(url_for("admin.updates_page", slug=slug), 303)
    elif form.is_submitted():
        status = 422
    return render_template(
        "admin/updates.html",
        campaign=content,
        form=form,
        error=error,
        languages=languages,
        posted=updates.recent(row.id),
    ), status
