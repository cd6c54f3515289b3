"""A paper row's address, answered by its owner: the paper mail, its link's page,
"yes, that is me" and "this is not me".

A paper row counts as paper from the moment it is entered (its ink signature is the
evidence), so its mail asks nothing for the count: it says how the name was collected
(on sheet N, entered on DATE), and lets the mailbox owner confirm the address, choose
again the boxes ticked on the sheet, withdraw, or say it is not theirs. A mistyped
address reaches a stranger: so the mail names no one, and the page shows only the
name's initials and the country.

* Confirming links the address to the paper row: the address's pending online
  submissions are deleted (their links answer "already counted", as after an online
  confirmation) and one person counts once: only here, by the mailbox's owner, is the
  address looked up (entry.py says why not at entry). If it holds a counted signature
  already (online, or an earlier paper row), this row stops counting, linked to that
  one (a `paper-remove` leaf); otherwise the row takes the address's dedup key, and a
  later online signature from it is "already signed". With an organizer key, the name and the
  link secret stop being readable to the server, and the address stays only under
  the contact consent, as for an online confirmation (confirm_write.keep_readable).
* "This is not me" takes the address off the row (and out of the organizers' sealed
  copy); the row still counts, as a paper row without an address.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale, format_date
from sqlalchemy import delete, literal, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import OutboxMessage, PaperSheet, Signature, SignatureStatus, utcnow
from ..intake import links
from ..intake.validation import normalize_email
from ..letters.signer_mail import delete_submissions, signer_links
from ..log import tlog_pending
from ..outbox.mail import register_renderer
from ..outbox.mail_transport import Mail, render_mail
from ..pages import cache, counting
from ..pages.content import CampaignContent, library
from ..sealing import sealed
from ..sealing.blind_index import dedup_key
from ..signatures import confirm_write
from ..signatures.confirmation import find_by_token
from ..signer_data import consents, privacy
from .entry import LINKED_REASON, paper_consents

PURPOSE = "paper"


@dataclass(frozen=True)
class PaperLink:
    """What a paper link opens: its row and sheet, and where the row stands."""

    state: str  # pending | confirmed | invalid
    signature: Signature | None = None
    sheet: PaperSheet | None = None


def initials(name: str | None) -> str:
    """ "M. A." for "Maryam Ahmadi": enough for the owner to know it, little to a stranger."""
    return " ".join(f"{word[0]}." for word in (name or "").split() if word) or "—"


def open_link(content_id: int, token: str) -> PaperLink:
    """The paper row a link names, if its HMAC for "paper" matches and it is this
    campaign's; every failure alike is "invalid"."""
    signature = find_by_token(token, PURPOSE)
    linked = (  # confirmed by its owner, and found to repeat a counted signature
        signature is not None
        and signature.linked_id is not None
        and signature.email_confirmed_at is not None
    )
    if (
        signature is None
        or signature.method != "paper"
        or signature.campaign_id != content_id
        or (signature.status != SignatureStatus.CONFIRMED and not linked)
    ):
        return PaperLink("invalid")
    sheet = db.session.get(PaperSheet, signature.sheet_id)
    state = "confirmed" if signature.email_confirmed_at is not None else "pending"
    if state == "pending" and signature.email_enc is None:
        return PaperLink("invalid")
    return PaperLink(state, signature, sheet)


@dataclass(frozen=True)
class PaperPreview:
    initials: str
    country: str
    choices: tuple[tuple[consents.Consent, bool], ...]  # each on-paper box, as ticked


def preview(signature: Signature) -> PaperPreview:
    name = sealed.unseal(sealed.SIGNER_LINK, "name", signature.name_enc, signature.row_key)
    granted = consents.granted(signature.id)
    return PaperPreview(
        initials=initials(name),
        country=signature.country,
        choices=tuple((c, granted[c.key]) for c in paper_consents()),
    )


def confirm(signature: Signature, choices: frozenset[str]) -> bool:
    """The owner confirms the address, with the boxes they leave ticked (only the
    on-paper ones: nothing else was on the sheet). Returns False if it was confirmed
    (or taken off) already."""
    try:
        return _confirm(signature, choices)
    except IntegrityError:  # the address was confirmed elsewhere at the same moment
        db.session.rollback()
        return _confirm(signature, choices)  # which now finds it held, and links


