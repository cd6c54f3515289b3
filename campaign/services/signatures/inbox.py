"""The check-inbox page's memory: which address the mail went to, and fixing a typo.

The sign view leaves a note in a cookie of its own (`NOTE_COOKIE`): the address they
typed and the id of the signature that request created, if it created one, sealed
with AES-GCM (services/sealing/sealed.py), so the cookie is secret and can't be forged or
moved to another petition. Not the Flask session: signing then touches no session
(no session cookie to sign and save on the busiest POST). With it the page can show the address
masked, resend without retyping, and move a still-pending signature to a corrected
address once the visitor retypes the noted one. Each form writes one request row and
reads nothing (services/letters/mail_requests.py): the same work and the same answer whatever
the address's state, so nothing here tells whether an address has signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..intake.validation import normalize_email
from ..letters import mail_requests
from ..pages.content import CampaignContent
from ..sealing import crypto, sealed
from ..sealing.blind_index import dedup_key

NOTE_COOKIE = "inbox"


@dataclass(frozen=True)
class Note:
    email: str  # the address typed, as typed
    signature_id: int | None  # the submission that sign POST created, if any


def make_note(slug: str, typed_email: str, signature_id: int | None) -> str:
    """The sealed cookie value a sign POST leaves for the check-inbox page."""
    return sealed.seal_note(json.dumps([typed_email or "", signature_id]), slug) or ""


def read_note(token: str | None, slug: str) -> Note | None:
    """The note this browser got when it signed `slug`, if it did (and it is intact)."""
    if not token:
        return None
    try:
        email, signature_id = json.loads(sealed.open_note(token, slug) or "null")
    except (crypto.CryptoError, UnicodeError, ValueError, TypeError):
        return None  # another petition's note, a retired key, or not ours at all
    if not isinstance(email, str) or not email:
        return None
    return Note(email, signature_id if isinstance(signature_id, int) else None)


def mask_email(address: str) -> str:
    """`sh****@example.org`: enough to spot a typo in the domain, not to read the name."""
    local, _, domain = address.partition("@")
    keep = 1 if len(local) <= 3 else 2
    return f"{local[:keep]}{'•' * max(len(local) - keep, 1)}@{domain}"


def resend(content: CampaignContent, raw_email: str, language: str) -> None:
    """ "Send the email again": one bodiless request row, whatever the address's state
    (services/letters/mail_requests.py); the worker mails a waiting submission its link again.
    Raises ValueError for an address that isn't one."""
    email = normalize_email(raw_email)
    if content.accepts_signatures:  # the campaign's state is public, not the address's
        mail_requests.ask(mail_requests.RESEND, content, language, dedup_key(email.canonical))


def mail_links_again(content: CampaignContent, raw_email: str, language: str) -> None:
    """ "Mail me my links again" for one campaign: one bodiless request row, whatever the
    address's state; the worker mails a confirmed signer their links (data copy,
    withdraw), or a pending one their confirmation link. The typed address goes with
    the request (sealed to it, forgotten by the worker): a signer sealed to the
    organizers has no readable address left to mail. Raises ValueError for an address
    that isn't one."""
    email = normalize_email(raw_email)
    mail_requests.ask(mail_requests.LINKS, content, language, email.address)


def same_address(note: Note | None, retyped: str) -> bool:
    """Whether `retyped` is the address this browser's note holds (in canonical form)."""
    if note is None:
        return False
    try:
        return normalize_email(retyped).canonical == normalize_email(note.email).canonical
    except ValueError:
        return False


def correct_email(
    content: CampaignContent, note: Note | None, retyped: str, new_raw: str, language: str
) -> bool:
    """ "Wrong address?": move the submission this browser's note names to a corrected
    address, and mail it there: one bodiless request row, whatever the submission's
    state (services/letters/mail_requests.py). The worker moves it only while it is pending,
    unexpired and within the extra-mail cap, then decides its mail as for any
    submission.

    Only for a visitor who retyped the noted address (`retyped`): on a shared browser,
    the next person must not be able to move someone's submission to their own mailbox
    and read its name and comment (issue 21, L7). Returns False, queuing nothing, when
    it isn't the noted one: the browser's own note decides, never the database. Raises
    ValueError for a new address that isn't one."""
    email = normalize_email(new_raw)
    if not same_address(note, retyped):
        return False
    if content.accepts_signatures:
        mail_requests.ask(
            mail_requests.CORRECT, content, language, email.address, note.signature_id
        )
    return True
