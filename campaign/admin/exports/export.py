"""Exports: a form, and a POST that streams the file (audited before the first byte)."""

from __future__ import annotations

from flask import Response, render_template, stream_with_context
from flask_babel import gettext as _

from ...i18n import current_language
from ...services.exports import export
from ...services.exports.export_presets import ExportError
from ...services.signer_data import signers
from .. import bp
from ..auth import campaign_or_404, role_required
from ..forms import ExportForm


@bp.route("/<slug>/export", methods=["GET", "POST"])
@role_required("organizer")
def export_page(slug: str):
    content, row = campaign_or_404(slug)
    form = ExportForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            filters = signers.SignerFilter.from_args(form.data)
            job = export.build(
                content,
                row,
                preset=form.preset.data,
                fmt=form.format.data,
                filters=filters,
                excel=form.excel.data,
                language=current_language(),
            )
        except (signers.FilterError, ExportError) as exc:
            error, status = str(exc), 422
        else:
            response = Response(stream_with_context(job.chunks), mimetype=job.mimetype)
            response.headers["Content-Disposition"] = f'attachment; filename="{job.filename}"'
            response.headers["X-Export-Rows"] = str(job.rows)
            return response
    elif form.is_submitted():
        error, status = _("Please check the form."), 422
    return render_template(
        "admin/exports/export.html", campaign=content, form=form, error=error
    ), status
