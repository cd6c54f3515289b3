"""Two worlds: build the service twice, differing only in what one address did, and
fetch every public route of the URL map in each as an outsider and as an attacker.

The invariant (docs/SECURITY.md, "Nothing public depends on one person"): whatever one
target address did (signed or not; pending, confirmed, withdrawn, erased; flagged,
blocked; signed through a sharer's link), everything an outsider or another signer can
fetch is byte-identical, except
* the count and the documented aggregates. Rather than masking numbers out of pages and
  images, a world where the count would differ is balanced: an unrelated "decoy"
  address does the same thing in the other world, at the same time, from the same
  country. What is left to differ is then which person did it, and nothing may show that;
* the transparency log's leaves, tiles, checkpoints and proofs (commitments are random
  per signature): their status and headers must match, their bodies may differ;
* values that differ on every request whatever anyone did: see NORMALISE.

Routes come from `app.url_map`. Every argument of every rule must be fillable from
ARGUMENTS (or TOKEN_PURPOSE for `token`), and every public POST must have a form in
POST_FORMS: a new route the harness cannot build a request for fails `walk` (with the
endpoint's name) until someone teaches it, rather than being skipped.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from campaign import create_app
from campaign.extensions import db
from campaign.models import Signature
from campaign.petition import bound_forms
from campaign.services.intake import links
from campaign.services.intake.validation import normalize_email
from campaign.services.log import transparency
from campaign.services.outbox import mail_worker
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.paper import entry, sheet_codes
from campaign.services.sealing.blind_index import dedup_key
from tests.conftest import TEMPLATE_BYTECODE
from tests.helpers import SLUG, Mailbox, hidden_fields, test_config

ATTACKER = "attacker@example.com"
TARGET = "target@example.net"
DECOY = "decoy@example.org"
SHARER = "sharer@example.com"  # the attacker's own share link: see Worlds.attacker_ref
# The attacker also signed on paper with this address: their own paper link (issue 26).
ATTACKER_PAPER = "attacker-paper@example.com"
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
# The admin blueprint and its sign-in are walked by role in tests/admin (issue 21.4).
EXCLUDED_BLUEPRINTS = {"admin"}
LOG_DATA = {  # the transparency log's documented public data: bodies may differ
    "petition.log_checkpoint",
    "petition.log_checkpoints",
    "petition.log_tile",
    "petition.log_entries",
    "petition.log_consistency",
    "petition.log_bundle",
}
# Differ on every request, whoever did what (each is documented where it is made).
NORMALISE: list[tuple[re.Pattern[str], str]] = [
    # The sign form's "started" stamp: "<unix seconds>.<HMAC>" (petition/forms.py).
    (re.compile(r'(name="started"[^>]*value=")[0-9]+\.[0-9a-f]+"'), r'\1<stamp>"'),
    (re.compile(r'(value=")[0-9]+\.[0-9a-f]+("[^>]*name="started")'), r"\1<stamp>\2"),
    # The embed form's single-use token (petition/reach/embedding.py), signed with a nonce.
    (re.compile(r'(name="embed_token"[^>]*value=")[^"]+"'), r'\1<embed-token>"'),
    (re.compile(r'(value=")[^"]+("[^>]*name="embed_token")'), r"\1<embed-token>\2"),
    # The check-inbox note: an AES-GCM sealed cookie, a fresh nonce each time (inbox.py).
    (re.compile(r"(inbox=)[^;]+"), r"\1<sealed-note>"),
    # Flask's session cookie and the admin-style CSRF token of the links-again form
    # (/privacy): random per browser session.
    (re.compile(r"(session=)[^;]+"), r"\1<session>"),
    # The resend and correct-address forms' token, bound to the sealed note above
    # (petition/bound_forms.py): it differs as the note's nonce does.
    (re.compile(r'(name="bound" value=")[^"]+"'), r'\1<bound>"'),
    (re.compile(r'(name="csrf_token"[^>]*value=")[^"]+"'), r'\1<csrf>"'),
    # The data-copy link's `k`: the random secret of the signer's own sealed copy
    # (services/sealing/signer_copy.py, issue 23), new for every submission.
    (re.compile(r"([?&](?:amp;)?k=)[A-Za-z0-9_-]+"), r"\1<copy-secret>"),
    # A cookie's expiry date is computed from the wall clock (werkzeug), to the second.
    (re.compile(r"(Expires=)[^;]+"), r"\1<date>"),
]


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def text(self, log_data: bool) -> str:
        headers = "\n".join(f"{k}: {normalise(v)}" for k, v in self.headers if k != "Date")
        body = "<log data: may differ>" if log_data else self._body()
        return f"{self.status}\n{headers}\n\n{body}"

    def _body(self) -> str:
        try:
            return normalise(self.body.decode())
        except UnicodeDecodeError:
            return f"<{len(self.body)} bytes, sha256 {hashlib.sha256(self.body).hexdigest()}>"


@dataclass(frozen=True)
class Request:
    who: str  # "outsider" or "attacker"
    method: str
    path: str
    endpoint: str
    data: dict | None = None

    def key(self) -> str:
        fields = f" {sorted(self.data)}" if self.data else ""
        return f"{self.who} {self.method} {self.path}{fields}"


@dataclass
class Held:
    """What the attacker holds: their own links, their receipt and their share code."""

    tokens: dict[str, str] = field(default_factory=dict)  # purpose -> token
    receipt: str = ""
    ref: str = ""


def frozen_clock(moment: datetime) -> type[datetime]:
    """A `datetime` class for campaign/models/common.py whose now() is `moment`: every
    `utcnow()` (column defaults too) reads it, so both worlds happen at the same time."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - datetime.now's signature
            return datetime.fromtimestamp(moment.timestamp(), tz)

    return Frozen


