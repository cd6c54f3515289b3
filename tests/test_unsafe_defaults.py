"""Start-up settings: production (an https BASE_URL) refuses development keys and
console mail; development (`make run`) works with no settings and says so each start."""

from __future__ import annotations

import logging

import pytest

from campaign import UnsafeSettings, create_app
from campaign.services import organizer_key
from tests import conftest

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


def test_production_with_real_settings_starts(database_url, caplog):
    with caplog.at_level(logging.WARNING):
        create_app(production(database_url))
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
