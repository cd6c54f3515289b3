"""Confirming a submission from its mailed link, and what the link's page shows.

The rules: a link confirms exactly its own submission (per-purpose HMAC over the
row's random nonce, services/intake/links.py); only the request that moves the row out of
pending counts it, however many race; the count follows the row as updated
(RETURNING flagged); and if the address already holds a confirmed signature, the
partial unique index refuses this one and the answer is "already". The confirm POST
runs in Core statements built once; the ORM object is loaded only for the pages that
show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, literal, select
from sqlalchemy.exc import IntegrityError

from ...database import dbapi, sqlite_wal
from ...extensions import db
from ...models import Signature, SignatureStatus, SupersededLink
from ..intake import links
from ..letters.signer_mail import delete_submissions, is_expired
from ..pages.campaigns import campaign_ref
from ..pages.content import CampaignContent
from ..sealing import sealed
from ..signer_data import consents, privacy
from . import confirm_write


def is_dedup_conflict(error: IntegrityError) -> bool:
    """Whether the partial unique index on confirmed (campaign_id, dedup_key) refused.

    PostgreSQL names the index; SQLite names the columns.
    """
    message = str(error.orig)
    return "uq_signatures_campaign_dedup_held" in message or "signatures.dedup_key" in message


@dataclass
class ConfirmResult:
    state: str  # confirmed | already | invalid | expired | closed
    loaded: Signature | None = None
    signature_id: int | None = None

    @property
    def signature(self) -> Signature | None:
        """The signature, loaded on first use: a confirm done in Core loads none, and
        its view only redirects."""
        if self.loaded is None and self.signature_id is not None:
            self.loaded = db.session.get(Signature, self.signature_id)
        return self.loaded


def find_by_token(token: str, purpose: str) -> Signature | None:
    """The signature a link names, if its HMAC for `purpose` matches, else None.

    Every failure (malformed, unknown id, erased or withdrawn row, wrong purpose)
    ends here alike, so callers can't answer them differently.
    """
    signature_id = links.parse_token(token)
    signature = db.session.get(Signature, signature_id) if signature_id is not None else None
    if signature is None or not links.token_matches(signature, token, purpose):
        return None
    return signature


_S = Signature.__table__.c
# The confirm POST reads the link's row with this on every request (dbapi: compiled once).
LINK_ROW = dbapi.Statement(
    select(_S.id, _S.campaign_id, _S.status, _S.created_at, _S.dedup_key, _S.link_nonce).where(
        _S.id == bindparam("signature")
    )
)


def link_row(token: str, purpose: str, runner: dbapi.Runner):
    """The columns confirming needs of the row a link names, if its HMAC matches (no
    ORM object); None for any link that matches nothing, as `find_by_token`."""
    signature_id = links.parse_token(token)
    if signature_id is None:
        return None
    row = runner.first(LINK_ROW, {"signature": signature_id})
    if row is None or not links.token_matches(row, token, purpose):
        return None
    return row


def replaced_by(token: str) -> Signature | None:
    """The confirmed signature that replaced the deleted submission a confirm link
    names (models/superseded.py), if the link's HMAC matches the nonce it left, else
    None. Only the link's holder (the mailbox it was sent to) can pass the HMAC, so
    only they learn that the address signed."""
    signature_id = links.parse_token(token)
    left = db.session.get(SupersededLink, signature_id) if signature_id is not None else None
    if left is None or not links.token_matches(_LeftLink(left), token, "confirm"):
        return None
    held = db.session.get(Signature, left.held_id)
    return held if held is not None and held.status == SignatureStatus.CONFIRMED else None


@dataclass(frozen=True)
class _LeftLink:  # what links.token_matches reads of a row: its id and nonce
    row: SupersededLink

    @property
    def id(self) -> int:
        return self.row.signature_id

    @property
    def link_nonce(self) -> str:
        return self.row.link_nonce


def check_confirmation(content: CampaignContent, token: str) -> ConfirmResult:
    """What the confirm link leads to, without changing anything (for the GET page)."""
    signature = find_by_token(token, "confirm")
    if signature is None:  # deleted when another submission of its address confirmed?
        held = replaced_by(token)
        if held is not None and held.campaign_id == campaign_ref(content).id:
            return ConfirmResult("already", held)
    # By id, from the cached campaign: no lazy SELECT of the campaign row per confirm.
    if signature is None or signature.campaign_id != campaign_ref(content).id:
        return ConfirmResult("invalid")
    if signature.status != SignatureStatus.PENDING:
        state = "already" if signature.status == SignatureStatus.CONFIRMED else "invalid"
        return ConfirmResult(state, signature)
    if is_expired(signature):
        return ConfirmResult("expired", signature)
    if not content.accepts_signatures:
        return ConfirmResult("closed", signature)
    return ConfirmResult("pending", signature)


def confirm(
    content: CampaignContent, token: str, choices: frozenset[str] = frozenset()
) -> ConfirmResult:
    """Confirm exactly this submission, with the consents its mailbox owner left ticked
    on the confirm page (`choices`, keys of services/signer_data/consents.py; what the sign POST
    ticked only pre-filled them): no consent is granted that the owner did not see,
    and a confirm given no choices grants none.
    Safe to repeat: a second confirm changes nothing.

    In one transaction: the conditional UPDATE (only the request that moves it out of
    pending counts it, however many race), the count decided from the row *as updated*
    (RETURNING flagged: a restore committed meanwhile can't make the shards drift), and
    the address's other pending submissions deleted. If another submission of the
    address was confirmed first, the partial unique index refuses this one: it is
    deleted and the answer is "already". On PostgreSQL the whole change is one
    statement (confirm_write.confirm_all_in_one); elsewhere the same steps in one
    transaction. Both run on a DBAPI connection of their own (campaign/database/dbapi.py).
    """
    postgres = db.engine.dialect.name == "postgresql"
    with dbapi.connect(db.engine, autocommit=postgres) as runner:
        row = link_row(token, "confirm", runner)
        if (
            row is None
            or row.campaign_id != campaign_ref(content).id
            or row.status != SignatureStatus.PENDING
            or is_expired(row)
            or not content.accepts_signatures
        ):  # nothing to change: the full answer, as the page shows it
            return check_confirmation(content, token)
        # SQLite: this request's turn among writers, for the write only (nothing for
        # PostgreSQL, whose statement locks the rows it changes).
        with sqlite_wal.writer_turn(runner.info):
            try:
                flagged = confirm_write.write_confirmation(runner, row, choices)
            except IntegrityError as exc:
                runner.rollback()
                if not is_dedup_conflict(exc):
                    raise
                held = _held(row.campaign_id, row.dedup_key)
                if held is not None:  # its link answers "already" from now on too
                    db.session.execute(
                        confirm_write.keep_link(row.id, literal(held.id)).execution_options(
                            synchronize_session=False
                        )
                    )
                delete_submissions([row.id])
                db.session.commit()
                return ConfirmResult("already", held)
    # The change was committed on a connection of its own: rows the session holds
    # (when a command or a test shares it across requests) are read again when used.
    # A request that opened no session (the fast path's) has nothing to expire.
    if db.session.registry.has():
        db.session.expire_all()
    if flagged is None:  # a concurrent confirm (or withdrawal) got there first
        return check_confirmation(content, token)
    return ConfirmResult("confirmed", signature_id=row.id)


def _held(campaign_id: int, key: str | None) -> Signature | None:
    """The address's confirmed signature (for the thank-you page's share link)."""
    if key is None:
        return None
    return db.session.scalar(
        select(Signature).where(
            Signature.campaign_id == campaign_id,
            Signature.dedup_key == key,
            Signature.confirmed_at.is_not(None),
        )
    )


def discard(content: CampaignContent, token: str) -> bool:
    """ "This is not me": delete a pending submission from its own confirm link.

    Only the mailbox owner has that link, so only they can discard what was sent in
    their name. Returns whether a submission was deleted.
    """
    result = check_confirmation(content, token)
    if result.state not in ("pending", "expired", "closed"):
        return False
    delete_submissions([result.signature.id])
    db.session.commit()
    return True


@dataclass(frozen=True)
class Choice:
    """One consent on the confirm page: ticked as the submission asked; the owner decides."""

    consent: consents.Consent
    ticked: bool


@dataclass(frozen=True)
class ConfirmPreview:
    """What confirming one submission stores, and every consent as a box the mailbox
    owner ticks or unticks before the button (H1)."""

    name: str  # stored, encrypted, never shown in full
    public_name: str  # how the page would list it, if the owner keeps that box ticked
    country: str
    comment: str | None
    choices: tuple[Choice, ...]  # every consent of the registry that applies


def preview(signature: Signature) -> ConfirmPreview:
    name = sealed.unseal(sealed.SIGNER_LINK, "name", signature.name_enc, signature.row_key) or ""
    comment = sealed.unseal(sealed.SIGNER_LINK, "comment", signature.comment_enc, signature.row_key)
    granted = consents.granted(signature.id)
    return ConfirmPreview(
        name=name,
        public_name=privacy.public_name(name),
        country=signature.country,
        comment=comment,
        choices=tuple(
            Choice(consent, granted[consent.key])
            for consent in consents.all_consents()
            # A box for a missing comment would publish nothing: not asked.
            if consent.needs is None or getattr(signature, consent.needs) is not None
        ),
    )
