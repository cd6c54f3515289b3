"""Profile the sign POST and the campaign page GET in-process with pyinstrument.

Not part of `make bench`'s timings: it shows where a request's time goes, before
anything is optimized. Usage: .venv/bin/python bench/profile_sign.py [n]
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from campaign import create_app  # noqa: E402

SLUG = "1988-massacre-inquiry"


def main(n: int = 300) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="campaign-profile-"))
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'p.db'}",
        "SECRET_KEY": "k",
        "HASH_KEY": "h",
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "RATELIMIT_ENABLED": False,
        "MIN_FORM_SECONDS": 0,
        "SMTP_URL": "console",
        "LOG_LEVEL": "WARNING",
    }
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    client = app.test_client()
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    started = re.search(r'name="started" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "started": started, "name": "Bench Signer", "country": "DE"}
    for i in range(20):  # warm up
        client.post(f"/{SLUG}/sign", data={**data, "email": f"warm{i}@example.org"})
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i in range(n):
        response = client.post(f"/{SLUG}/sign", data={**data, "email": f"p{i}@example.org"})
        assert response.status_code == 303, response.status_code
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(n):
        assert client.get(f"/{SLUG}/").status_code == 200
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
