"""Every page template, rendered, passes the W3C Nu HTML checker (vnu.jar, errors only).

All pages are rendered through the test client first and checked in ONE `java -jar`
run (the JVM start is most of the cost). Public and admin pages, with error states
where they are cheap to reach.
"""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 - runs the local checker on files we wrote
from pathlib import Path

from campaign.models import SignatureStatus
from campaign.services.intake import links
from campaign.services.paper import print_runs, sheets
from tests.admin.helpers import campaign_content, campaign_row, make_signature, token_for
from tests.helpers import ROOT, SLUG, hidden_fields, require, sign_data

VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# One short run: the JVM's quick compiler alone costs less than half the CPU of its
# tiered default (C2 optimizes code the run is over before it pays back), with the
# same messages. Its frames are larger, so the checker's recursion needs a bigger stack
# (with 1 MB it stops with StackOverflowError, which the JSON parse below would catch).
JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-Xss16m"]


def rendered_pages(client, admin) -> dict[str, str]:
    signature = make_signature(comment="Pour mon oncle.")
    confirm = links.make_token(signature, "confirm")
    withdraw, data = (links.make_token(signature, p) for p in ("withdraw", "data"))
    unsubscribe = links.make_token(signature, "unsubscribe")  # one token per purpose
    pending = make_signature(
        "Reza Karimi",
        "reza@example.net",
        "FR",
        comment="For my uncle.",
        status=SignatureStatus.PENDING,
    )
    pages = {"confirm-pending": f"/{SLUG}/confirm/{links.make_token(pending, 'confirm')}"}
    for language in ("en", "fa", "fr"):
        pages[f"campaign-{language}"] = f"/{language}/{SLUG}/"
    for name, path in {
        "check-inbox": f"/{SLUG}/check-inbox",
        "thank-you": f"/{SLUG}/confirm/{confirm}",
        "confirm-invalid": f"/{SLUG}/confirm/1-{'0' * 40}",
        "withdraw": f"/{SLUG}/withdraw/{withdraw}",
        "my-data": f"/{SLUG}/my-data/{data}",
        "unsubscribe": f"/{SLUG}/unsubscribe/{unsubscribe}",
        "privacy": "/privacy",
        "share": f"/{SLUG}/share",
        "flyer": f"/{SLUG}/flyer",
        "embed": f"/{SLUG}/embed",
        "api": "/api",
        "not-found": "/no-such-campaign/",
        "log-verify": f"/{SLUG}/log/verify",
    }.items():
        pages[name] = path
    html = {name: client.get(path).get_data(as_text=True) for name, path in pages.items()}
    # Error states: the sign form and the resend form with bad input.
    data = sign_data(client, email="not@an@address", name="=x", comment="")
    html["campaign-errors"] = client.post(f"/{SLUG}/sign", data=data).get_data(as_text=True)
    resend = hidden_fields(client.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    html["check-inbox-errors"] = client.post(
        f"/{SLUG}/resend", data={**resend, "email": "nope"}
    ).get_data(as_text=True)
    html["log-verify-errors"] = client.post(
        f"/{SLUG}/log/verify", data={"receipt": "nope"}
    ).get_data(as_text=True)
    for name, path in {
        "admin-index": "/admin/",
        "admin-dashboard": f"/admin/{SLUG}/",
        "admin-signers": f"/admin/{SLUG}/signers?country=Germany",
        "admin-signer": f"/admin/{SLUG}/signers/{signature.id}",
        "admin-export": f"/admin/{SLUG}/export",
        "admin-bulk": f"/admin/{SLUG}/signers/bulk",
        "admin-updates": f"/admin/{SLUG}/updates",
        "admin-sheets": f"/admin/{SLUG}/sheets",
        "admin-audit": "/admin/audit",
        "admin-accounts": "/admin/accounts",
        "admin-account": "/admin/account",
        "admin-2fa": "/admin/account/2fa",
    }.items():
        response = admin.get(path)
        assert response.status_code < 500, (path, response.status_code)
        html[name] = response.get_data(as_text=True)
    html["admin-sheets-errors"] = admin.post(
        f"/admin/{SLUG}/sheets",
        data={"csrf_token": token_for(admin, f"/admin/{SLUG}/sheets"), "count": "0"},
    ).get_data(as_text=True)
    # The paper sheets' HTML, which WeasyPrint makes into the PDF: the sheet, and the
    # pages of numbers laid over it (issue 26), in a right-to-left language.
    run = print_runs.allocate(
        campaign_row(), count=2, language="fa", paper_size="a4", languages=("fa",)
    )
    for numbers in (False, True):
        html[f"paper-sheet-{numbers}"] = sheets.render_html(
            campaign_content(), run, stylesheet="sheet.css", numbers=numbers
        )
    html["admin-login"] = client.get("/admin/login").get_data(as_text=True)
    return html


def test_every_page_passes_the_nu_html_checker(app, client, as_role, tmp_path):
    java = shutil.which("java")
    require(java is not None, "java is not installed")
    require(VNU.exists(), f"vnu.jar missing at {VNU} (run `make test` to install)")
    pages = rendered_pages(client, as_role("owner"))
    files = []
    for name, html in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(  # nosec B603 - fixed argv, our own files
        [java, *JVM_OPTIONS, "-jar", str(VNU), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or "{}").get("messages", [])
    problems = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert not problems, "\n".join(problems)
