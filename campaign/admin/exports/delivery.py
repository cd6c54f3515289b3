"""The delivery pack's page: organizers download the PDF (or a printable page)."""

from __future__ import annotations

from flask import Response, render_template
from flask_babel import gettext as _

from ...services.exports import delivery
from .. import bp
from ..auth import campaign_or_404, role_required
from ..forms import DeliveryForm, offer_languages


@bp.route("/<slug>/delivery", methods=["GET", "POST"])
@role_required("organizer")
def delivery_page(slug: str):
    content, row = campaign_or_404(slug)
    form = DeliveryForm()
    offer_languages(form.language, content, form.is_submitted())
    error, status = None, 200
    if form.validate_on_submit():
        pack = delivery.build(content, row, language=form.language.data, fmt=form.format.data)
        response = Response(pack.body, mimetype=pack.mimetype)
        disposition = "attachment" if form.format.data == "pdf" else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{pack.filename}"'
        response.headers["X-Pack-Total"] = str(pack.numbers.total)
        response.headers["X-Pack-Named"] = str(pack.numbers.named)
        response.headers["Cache-Control"] = "no-store"  # it holds names
        return response
    if form.is_submitted():
        error, status = _("Please check the form."), 422
    return render_template(
        "admin/exports/delivery.html", campaign=content, form=form, error=error
    ), status
