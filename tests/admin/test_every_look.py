"""Every look audited, by construction: a walk over every admin route in the URL map.

Two worlds (two apps, two databases) hold signers of the same shape, the same counts,
countries, consents and hours, and differ only in personal data: names, addresses,
comments, email domains, IP addresses (so their blind indexes: dedup keys, domain
hashes, name tokens, IP hashes) and the minute each non-bot signer signed. As each role,
the walk makes every request in both worlds, one right after the other, and holds:

* an answer that shows a seeded personal value or a blind index of one, or that differs
  between the worlds (a count of matches, a list, a refusal: anything that depends on
  personal data), was preceded by an audit entry of that organizer, written during the
  request;
* no personal data is decrypted during a request before that request's audit entry is
  committed (`sealed.unsealer`, the one way to decrypt a signer's field, is watched);
* no answer is a 5xx.

Routes come from `app.url_map`. A URL variable without values, or a POST route without
plausible form data in POSTS, fails the walk: a new route is covered, not skipped.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from psycopg import sql
from sqlalchemy import func, select

from campaign import create_app
from campaign.extensions import db
from campaign.models import AuditEvent, NameToken, Signature, SignatureStatus, utcnow
from campaign.services.admins import accounts
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.paper import entry, sheet_codes
from campaign.services.sealing import crypto, sealed
from tests import testdb
from tests.admin.helpers import EMAILS, PASSWORD, csrf_from, make_signature
from tests.helpers import SLUG, hidden_fields, migrate, using_postgres

ROLES = ("viewer", "organizer", "owner")
NOT_LOOKS = {"login", "login.failed", "login.locked", "logout"}
BOTS = 12  # above abuse.TREND_MINIMUM: the dashboard's trend alert fires in both worlds
PAPER_SHEET = 3  # the paper sheet both worlds entered (issue 26)


@dataclass
class People:
    """One world's personal data. Both worlds have the same shape."""

    names: tuple[str, str, str]
    emails: tuple[str, str, str]
    comment: str
    ips: tuple[str, str]
    minutes: tuple[int, int, int]  # past the hour, three hours ago: a minute per signer
    bot_name: str
    bot_domain: str
    bot_ip: str


WORLD_A = People(
    names=("Zarvan Qelichkhani", "Parvaneh Ghorbanzadeh", "Kourosh Vafadoost"),
    emails=(
        "zarvan.q@quillfeather.example",
        "parvaneh.g@quillfeather.example",
        "kourosh@emberlattice.example",
    ),
    comment="Zarvan remembers his uncle in Gohardasht",
    ips=("198.51.100.23", "203.0.113.77"),
    minutes=(10, 20, 30),
    bot_name="Qoxbot",
    bot_domain="hailstormbots.example",
    bot_ip="192.0.2.201",
)
WORLD_B = People(
    names=("Golnar Tavakkolzadeh", "Shahrzad Mirfendereski", "Bardia Eskandarnejad"),
    emails=(
        "golnar.t@ravenmossmail.example",
        "shahrzad.m@ravenmossmail.example",
        "bardia@tidewrackpost.example",
    ),
    comment="Golnar remembers her aunt in Evin",
    ips=("198.51.100.57", "203.0.113.91"),
    minutes=(13, 23, 33),
    bot_name="Vumbot",
    bot_domain="sleetcloudbots.example",
    bot_ip="192.0.2.202",
)


@dataclass
class World:
    name: str
    app: object
    people: People
    secrets: list[str] = field(default_factory=list)  # every personal value and index
    first_signature: int = 0
    target_account: int = 0


