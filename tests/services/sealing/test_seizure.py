"""A seized server reveals no signer (issue 23).

Signers in every mix of consents and states; then the database is copied with the
server's whole environment (every online key: SECRET_KEY, HASH_KEY, ENCRYPTION_KEYS,
the log's signing key, ORGANIZER_PUBLIC_KEY) but not the organizers' private key.
Every decrypt path of the project runs against the copy, and the raw database bytes
(SQLite file and WAL) or a `pg_dump` are scanned: no sealed value comes back. Only
what a consent keeps readable does (docs/SECURITY.md, "The server is copied"). With the
private key, `flask export open` recovers every value.

Pending submissions are readable to the server by design until confirmed, discarded or
expired (their confirmation mail needs them): they are made here but not looked for.
"""

from __future__ import annotations

import csv
import io
import itertools
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign import create_app
from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services.exports import export
from campaign.services.intake import links
from campaign.services.pages import counting
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.paper import entry, sheet_codes
from campaign.services.sealing import organizer_key, sealed
from campaign.services.signatures import moderation
from campaign.services.signer_data import privacy, public, signers
from campaign.services.signer_data.signers import SignerFilter
from tests.helpers import SLUG, deliver, require, sign, test_config, using_postgres

LETTERS = "bcdfghjklmnpqrstvwxz"


@dataclass
class Signer:
    tag: str
    public: bool
    contact: bool
    comment_public: bool
    delivery: bool
    state: str  # confirmed | unsubscribed | invalidated | withdrawn | pending
    # The sign form ticked the opposite of what the owner keeps on the confirm page,
    # which alone decides (issue 21.1): what stays readable follows the owner's boxes.
    flipped: bool = False

    def ticks(self, *, confirming: bool) -> dict[str, str]:
        """The boxes a form posts ticked: the sign form's, or the owner's at confirm."""
        chosen = {
            "public_consent": self.public,
            "contact_consent": self.contact,
            "comment_consent": self.comment_public,
            "delivery_consent": self.delivery,
        }
        invert = self.flipped and not confirming
        return {name: "y" for name, on in chosen.items() if on != invert}

    @property
    def name(self) -> str:
        return f"Shirin Qz{self.tag}vand"

    @property
    def email(self) -> str:
        return f"seized.{self.tag}@example.org"

    @property
    def comment(self) -> str:
        return f"Remember Evin {self.tag}x"

    def sealed_values(self) -> list[str]:
        """What a copy of the server must not reveal about this signer."""
        if self.state == "pending":
            return []
        values = [f"qz{self.tag}vand"]  # the full name: only "Shirin Q." may be shown
        if self.state in ("withdrawn", "unsubscribed") or not self.contact:
            values.append(f"seized.{self.tag}@")
        if self.state == "withdrawn" or not self.comment_public:
            values.append(f"evin {self.tag}x")
        return values

    def readable(self) -> bool:
        return self.state not in ("withdrawn", "pending")


def make_signers() -> list[Signer]:
    tags = (a + b for a in LETTERS for b in LETTERS)
    mixes = list(itertools.product((False, True), repeat=4))
    found = [Signer(next(tags), *mix, "confirmed") for mix in mixes]
    found += [Signer(next(tags), *mix, "confirmed", flipped=True) for mix in mixes]
    for state in ("unsubscribed", "invalidated", "withdrawn", "pending"):
        found += [Signer(next(tags), *mix, state) for mix in mixes[::3]]
    return found


@pytest.fixture
def organizer():
    return organizer_key.generate()


@pytest.fixture
def app_config(database_url, organizer):
    return test_config(database_url, ORGANIZER_PUBLIC_KEY=organizer_key.public_text(organizer))


