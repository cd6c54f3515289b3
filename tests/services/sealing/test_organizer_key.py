"""The organizers' key (issue 23): key generation, what confirming leaves readable, the
signer's own sealed copy, the offline tools (export open, reseal, the delivery names),
and the start-up rules."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

import campaign
from campaign import create_app
from campaign.extensions import db
from campaign.models import Campaign, NameToken, Signature
from campaign.organizer_guard import OrganizerKeyUnsafe
from campaign.services.intake import links
from campaign.services.sealing import index_retention, organizer_key
from campaign.services.signer_data import public, signers
from campaign.services.signer_data.signers import SignerFilter
from tests.admin.exports.test_delivery_pack import pdf_text
from tests.helpers import SLUG, content_with_contact, deliver, sign, test_config
from tests.services.sealing.test_envelopes import v1_token

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def organizer():
    return organizer_key.generate()


@pytest.fixture
def app_config(database_url, organizer):
    return test_config(database_url, ORGANIZER_PUBLIC_KEY=organizer_key.public_text(organizer))


def signed_and_confirmed(client, app, boxes: dict | None = None, **fields) -> Signature:
    """Signed with `fields`, mailed (so sealed), confirmed with the owner's `boxes` (by
    default the ones the sign form ticked, kept on the confirm page, issue 21.1)."""
    assert sign(client, **fields).status_code == 303
    deliver(app)
    row = db.session.scalars(select(Signature).order_by(Signature.id.desc())).first()
    if boxes is None:
        boxes = {name: value for name, value in fields.items() if name.endswith("_consent")}
    token = links.make_token(row, "confirm")
    assert client.post(f"/{SLUG}/confirm/{token}", data=boxes).status_code == 303
    db.session.expire_all()
    return db.session.get(Signature, row.id)


def test_keygen_writes_the_key_a_printed_copy_and_says_loss_loses_the_names(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["keys", "organizer-keygen", "--dir", str(tmp_path), "--passphrase-stdin"],
        input=PASSPHRASE + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "lost for good" in result.output
    public = re.search(r"ORGANIZER_PUBLIC_KEY=(\S+)", result.output).group(1)
    key_file = tmp_path / "organizer-private.key"
    printed = tmp_path / "organizer-private-printable.txt"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert organizer_key.public_text(organizer_key.load_private_file(key_file)) == public
    assert b"ENCRYPTED PRIVATE KEY" in printed.read_bytes()
    assert organizer_key.public_text(organizer_key.load_private_file(printed, PASSPHRASE)) == public
    with pytest.raises(organizer_key.OrganizerKeyError):
        organizer_key.load_private_file(printed, "not the passphrase")
    again = app.test_cli_runner().invoke(
        args=["keys", "organizer-keygen", "--dir", str(tmp_path), "--passphrase-stdin"],
        input=PASSPHRASE + "\n",
    )
    assert again.exit_code != 0 and "never overwritten" in again.output


def test_confirming_keeps_readable_only_what_a_consent_needs(client, app):
    quiet = signed_and_confirmed(
        client, app, name="Parvaneh Kazemi", email="parvaneh@example.org", comment="For Ali"
    )
    assert quiet.organizer_sealed.startswith("o2.")
    assert (quiet.name_enc, quiet.email_enc, quiet.comment_enc, quiet.link_secret) == (None,) * 4
    assert quiet.display_enc is None
    consenting = signed_and_confirmed(
        client,
        app,
        name="Dariush Farahani",
        email="dariush@example.org",
        comment="Never forget",
        public_consent="y",
        contact_consent="y",
        comment_consent="y",
    )
    assert consenting.name_enc is None and consenting.link_secret is None
    assert consenting.email_enc and consenting.comment_enc and consenting.display_enc
    shown = public._public_signers(consenting.campaign_id, 10, with_comments=False)
    assert [s.name for s in shown] == ["Dariush F."]


EVERY_BOX = {"public_consent": "y", "contact_consent": "y", "comment_consent": "y"}


def test_a_sealed_row_keeps_readable_what_the_owner_ticks_at_confirm_not_the_sign_form(client, app):
    # Every box ticked on the sign form, none left ticked by the owner: nothing stays.
    unticked = signed_and_confirmed(
        client,
        app,
        {},
        name="Parvaneh Kazemi",
        email="parvaneh@example.org",
        comment="Ali",
        **EVERY_BOX,
    )
    assert not (unticked.public_consent or unticked.contact_consent or unticked.comment_consent)
    assert (unticked.name_enc, unticked.email_enc, unticked.comment_enc) == (None,) * 3
    assert unticked.display_enc is None
    # No box on the sign form, every one ticked by the owner: the display, the address
    # and the comment stay readable, and the public list shows the display.
    ticked = signed_and_confirmed(
        client,
        app,
        EVERY_BOX,
        name="Dariush Farahani",
        email="dariush@example.org",
        comment="Never forget",
    )
    assert ticked.name_enc is None
    assert ticked.email_enc and ticked.comment_enc and ticked.display_enc
    shown = public._public_signers(ticked.campaign_id, 10, with_comments=True)
    assert [(s.name, s.comment) for s in shown] == [("Dariush F.", "Never forget")]


def test_taking_back_a_consent_drops_what_it_kept_readable_on_a_sealed_row(client, app):
    row = signed_and_confirmed(
        client,
        app,
        name="Dariush Farahani",
        email="dariush@example.org",
        comment="Never",
        **EVERY_BOX,
    )
    token = links.make_token(row, "data")
    for key, column in (("public", "display_enc"), ("comment", "comment_enc")):
        response = client.post(f"/{SLUG}/my-data/{token}/withdraw-consent/{key}")
        assert response.status_code == 303
        db.session.expire_all()
        assert getattr(db.session.get(Signature, row.id), column) is None
    assert public._public_signers(row.campaign_id, 10, with_comments=True) == []
    response = client.post(f"/{SLUG}/my-data/{token}/withdraw-consent/contact")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Signature, row.id).email_enc is None
    assert db.session.get(Signature, row.id).organizer_sealed  # the organizers' copy stays


def test_exact_email_search_finds_a_sealed_signer_through_the_blind_index(client, app, users):
    row = signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="parvaneh@example.org")
    listing = signers.browse(row.campaign_id, SLUG, SignerFilter(q="Parvaneh@Example.org"))
    assert [r.id for r in listing.records] == [row.id]
    assert listing.records[0].sealed and listing.records[0].name is None


def test_the_signer_link_opens_their_sealed_copy_and_a_thief_without_it_cannot(
    client, app, mailbox
):
    assert sign(client, name="Parvaneh Kazemi", email="parvaneh@example.org").status_code == 303
    deliver(app)
    body = mailbox.messages[-1].get_body(("plain",)).get_content()
    data_url = re.search(r"http://petition\.test(/en/\S+/my-data/\S+)", body).group(1)
    assert "?k=" in data_url
    row = db.session.scalars(select(Signature)).one()
    assert client.post(f"/{SLUG}/confirm/{links.make_token(row, 'confirm')}").status_code == 303
    db.session.expire_all()
    assert row.link_secret is None  # the server no longer holds the secret
    with_link = client.get(data_url).get_data(as_text=True)
    assert "Parvaneh Kazemi" in with_link and "parvaneh@example.org" in with_link
    without = client.get(data_url.split("?")[0]).get_data(as_text=True)
    assert "Parvaneh" not in without and "sealed" in without
    wrong = client.get(data_url.split("?")[0] + "?k=" + "A" * 22).get_data(as_text=True)
    assert "Parvaneh" not in wrong


def test_reseal_moves_old_rows_to_the_new_key(client, app, organizer, tmp_path):
    signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="parvaneh@example.org")
    new = organizer_key.generate()
    app.config["ORGANIZER_PUBLIC_KEY"] = organizer_key.public_text(new)
    signed_and_confirmed(client, app, name="Dariush Farahani", email="dariush@example.org")
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old_file.write_bytes(organizer_key.private_pem(organizer))
    new_file.write_bytes(organizer_key.private_pem(new))
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["keys", "reseal", "--old-key", str(old_file), "--new-key", str(new_file)]
    )
    assert result.exit_code == 0, result.output
    assert "resealed 1, already under the new key 1" in result.output
    exported, opened = tmp_path / "full.csv", tmp_path / "opened.csv"
    runner.invoke(
        args=["export", "--campaign", SLUG, "--preset", "full", "--output", str(exported)]
    )
    result = runner.invoke(
        args=["export", "open", str(exported), "--key", str(new_file), "--output", str(opened)]
    )
    assert result.exit_code == 0, result.output
    names = {row["name"] for row in csv.DictReader(io.StringIO(opened.read_text()))}
    assert names == {"Parvaneh Kazemi", "Dariush Farahani"}


def test_reseal_moves_rows_sealed_before_envelopes(client, app, organizer, tmp_path):
    old_format = signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="p@example.org")
    plain = organizer_key.Opener([organizer]).open_raw(
        old_format.organizer_sealed, old_format.row_key
    )
    old_format.organizer_sealed = v1_token(organizer.public_key(), plain, old_format.row_key)
    db.session.commit()
    key_file = tmp_path / "old.key"
    key_file.write_bytes(organizer_key.private_pem(organizer))
    new = organizer_key.generate()
    new_file = tmp_path / "new.key"
    new_file.write_bytes(organizer_key.private_pem(new))
    result = app.test_cli_runner().invoke(
        args=["keys", "reseal", "--old-key", str(key_file), "--new-key", str(new_file)]
    )
    assert result.exit_code == 0, result.output
    assert "resealed 1, already under the new key 0" in result.output
    db.session.expire_all()
    row = db.session.get(Signature, old_format.id)
    assert row.organizer_sealed.startswith(f"o2.{organizer_key.key_id(new)}.")
    assert organizer_key.Opener([new]).open_raw(row.organizer_sealed, row.row_key) == plain


def test_export_open_with_the_printed_copy_and_its_passphrase(client, app, organizer, tmp_path):
    signed_and_confirmed(
        client, app, name="Parvaneh Kazemi", email="parvaneh@example.org", comment="=cmd"
    )
    printed = tmp_path / "printed.txt"
    printed.write_text(organizer_key.printable_copy(organizer, PASSPHRASE))
    exported = tmp_path / "full.csv"
    runner = app.test_cli_runner()
    runner.invoke(
        args=["export", "--campaign", SLUG, "--preset", "full", "--output", str(exported)]
    )
    assert "Parvaneh" not in exported.read_text()
    result = runner.invoke(
        args=["export", "open", str(exported), "--key", str(printed), "--passphrase-stdin"],
        input=PASSPHRASE + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Parvaneh Kazemi" in result.output
    assert "'=cmd" in result.output  # neutralized against formula injection, as the server does


def test_the_files_the_commands_write_are_their_owners_alone(client, app, organizer, tmp_path):
    """An export, an opened export: names and addresses, mode 0600 whatever the umask
    (0644 let every account on the organizer's computer read them)."""
    signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="parvaneh@example.org")
    key_file, exported, opened = tmp_path / "k.key", tmp_path / "e.csv", tmp_path / "o.csv"
    key_file.write_bytes(organizer_key.private_pem(organizer))
    runner = app.test_cli_runner()
    old = os.umask(0o022)
    try:
        export = ["export", "--campaign", SLUG, "--preset", "full", "--output", str(exported)]
        assert runner.invoke(args=export).exit_code == 0
        open_args = ["export", "open", str(exported), "--key", str(key_file)]
        assert runner.invoke(args=[*open_args, "--output", str(opened)]).exit_code == 0
    finally:
        os.umask(old)
    assert "Parvaneh Kazemi" in opened.read_text()
    assert exported.stat().st_mode & 0o777 == 0o600
    assert opened.stat().st_mode & 0o777 == 0o600


