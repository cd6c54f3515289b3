"""The one path in and out of personal data: every encrypt and every decrypt of it.

Each signature field is bound to its column and its row's random `row_key` (AES-GCM
associated data, services/sealing/crypto.py), so a ciphertext moved to another row or column
won't open. The row key is made before the INSERT (`crypto.new_row_key`), since a Core
insert learns the row's id only afterwards.

Every read states why it is allowed (a `Reason`), and a reason opens only the fields
that purpose needs: the worker mailing a signer reads their address and name, the
public list reads names and comments, the delivery pack reads names. An organizer's
look at signers (the table, one signer, a substring search, a bulk rule's match) is
audited here, before anything is decrypted or matched: `look()` writes the audit entry
and returns the only reasons that open rows for those purposes (`require_look` guards
the matches that use only blind indexes); `outcome()` adds what the look found. Exports
and the delivery pack are audited by their builders (`export.build`, `delivery.build`)
before their first row is read. No other module calls crypto's decrypt functions
(tests/services/sealing/test_decrypt_path.py walks the package; tests/admin/test_every_look.py
walks every admin route and fails a decrypt that no audit entry precedes).

`unsealer()` is the bulk form (exports, searches, the pack): the reason is checked once,
then one AES-GCM cipher object per key serves every row.

With `ORGANIZER_PUBLIC_KEY` set (issue 23), the mail worker, as it first mails a
submission its link, seals the three fields together to the organizers' key
(`seal_pending`: HPKE envelopes, services/sealing/organizer_key.py), which the server
cannot open, and a signer's copy under the secret that link carries
(services/sealing/signer_copy.py). Confirming then nulls the server-readable columns but
what a consent keeps readable (services/signatures/confirm_write.py): the public display
(`display`), a published comment, a contact-consent address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask import current_app

from ..pages import cache
from . import audit, crypto, organizer_key, signer_copy

# "display": the public list's "first name, last initial" (sealed only under its consent).
FIELDS = ("email", "name", "comment", "display")
PAYLOAD = "outbox.payload_enc"  # a stored mail: its recipient and body
NOTE = "cookie.inbox_note"  # the address a browser typed, kept in its own cookie


class Purpose(StrEnum):
    SIGNER_MAIL = "signer_mail"  # the worker mails the signer: address and name
    SIGNER_LINK = "signer_link"  # the signer opened their own link (confirm page, data copy)
    PUBLIC = "public"  # names and comments their signers chose to show
    ORGANIZER = "organizer"  # an organizer's view or substring search: by `look()`
    MODERATION = "moderation"  # a bulk rule's match (names, blind indexes): by `look()`
    EXPORT = "export"  # a file export, audited by export.build before its first row
    DELIVERY = "delivery"  # consenting names in the pack, audited by delivery.build
    SEALING = "sealing"  # the worker seals a pending submission to the organizers (issue 23)


# What each purpose may open.
OPENS: dict[Purpose, frozenset[str]] = {
    Purpose.SIGNER_MAIL: frozenset({"email", "name"}),
    Purpose.SIGNER_LINK: frozenset(FIELDS),
    Purpose.PUBLIC: frozenset({"name", "comment", "display"}),
    Purpose.ORGANIZER: frozenset(FIELDS),
    Purpose.MODERATION: frozenset({"name"}),
    Purpose.EXPORT: frozenset(FIELDS),
    Purpose.DELIVERY: frozenset({"name"}),
    Purpose.SEALING: frozenset({"email", "name", "comment"}),
}
AUDITED_HERE = frozenset({Purpose.ORGANIZER, Purpose.MODERATION})

_AUDITED = object()  # only `look()` holds it: an organizer's reason without it opens nothing


class NotAllowed(PermissionError):
    """A read whose reason does not cover that field, or an organizer's unaudited look."""


@dataclass(frozen=True)
class Look:
    """The audit entry a look wrote: its outcome is recorded against it."""

    id: int
    action: str
    campaign_id: int | None


@dataclass(frozen=True)
class Reason:
    purpose: Purpose
    proof: object = field(default=None, repr=False, compare=False)
    look: Look | None = field(default=None, compare=False)


SIGNER_MAIL = Reason(Purpose.SIGNER_MAIL)
SIGNER_LINK = Reason(Purpose.SIGNER_LINK)
PUBLIC = Reason(Purpose.PUBLIC)
EXPORT = Reason(Purpose.EXPORT)
DELIVERY = Reason(Purpose.DELIVERY)
SEALING = Reason(Purpose.SEALING)


def look(
    action: str,
    *,
    campaign_id: int | None,
    target: str | None,
    details: dict[str, Any],
    purpose: Purpose = Purpose.ORGANIZER,
) -> Reason:
    """Audit an organizer's look at signers (committed at once), and return the reason
    that lets that view (or search, or bulk rule) decrypt and match them."""
    if purpose not in AUDITED_HERE:
        raise ValueError(f"{purpose} is not a look")
    entry = audit.record_look(action, campaign_id=campaign_id, target=target, details=details)
    return Reason(purpose, _AUDITED, Look(entry, action, campaign_id))


def require_look(reason: Reason, purpose: Purpose) -> None:
    """Matching rows by their blind indexes is a look too, though nothing is decrypted:
    it needs the reason an audited `look()` returned."""
    if not (
        isinstance(reason, Reason)
        and reason.purpose == purpose
        and reason.proof is _AUDITED
        and reason.look is not None
    ):
        raise NotAllowed(f"matching signers for {purpose} needs an audited look()")