def fill(client, app, signers_: list[Signer]) -> None:
    for signer in signers_:
        response = sign(
            client,
            name=signer.name,
            email=signer.email,
            comment=signer.comment,
            **signer.ticks(confirming=False),
        )
        assert response.status_code == 303
    deliver(app)
    rows = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    assert len(rows) == len(signers_)
    for signer, row in zip(signers_, rows, strict=True):
        if signer.state == "pending":
            continue
        token = links.make_token(row, "confirm")
        boxes = signer.ticks(confirming=True)  # the owner's choices on the confirm page
        assert client.post(f"/{SLUG}/confirm/{token}", data=boxes).status_code in (200, 303)
        db.session.expire_all()
        if signer.state == "unsubscribed":
            privacy.unsubscribe(row)
        elif signer.state == "invalidated":
            moderation.invalidate(row, "test")
        elif signer.state == "withdrawn":
            privacy.withdraw(row)
    db.session.commit()
    deliver(app)  # receipts and the rest


def every_decrypt_path(app) -> str:
    """Everything every decrypt path of the project returns on this database, as text."""
    seen: list[str] = []
    content = library().get(SLUG)
    campaign = get_row(content)
    reasons = [getattr(sealed, name) for name in dir(sealed) if name.isupper()]
    reasons = [r for r in reasons if isinstance(r, sealed.Reason)]
    for purpose in sealed.AUDITED_HERE:  # an organizer's audited looks
        reasons.append(
            sealed.look("test", campaign_id=campaign.id, target=None, details={}, purpose=purpose)
        )
    for row in db.session.scalars(select(Signature)):
        for field in sealed.FIELDS:
            for reason in reasons:
                try:
                    seen.append(
                        str(sealed.unseal(reason, field, getattr(row, f"{field}_enc"), row.row_key))
                    )
                except sealed.NotAllowed:
                    pass
        seen.append(repr(sealed.open_signer_copy(row.signer_copy, row.link_secret, row.row_key)))
        seen.append(repr(privacy.data_copy(row)))
        seen.append(repr(privacy.data_copy(row, row.link_secret)))
    for message in db.session.scalars(select(OutboxMessage)):
        if message.payload_enc:
            seen.append(sealed.open_payload(message.payload_enc, message.idempotency_key) or "")
    for preset in export.PRESETS:
        for fmt in ("csv", "jsonl"):
            job = export.build(content, campaign, preset=preset, fmt=fmt, filters=SignerFilter())
            seen.extend(job.chunks)
    seen.extend(repr(item) for item in privacy.delivery_names(campaign.id))
    for comments in (False, True):
        seen.append(repr(public._public_signers(campaign.id, 1000, with_comments=comments)))
    listing = signers.browse(campaign.id, SLUG, SignerFilter())
    seen.append(repr(listing.records))
    search = sealed.look("test.search", campaign_id=campaign.id, target=None, details={})
    matches, _ = signers.fuzzy_matches(campaign.id, SignerFilter(), "e", search, limit=1000)
    seen.append(repr([signers.look_at(campaign.id, m) for m in matches]))
    return "\n".join(seen).lower()


def assert_nothing_sealed(blob: str, signers_: list[Signer], where: str) -> None:
    for signer in signers_:
        for value in signer.sealed_values():
            assert value.lower() not in blob, f"{value!r} ({signer}) readable in {where}"


def seized_copy(app, tmp_path: Path):
    """The thief's app: a copy of the database, the server's whole configuration."""
    config = dict(app.config)
    if not using_postgres():
        db.session.remove()
        db.engine.dispose()
        source = Path(db.engine.url.database)
        copy = tmp_path / "seized.db"
        shutil.copyfile(source, copy)
        for suffix in ("-wal", "-shm"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{copy}"
    keep = {k: v for k, v in config.items() if k.isupper()}
    return create_app(keep)


def raw_bytes(app, tmp_path: Path) -> str:
    if using_postgres():
        pg_dump = shutil.which("pg_dump")
        require(pg_dump is not None, "pg_dump is not installed")
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = subprocess.run([pg_dump, "--no-owner", url], capture_output=True, check=True)
        assert b"COPY public.signatures" in dump.stdout
        return dump.stdout.decode("utf-8", "replace").lower()
    database = Path(db.engine.url.database)
    files = [p for p in (database, Path(f"{database}-wal")) if p.exists()]
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in files).lower()