def seed(app, people: People, t0: datetime) -> World:
    """Accounts, then the signers: three people (confirmed and named in the pack,
    pending, confirmed without contact) three hours ago, and a wave of bots from one IP
    and one domain ten minutes ago. Ids, hours and counts are the same in both worlds."""
    world = World("", app, people)
    hour = t0.replace(minute=0, second=0) - timedelta(hours=3)
    with app.app_context():
        app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
        for role, email in EMAILS.items():
            accounts.create(email, PASSWORD, role)
        world.target_account = accounts.create("target@admin.test", PASSWORD, "organizer").id
        states = (SignatureStatus.CONFIRMED, SignatureStatus.PENDING, SignatureStatus.CONFIRMED)
        made = []
        for n, (name, email, state) in enumerate(
            zip(people.names, people.emails, states, strict=True)
        ):
            made.append(
                make_signature(
                    name,
                    email,
                    ("DE", "FR", "SE")[n],
                    status=state,
                    contact=n != 2,
                    comment=people.comment if n == 0 else None,
                    ip=people.ips[n // 2],
                )
            )
        for n in range(BOTS):
            made.append(
                make_signature(
                    f"{people.bot_name} {'ABCDEFGHIJKL'[n]}x",
                    f"bot{n}@{people.bot_domain}",
                    "US",
                    ip=people.bot_ip,
                )
            )
        for n, signature in enumerate(made):
            at = (
                hour + timedelta(minutes=people.minutes[n])
                if n < 3
                else t0 - timedelta(minutes=10) + timedelta(seconds=n)
            )
            signature.created_at = at
            if signature.confirmed_at:
                signature.confirmed_at = at + timedelta(minutes=5)
        made[0].delivery_consent = True
        db.session.commit()
        world.first_signature = made[0].id
        # A paper sheet of two rows (issue 26), entered by no one who signs in here.
        rows = [
            entry.read_row(n + 1, people.names[n], ("DE", "FR")[n], "", frozenset())[0]
            for n in range(2)
        ]
        campaign_id = get_row(library().get(SLUG)).id
        entry.enter(SLUG, campaign_id, sheet_codes.sheet_code(SLUG, PAPER_SHEET), "en", rows)
        rows = db.session.scalars(select(Signature)).all()
        world.secrets = [
            *people.names,
            *(word for name in people.names for word in name.split()),
            *people.emails,
            *(email.split("@")[1] for email in people.emails),
            people.comment,
            *people.ips,
            people.bot_name,
            people.bot_domain,
            people.bot_ip,
            *(r.ip_hash for r in rows if r.ip_hash),
            *(r.dedup_key for r in rows if r.dedup_key),
            *(r.email_domain_hash for r in rows if r.email_domain_hash),
            *db.session.scalars(select(NameToken.token_hash)),
        ]
        db.session.remove()
    return world


# --- what the walk sends ---------------------------------------------------------


def url_values(world: World) -> dict[str, tuple]:
    """Values for each URL variable of an admin route. A new variable fails the walk."""
    return {
        "slug": (SLUG,),
        "signature_id": (world.first_signature,),
        "user_id": (world.target_account,),
        "action": ("role", "disable", "enable", "reset-2fa"),
        "number": (PAPER_SHEET, 99),
    }


def minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def get_queries(t0: datetime) -> dict[str, list[str]]:
    """Query strings worth trying per endpoint (default: none); world A's terms, sent
    to both worlds."""
    return {
        "admin.signers_table": [
            "",
            "q=Zarvan",
            "q=zarvan%20qelichkhani",
            "q=qelich&fuzzy=1",
            "q=%40quillfeather.example",
            "q=zarvan.q%40quillfeather.example",
            "state=pending",
        ],
        "admin.audit_page": ["", "action=signature.bulk_dry_run.result"],
    }


def posts(t0: datetime) -> dict[str, list[dict]]:
    """Plausible form data for every admin route that takes a POST (the CSRF token and
    the form's hidden fields are added from the page). World A's terms, in both worlds."""
    first = t0.replace(minute=0, second=0) - timedelta(hours=3) + timedelta(minutes=10)
    return {
        "admin.login": [{"email": "nobody@admin.test", "password": "wrong"}],
        "admin.login_totp": [{"code": "000000"}],
        "admin.logout": [{}],
        "admin.account": [{"current": "wrong", "password": PASSWORD * 2, "repeat": PASSWORD}],
        "admin.totp_setup": [{"code": "000000"}],
        "admin.accounts_create": [
            {"email": "new@admin.test", "role": "viewer", "password": PASSWORD}
        ],
        "admin.account_action": [{"role": "viewer"}],
        "admin.signer_invalidate": [{"reason": "walk"}, {"reason": ""}],
        "admin.signer_restore": [{}],
        "admin.signer_resend": [{}],
        "admin.signer_comment": [{}],
        "admin.signer_erase": [{}, {"confirm": "erase"}],
        "admin.signers_bulk": [
            {"email_domain": "quillfeather.example", "apply": "0"},
            {"ip_hash": crypto.ip_hash(WORLD_A.ips[0]), "apply": "0"},
            {"since": minute(first), "until": minute(first + timedelta(minutes=1)), "apply": "0"},
            {"name_pattern": "zarv*", "apply": "0"},
            {"name_pattern": "Zarvan Qelichkhani", "apply": "0"},
            # an apply whose count no world has: the new count is shown, nothing changes
            # (state must not drift apart between the worlds, or every later page differs)
            {"name_pattern": "zarv*", "apply": "1", "reason": "walk", "confirm_count": "99"},
            {  # the bots' minutes are the same in both worlds: the same signatures go
                "since": minute(t0 - timedelta(minutes=11)),
                "until": minute(t0 - timedelta(minutes=8)),
                "apply": "1",
                "reason": "bot wave",
                "confirm_count": str(BOTS),
            },
        ],
        "admin.export_page": [
            {"preset": "full", "format": "csv", "q": "Zarvan"},
            {"preset": "delivery", "format": "summary-csv", "q": "@quillfeather.example"},
            {"preset": "mailing", "format": "jsonl"},
        ],
        "admin.delivery_page": [{"language": "en", "format": "html"}],
        # Blank sheets: no personal data, but each run is audited (its numbers).
        "admin.sheets_page": [{"language": "fa", "paper": "letter", "count": "1"}, {"count": "0"}],
        "admin.updates_page": [{"title_en": "News", "body_en": "A walk.", "send": "y"}],
        # Issue 26. A sheet typed, then entered (the same rows in both worlds); a CSV's
        # dry run; the seeded sheet's check, with rows neither world holds (so both
        # worlds record the same result: state must not drift apart).
        "admin.paper_entry": [
            {"code": sheet_codes.sheet_code(SLUG, 5), "language": "en", "name-0": "Zarvan"},
            {"code": "5-AAAAAA", "language": "en", "name-0": "Zarvan", "action": "save"},
            {
                "code": sheet_codes.sheet_code(SLUG, 5),
                "language": "en",
                "name-0": "Walk Person",
                "country-0": "DE",
                "action": "save",
            },
        ],
        "admin.paper_upload": [
            {
                "data": f"sheet,language,name,country\n{sheet_codes.sheet_code(SLUG, 6)},en,"
                "Zarvan Qelichkhani,DE\n",
                "action": "dry-run",
            }
        ],
        "admin.paper_sheet": [
            {"name-1": "Nobody Here", "country-1": "DE", "name-2": "No One", "country-2": "FR"}
        ],
    }


@dataclass
class Step:
    method: str
    path: str
    endpoint: str
    data: dict | None = None


def plan(app, world: World, t0: datetime) -> tuple[list[Step], list[str]]:
    """Every admin route with every value and variant, and what could not be built."""
    with app.app_context():  # an IP hash needs the app's key
        values, queries, forms = url_values(world), get_queries(t0), posts(t0)
    steps, unbuildable = [], []
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")),
        key=lambda r: (r.endpoint == "admin.logout", r.rule),  # signing out comes last
    )
    for rule in rules:
        missing = [name for name in rule.arguments if name not in values]
        unknown = set(rule.methods) - {"GET", "HEAD", "OPTIONS", "POST"}
        if missing or unknown:
            unbuildable.append(f"{rule.rule}: no values for {missing or unknown}")
            continue
        combos = [{}]
        for name in sorted(rule.arguments):
            combos = [{**c, name: v} for c in combos for v in values[name]]
        for combo in combos:
            with app.test_request_context():
                path = app.url_for(rule.endpoint, **combo)
            if "GET" in rule.methods:
                for query in queries.get(rule.endpoint, [""]):
                    steps.append(Step("GET", f"{path}?{query}" if query else path, rule.endpoint))
            if "POST" in rule.methods:
                if rule.endpoint not in forms:
                    unbuildable.append(f"{rule.rule}: no plausible POST data in posts()")
                    continue
                for data in forms[rule.endpoint]:
                    steps.append(Step("POST", path, rule.endpoint, data))
    return steps, unbuildable