def deterministic_nonces() -> Callable[[], str]:
    """The signers' link nonces in creation order, the same in both worlds: the
    attacker signs first in each, so their links, share code and receipt match."""
    counter = itertools.count()
    return lambda: hashlib.sha256(f"nonce-{next(counter)}".encode()).hexdigest()[:32]


class World:
    """One instance of the service on its own empty database."""

    def __init__(self, database_url: str, mailbox: Mailbox, **config) -> None:
        # No caches: each answer is computed from the database as it is then. (A cached
        # page's ETag and Last-Modified come from the wall clock when it was built.)
        self.app: Flask = create_app(
            test_config(
                database_url,
                SMTP_URL=mailbox.url,
                COUNT_CACHE_SECONDS=0,
                PAGE_CACHE_SECONDS=0,
                API_CACHE_SECONDS=0,
                **config,
            )
        )
        self.app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE  # compiled once per process
        self.mailbox = mailbox
        self.attacker = self.app.test_client()
        self.held = Held()

    # --- what people do -------------------------------------------------------------

    def sign(self, email: str, *, client=None, query: str = "", **fields) -> None:
        client = client or self.app.test_client()
        page = client.get(f"/{SLUG}/{query}")
        assert page.status_code == 200, page.status_code
        data = hidden_fields(page.get_data(as_text=True))
        data.update(name=f"Person {email.split('@')[0]}", email=email, country="IR")
        data.update(fields)
        answer = client.post(f"/{SLUG}/sign", data=data, headers=SAME_SITE)
        assert answer.status_code == 303, answer.status_code

    def deliver(self) -> None:
        with self.app.app_context():
            transparency.publish_due(force_checkpoint=True)
            mail_worker.work(once=True)
            transparency.publish_due(force_checkpoint=True)  # receipts queued by the first
            mail_worker.work(once=True)

    def link(self, email: str, kind: str) -> str:
        """The newest `kind` link mailed to `email`, as a path."""
        for message in reversed(self.mailbox.to(email)):
            found = self.mailbox.links(message, kind)
            if found:
                return found[0].replace("http://petition.test", "")
        raise AssertionError(f"no {kind} link mailed to {email}")

    def confirm(self, email: str, *, client=None, boxes: dict | None = None) -> str:
        """Confirms with the consent `boxes` the mailbox owner leaves ticked (none by
        default: what stays readable of a sealed row follows them, issue 21.1)."""
        self.deliver()
        path = self.link(email, "confirm")
        answer = (client or self.app.test_client()).post(path, data=boxes, headers=SAME_SITE)
        assert answer.status_code == 303, answer.status_code
        self.deliver()
        return path

    def enter_paper(self, number: int, email: str) -> None:
        """An organizer enters paper sheet `number` with one row naming `email`."""
        with self.app.app_context():
            row, problems = entry.read_row(
                1, f"Person {email.split('@')[0]}", "IR", email, frozenset({"delivery"})
            )
            assert not problems, problems
            campaign_id = get_row(library().get(SLUG)).id
            code = sheet_codes.sheet_code(SLUG, number)
            entry.enter(SLUG, campaign_id, code, "en", [row])
        self.deliver()

    def withdraw(self, email: str) -> None:
        answer = self.app.test_client().post(self.link(email, "withdraw"), headers=SAME_SITE)
        assert answer.status_code == 200, answer.status_code
        self.deliver()

    def row(self, email: str) -> Signature:
        """The address's first submission, found as the server finds it: through its
        blind index (a confirmed row's email is sealed to the organizers' key)."""
        with self.app.app_context():
            key = dedup_key(normalize_email(email).canonical)
            row = db.session.scalars(
                select(Signature).where(Signature.dedup_key == key).order_by(Signature.id)
            ).first()
        if row is None:
            raise AssertionError(f"no row for {email}")
        return row

    def setup_attacker(self) -> None:
        """The attacker signs, confirms, and keeps their links, receipt and share code."""
        self.sign(ATTACKER, client=self.attacker, contact_consent="y")
        confirm_path = self.confirm(ATTACKER, client=self.attacker)
        self.held.tokens["confirm"] = confirm_path.rsplit("/", 1)[1]
        self.held.tokens["withdraw"] = self.link(ATTACKER, "withdraw").rsplit("/", 1)[1]
        # The path's token, without the `?k=` of the signer's sealed copy (issue 23): a
        # random secret, different in each world, not a route parameter to walk.
        data_link = self.link(ATTACKER, "my-data").partition("?")[0]
        self.held.tokens["data"] = data_link.rsplit("/", 1)[1]
        with self.app.app_context():
            row = db.session.get(Signature, self.row(ATTACKER).id)
            self.held.tokens["unsubscribe"] = links.make_token(row, "unsubscribe")
            self.held.ref = links.referral_code(row)
        # Their own paper row and its link (sheet 1, the same in both worlds).
        self.enter_paper(1, ATTACKER_PAPER)
        self.held.tokens["paper"] = self.link(ATTACKER_PAPER, "paper").rsplit("/", 1)[1]
        thanks = self.attacker.get(confirm_path).get_data(as_text=True)
        found = re.search(r'<code class="receipt-text"[^>]*>([^<]+)</code>', thanks)
        assert found, "the attacker's thank-you page shows a receipt"
        self.held.receipt = found.group(1)

    # --- the walk -------------------------------------------------------------------------

    def fetch(self, request: Request, client) -> Answer:
        headers = SAME_SITE if request.method == "POST" else {}
        data = request.data
        if request.endpoint == "petition.sign":
            data = {**sign_form_fields(client), **(data or {})}
        if request.method == "POST" and request.endpoint in bound_forms.BOUND:
            # What the page's form carries: the token bound to this browser's note.
            name = bound_forms.BOUND[request.endpoint]
            cookie = client.get_cookie(name)
            token = bound_forms.token_for(name, cookie.value if cookie else "")
            data = {**(data or {}), bound_forms.FIELD: token}
        answer = client.open(request.path, method=request.method, data=data, headers=headers)
        return Answer(answer.status_code, list(answer.headers.items()), answer.get_data())

    def walk(self) -> dict[str, str]:
        """Every request of `requests`, in order: the outsider's, then the attacker's;
        then the mail the attacker got. Returns request key -> normalised answer."""
        seen: dict[str, str] = {}
        outsider = self.app.test_client()
        self.mailbox.messages.clear()
        for place, request in enumerate(requests(self.app, self.held)):
            client = outsider if request.who == "outsider" else self.attacker
            with self.app.app_context():
                answer = self.fetch(request, client)
            seen[f"{place:04d} {request.key()}"] = answer.text(request.endpoint in LOG_DATA)
        self.deliver()
        for number, message in enumerate(self.mailbox.to(ATTACKER)):
            seen[f"mail to the attacker #{number}"] = normalise(_mail_text(message))
        seen["mail count to the attacker"] = str(len(self.mailbox.to(ATTACKER)))
        return seen

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def _mail_text(message) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in message.items() if k not in {"Date", "Message-ID"})
    body = message.get_body(("plain",)).get_content()
    return f"{headers}\n\n{body}"