def outcome(reason: Reason, details: dict[str, Any]) -> None:
    """Record what an audited look found (how many rows matched), after the look's own
    entry: a look whose result can't be known before it runs is written twice."""
    require_look(reason, reason.purpose)
    entry = reason.look
    audit.record_look(
        f"{entry.action}.result",
        campaign_id=entry.campaign_id,
        target=f"audit:{entry.id}",
        details=details,
    )


def seal(column: str, value: str | None, row_key: str) -> str | None:
    """Encrypt one signature field (`column` is "email", "name" or "comment")."""
    _check_field(column)
    return crypto.seal_signer(value, f"{column}_enc", row_key)


def unseal(reason: Reason, column: str, token: str | None, row_key: str | None) -> str | None:
    """Decrypt one signature field sealed by `seal`, for `reason`."""
    return unsealer(reason, column)(token, row_key)


def unsealer(reason: Reason, column: str) -> Callable[[str | None, str | None], str | None]:
    """`unseal` for loops over many rows: the reason is checked once, one cipher per key."""
    _authorize(reason, column)
    return crypto.field_decryptor(f"signatures.{column}_enc")


def organizer_sealer() -> organizer_key.Sealer | None:
    """The app's sealer to the organizers' public key, or None when none is configured
    (then confirmed rows stay readable to the server, as before issue 23)."""
    text = current_app.config.get("ORGANIZER_PUBLIC_KEY")
    if not text:
        return None
    return cache.remember(
        cache.SETTINGS,
        "organizer-sealer",
        lambda: organizer_key.Sealer(organizer_key.parse_public(text)),
        version=text,
    )


def seal_copies(
    name: str | None, email: str | None, comment: str | None, row_key: str
) -> tuple[str | None, str | None, str | None]:
    """(organizer copy, signer copy, link secret) of a new submission: the three fields
    sealed together once to the organizers' key, and under a fresh link secret. All
    None without an organizer key."""
    sealer = organizer_sealer()
    if sealer is None:
        return None, None, None
    plain = organizer_key.pack(name, email, comment)
    secret = signer_copy.new_secret()
    return sealer.seal(plain, row_key), signer_copy.seal(plain, secret, row_key), secret


def seal_pending(signature: Any, display: Callable[[str | None], str]) -> dict[str, Any]:
    """The columns that seal a pending submission (`signatures` row) to the organizers,
    for the mail worker to write as it first mails the confirmation link (which then
    carries the link secret): its organizer copy, the signer's copy, the secret, and
    `display(name)` (the public list's form; the owner decides on the confirm page
    whether it is kept, services/signatures/confirm_write.py, so it is made whatever the sign
    form ticked, while the full name is readable anyway). Empty with no
    organizer key, or once sealed. Done by the worker, not the sign POST: the sealing
    (0.03 ms of CPU under load, an envelope's HPKE seal shared by a batch; 0.09 ms alone)
    is paid only for submissions actually mailed."""
    if organizer_sealer() is None or signature.organizer_sealed is not None:
        return {}
    row_key = signature.row_key
    name = unseal(SEALING, "name", signature.name_enc, row_key)
    email = unseal(SEALING, "email", signature.email_enc, row_key)
    comment = unseal(SEALING, "comment", signature.comment_enc, row_key)
    organizer, own, secret = seal_copies(name, email, comment, row_key)
    shown = seal("display", display(name), row_key)
    return {
        "organizer_sealed": organizer,
        "signer_copy": own,
        "link_secret": secret,
        "display_enc": shown,
    }


def open_signer_copy(
    token: str | None, secret: str | None, row_key: str | None
) -> organizer_key.Sealed | None:
    """The signer's own copy, opened with the secret their link carries (None without
    it, or with a wrong one)."""
    plain = signer_copy.open_copy(token, secret, row_key)
    return None if plain is None else organizer_key.unpack(plain)


def seal_payload(payload: str, key: str) -> str | None:
    """A stored mail (recipient, body), bound to its outbox row's idempotency key."""
    return crypto.encrypt_field(payload, column=PAYLOAD, row_key=key)


def open_payload(token: str, key: str) -> str | None:
    """The worker opens a stored mail to send it to its recipient."""
    return crypto.decrypt_field(token, column=PAYLOAD, row_key=key)


def seal_note(note: str, slug: str) -> str | None:
    """The check-inbox note (the address a signer typed), for their own cookie."""
    return crypto.encrypt_field(note, column=NOTE, row_key=slug)


def open_note(token: str, slug: str) -> str | None:
    """The note this browser got when it signed `slug`, shown back (masked) to it.
    Raises crypto.CryptoError for a note of another petition, a forged or retired one."""
    return crypto.decrypt_field(token, column=NOTE, row_key=slug)


def _authorize(reason: Reason, column: str) -> None:
    _check_field(column)
    if not isinstance(reason, Reason) or column not in OPENS.get(reason.purpose, ()):
        raise NotAllowed(f"{reason!r} does not open signatures.{column}")
    if reason.purpose in AUDITED_HERE and reason.proof is not _AUDITED:
        raise NotAllowed("an organizer's view opens personal data only through look()")


def _check_field(column: str) -> None:
    if column not in FIELDS:
        raise ValueError(f"not a sealed signature field: {column}")