# --- watching a request ------------------------------------------------------------


class Watch:
    """The request under way: the audit log's last id before it, and whose it is."""

    def __init__(self) -> None:
        self.active = False
        self.start = 0
        self.email = ""
        self.audited = False
        self.violations: list[str] = []
        self.where = ""

    def audited_since_start(self) -> bool:
        """An entry of this organizer, other than signing in or out, committed during
        the request (read on a connection of its own: only committed entries count)."""
        with db.engine.connect() as connection:
            found = connection.scalar(
                select(AuditEvent.id)
                .where(
                    AuditEvent.id > self.start,
                    AuditEvent.actor_email == self.email,
                    AuditEvent.action.not_in(NOT_LOOKS),
                )
                .limit(1)
            )
        return found is not None

    def on_decrypt(self) -> None:
        if self.active and not self.audited:
            self.audited = self.audited_since_start()
            if not self.audited and not self.violations[-1:] == [self.where]:
                self.violations.append(self.where)  # once per request


def watched_unsealer(watch: Watch, original):
    """`sealed.unsealer`, every signer-field decrypt's one way in, watched. Mail to the
    signer themselves (`SIGNER_MAIL`: the log's receipts, queued by whatever request
    publishes the log) goes to the outbox, never into the answer, and is no look."""

    def unsealer(reason: sealed.Reason, column: str):
        decrypt = original(reason, column)
        if reason.purpose == sealed.Purpose.SIGNER_MAIL:
            return decrypt

        def decrypt_one(token, row_key):
            if token is not None:
                watch.on_decrypt()
            return decrypt(token, row_key)

        return decrypt_one

    return unsealer


TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
NONCES = (
    (re.compile(r'(name="(?:csrf_token|publish_key)"[^>]*value=")[^"]*'), r"\1"),
    (re.compile(r'value="[^"]*"([^>]*name="(?:csrf_token|publish_key)")'), r'value=""\1'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
    (re.compile(r"chart-\d+-"), "chart-"),  # a chart's element id
    (re.compile(r"data:image/svg\+xml[^\"')\s]*"), "data:"),  # the TOTP QR code
    (re.compile(r"\b[A-Z2-7]{16,}\b"), "SECRET"),  # the TOTP key (base32)
    (TIME, "TIME"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(\s?[AP]M)?"), "TIME"),  # a time of day, as Babel writes it
    (re.compile(r"\d{8}-\d{4}"), "STAMP"),  # exports' and packs' file names
)


def normalized(text: str) -> str:
    """The answer without per-request nonces and clock times."""
    for pattern, replacement in NONCES:
        text = pattern.sub(replacement, text)
    return text


def shown(secrets: list[str], text: str, asked: str) -> list[str]:
    """The seeded values the answer holds, except those the request itself sent (a page
    may echo its own query: that shows nothing the database held)."""
    text = text.casefold()
    return [s for s in secrets if s.casefold() in text and s.casefold() not in asked]


def dump_diff(path: str, where: str, one: str, other: str) -> None:
    """For debugging the walk: EVERY_LOOK_DIFFS=file writes each difference found."""
    lines = difflib.unified_diff(
        normalized(one).splitlines(), normalized(other).splitlines(), lineterm="", n=1
    )
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"### {where}\n" + "\n".join(lines) + "\n")


@dataclass
class Answer:
    status: int
    text: str  # status, Location, the admin's own headers and the body (and redirect's)
    audited: bool


HEADERS = (
    "Location",
    "Content-Disposition",
    "X-Export-Rows",
    "X-Pack-Total",
    "X-Pack-Named",
    "X-Sheet-Numbers",
)


def answer_text(response) -> str:
    """The answer as text: a PDF (paper sheets) read back with pdftotext, so its words
    are held to the same rules as a page's."""
    if response.mimetype == "application/pdf":
        return subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"],
            input=response.get_data(),
            check=True,
            capture_output=True,
        ).stdout.decode("utf-8")
    return response.get_data(as_text=True)