def test_server_pack_counts_sealed_names_and_the_offline_pack_lists_them(
    client, app, organizer, tmp_path
):
    signed_and_confirmed(
        client, app, name="Parvaneh Kazemi", email="parvaneh@example.org", delivery_consent="y"
    )
    key_file = tmp_path / "organizer.key"
    key_file.write_bytes(organizer_key.private_pem(organizer))
    exported, pack = tmp_path / "delivery.csv", tmp_path / "names.pdf"
    runner = app.test_cli_runner()
    runner.invoke(
        args=["export", "--campaign", SLUG, "--preset", "delivery", "--output", str(exported)]
    )
    assert "Parvaneh" not in exported.read_text()
    args = ["delivery", "pack", "--campaign", SLUG, "--from-export", str(exported)]
    result = runner.invoke(args=[*args, "--key", str(key_file), "--output", str(pack)])
    assert result.exit_code == 0, result.output
    assert "1 named signer\n" in result.output
    offline = pdf_text(pack.read_bytes(), tmp_path)
    assert "Parvaneh Kazemi" in offline
    # Its own covering letter (issue 24 §15): addressee and petition, then the table.
    cover = offline.split("\f")[0]
    assert "Secretary-General" in cover and "1 named signer" in cover
    assert re.search(r"\b1\s+Parvaneh Kazemi", offline)
    server = runner.invoke(args=["delivery", "pack", "--campaign", SLUG, "--output", str(pack)])
    assert server.exit_code == 0, server.output
    assert "1 named" in server.output  # counted on the server; the name is not there
    text = pdf_text(pack.read_bytes(), tmp_path)
    assert "Parvaneh" not in text
    assert "not printed here: it is in the separate list of names" in " ".join(text.split())


