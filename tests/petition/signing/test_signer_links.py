"""The signer's own links: the data copy, the resend form, and their rate limits."""

import json

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services.intake import links
from campaign.services.letters.mail_requests import RESEND
from tests.helpers import SLUG, deliver, hidden_fields, sign


def outbox_kinds() -> list[str]:
    return db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()


def resend(client, email: str):
    page = client.get(f"/{SLUG}/check-inbox")
    data = hidden_fields(page.get_data(as_text=True))
    data["email"] = email
    return client.post(f"/{SLUG}/resend", data=data)


# --- data copy ------------------------------------------------------------------


def test_mail_footer_links_to_the_data_copy(client, app, mailbox):
    response = sign(
        client, email="copy@example.org", name="Roya Karimi", comment="<script>x</script>"
    )
    assert response.status_code == 303
    deliver(app)
    [message] = mailbox.to("copy@example.org")
    [link] = mailbox.links(message, "my-data")
    html = message.get_body(("html",)).get_content()
    assert "/my-data/" in html
    path = link.replace("http://petition.test", "")
    page = client.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "copy@example.org" in body and "Germany" in body
    assert "waiting for your confirmation" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body and "<script>x" not in body
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_data_copy_as_json_download(client, app):
    sign(
        client,
        email="json@example.org",
        name="Sara Tehrani",
        comment="For my uncle",
        public_consent="y",
    )
    signature = db.session.scalars(select(Signature)).one()
    token = links.make_token(signature, "data")
    response = client.get(f"/{SLUG}/my-data/{token}?format=json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["email"] == "json@example.org"
    assert data["name"] == "Sara Tehrani"
    assert data["comment"] == "For my uncle"
    assert data["country"] == "DE"
    assert data["status"] == "pending"
    assert "counted" not in data  # issue 9.18: no shadow flag in the signer's copy
    assert data["show_name_publicly"] is True
    assert data["consent_wording"]["public"].startswith("Show my first name")
    assert data["mails_waiting"] == 1
    assert data["keyed_hashes"]["email"] is True
    assert data["keyed_hashes"]["name_words"] == 2


def test_data_copy_refuses_other_tokens_and_dies_with_the_signature(client, app):
    sign(client, email="gone@example.org")
    signature = db.session.scalars(select(Signature)).one()
    data = links.make_token(signature, "data")
    for other in ("confirm", "withdraw", "unsubscribe"):  # wrong purpose
        wrong = links.make_token(signature, other)
        assert client.get(f"/{SLUG}/my-data/{wrong}").status_code == 404
    tampered = data[:-1] + ("1" if data[-1] == "0" else "0")
    assert client.get(f"/{SLUG}/my-data/{tampered}").status_code == 404
    assert client.get(f"/{SLUG}/my-data/nonsense").status_code == 404
    assert client.get(f"/{SLUG}/my-data/{data}").status_code == 200
    client.post(f"/{SLUG}/withdraw/{links.make_token(signature, 'withdraw')}")
    response = client.get(f"/{SLUG}/my-data/{data}")
    assert response.status_code == 404
    assert "gone@example.org" not in response.get_data(as_text=True)


def test_every_signer_link_page_is_no_store_and_no_referrer(client, app, mailbox):
    """Before, the confirm page had no `Cache-Control: no-store` and sent
    `Referrer-Policy: strict-origin-when-cross-origin`. Walk every page a mail link
    reaches, its POST result, the redirect and the dead-link answer."""
    sign(client, email="walk@example.org", contact_consent="y")
    deliver(app)
    [message] = mailbox.to("walk@example.org")
    local = {
        kind: mailbox.links(message, kind)[0].replace("http://petition.test", "")
        for kind in ("confirm", "withdraw", "my-data")
    }
    signature = db.session.scalars(select(Signature)).one()
    unsubscribe = f"/en/{SLUG}/unsubscribe/{links.make_token(signature, 'unsubscribe')}"
    confirmed = client.post(local["confirm"])
    responses = {
        "confirm GET": client.get(local["confirm"]),
        "confirm POST (redirect)": confirmed,
        "confirm result": client.get(confirmed.headers["Location"]),
        "my-data GET": client.get(local["my-data"]),
        "my-data JSON": client.get(local["my-data"] + "?format=json"),
        "unsubscribe GET": client.get(unsubscribe),
        "unsubscribe POST": client.post(unsubscribe),
        "withdraw GET": client.get(local["withdraw"]),
        "withdraw POST": client.post(local["withdraw"]),
        "dead withdraw link": client.get(local["withdraw"]),
        "dead confirm link": client.get(local["confirm"]),
        "forged my-data link": client.get(f"/{SLUG}/my-data/1-{'0' * 40}"),
        "wrong method": client.put(local["confirm"]),
    }
    assert confirmed.status_code == 303 and responses["withdraw POST"].status_code == 200
    for name, response in responses.items():
        assert response.headers.get("Cache-Control") == "no-store", name
        assert response.headers.get("Referrer-Policy") == "no-referrer", name


def test_forged_link_does_not_reveal_erased_ids(client, app):
    """A forger who tries ids gets one answer whether an id is unknown, erased or
    withdrawn: before, an erased id gave 410 and an unknown one 404."""
    from campaign.services.signer_data import privacy

    for n in range(3):
        sign(client, email=f"forge{n}@example.org")
    live, withdrawn, erased = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    privacy.withdraw(withdrawn)
    erased_id = erased.id
    db.session.delete(erased)  # gone entirely, as after purging
    db.session.commit()
    forged = "0" * 40
    answers = set()
    for route in ("withdraw", "my-data", "unsubscribe", "confirm"):
        for signature_id in (live.id, withdrawn.id, erased_id, 999999):
            response = client.get(f"/{SLUG}/{route}/{signature_id}-{forged}")
            body = response.get_data(as_text=True).replace(f"{signature_id}-{forged}", "T")
            answers.add((route, response.status_code, body))
    assert {(route, status) for route, status, _ in answers} == {
        (route, 404) for route in ("withdraw", "my-data", "unsubscribe", "confirm")
    }
    assert len(answers) == 4  # one page per route, whatever the id
    # The same holds for a real link once its signature is withdrawn: dead, and 404.
    token = links.make_token(live, "withdraw")
    client.post(f"/{SLUG}/withdraw/{token}")
    assert client.get(f"/{SLUG}/withdraw/{token}").status_code == 404


def test_unsubscribe_header_token_cannot_open_my_data_or_withdraw(client, app, mailbox):
    """List-Unsubscribe travels in a header that providers fetch and forwards keep: its
    token unsubscribes and does nothing else."""
    from campaign.models import Campaign
    from campaign.services.letters import updates
    from campaign.services.pages.content import library

    sign(client, email="news@example.org", name="Nasrin Sotoudeh", contact_consent="y")
    deliver(app)
    [confirm_mail] = mailbox.to("news@example.org")
    confirm_path = mailbox.links(confirm_mail, "confirm")[0].replace("http://petition.test", "")
    client.post(confirm_path, data={"contact_consent": "y"})  # left ticked by the owner
    content = library().get(SLUG)
    updates.post(content, db.session.scalars(select(Campaign)).one(), {"en": ("News", "Text")})
    if hasattr(updates, "expand_published"):
        updates.expand_published()
    deliver(app)
    update_mail = mailbox.to("news@example.org")[-1]
    header = update_mail["List-Unsubscribe"].strip("<>")
    token = header.rsplit("/", 1)[1]
    path = header.replace("http://petition.test", "")
    assert "/unsubscribe/" in path
    for route in ("my-data", "withdraw", "confirm"):
        response = client.get(f"/{SLUG}/{route}/{token}")
        assert response.status_code == 404, route
        assert "news@example.org" not in response.get_data(as_text=True)
    assert client.post(f"/{SLUG}/withdraw/{token}").status_code == 404
    # No header of any mail carries the data-copy or withdraw links.
    for message in mailbox.messages:
        for name, value in message.items():
            assert "/my-data/" not in value and "/withdraw/" not in value, name
    assert client.post(path).status_code == 200  # and it does unsubscribe
    signature = db.session.scalars(select(Signature)).one()
    db.session.refresh(signature)
    assert signature.unsubscribed_at is not None and signature.status == "confirmed"


# --- resend ---------------------------------------------------------------------


def test_check_inbox_has_a_resend_form(client):
    html = client.get(f"/{SLUG}/check-inbox").get_data(as_text=True)
    assert f'action="/{SLUG}/resend"' in html
    assert 'name="email"' in html and 'name="csrf_token"' not in html


def test_resend_requeues_for_a_pending_signature_and_answers_neutrally(client, app, mailbox):
    sign(client, email="slow@example.org")
    deliver(app)  # the worker mails the submission first
    known = resend(client, "SLOW@example.org")
    unknown = resend(client, "never-signed@example.org")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    # One request row each, known or not: the worker decides (services/letters/mail_requests.py).
    assert outbox_kinds() == ["confirm", RESEND, RESEND]
    deliver(app)
    assert outbox_kinds() == ["confirm", "resend", RESEND]  # the unknown one: dropped
    first, second = mailbox.to("slow@example.org")
    assert mailbox.links(first, "confirm") == mailbox.links(second, "confirm")
    assert len(mailbox.messages) == 2
    page = client.get(known.headers["Location"]).get_data(as_text=True)
    assert "If this address has a signature waiting" in page


def test_resend_is_capped_and_skips_confirmed_and_bot_signatures(client, app, mailbox):
    app.config["ALREADY_SIGNED_MAIL_LIMIT"] = 2
    sign(client, email="cap@example.org")
    deliver(app)
    for _ in range(4):
        assert resend(client, "cap@example.org").status_code == 303
    deliver(app)
    assert len(mailbox.to("cap@example.org")) == 1 + 2
    assert outbox_kinds() == ["confirm", "resend", "resend", RESEND, RESEND]

    sign(client, email="bot@example.org", website="http://spam")  # honeypot: never mailed
    assert resend(client, "bot@example.org").status_code == 303
    deliver(app)
    assert mailbox.to("bot@example.org") == []


def test_resend_with_a_bad_address_shows_a_field_error(client, app):
    response = resend(client, "not-an-address")
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


# --- rate limits (in-memory storage; the Redis versions are in test_two_instances) -----


@pytest.fixture
def limited(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_CONFIRM="3 per minute",
        RATELIMIT_RESEND="2 per minute",
    )
    return app_config


def test_confirm_is_rate_limited_per_ip(limited, client, app):
    for _ in range(3):
        assert client.get(f"/{SLUG}/confirm/1-{'0' * 40}").status_code == 404
    response = client.get(f"/{SLUG}/confirm/1-{'0' * 40}")
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    other_ip = client.get(
        f"/{SLUG}/confirm/1-{'0' * 40}", environ_base={"REMOTE_ADDR": "198.51.100.4"}
    )
    assert other_ip.status_code == 404


def test_resend_is_rate_limited(limited, client, app):
    sign(client, email="r@example.org")
    deliver(app)
    assert resend(client, "r@example.org").status_code == 303
    assert resend(client, "r@example.org").status_code == 303
    assert resend(client, "r@example.org").status_code == 429
    assert outbox_kinds() == ["confirm", RESEND, RESEND]


def test_ratelimit_enabled_false_turns_limits_off(app_config, client, app):
    app.config["RATELIMIT_CONFIRM"] = "1 per minute"
    for _ in range(5):
        assert client.get(f"/{SLUG}/confirm/1-{'0' * 40}").status_code == 404


def test_resend_form_and_domain_errors_are_translated(client, app):
    persian = client.get(f"/fa/{SLUG}/check-inbox").get_data(as_text=True)
    assert "ایمیلی نرسید؟" in persian and "نشانی ایمیل شما" in persian
    response = sign(client, prefix="/fa", email="someone@mailinator.com")
    assert response.status_code == 422
    assert "یک‌بارمصرف" in response.get_data(as_text=True)
    assert "Renvoyer l’e-mail" in client.get(f"/fr/{SLUG}/check-inbox").get_data(as_text=True)