def send(client, world: World, watch: Watch, step: Step, email: str) -> Answer:
    data = None
    if step.method == "POST":  # the form's own hidden fields, as a browser would send
        page = client.get(step.path) if step.endpoint != "admin.logout" else None
        if page is None or page.status_code != 200 or "csrf_token" not in page.text:
            page = client.get("/admin/account")
        data = {**hidden_fields(page.get_data(as_text=True)), **step.data}
        data.setdefault("csrf_token", csrf_from(page.get_data(as_text=True)))
    with world.app.app_context():
        watch.start = db.session.scalar(select(func.max(AuditEvent.id))) or 0
        db.session.remove()
    watch.active, watch.audited, watch.email = True, False, email
    watch.where = f"{world.name} {email} {step.method} {step.path} {step.data or ''}"
    try:
        if step.method == "GET":
            response = client.get(step.path)
        else:
            response = client.post(step.path, data=data)
        body = answer_text(response)  # a streamed export runs here
        parts = [str(response.status_code)]
        parts += [f"{h}: {response.headers[h]}" for h in HEADERS if h in response.headers]
        parts.append(body)
        location = response.headers.get("Location", "")
        if response.status_code in (302, 303) and location.startswith("/admin"):
            parts.append(client.get(location).get_data(as_text=True))  # its flash message
    finally:
        watch.active = False
    with world.app.app_context():
        audited = watch.audited or watch.audited_since_start()
        db.session.remove()
    return Answer(response.status_code, "\n".join(parts), audited)


def sign_in(world: World, email: str):
    client = world.app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post(
        "/admin/login", data={"csrf_token": csrf_from(page), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303, (world.name, email)
    return client


# --- the two worlds ----------------------------------------------------------------


@pytest.fixture
def second_database(app_config, database_template, tmp_path) -> Iterator[str]:
    """World B's own database, migrated like the first."""
    if not using_postgres():
        path = tmp_path / "world_b.db"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"
        return
    name = f"{testdb._name(app_config['SQLALCHEMY_DATABASE_URI'])}_world_b"
    url = testdb._with_database(app_config["SQLALCHEMY_DATABASE_URI"], name)
    with testdb._admin() as conn:
        testdb._drop(conn, name)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(url)
    yield url
    with testdb._admin() as conn:
        testdb._drop(conn, name)


@pytest.fixture
def worlds(app_config, second_database, monkeypatch) -> Iterator[tuple[World, World, Watch]]:
    t0 = utcnow().replace(microsecond=0)
    apps = (
        create_app(app_config),
        create_app({**app_config, "SQLALCHEMY_DATABASE_URI": second_database}),
    )
    a, b = seed(apps[0], WORLD_A, t0), seed(apps[1], WORLD_B, t0)
    a.name, b.name = "A", "B"
    assert (a.first_signature, a.target_account) == (b.first_signature, b.target_account)
    watch = Watch()
    monkeypatch.setattr(sealed, "unsealer", watched_unsealer(watch, sealed.unsealer))
    a.t0 = b.t0 = t0  # type: ignore[attr-defined]
    yield a, b, watch
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_every_admin_answer_that_depends_on_personal_data_is_audited_first(worlds):
    a, b, watch = worlds
    steps, unbuildable = plan(a.app, a, a.t0)
    assert unbuildable == [], "the walk can't build these admin routes: " + "; ".join(unbuildable)
    failures, needed = [], set()
    for role in ROLES:
        email = EMAILS[role]
        clients = {a.name: sign_in(a, email), b.name: sign_in(b, email)}
        for step in steps:
            one = send(clients["A"], a, watch, step, email)
            other = send(clients["B"], b, watch, step, email)
            where = f"{role} {step.method} {step.path} {step.data or ''}"
            assert one.status < 500 and other.status < 500, where
            asked = unquote(f"{step.path} {step.data or ''}").casefold()
            shows = shown(a.secrets, one.text, asked) + shown(b.secrets, other.text, asked)
            differs = normalized(one.text) != normalized(other.text)
            if differs and os.environ.get("EVERY_LOOK_DIFFS"):
                dump_diff(os.environ["EVERY_LOOK_DIFFS"], where, one.text, other.text)
            if shows or differs:
                needed.add((role, step.endpoint, step.method, str(step.data or step.path)))
                if not (one.audited and other.audited):
                    why = f"shows {shows[:3]}" if shows else "differs between the two worlds"
                    failures.append(f"{where}: {why}, with no audit entry first")
    failures += [f"{where}: decrypted before any audit entry" for where in watch.violations]
    assert failures == [], "\n".join(failures)
    # The walk saw what it guards: pages with names, and counts that depend on them.
    endpoints = {endpoint for _, endpoint, _, _ in needed}
    assert {
        "admin.signers_table",
        "admin.signer",
        "admin.signers_bulk",
        "admin.export_page",
        "admin.delivery_page",
        "admin.dashboard",
        "admin.audit_page",
    } <= endpoints, endpoints