@pytest.mark.parametrize("production", [{"BASE_URL": "https://petition.example"}, "REQUIRE"])
def test_production_refuses_to_start_without_the_organizer_key(
    database_url, monkeypatch, production
):
    settings = {"SMTP_URL": "smtp://mail.example.net:587", "ORGANIZER_PUBLIC_KEY": ""}
    if production == "REQUIRE":
        monkeypatch.setenv("REQUIRE_SECRETS", "1")
    else:
        settings.update(production)
    with pytest.raises(OrganizerKeyUnsafe, match="ORGANIZER_PUBLIC_KEY is not set"):
        create_app(test_config(database_url, **settings))


def test_production_refuses_to_start_with_a_readable_private_key(
    database_url, organizer, monkeypatch, tmp_path
):
    settings = test_config(
        database_url,
        BASE_URL="https://petition.example",
        SMTP_URL="smtp://mail.example.net:587",
        ORGANIZER_PUBLIC_KEY=organizer_key.public_text(organizer),
        # Production also needs the organizers' real address (not the placeholder).
        CONTENT_DIR=content_with_contact(tmp_path / "content"),
    )
    # An instance folder of its own: `make run` leaves a development pair in the
    # checkout's instance/, which this very check refuses (rightly) in production.
    monkeypatch.setattr(campaign, "INSTANCE_DIR", tmp_path / "instance")
    create_app(settings)  # the public key alone: it starts
    monkeypatch.chdir(tmp_path)
    (tmp_path / "organizer-private.key").write_bytes(organizer_key.private_pem(organizer))
    with pytest.raises(OrganizerKeyUnsafe, match="readable by the app"):
        create_app(settings)
    os.chmod(tmp_path / "organizer-private.key", 0o000)
    if os.access(tmp_path / "organizer-private.key", os.R_OK):  # root reads anything
        with pytest.raises(OrganizerKeyUnsafe):
            create_app(settings)
    pasted = {**settings, "ORGANIZER_PUBLIC_KEY": organizer_key.private_pem(organizer).decode()}
    (tmp_path / "organizer-private.key").unlink()
    with pytest.raises(OrganizerKeyUnsafe):
        create_app(pasted)


