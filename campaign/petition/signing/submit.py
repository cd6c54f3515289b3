"""A read sign form to a recorded submission: the one path both sign handlers take.

The Flask view (routes.sign) and the WSGI fast path
(campaign/petition/signing/post_fastpath.py) each read the POST with
`forms.read_sign_form`, then call `accept`, which makes the abuse decision and records
what it decides, and `leave_note`, the check-inbox cookie.
Nothing here reads the request: both callers pass what it said.
"""

from __future__ import annotations

from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response

from ...services.intake import abuse
from ...services.pages.content import CampaignContent
from ...services.signatures import inbox, signing
from ...services.signatures.signing import SignatureInput, SignOutcome
from ...services.signer_data import consents
from ..forms import SignSubmission, seconds_since_started

# The WSGI environ key under which the fast path hands a confirm it ran, but which did
# not confirm, to the confirm view to render (a confirmation.ConfirmResult).
CONFIRM_HANDOFF = "campaign.confirm_result"


def accept(
    content: CampaignContent, submission: SignSubmission, *, language: str, ip: str | None
) -> SignOutcome:
    """Record a valid submission as the abuse check decides (a blocked source or address:
    a placeholder with nothing of theirs, `signing.placeholder`).
    The fields were validated by `forms.read_sign_form`; the service checks them no more."""
    fields = submission.fields
    if fields is None:
        raise ValueError("accept() takes a submission read without errors")
    verdict = abuse.check_signing(
        slug=content.slug,
        ip=ip,
        honeypot=submission.website,
        seconds_open=seconds_since_started(submission.started),
        canonical_email=fields.email.canonical,
    )
    data = SignatureInput(
        fields=fields,
        consents=submission.consents,
        language=language,
        source=submission.source,
        referrer_code=submission.ref,
        ip=ip,
        wording=consents.wordings(language),
    )
    return signing.sign(
        content,
        data,
        flag_reason=verdict.flag_reason,
        send_mail=verdict.send_mail,
        blocked=verdict.drop,  # the same writes, holding nothing of theirs
    )


def leave_note(
    response: Response, slug: str, typed_email: str, signature_id: int | None, *, secure: bool
) -> Response:
    """The check-inbox note in its own sealed cookie (services/signatures/inbox.py)."""
    response.headers.add("Set-Cookie", note_cookie(slug, typed_email, signature_id, secure=secure))
    return response


def note_cookie(slug: str, typed_email: str, signature_id: int | None, *, secure: bool) -> str:
    """The Set-Cookie value of the check-inbox note."""
    note = inbox.make_note(slug, typed_email, signature_id)
    return dump_cookie(
        inbox.NOTE_COOKIE, note, path="/", httponly=True, samesite="Lax", secure=secure
    )