def sign_form_fields(client) -> dict[str, str]:
    page = client.get(f"/{SLUG}/")
    return hidden_fields(page.get_data(as_text=True))


# --- building requests from the URL map ----------------------------------------------

# Values for each rule argument, by name. The attacker's own token fills `token`.
ARGUMENTS: dict[str, list] = {
    "slug": [SLUG],
    "old": [1],
    "new": [2, 3],
    "level": [0, 1],
    "rest": ["000", "000.p/2", "000.p/3", "x999"],
    "filename": ["css/site.css", "js/receipt-check.js"],
    "index": [0, 2],
    "key": ["public", "delivery", "nonsense"],  # consents.REGISTRY's keys, and not one
}
TOKEN_PURPOSE = {  # endpoint -> which of the attacker's own tokens its `token` takes
    "petition.confirm": "confirm",
    "petition.discard": "confirm",
    "petition.withdraw": "withdraw",
    "petition.my_data": "data",
    "petition.withdraw_consent": "data",
    "petition.unsubscribe": "unsubscribe",
    "petition.paper_confirm": "paper",
    "petition.paper_not_me": "paper",
}
BAD_TOKEN = "1-" + "0" * 40  # a well-formed token that names a row but is not its own
# Query strings worth trying per endpoint, besides none (`{ref}`: the attacker's code).
QUERIES: dict[str, list[str]] = {
    "petition.campaign_page": ["?ref={ref}", "?source=x&ref={ref}", "?lang=fa"],
    "petition.home": ["?ref={ref}"],
    "petition.check_inbox": ["?resent=1", "?corrected=1", "?embed=1"],
    "petition.embed": ["?ref={ref}"],
    "petition.share_page": ["?ref={ref}"],
    "petition.qr_code": ["?ref={ref}", "?ref={ref}&download=1"],
    "petition.flyer": ["?ref={ref}"],
    "petition.my_data": ["?format=json"],
    "petition.privacy_page": ["?sent=1"],
}
# Public POSTs, by endpoint: the forms the attacker sends. Addresses are the attacker's
# probes: they type the target's address into every form that takes one.
POST_FORMS: dict[str, list[dict]] = {
    "petition.sign": [{"name": "Someone", "email": TARGET, "country": "IR"}],
    "petition.resend": [{"email": TARGET}, {}],
    "petition.correct_email": [{"email": TARGET}],
    "petition.mail_links_again": [{"email": TARGET}],
    "petition.confirm": [{}],
    "petition.discard": [{}],
    "petition.unsubscribe": [{}],
    "petition.withdraw_consent": [{}],
    "petition.paper_confirm": [{"delivery_consent": "y"}],
    "petition.paper_not_me": [{}],
    "petition.log_verify": [
        {"receipt": "{receipt}"},
        {"receipt": "nonsense"},
        {"receipt": "{receipt}", "download": "1"},
    ],
    "petition.log_cosignature": [{}],
    "petition.withdraw": [{}],  # the attacker withdraws last (POSTS_LAST)
}
POSTS_LAST = ("petition.withdraw",)


