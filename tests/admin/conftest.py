"""The admin fixtures (`users`, `as_role`) are in tests/conftest.py; helpers are in
tests/admin/helpers.py. Re-exported here for tests written against the old layout."""

from tests.admin.helpers import (  # noqa: F401
    EMAILS,
    PASSWORD,
    campaign_content,
    campaign_row,
    csrf_from,
    forget_cached_csrf,
    fresh_g_per_request,
    login,
    make_signature,
    token_for,
)
