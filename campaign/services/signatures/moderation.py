"""Organizers' actions on signatures: invalidate, restore, erase, resend, bulk rules.

Each action changes the count in the same transaction as the status (a signature is
counted iff confirmed and not flagged) and writes its audit entry with it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ...models import Signature, SignatureStatus, utcnow
from ..letters.signer_mail import take_extra_mail
from ..log import tlog_pending
from ..outbox import mail
from ..pages import cache, counting
from ..pages.content import library
from ..sealing import audit, sealed
from ..sealing.blind_index import domain_hash
from ..signer_data import privacy

BULK_NAME_SCAN_LIMIT = 200_000


class ModerationError(ValueError):
    pass


def _done(signature: Signature) -> None:
    db.session.commit()
    cache.public_views_changed()


def invalidate(signature: Signature, reason: str) -> bool:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError(_("Please give a reason."))
    privacy.lock_for_change(signature)
    if signature.status not in (SignatureStatus.PENDING, SignatureStatus.CONFIRMED):
        return False
    was_counted = signature.counted
    signature.status = SignatureStatus.INVALIDATED
    signature.invalid_reason = reason[:200]
    signature.invalidated_at = utcnow()
    if was_counted:
        counting.adjust(signature.campaign_id, -1, paper=signature.on_paper)
        tlog_pending.note_remove(signature, "invalidated")
    audit.record(
        "signature.invalidate",
        campaign_id=signature.campaign_id,
        target=f"signature:{signature.id}",
        details={"reason": reason[:200]},
    )
    _done(signature)
    return True


def restore(signature: Signature) -> bool:
    """Undo an invalidation, or clear an abuse flag: the signature counts again if confirmed."""
    privacy.lock_for_change(signature)
    was_counted = signature.counted
    changed = False
    if signature.status == SignatureStatus.INVALIDATED and signature.erased_at is None:
        signature.status = (
            SignatureStatus.CONFIRMED if signature.confirmed_at else SignatureStatus.PENDING
        )
        signature.invalid_reason = None
        signature.invalidated_at = None
        changed = True
    if signature.flagged:
        signature.flagged = False
        signature.flag_reason = None
        changed = True
    if not changed:
        return False
    if signature.counted and not was_counted:
        counting.adjust(signature.campaign_id, +1, paper=signature.on_paper)
        tlog_pending.note_add(signature)  # the same commitment, appended again
    audit.record(
        "signature.restore", campaign_id=signature.campaign_id, target=f"signature:{signature.id}"
    )
    _done(signature)
    return True


def erase(signature: Signature) -> bool:
    privacy.lock_for_change(signature)
    if signature.erased_at is not None:
        return False
    privacy.erase(signature)
    audit.record(
        "signature.erase", campaign_id=signature.campaign_id, target=f"signature:{signature.id}"
    )
    _done(signature)
    return True


def set_comment_hidden(signature: Signature, hidden: bool) -> None:
    signature.comment_hidden = hidden
    audit.record(
        "signature.comment_hidden" if hidden else "signature.comment_shown",
        campaign_id=signature.campaign_id,
        target=f"signature:{signature.id}",
    )
    _done(signature)


def resend_confirmation(signature: Signature) -> bool:
    """Queue the confirmation mail again, within the same cap as the public resend form."""
    if signature.status != SignatureStatus.PENDING or not signature.email_enc:
        raise ModerationError(_("Only pending signatures can get the confirmation mail again."))
    if not take_extra_mail(signature.id):
        db.session.rollback()
        return False
    content = library().get(signature.campaign.slug)
    if content is None:
        raise ModerationError(_("This campaign no longer exists in content/."))
    mail.enqueue_render(
        "confirm-resend", signature.id, signature.language, {"slug": content.slug}
    )  # the worker renders it
    audit.record(
        "signature.resend", campaign_id=signature.campaign_id, target=f"signature:{signature.id}"
    )
    db.session.commit()
    return True


# --- bulk invalidation by rule ---------------------------------------------
# Matching a rule is a look at signers: a name pattern decrypts names, a domain or an IP
# hash matches blind indexes, a window of minutes can single out one signature, and the
# count alone tells whether a person signed. So every match is an audited look (who, the
# rule's kinds, never its terms), written before the match runs; its count follows as
# the look's outcome. An exact name is not a rule: a pattern must hold a `*`.

NAME_WILDCARD = "*"


class CountChanged(ModerationError):
    """The rule matches another number of signatures than the organizer confirmed."""

    def __init__(self, count: int) -> None:
        super().__init__(_("The number of matches changed; check the new count."))
        self.count = count


@dataclass
class BulkRule:
    email_domain: str = ""
    ip_hash: str = ""
    since: datetime | None = None
    until: datetime | None = None
    name_pattern: str = ""  # shell-style, case-insensitive: "*bot*", "test *"

    def is_empty(self) -> bool:
        return not (
            self.email_domain or self.ip_hash or self.since or self.until or self.name_pattern
        )

    def check(self) -> None:
        """Refuse a rule that is no rule: nothing given, or a name without a wildcard
        (one exact name matches one person: that is a search, audited in the table)."""
        if self.is_empty():
            raise ModerationError(
                _("Give at least one rule (domain, IP hash, time window or name).")
            )
        if self.name_pattern and NAME_WILDCARD not in self.name_pattern:
            raise ModerationError(
                _("A name pattern needs a * wildcard: rules are for many signatures, not one name.")
            )

    def describe(self) -> dict:
        """The rule for the audit log; a name pattern can name a person, so only its shape
        is kept."""
        described = {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v
        }
        if "name_pattern" in described:
            described["name_pattern"] = pattern_shape(self.name_pattern)
        return described

    def kinds(self) -> list[str]:
        """What the rule matches on, for the audit log."""
        return [k for k, v in asdict(self).items() if v]


def pattern_shape(pattern: str) -> str:
    """A name pattern with every letter replaced: "Maryam Ahm*" -> "x6 x3*". The audit log
    can't be erased, so it keeps how narrow the pattern was, never whom it named."""
    words = []
    for word in pattern.split():
        shape, run = "", 0
        for char in word:
            if char in "*?[]":
                shape += (f"x{run}" if run else "") + char
                run = 0
            else:
                run += 1
        words.append(shape + (f"x{run}" if run else ""))
    return " ".join(words)