def test_a_seized_server_reveals_no_signer(client, app, organizer, tmp_path):
    signers_ = make_signers()
    fill(client, app, signers_)

    rows = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    for signer, row in zip(signers_, rows, strict=True):
        sealed_now = (row.organizer_sealed, row.signer_copy, row.link_secret)
        if signer.state == "withdrawn":  # erased: the sealed copies go too
            assert sealed_now == (None, None, None)
        elif signer.state != "pending":
            assert row.organizer_sealed and row.signer_copy and row.link_secret is None

    thief = seized_copy(app, tmp_path)
    with thief.app_context():
        blob = every_decrypt_path(thief)
        # The paths did run: what consents keep readable does come back.
        shown = [s for s in signers_ if s.state == "confirmed" and s.contact]
        assert shown and all(s.email in blob for s in shown)
        published = [s for s in signers_ if s.state == "confirmed" and s.comment_public]
        assert all(s.comment.lower() in blob for s in published)
        assert_nothing_sealed(blob, signers_, "a decrypt path")
        assert_nothing_sealed(raw_bytes(thief, tmp_path), signers_, "the raw database")
        db.session.remove()
        db.engine.dispose()

    # The organizers, with their private key and the export file only.
    key_file = tmp_path / "organizer-private.key"
    key_file.write_bytes(organizer_key.private_pem(organizer))
    exported, opened = tmp_path / "full.csv", tmp_path / "opened.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["export", "--campaign", SLUG, "--preset", "full", "--output", str(exported)]
    )
    assert result.exit_code == 0, result.output
    assert_nothing_sealed(exported.read_text().lower(), signers_, "the export")
    result = runner.invoke(
        args=["export", "open", str(exported), "--key", str(key_file), "--output", str(opened)]
    )
    assert result.exit_code == 0, result.output
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(opened.read_text()))}
    for signer in signers_:
        if signer.readable():
            row = rows[signer.email]
            assert (row["name"], row["comment"]) == (signer.name, signer.comment)


def test_a_seized_server_reveals_no_paper_signer(client, app, organizer, tmp_path):
    """Paper rows (issue 26) are sealed as online names are: a row without an address
    at once; a row with one once its owner answered the paper mail (confirmed, or
    "not me"); only what a consent keeps (a contact-consent address) stays readable."""
    specs = [  # (tag, email?, contact ticked, what the owner does: none | confirm | not-me)
        ("pa", False, False, "none"),
        ("pb", True, True, "confirm"),
        ("pc", True, False, "confirm"),
        ("pd", True, True, "not-me"),
    ]
    made = []
    for number, (tag, has_email, contact, _) in enumerate(specs, 1):
        email = f"paper.{tag}@example.org" if has_email else ""
        ticked = frozenset({"delivery"} | ({"contact"} if contact else set()))
        row, problems = entry.read_row(number, f"Parvin Qz{tag}zadeh", "SE", email, ticked)
        assert not problems
        made.append(row)
    entry.enter(SLUG, get_row(library().get(SLUG)).id, sheet_codes.sheet_code(SLUG, 4), "en", made)
    deliver(app)
    rows = db.session.scalars(select(Signature).order_by(Signature.sheet_row)).all()
    assert rows[0].name_enc is None and rows[0].organizer_sealed  # sealed at once
    for (_tag, _, contact, action), row in zip(specs, rows, strict=True):
        token = links.make_token(row, "paper") if row.link_nonce else None
        if action == "confirm":
            data = {"contact_consent": "y"} if contact else {}
            assert client.post(f"/{SLUG}/paper/{token}", data=data).status_code == 303
        elif action == "not-me":
            assert client.post(f"/{SLUG}/paper/{token}/not-me").status_code == 200
    db.session.expire_all()
    sealed_values = ["qzpazadeh", "qzpbzadeh", "qzpczadeh", "qzpdzadeh", "paper.pc@", "paper.pd@"]

    thief = seized_copy(app, tmp_path)
    with thief.app_context():
        blob = every_decrypt_path(thief)
        assert "paper.pb@example.org" in blob  # kept readable under its contact consent
        for value in sealed_values:
            assert value not in blob, f"{value!r} readable in a decrypt path"
        raw = raw_bytes(thief, tmp_path)
        for value in sealed_values:
            assert value not in raw, f"{value!r} readable in the raw database"
        db.session.remove()
        db.engine.dispose()

    key_file = tmp_path / "organizer-private.key"
    key_file.write_bytes(organizer_key.private_pem(organizer))
    exported, opened = tmp_path / "full.csv", tmp_path / "opened.csv"
    runner = app.test_cli_runner()
    args = ["export", "--campaign", SLUG, "--preset", "full", "--output", str(exported)]
    assert runner.invoke(args=args).exit_code == 0
    args = ["export", "open", str(exported), "--key", str(key_file), "--output", str(opened)]
    assert runner.invoke(args=args).exit_code == 0
    names = {row["name"] for row in csv.DictReader(io.StringIO(opened.read_text()))}
    assert {f"Parvin Qz{tag}zadeh" for tag, *_ in specs} <= names
    assert "paper.pd@example.org" not in opened.read_text()  # "not me": gone for good


