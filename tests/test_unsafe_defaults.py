"""Start-up settings: production (an https BASE_URL) refuses development keys and
console mail; development (`make run`) works with no settings and says so each start."""

from __future__ import annotations

import base64
import logging
import re
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from campaign import UnsafeSettings, create_app
from campaign.config import Config
from campaign.extensions import db
from campaign.services.log import tlog_keys
from campaign.services.sealing import organizer_key
from campaign.services.sealing.crypto import generate_key
from tests import conftest
from tests.helpers import content_with_contact

REAL_SMTP = "smtp://mail.example.net:587"
ORGANIZER_PUBLIC_KEY = organizer_key.public_text(organizer_key.generate())  # issue 23


def production(database_url: str, **overrides) -> dict:
    settings = {
        "BASE_URL": "https://petition.example",
        "SMTP_URL": REAL_SMTP,
        "ORGANIZER_PUBLIC_KEY": ORGANIZER_PUBLIC_KEY,
        **overrides,
    }
    return conftest.test_config(database_url, **settings)


@pytest.mark.parametrize("missing", ["HASH_KEY", "SECRET_KEY", "ENCRYPTION_KEYS"])
def test_production_without_a_key_refuses_to_start(database_url, missing):
    """A HASH_KEY generated per host split dedup and links between instances."""
    with pytest.raises(UnsafeSettings, match=missing):
        create_app(
            production(database_url, **{missing: "" if missing != "ENCRYPTION_KEYS" else []})
        )


def test_production_with_console_mail_refuses_to_start(database_url):
    with pytest.raises(UnsafeSettings, match="SMTP_URL=console"):
        create_app(production(database_url, SMTP_URL="console"))


def test_production_with_real_settings_starts(database_url, real_contact, caplog):
    with caplog.at_level(logging.WARNING):
        create_app(production(database_url, CONTENT_DIR=real_contact))
    assert "DEVELOPMENT KEYS" not in caplog.text


def test_allow_dev_secrets_starts_a_test_site_and_warns_every_start(database_url, caplog):
    settings = production(database_url, HASH_KEY="", SMTP_URL="console", ALLOW_DEV_SECRETS=True)
    with caplog.at_level(logging.WARNING):
        first = create_app(settings)
        second = create_app(settings)
    assert caplog.text.count("DEVELOPMENT KEYS in use for HASH_KEY") == 2
    assert first.config["HASH_KEY"] == second.config["HASH_KEY"] != ""


def test_development_runs_with_no_settings_and_warns(database_url, caplog):
    settings = conftest.test_config(
        database_url,
        BASE_URL="http://127.0.0.1:5000",
        SECRET_KEY="",
        HASH_KEY="",
        ENCRYPTION_KEYS=[],
    )
    with caplog.at_level(logging.WARNING):
        app = create_app(settings)
    assert all(app.config[name] for name in ("SECRET_KEY", "HASH_KEY", "ENCRYPTION_KEYS"))
    assert "DEVELOPMENT KEYS in use for SECRET_KEY, HASH_KEY, ENCRYPTION_KEYS" in caplog.text


# --- issue 21: L5 and the organizers' contact -------------------------------------------


@pytest.fixture
def real_contact(tmp_path) -> str:
    """The shipped content with a real organizers' address, as production needs."""
    return content_with_contact(tmp_path / "content")


@pytest.mark.parametrize("scheme", ["HTTPS", "Https", " https"])
def test_l5_an_uppercase_https_base_url_is_production(database_url, scheme):
    """Before, only a BASE_URL starting with lower-case `https://` was production:
    `HTTPS://` started with console mail and development keys, and without secure cookies."""
    with pytest.raises(UnsafeSettings, match="HASH_KEY"):
        create_app(production(database_url, BASE_URL=f"{scheme}://petition.example", HASH_KEY=""))
    with pytest.raises(UnsafeSettings, match="SMTP_URL=console"):
        create_app(
            production(database_url, BASE_URL=f"{scheme}://petition.example", SMTP_URL="console")
        )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("BASE_URL", f"{scheme}://petition.example")
    try:
        assert Config().SESSION_COOKIE_SECURE is True
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "changeme"),
        ("SECRET_KEY", "0123456789abcdef" * 3),  # 48 hex characters: 24 bytes
        ("HASH_KEY", "a" * 80),  # long, and one character
        ("HASH_KEY", "Jq3-vX9_kLm2Pz8RtY4wNb6Hc1Ds5Fg7"),  # 32 base64 characters: 24 bytes
        ("ENCRYPTION_KEYS", [base64.urlsafe_b64encode(bytes(32)).decode()]),  # zeros
        ("ENCRYPTION_KEYS", [base64.urlsafe_b64encode(bytes(range(16))).decode()]),  # 16 bytes
        ("TLOG_SIGNING_KEY", base64.b64encode(b"\x01" * 32).decode()),
    ],
    ids=["word", "short-hex", "one-char", "short-base64", "zeros", "16-bytes", "tlog-ones"],
)
def test_l5_production_refuses_keys_shorter_than_32_random_bytes(
    database_url, real_contact, name, value
):
    """Before, any non-empty key started production: `SECRET_KEY=changeme` made every
    session and form stamp forgeable, a short HASH_KEY made the blind indexes guessable."""
    settings = production(database_url, CONTENT_DIR=real_contact, **{name: value})
    with pytest.raises(UnsafeSettings, match=f"{name} .*32 random bytes"):
        create_app(settings)
    with pytest.raises(UnsafeSettings, match=name):
        create_app({**settings, "BASE_URL": "http://10.0.0.5", "REQUIRE_SECRETS": True})


