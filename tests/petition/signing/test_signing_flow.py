"""Signing end to end through the test client, with mail caught by a real SMTP server."""

import re
from datetime import timedelta

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature, SignatureStatus
from campaign.services.pages import cache, counting
from tests.helpers import SLUG, deliver, sign, sign_data


def count(client) -> str:
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    start = html.index('<p class="count"><strong>') + len('<p class="count"><strong>')
    return html[start : html.index("</strong>", start)]


def confirm_link_path(link: str) -> str:
    return link.replace("http://petition.test", "")


def test_sign_confirm_and_count(client, app, mailbox):
    response = sign(client, email="Maryam@Example.org")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{SLUG}/check-inbox"
    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)

    assert deliver(app) == 1
    [message] = mailbox.to("Maryam@example.org")
    assert "confirm" in message["Subject"].lower()
    assert message["Message-ID"]
    [link] = mailbox.links(message, "confirm")
    assert link.startswith("http://petition.test/en/")  # absolute, from BASE_URL
    assert mailbox.links(message, "withdraw")

    page = client.get(confirm_link_path(link))
    assert page.status_code == 200
    assert "Confirm my signature" in page.get_data(as_text=True)
    assert count(client) == "0"  # opening the link (as a mail scanner would) changes nothing

    confirmed = client.post(confirm_link_path(link))
    assert confirmed.status_code == 303
    thanks = client.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "Thank you" in thanks
    assert "?ref=" in thanks
    cache.signatures_changed()
    assert count(client) == "1"

    again = client.post(confirm_link_path(link))
    assert again.status_code == 200  # confirming twice is harmless
    cache.signatures_changed()
    assert count(client) == "1"


def test_repeat_signing_gives_the_same_answer_and_its_own_link(client, app, mailbox):
    first = sign(client, email="reza@example.org")
    second = sign(client, email="  REZA@Example.ORG ", name="Someone Else")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(db.func.count(Signature.id))) == 2  # one per submission
    deliver(app)
    kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["confirm", "confirm"]
    one, two = mailbox.messages  # each to the address as typed with it
    assert mailbox.links(one, "confirm") != mailbox.links(two, "confirm")


def test_repeat_mails_are_capped(client, app, mailbox):
    app.config["ALREADY_SIGNED_MAIL_LIMIT"] = 2
    for _ in range(5):
        assert sign(client, email="cap@example.org").status_code == 303
    assert deliver(app) == 1 + 2
    assert db.session.scalar(select(db.func.count(Signature.id))) == 1 + 2  # the rest deleted


def post_link(client, path: str):
    return client.post(path)  # public POSTs carry no session token (origin-checked)


def test_consent_hijack_stranger_cannot_publish_owner(client, app, mailbox):
    """Issue 9.1: a stranger signs the owner's address first, public, with a comment;
    the owner then signs with their own name and no consent. Confirming the owner's
    mail must publish nothing of the stranger's (it used to confirm the earlier row)."""
    sign(
        client,
        email="owner@example.org",
        name="Stranger Chosenname",
        public_consent="y",
        comment="Stranger's words",
        comment_consent="y",
    )
    sign(client, email="owner@example.org", name="Owner Realname")
    deliver(app)
    strangers, owners = mailbox.to("owner@example.org")
    owner_link = confirm_link_path(mailbox.links(owners, "confirm")[0])
    preview = client.get(owner_link).get_data(as_text=True)
    assert "Owner Realname" in preview and "Stranger" not in preview
    assert post_link(client, owner_link).status_code == 303
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Stranger" not in page and "Owner" not in page  # the owner chose not to be shown
    # The stranger's submission went with the owner's confirmation; its link is dead.
    assert db.session.scalar(select(db.func.count(Signature.id))) == 1
    stranger_link = confirm_link_path(mailbox.links(strangers, "confirm")[0])
    assert "Stranger" not in client.get(stranger_link).get_data(as_text=True)


def test_confirm_page_shows_what_it_publishes_and_a_stranger_submission_can_be_discarded(
    client, app, mailbox
):
    sign(
        client,
        email="victim@example.org",
        name="Impostor Words",
        public_consent="y",
        comment="Words I never wrote",
        comment_consent="y",
    )
    deliver(app)
    link = confirm_link_path(mailbox.links(mailbox.to("victim@example.org")[0], "confirm")[0])
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    start = html.index('class="confirm-preview"')
    # The preview, the choices, the confirm button, then discarding, set apart (issue 24.1).
    preview = html[start : html.index("This is not me: discard it</button>")]
    assert preview.index("Confirm my signature</button>") < preview.index('class="discard"')
    for shown in (
        "Impostor Words",
        "<bdi>Impostor W.</bdi>",
        "Germany",
        "Words I never wrote",
        "Your comment is published on the petition page, to everyone",
        "Not what you sent, or not you at all?",
    ):
        assert shown in preview, shown
    # What the submission ticked is shown ticked, for the owner to untick (H1).
    for field, ticked in (
        ("public_consent", True),
        ("comment_consent", True),
        ("contact_consent", False),
    ):
        box = re.search(rf'<input[^>]*name="{field}"[^>]*>', preview).group(0)
        assert ("checked" in box) is ticked, field
    discarded = post_link(client, link + "/discard")
    assert discarded.status_code == 200 and discarded.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(select(db.func.count(Signature.id))) == 0
    assert post_link(client, link).status_code == 404  # nothing left to confirm