def test_an_unanswered_paper_address_is_sealed_at_the_online_expiry(client, app, tmp_path):
    """A paper row whose owner never answers the paper mail keeps its name and address
    readable only as long as a pending online submission (CONFIRM_EXPIRY_DAYS): then
    `flask signatures purge` seals it like a confirmed one. It still counts as paper,
    its withdraw link still works, its paper link no longer does."""
    made = []
    for number, tag in enumerate(("pf", "pg"), 1):
        row, problems = entry.read_row(
            number, f"Parvin Qz{tag}zadeh", "SE", f"paper.{tag}@example.org", {"contact"}
        )
        assert not problems
        made.append(row)
    campaign_id = get_row(library().get(SLUG)).id
    entry.enter(SLUG, campaign_id, sheet_codes.sheet_code(SLUG, 5), "en", made)
    deliver(app)
    unanswered, answered = db.session.scalars(select(Signature).order_by(Signature.sheet_row))
    unanswered_id = unanswered.id
    paper_path = f"/{SLUG}/paper/{links.make_token(unanswered, 'paper')}"
    withdraw_path = f"/{SLUG}/withdraw/{links.make_token(unanswered, 'withdraw')}"
    answer = client.post(f"/{SLUG}/paper/{links.make_token(answered, 'paper')}", data={})
    assert answer.status_code == 303
    runner = app.test_cli_runner()
    assert "closed 0 unanswered" in runner.invoke(args=["signatures", "purge"]).output
    assert "qzpfzadeh" in every_decrypt_path(app)  # readable while the mail waits
    expiry = timedelta(days=app.config["CONFIRM_EXPIRY_DAYS"], hours=1)
    for row in (unanswered, answered):  # SQLite can't subtract in SQL: set each in Python
        db.session.get(Signature, row.id).created_at = row.created_at - expiry
    db.session.commit()

    assert "closed 1 unanswered" in runner.invoke(args=["signatures", "purge"]).output
    db.session.expire_all()
    thief = seized_copy(app, tmp_path)
    with thief.app_context():
        blob = every_decrypt_path(thief)
        for value in ("qzpfzadeh", "paper.pf@", "qzpgzadeh", "paper.pg@"):
            assert value not in blob, f"{value!r} readable in a decrypt path"
        db.session.remove()
        db.engine.dispose()
    row = db.session.get(Signature, unanswered_id)
    assert row.counted and row.on_paper and row.organizer_sealed and not row.contact_consent
    assert row.email_enc is row.name_enc is row.link_secret is None
    assert counting.parts(campaign_id, fresh=True).paper == 2
    assert client.get(paper_path).status_code == 404
    assert client.get(withdraw_path).status_code == 200