def test_a_closed_campaigns_blind_indexes_are_deleted_after_the_retention_period(client, app):
    row = signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="parvaneh@example.org")
    campaign = db.session.get(Campaign, row.campaign_id)
    days = app.config["BLIND_INDEX_RETENTION_DAYS"]
    recent = date.today() - timedelta(days=days - 1)
    assert index_retention.purge_blind_indexes(campaign, recent) == 0  # not yet
    assert db.session.get(Signature, row.id).dedup_key is not None
    long_ago = date.today() - timedelta(days=days + 1)
    assert index_retention.purge_blind_indexes(campaign, long_ago) == 1
    assert index_retention.purge_blind_indexes(campaign, long_ago) == 0  # safe to run again
    db.session.expire_all()
    kept = db.session.get(Signature, row.id)
    assert (kept.dedup_key, kept.email_domain_hash, kept.ip_hash) == (None, None, None)
    assert db.session.scalar(select(func.count(NameToken.signature_id))) == 0
    assert kept.organizer_sealed and kept.status == "confirmed"  # sealed copy and count kept
    result = app.test_cli_runner().invoke(args=["campaign", "purge-indexes", "--slug", SLUG])
    assert result.exit_code == 0 and "from 0 signatures" in result.output


def test_a_sealed_signer_who_signs_again_still_gets_the_already_signed_note(client, app, mailbox):
    row = signed_and_confirmed(client, app, name="Parvaneh Kazemi", email="parvaneh@example.org")
    assert row.email_enc is None  # no contact consent: the address is sealed
    mailbox.messages.clear()
    assert sign(client, name="Parvaneh K", email="Parvaneh@example.org").status_code == 303
    deliver(app)
    assert [m["To"] for m in mailbox.messages] == ["Parvaneh@example.org"]
    assert "already signed" in mailbox.messages[0]["Subject"]
    assert db.session.scalar(select(func.count(Signature.id))) == 1  # the repeat is gone