def test_confirming_one_submission_deletes_the_addresss_other_pending_ones(client, app, mailbox):
    sign(client, email="twice@example.org", name="First Try")
    sign(client, email="twice@example.org", name="Second Try")
    deliver(app)
    one, two = (
        confirm_link_path(mailbox.links(m, "confirm")[0]) for m in mailbox.to("twice@example.org")
    )
    first_id = db.session.scalars(select(Signature.id).order_by(Signature.id)).first()
    assert post_link(client, one).status_code == 303
    assert db.session.scalars(select(Signature.id)).all() == [first_id]
    # Its row went with the first confirmation; its link answers "already confirmed".
    assert post_link(client, two).status_code == 200
    cache.signatures_changed()
    assert count(client) == "1"


def test_repeated_signing_second_link_answers_already_confirmed_not_invalid(client, app, mailbox):
    """Issue 22.8: once an address's first submission was confirmed, the second
    submission's mailed link answered "invalid link" (404), where docs/routes.md
    promises "already confirmed". It does now, on the GET page and the POST (the fast
    path hands it to the view), and again on a second click; it changes nothing, and
    only that link's holder sees it: the same id with a wrong HMAC is still invalid."""
    sign(client, email="repeat@example.org", name="First Try")
    sign(client, email="repeat@example.org", name="Second Try")
    deliver(app)
    one, two = (
        confirm_link_path(mailbox.links(m, "confirm")[0]) for m in mailbox.to("repeat@example.org")
    )
    assert post_link(client, one).status_code == 303
    for _ in range(2):
        page = client.get(two)
        assert page.status_code == 200
        assert "Confirm my signature" not in page.get_data(as_text=True)  # no button
        assert post_link(client, two).status_code == 200
    # The same "already" page as the confirmed link's own (but for the link in its URLs).
    first = client.get(one).get_data(as_text=True).replace(one.rsplit("/", 1)[1], "T")
    assert client.get(two).get_data(as_text=True).replace(two.rsplit("/", 1)[1], "T") == first
    forged = two[:-1] + ("A" if not two.endswith("A") else "B")
    assert client.get(forged).status_code == 404
    assert post_link(client, forged).status_code == 404
    cache.signatures_changed()
    assert count(client) == "1"
    assert db.session.scalar(select(db.func.count(Signature.id))) == 1


def test_invalid_input_is_shown_next_to_fields_and_kept(client, app):
    response = sign(
        client, name="=HYPERLINK(1)", email="not-an-email", country="XX", comment="my comment"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="name-error"' in html
    assert 'value="not-an-email"' in html  # what was typed is kept
    assert "my comment" in html
    assert db.session.scalar(select(db.func.count(Signature.id))) == 0


def test_email_error_is_next_to_its_field(client):
    html = sign(client, email="nobody@@example.org").get_data(as_text=True)
    assert 'id="email-error"' in html


def test_name_in_any_script_is_accepted(client, app):
    for i, name in enumerate(["مریم احمدی", "Zoë O’Brien-Łukasz", "李小龍", "نگار\u200cسادات"]):
        response = sign(client, name=name, email=f"script{i}@example.org")
        assert response.status_code == 303, name


def test_cross_site_sign_post_is_refused_with_a_message(client, app):
    data = sign_data(client)
    response = client.post(f"/{SLUG}/sign", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "sent from another website" in html
    assert db.session.scalar(select(db.func.count(Signature.id))) == 0  # nothing written


def test_tampered_token_is_404_and_expired_is_410(client, app):
    sign(client, email="late@example.org")
    signature = db.session.scalars(select(Signature)).one()
    from campaign.services.intake import links

    token = links.make_token(signature, "confirm")
    assert client.get(f"/{SLUG}/confirm/{token[:-1]}x").status_code == 404
    assert client.get(f"/{SLUG}/confirm/garbage").status_code == 404
    assert client.get(f"/{SLUG}/confirm/{token}").status_code == 200

    signature.created_at -= timedelta(days=30)
    db.session.commit()
    assert client.get(f"/{SLUG}/confirm/{token}").status_code == 410
    response = client.post(f"/{SLUG}/confirm/{token}")
    assert response.status_code == 410
    assert db.session.get(Signature, signature.id).status == SignatureStatus.PENDING


def test_withdraw_erases_and_uncounts(client, app, mailbox):
    sign(client, email="leave@example.org", comment="a comment")
    deliver(app)
    [message] = mailbox.to("leave@example.org")
    confirm = confirm_link_path(mailbox.links(message, "confirm")[0])
    withdraw = confirm_link_path(mailbox.links(message, "withdraw")[0])
    client.post(confirm)
    assert counting.confirmed_count(1, fresh=True) == 1

    assert client.get(withdraw).status_code == 200
    assert client.post(withdraw).status_code == 200
    signature = db.session.scalars(select(Signature)).one()
    assert signature.status == SignatureStatus.WITHDRAWN
    assert signature.email_enc is None and signature.name_enc is None
    assert signature.comment_enc is None and signature.dedup_key is None
    assert counting.confirmed_count(1, fresh=True) == 0
    assert client.get(withdraw).status_code == 404  # the link is dead, like any bad link
    assert sign(client, email="leave@example.org").status_code == 303  # may sign again


def test_closed_campaign_shows_final_count_and_no_form(client, app, tmp_path):
    import shutil

    from tests.helpers import ROOT

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    toml = content / SLUG / "campaign.toml"
    toml.write_text(toml.read_text().replace("closes = 2027-07-31", "closes = 2020-01-01"))
    from campaign.services.pages.content import ContentLibrary

    app.extensions["campaign.content"] = ContentLibrary(content)
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "This petition is closed" in html
    assert 'action="/1988-massacre-inquiry/sign"' not in html
    assert client.post(f"/{SLUG}/sign", data={}).status_code in (400, 409)
