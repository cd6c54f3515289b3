"""Signing: validate, normalize and record each submission with its mail; confirm.

The rules that matter most: a submission and the mail it causes commit in one
transaction; each submission is its own row whose link confirms exactly its data (a
stranger who typed the address first decides nothing); and only a confirmed row holds
the address's slot (a partial unique index). A repeat signing gets the same answer,
after the same work, as a first one, so no one can use the form to find out whether
an address has signed.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ConsentWording, NameToken, Signature, SignatureStatus, utcnow
from . import abuse, counting, crypto, links, mail, privacy, transparency
from .abuse import FAST
from .campaigns import campaign_ref
from .content import CampaignContent
from .sealed import seal, unseal
from .signer_mail import delete_submissions, is_expired, take_extra_mail
from .validation import FieldError, SignerFields, check_signer, normalize_email

INSERT_SIGNATURE = insert(Signature.__table__).returning(Signature.__table__.c.id)
INSERT_NAME_TOKEN = insert(NameToken.__table__)


# Input the service refuses; `field` names the form field it belongs to.
SigningError = FieldError


@dataclass
class SignatureInput:
    name: str
    email: str
    country: str
    comment: str | None = None
    public_consent: bool = False
    contact_consent: bool = False
    language: str = "en"
    source: str | None = None
    referrer_code: str | None = None
    ip: str | None = None
    consent_public_text: str = ""
    consent_contact_text: str = ""
    comment_consent: bool = False
    consent_comment_text: str = ""
    delivery_consent: bool = False
    consent_delivery_text: str = ""
    # The sign form's already-validated fields (SignForm.signer_fields()): given, the
    # raw name/email/country/comment above are not validated again.
    fields: SignerFields | None = None


@dataclass
class SignOutcome:
    signature_id: int | None
    repeat: bool  # always False now: the request doesn't know (the mail worker decides)
    flagged: bool = False
    dropped: bool = False  # a blocked address: nothing recorded, same answer


def clean_source(raw: str | None) -> str | None:
    """The ?source= tag as stored: printable, one line, at most 64 characters.

    It comes straight from a URL, so it may hold anything; PostgreSQL refuses NUL
    in text, and admin pages and CSV exports show it.
    """
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw or "")
    text = " ".join(text.split())[:64]
    return text or None


def clean_code(raw: str | None) -> str | None:
    """A sharer's referral code (?ref=): only the URL-safe characters codes are made of."""
    code = "".join(c for c in (raw or "") if c.isascii() and (c.isalnum() or c in "-_"))[:16]
    return code or None


def name_words(name: str) -> set[str]:
    """Normalized words of a name, for the blind name index."""
    return {word.casefold() for word in name.replace("\u200c", " ").split() if len(word) > 1}


def name_token_hashes(name: str) -> set[str]:
    return {crypto.keyed_hash("name", word, 32) for word in name_words(name)}


def dedup_key(canonical_email: str) -> str:
    return crypto.keyed_hash("email", canonical_email)


def domain_hash(domain: str) -> str:
    return crypto.keyed_hash("domain", domain.lower(), 32)


def consent_wording_id(
    language: str,
    public_text: str,
    contact_text: str,
    comment_text: str = "",
    delivery_text: str = "",
) -> int:
    """The id of this exact consent wording, stored once and shared by signatures."""
    wording = f"{language}\x00{public_text}\x00{contact_text}\x00{comment_text}"
    if delivery_text:  # appended only when shown, so older wordings keep their digest
        wording += f"\x00delivery\x00{delivery_text}"
    digest = hashlib.sha256(wording.encode()).hexdigest()
    known = current_app.extensions.setdefault("campaign.consent_wordings", {})
    if digest in known:
        return known[digest]
    select_wording = select(ConsentWording.id).where(ConsentWording.digest == digest)
    wording_id = db.session.scalar(select_wording)
    if wording_id is None:
        try:
            with db.session.begin_nested():
                record = ConsentWording(
                    digest=digest,
                    language=language,
                    public_text=public_text,
                    contact_text=contact_text,
                    comment_text=comment_text,
                    delivery_text=delivery_text or None,
                )
                db.session.add(record)
            # Not cached yet: this transaction may still roll back (e.g. the database
            # goes away), and a cached id of a row that never committed would break
            # every later signature's foreign key.
            return record.id
        except IntegrityError:  # written by a concurrent request
            wording_id = db.session.scalar(select_wording)
    known[digest] = wording_id
    return wording_id


def validate(data: SignatureInput) -> SignerFields:
    """The fields of `data`, validated once: the form's if it did, else checked here."""
    return data.fields or check_signer(data.name, data.email, data.country, data.comment)