def test_l5_generated_keys_pass(database_url, real_contact):
    strong = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "HASH_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": [generate_key(), Fernet.generate_key().decode()],
        "TLOG_SIGNING_KEY": tlog_keys.generate_key(),
    }
    app = create_app(production(database_url, CONTENT_DIR=real_contact, **strong))
    assert app.config["HASH_KEY"] == strong["HASH_KEY"]


@pytest.mark.parametrize(
    "contact",
    [
        "contact@petition.invalid",
        "team@example.org",
        "team@news.example.com",
        "team@site.test",
        "team@host.localhost",
        "team@campaign.example",
        "root@localhost",
        "team@[192.0.2.1]",
    ],
)
def test_organizer_contact_placeholder_refuses_production(
    database_url, real_contact, tmp_path, contact
):
    """Before, production served `contact@petition.invalid` in every footer and on the
    privacy page: signers asking about their data reached no one."""
    for toml in Path(real_contact).glob("*/campaign.toml"):
        toml.write_text(toml.read_text("utf-8").replace("team@iran1988.org", contact), "utf-8")
    settings = production(database_url, CONTENT_DIR=real_contact)
    with pytest.raises(UnsafeSettings, match="organizer_contact .* is a placeholder"):
        create_app(settings)
    with pytest.raises(UnsafeSettings, match="placeholder"):
        create_app({**settings, "BASE_URL": "http://10.0.0.5", "REQUIRE_SECRETS": True})
    # A test site and development start, and `flask content load` warns.
    create_app({**settings, "ALLOW_DEV_SECRETS": True})
    development = create_app(conftest.test_config(database_url, CONTENT_DIR=real_contact))
    result = development.test_cli_runner().invoke(args=["content", "load"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "placeholder" in result.stderr
    with development.app_context():
        db.engine.dispose()


def test_the_shipped_placeholder_contact_refuses_production(database_url):
    with pytest.raises(UnsafeSettings, match="contact@petition.invalid"):
        create_app(production(database_url))


def test_a_real_contact_starts_production_and_loads_quietly(database_url, real_contact):
    app = create_app(production(database_url, CONTENT_DIR=real_contact))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["content", "load"])
        db.engine.dispose()
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_the_organizer_contact_setting_replaces_the_placeholder(database_url, monkeypatch):
    """Review #3: the organizers' real address is known per deployment, not in content/.
    ORGANIZER_CONTACT replaces campaign.toml's everywhere it is shown, and production
    starts with the shipped content once it is set."""
    monkeypatch.setenv("ORGANIZER_CONTACT", " team@iran1988.org ")
    assert Config().ORGANIZER_CONTACT == "team@iran1988.org"
    app = create_app(production(database_url, ORGANIZER_CONTACT="team@iran1988.org"))
    client = app.test_client()
    for path in ("/privacy", "/fr/privacy", "/fa/"):
        page = client.get(path)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "mailto:team@iran1988.org" in text and "petition.invalid" not in text
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("contact", ["contact@petition.invalid", "team@example.com", "a@b.test"])
def test_a_placeholder_organizer_contact_setting_refuses_production(
    database_url, real_contact, contact
):
    """The setting is checked like the content: it replaces a real campaign.toml address."""
    settings = production(database_url, CONTENT_DIR=real_contact, ORGANIZER_CONTACT=contact)
    with pytest.raises(UnsafeSettings, match=f"{re.escape(contact)}.*ORGANIZER_CONTACT"):
        create_app(settings)
    with pytest.raises(UnsafeSettings, match="placeholder"):
        create_app({**settings, "BASE_URL": "http://10.0.0.5", "REQUIRE_SECRETS": True})
    create_app({**settings, "BASE_URL": "http://127.0.0.1:5000"})  # development: it starts