def _rule_query(campaign_id: int, rule: BulkRule):
    query = select(Signature).where(
        Signature.campaign_id == campaign_id,
        Signature.status.in_((SignatureStatus.PENDING, SignatureStatus.CONFIRMED)),
    )
    if rule.email_domain:
        query = query.where(
            Signature.email_domain_hash == domain_hash(rule.email_domain.lstrip("@").strip())
        )
    if rule.ip_hash:
        query = query.where(Signature.ip_hash == rule.ip_hash.strip())
    if rule.since:
        query = query.where(Signature.created_at >= rule.since)
    if rule.until:
        query = query.where(Signature.created_at < rule.until)
    return query.order_by(Signature.id)


def look_for(campaign_id: int, rule: BulkRule, action: str) -> sealed.Reason:
    """Check the rule, then audit the look it is (committed) before anything is matched."""
    rule.check()
    return sealed.look(
        action,
        campaign_id=campaign_id,
        target=None,
        details={"rule": rule.describe(), "kinds": rule.kinds()},
        purpose=sealed.Purpose.MODERATION,
    )


def matching_ids(campaign_id: int, rule: BulkRule, reason: sealed.Reason) -> list[int]:
    """The ids the rule matches; `reason` is the audited look (`look_for`)."""
    sealed.require_look(reason, sealed.Purpose.MODERATION)
    rule.check()
    query = _rule_query(campaign_id, rule)
    if not rule.name_pattern:
        return list(db.session.scalars(query.with_only_columns(Signature.id)))
    pattern = rule.name_pattern.casefold()
    ids = []
    rows = db.session.execute(
        query.with_only_columns(Signature.id, Signature.name_enc, Signature.row_key)
        .limit(BULK_NAME_SCAN_LIMIT)
        .execution_options(yield_per=1000)
    )
    name_of = sealed.unsealer(reason, "name")
    for signature_id, name_enc, row_key in rows:
        name = (name_of(name_enc, row_key) or "").casefold()
        if fnmatch.fnmatchcase(name, pattern):
            ids.append(signature_id)
    return ids


def dry_run(campaign_id: int, rule: BulkRule) -> int:
    """How many pending or confirmed signatures the rule matches: an audited look."""
    reason = look_for(campaign_id, rule, "signature.bulk_dry_run")
    ids = matching_ids(campaign_id, rule, reason)
    sealed.outcome(reason, {"matched": len(ids)})
    return len(ids)


def bulk_invalidate(campaign_id: int, rule: BulkRule, reason: str, *, expected: int) -> int:
    """Invalidate every pending or confirmed signature the rule matches, in one transaction,
    if it matches `expected` (the count the organizer saw); else change nothing and raise
    CountChanged with the new count."""
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError(_("Please give a reason."))
    look = look_for(campaign_id, rule, "signature.bulk_match")
    ids = matching_ids(campaign_id, rule, look)
    if expected != len(ids):
        sealed.outcome(look, {"matched": len(ids), "expected": expected})
        raise CountChanged(len(ids))
    uncounted = uncounted_paper = 0
    now = utcnow()
    privacy.take_write_lock()  # rows are re-read under lock: a racing change can't double-count
    for start in range(0, len(ids), 500):
        chunk = db.session.scalars(
            select(Signature)
            .where(Signature.id.in_(ids[start : start + 500]))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        for signature in chunk:
            if signature.status not in (SignatureStatus.PENDING, SignatureStatus.CONFIRMED):
                continue
            uncounted += 1 if signature.counted else 0
            uncounted_paper += 1 if signature.counted and signature.on_paper else 0
            if signature.counted:
                tlog_pending.note_remove(signature, "invalidated")
            signature.status = SignatureStatus.INVALIDATED
            signature.invalid_reason = reason[:200]
            signature.invalidated_at = now
    counting.adjust(campaign_id, -(uncounted - uncounted_paper))
    counting.adjust(campaign_id, -uncounted_paper, paper=True)
    audit.record(
        "signature.bulk_invalidate",
        campaign_id=campaign_id,
        details={
            "rule": rule.describe(),
            "reason": reason[:200],
            "rows": len(ids),
            "uncounted": uncounted,
            "look": look.look.id if look.look else None,
        },
    )
    db.session.commit()
    cache.signatures_changed(campaign_id)
    return len(ids)
