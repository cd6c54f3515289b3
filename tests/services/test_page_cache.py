"""The page cache module: markers in, this request's values out, bounded size."""

from campaign.services import page_cache


def test_put_replaces_token_and_stamp_with_markers_and_fill_restores(app):
    html = '<input name="csrf_token" value="TOKEN-A"><input name="started" value="STAMP-A">'
    page = page_cache.put(("k",), html, token="TOKEN-A", started="STAMP-A")
    assert "TOKEN-A" not in page.body and "STAMP-A" not in page.body
    filled = page_cache.fill(page, token="TOKEN-B", started="STAMP-B")
    assert filled == html.replace("TOKEN-A", "TOKEN-B").replace("STAMP-A", "STAMP-B")
    assert page_cache.get(("k",)) is page


def test_entries_expire_after_page_cache_seconds(app):
    app.config["PAGE_CACHE_SECONDS"] = 1000
    page_cache.put(("k",), "x", token=None, started=None)
    assert page_cache.get(("k",)) is not None
    app.config["PAGE_CACHE_SECONDS"] = 0  # an entry made now expires now
    page_cache.put(("k",), "x", token=None, started=None)
    assert page_cache.get(("k",)) is None


def test_size_is_bounded(app):
    for n in range(page_cache.MAX_ENTRIES + 10):
        page_cache.put(("k", n), "x", token=None, started=None)
    assert len(app.extensions["campaign.page_cache"]) <= page_cache.MAX_ENTRIES
    assert page_cache.get(("k", page_cache.MAX_ENTRIES + 9)) is not None


def test_etag_differs_per_session_and_per_body(app):
    one = page_cache.put(("a",), "body one", token=None, started=None)
    two = page_cache.put(("b",), "body two", token=None, started=None)
    assert page_cache.etag(one, "s1") == page_cache.etag(one, "s1")
    assert page_cache.etag(one, "s1") != page_cache.etag(one, "s2")
    assert page_cache.etag(one, "s1") != page_cache.etag(two, "s1")


def test_clear_empties_the_cache(app):
    page_cache.put(("k",), "x", token=None, started=None)
    page_cache.clear()
    assert page_cache.get(("k",)) is None


def test_campaign_ref_is_cached_and_matches_the_row(app):
    from campaign.services.campaigns import campaign_ref, get_row
    from campaign.services.content import library

    content = library().home()
    ref = campaign_ref(content)
    row = get_row(content)
    assert (ref.id, ref.goal) == (row.id, row.goal)
    assert app.extensions["campaign.rows"][content.slug][1] == ref