def _held(signature: Signature, key: str) -> int | None:
    """The address's counted signature other than this row, if any."""
    return db.session.scalar(
        select(Signature.id).where(
            Signature.campaign_id == signature.campaign_id,
            Signature.dedup_key == key,
            Signature.confirmed_at.is_not(None),
            Signature.id != signature.id,
        )
    )


def _confirm(signature: Signature, choices: frozenset[str]) -> bool:
    privacy.lock_for_change(signature)
    if (
        signature.email_confirmed_at is not None
        or signature.email_enc is None
        or signature.status != SignatureStatus.CONFIRMED
    ):
        db.session.rollback()
        return False
    now = signature.email_confirmed_at = utcnow()
    address = sealed.unseal(sealed.SIGNER_LINK, "email", signature.email_enc, signature.row_key)
    key = dedup_key(normalize_email(address, check_dns=False).canonical)
    held = _held(signature, key)
    for consent in paper_consents():
        setattr(signature, consent.column, consent.key in choices)
    if signature.organizer_sealed:  # as an online confirmation keeps (issue 23)
        signature.name_enc = None
        signature.link_secret = None
        for consent in consents.all_consents():
            if consent.keeps is not None and not getattr(signature, consent.column):
                setattr(signature, consent.keeps, None)
    if held is None:
        signature.dedup_key = key
        db.session.flush()  # the unique index refuses a second holder (IntegrityError)
    else:  # one person counts once: the row is kept, linked, and no longer counted
        removal = tlog_pending.remove_values(signature, "linked")
        signature.status = SignatureStatus.INVALIDATED
        signature.invalid_reason = LINKED_REASON
        signature.invalidated_at = now
        signature.linked_id = held
        counting.adjust(signature.campaign_id, -1, paper=True)
        tlog_pending.queue(removal)
    _link_pending(signature, key, held or signature.id)
    db.session.commit()
    cache.public_views_changed()
    return True


def _link_pending(signature: Signature, key: str, holder: int) -> None:
    """The address's pending online submissions go; their links answer "already"."""
    others = db.session.scalars(
        select(Signature.id).where(
            Signature.campaign_id == signature.campaign_id,
            Signature.dedup_key == key,
            Signature.status == SignatureStatus.PENDING,
        )
    ).all()
    for other in others:
        db.session.execute(confirm_write.keep_link(other, literal(holder)))
    delete_submissions(list(others))


def not_me(signature: Signature) -> bool:
    """The mailbox owner did not sign: the address leaves the row, which still counts as
    paper without one. Returns False if there was no address left to take off."""
    privacy.lock_for_change(signature)
    if signature.email_enc is None or signature.email_confirmed_at is not None:
        db.session.rollback()
        return False
    if signature.organizer_sealed:  # sealed again, without the address
        name = sealed.unseal(sealed.SIGNER_LINK, "name", signature.name_enc, signature.row_key)
        signature.organizer_sealed = sealed.seal_copies(name, None, None, signature.row_key)[0]
        signature.name_enc = None
    signature.email_enc = signature.dedup_key = signature.email_domain_hash = None
    signature.signer_copy = signature.link_secret = signature.link_nonce = None
    for consent in paper_consents():
        if consent.keeps == "email_enc":
            setattr(signature, consent.column, False)
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.signature_id == signature.id, OutboxMessage.status != "sent"
        )
    )
    db.session.commit()
    return True


def paper_url(content: CampaignContent, signature: Signature) -> str:
    return links.external_url(
        "petition.paper_confirm",
        signature.language,
        slug=content.slug,
        token=links.make_token(signature, PURPOSE),
    )


def render_paper_mail(outbox: OutboxMessage) -> Mail | None:
    """The paper mail, rendered by the worker: while the row still waits for its owner."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if (
        signature is None
        or signature.method != "paper"
        or signature.email_enc is None
        or signature.link_nonce is None
        or signature.email_confirmed_at is not None
        or signature.status != SignatureStatus.CONFIRMED
    ):
        return None
    content = library().get(signature.campaign.slug)
    sheet = db.session.get(PaperSheet, signature.sheet_id)
    if content is None or sheet is None:
        return None
    with force_locale(signature.language):
        entered = format_date(sheet.entered_at, "long")
    return render_mail(
        "paper_confirm",
        signature.language,
        to=sealed.unseal(sealed.SIGNER_MAIL, "email", signature.email_enc, signature.row_key),
        title=content.text(signature.language).title,
        sheet=sheet.number,
        entered=entered,
        paper_url=paper_url(content, signature),
        **signer_links(content, signature),
    )


register_renderer("paper-confirm", render_paper_mail)