class UntaughtRoute(AssertionError):
    """A route the harness cannot build a request for: teach it (ARGUMENTS, POST_FORMS)."""


def public_rules(app: Flask) -> list[Rule]:
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".", 1)[0] not in EXCLUDED_BLUEPRINTS
    ]
    return sorted(rules, key=lambda rule: (rule.rule, rule.endpoint))


def paths(rule: Rule, held: Held) -> Iterator[str]:
    names = sorted(rule.arguments)
    choices = []
    for name in names:
        if name == "token":
            purpose = TOKEN_PURPOSE.get(rule.endpoint)
            if purpose is None:
                raise UntaughtRoute(f"{rule.endpoint}: which token does it take? (TOKEN_PURPOSE)")
            choices.append([held.tokens[purpose], BAD_TOKEN])
        elif name in ARGUMENTS:
            choices.append(ARGUMENTS[name])
        else:
            raise UntaughtRoute(f"{rule.endpoint}: no values for <{name}> (ARGUMENTS)")
    for values in itertools.product(*choices):
        try:
            path = rule.build(dict(zip(names, values, strict=True)), append_unknown=False)[1]
        except Exception as error:  # noqa: BLE001 - a value this rule's converter refuses
            raise UntaughtRoute(f"{rule.endpoint}: cannot build with {values}: {error}") from None
        yield path
        for query in QUERIES.get(rule.endpoint, []):
            yield path + query.format(ref=held.ref)