def sign(
    content: CampaignContent,
    data: SignatureInput,
    *,
    flag_reason: str | None = None,
    send_mail: bool = True,
) -> SignOutcome:
    """Record one submission (pending) and its bodiless mail, in one transaction.

    Every submission is its own row with its own link, whether or not the address has
    signed before: the request does the same work either way (one signature INSERT,
    its name-token rows, one outbox INSERT, all Core), so neither its answer nor its
    timing says whether the address signed. The mail worker decides what to send
    (services/signer_mail.py). `flag_reason` records a signature that abuse checks
    caught: it is kept, but not counted until an organizer restores it (or, for
    FAST, until its mailbox owner confirms). `send_mail=False` is for bot-made rows
    (the honeypot), which must not mail whoever they named.
    """
    fields = validate(data)
    name, email, comment = fields.name, fields.email, fields.comment
    if abuse.email_blocked(email.canonical):
        return SignOutcome(None, repeat=False, dropped=True)
    campaign = campaign_ref(content)  # cached: no SELECT of the campaign per signature
    now = utcnow()
    nonce, referrer = links.new_nonce(), clean_code(data.referrer_code)
    row_key = crypto.new_row_key()
    values = {
        "campaign_id": campaign.id,
        "status": SignatureStatus.PENDING,
        # Bot-made rows (never mailed) name no address: they can't stand for anyone.
        "dedup_key": None if flag_reason and not send_mail else dedup_key(email.canonical),
        "row_key": row_key,
        "email_enc": seal("email", email.address, row_key),
        "name_enc": seal("name", name, row_key),
        "comment_enc": seal("comment", comment, row_key),
        "email_domain_hash": domain_hash(email.domain),
        "country": fields.country,
        "language": data.language,
        "public_consent": data.public_consent,
        "contact_consent": data.contact_consent,
        "comment_consent": bool(data.comment_consent and comment),
        "delivery_consent": data.delivery_consent,
        "consent_wording_id": consent_wording_id(
            data.language,
            data.consent_public_text,
            data.consent_contact_text,
            data.consent_comment_text,
            data.consent_delivery_text,
        ),
        "comment_hidden": False,
        "source": clean_source(data.source),
        # Keyed hashes only: a dump must not show who recruited whom (links.py).
        "referrer_code": links.referrer_hash(referrer) if referrer else None,
        "referral_code": links.own_referral_hash(nonce),
        "ip_hash": crypto.ip_hash(data.ip),
        "link_nonce": nonce,
        "flagged": flag_reason is not None,
        "flag_reason": flag_reason,
        "already_signed_mails": 0,
        "created_at": now,
    }
    try:
        # Statements built once, on the tables: no ORM bulk path, no per-call compile.
        connection = db.session.connection()
        signature_id = connection.execute(INSERT_SIGNATURE, values).scalar_one()
        tokens = [{"signature_id": signature_id, "token_hash": h} for h in name_token_hashes(name)]
        if tokens:
            connection.execute(INSERT_NAME_TOKEN, tokens)  # executemany
        if send_mail:
            mail.enqueue_render("confirm", signature_id, data.language, {"slug": content.slug})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return SignOutcome(signature_id, repeat=False, flagged=flag_reason is not None)


def is_dedup_conflict(error: IntegrityError) -> bool:
    """Whether the partial unique index on confirmed (campaign_id, dedup_key) refused.

    PostgreSQL names the index; SQLite names the columns.
    """
    message = str(error.orig)
    return "uq_signatures_campaign_dedup_held" in message or "signatures.dedup_key" in message


def resend_confirmation(content: CampaignContent, raw_email: str) -> bool:
    """Queue the confirmation mail again for an address whose submission waits for it.

    The newest submission that was mailed gets its own link again. The caller answers
    the same whether or not anything was sent, so the form can't be used to learn who
    signed. Returns whether a mail was queued (for tests and logs only). Raises
    ValueError for an address that isn't one.
    """
    email = normalize_email(raw_email)
    if not content.accepts_signatures:
        return False
    campaign = campaign_ref(content)
    signature = db.session.scalar(
        select(Signature)
        .where(
            Signature.campaign_id == campaign.id,
            Signature.dedup_key == dedup_key(email.canonical),
            Signature.status == SignatureStatus.PENDING,
            Signature.email_enc.is_not(None),
            # Only submissions we mailed: bot-made ones (honeypot) never were.
            Signature.mailed_at.is_not(None),
        )
        .order_by(Signature.id.desc())
        .limit(1)
    )
    if signature is None or is_expired(signature):
        return False
    allowed = take_extra_mail(signature.id)
    if allowed:
        mail.enqueue_render("resend", signature.id, signature.language, {"slug": content.slug})
    db.session.commit()
    return bool(allowed)


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
# Confirming runs these on every request: built once, compiled once per process.
LINK_ROW = select(
    _S.id, _S.campaign_id, _S.status, _S.created_at, _S.dedup_key, _S.link_nonce
).where(_S.id == bindparam("signature"))
LOCK_ADDRESS = (
    select(_S.id)
    .where(_S.campaign_id == bindparam("campaign"), _S.dedup_key == bindparam("key"))
    .order_by(_S.id)
    .with_for_update()
)
_FAST = _S.flag_reason == FAST  # the time trap only suspects a form: confirming clears it
CONFIRM_PENDING = (
    update(Signature.__table__)
    .where(_S.id == bindparam("signature"), _S.status == SignatureStatus.PENDING)
    .values(
        status=SignatureStatus.CONFIRMED,
        confirmed_at=bindparam("now"),
        flagged=case((_FAST, False), else_=_S.flagged),
        flag_reason=case((_FAST, None), else_=_S.flag_reason),
    )
    .returning(_S.flagged)
)
OTHER_PENDING = select(_S.id).where(
    _S.campaign_id == bindparam("campaign"),
    _S.dedup_key == bindparam("key"),
    _S.status == SignatureStatus.PENDING,
    _S.id != bindparam("signature"),
)


