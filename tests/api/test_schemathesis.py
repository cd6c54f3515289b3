"""Schemathesis against /api/v1/openapi.json with every check, on generated valid and
invalid requests: the document and the behaviour must agree (a page above 10000, a
bad lang...). Bounded examples, so the suite stays fast. (Its pytest plugin doesn't
support pytest 9 yet, so the operations are driven through Hypothesis directly.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from campaign.services.pages import campaigns

EXAMPLES = 30


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(app, mode):
    campaigns.sync_all()  # the content's campaigns get their rows, as `flask content load`
    for operation in operations(app):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate()

        check()


def test_page_above_the_documented_maximum_and_unknown_lang_are_refused_as_documented(client, app):
    document = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in document["paths"]["/petitions"]["get"]["parameters"]}
    assert params["page"]["maximum"] == 10_000
    assert client.get("/api/v1/petitions?page=10000").status_code == 200
    assert client.get("/api/v1/petitions?page=10001").status_code == 400
    assert params["lang"]["enum"] == ["en", "fa", "fr"]
    bad = client.get("/api/v1/petitions?lang=xx")
    assert bad.status_code == 400 and "lang" in bad.get_json()["error"]["message"]
    assert client.get("/api/v1/petitions/1988-massacre-inquiry?lang=de").status_code == 400