def requests(app: Flask, held: Held) -> list[Request]:
    """Outsider GETs; the attacker's POSTs; their GETs; their withdrawal last."""
    gets, posts, last = [], [], []
    for rule in public_rules(app):
        methods = rule.methods - {"HEAD", "OPTIONS"}
        if methods - {"GET", "POST"}:
            raise UntaughtRoute(f"{rule.endpoint}: methods {sorted(methods)}")
        for path in paths(rule, held):
            if "GET" in methods:
                gets.append((path, rule.endpoint))
            if "POST" in methods:
                if rule.endpoint not in POST_FORMS:
                    raise UntaughtRoute(f"{rule.endpoint}: a public POST with no form (POST_FORMS)")
                for form in POST_FORMS[rule.endpoint]:
                    data = {k: v.format(receipt=held.receipt) for k, v in form.items()}
                    target = last if rule.endpoint in POSTS_LAST else posts
                    target.append(Request("attacker", "POST", path, rule.endpoint, data))
    walk = [Request("outsider", "GET", path, endpoint) for path, endpoint in gets]
    walk += posts
    walk += [Request("attacker", "GET", path, endpoint) for path, endpoint in gets]
    walk += last
    walk += [Request("attacker", "GET", path, endpoint) for path, endpoint in gets]
    return walk


def differences(one: dict[str, str], two: dict[str, str], limit: int = 8) -> list[str]:
    """Where two walks' answers differ, as short unified diffs (at most `limit`)."""
    found = []
    for key in sorted(set(one) | set(two)):
        a, b = one.get(key, "<missing>"), two.get(key, "<missing>")
        if a != b:
            diff = difflib.unified_diff(
                a.splitlines(), b.splitlines(), "world A", "world B", n=1, lineterm=""
            )
            found.append(f"{key}\n" + "\n".join(list(diff)[:30]))
    return found[:limit] + ([f"... and {len(found) - limit} more"] if len(found) > limit else [])