def link_row(token: str, purpose: str):
    """The columns confirming needs of the row a link names, if its HMAC matches (Core:
    no ORM object); None for any link that matches nothing, as `find_by_token`."""
    signature_id = links.parse_token(token)
    if signature_id is None:
        return None
    row = db.session.connection().execute(LINK_ROW, {"signature": signature_id}).first()
    if row is None or not links.token_matches(row, token, purpose):
        return None
    return row


def check_confirmation(content: CampaignContent, token: str) -> ConfirmResult:
    """What the confirm link leads to, without changing anything (for the GET page)."""
    signature = find_by_token(token, "confirm")
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


def confirm(content: CampaignContent, token: str) -> ConfirmResult:
    """Confirm exactly this submission. Safe to repeat: a second confirm changes nothing.

    In one transaction: the conditional UPDATE (only the request that moves it out of
    pending counts it, however many race), the count decided from the row *as updated*
    (RETURNING flagged: a restore committed meanwhile can't make the shards drift), and
    the address's other pending submissions deleted. If another submission of the
    address was confirmed first, the partial unique index refuses this one: it is
    deleted and the answer is "already".
    """
    row = link_row(token, "confirm")
    if (
        row is None
        or row.campaign_id != campaign_ref(content).id
        or row.status != SignatureStatus.PENDING
        or is_expired(row)
        or not content.accepts_signatures
    ):  # nothing to change: the full answer, as the page shows it
        return check_confirmation(content, token)
    signature_id, key, campaign_id = row.id, row.dedup_key, row.campaign_id
    connection = db.session.connection()
    # Lock the address's rows first, in id order: two of its submissions confirmed at
    # once then queue here instead of deadlocking on each other's rows (PostgreSQL).
    privacy.take_write_lock()
    if key is not None:
        connection.execute(LOCK_ADDRESS, {"campaign": campaign_id, "key": key}).all()
    try:
        flagged = connection.execute(
            CONFIRM_PENDING, {"signature": signature_id, "now": utcnow()}
        ).scalar()
    except IntegrityError as exc:
        db.session.rollback()
        if not is_dedup_conflict(exc):
            raise
        delete_submissions([signature_id])
        db.session.commit()
        return ConfirmResult("already", _held(campaign_id, key))
    if flagged is None:  # a concurrent confirm (or withdrawal) got there first
        db.session.rollback()
        return check_confirmation(content, token)
    if key is not None:
        others = connection.execute(
            OTHER_PENDING, {"campaign": campaign_id, "key": key, "signature": signature_id}
        )
        delete_submissions(list(others.scalars()))
    if not flagged:
        counting.adjust(campaign_id, +1)
        transparency.note_add(row)  # the public log's add, same transaction
    db.session.commit()
    return ConfirmResult("confirmed", signature_id=signature_id)


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
class ConfirmPreview:
    """What confirming one submission publishes and stores, shown before the button."""

    name: str  # stored, encrypted, never shown in full
    public_name: str | None  # as shown on the page, or None: not shown
    country: str
    comment: str | None
    comment_public: bool
    contact: bool


def preview(signature: Signature) -> ConfirmPreview:
    name = unseal("name", signature.name_enc, signature.row_key) or ""
    comment = unseal("comment", signature.comment_enc, signature.row_key)
    return ConfirmPreview(
        name=name,
        public_name=privacy.public_name(name) if signature.public_consent else None,
        country=signature.country,
        comment=comment,
        comment_public=bool(comment and signature.comment_consent),
        contact=signature.contact_consent,
    )
