"""The page cache module: bytes and a strong ETag per key, expiry, bounded size."""

from campaign.services.pages import cache, page_cache


def test_put_keeps_the_bytes_with_a_strong_etag(app):
    page = page_cache.put(("k",), "<p>same for everyone</p>")
    assert page.body == b"<p>same for everyone</p>"
    assert page_cache.get(("k",)) is page
    assert page.etag == page_cache.put(("k2",), "<p>same for everyone</p>").etag
    assert page.etag != page_cache.put(("k3",), "<p>other</p>").etag


def test_entries_expire_after_page_cache_seconds(app):
    app.config["PAGE_CACHE_SECONDS"] = 1000
    page_cache.put(("k",), "x")
    assert page_cache.get(("k",)) is not None
    app.config["PAGE_CACHE_SECONDS"] = 0  # an entry made now expires now
    page_cache.put(("k",), "x")
    assert page_cache.get(("k",)) is None


def test_fast_path_lives_no_longer_than_the_count_cache(app):
    assert page_cache.fast_seconds({"COUNT_CACHE_SECONDS": 2, "PAGE_CACHE_SECONDS": 10}) == 2
    assert page_cache.fast_seconds({"COUNT_CACHE_SECONDS": 60, "PAGE_CACHE_SECONDS": 10}) == 10
    assert page_cache.fast_seconds({"COUNT_CACHE_SECONDS": 0, "PAGE_CACHE_SECONDS": 10}) == 0


def test_size_is_bounded(app):
    for n in range(page_cache.MAX_ENTRIES + 10):
        page_cache.put(("k", n), "x")
    assert len(cache.store(cache.PAGES, app)) <= page_cache.MAX_ENTRIES
    assert page_cache.get(("k", page_cache.MAX_ENTRIES + 9)) is not None


def test_a_public_change_empties_both_layers(app):
    page_cache.put(("k",), "x")
    page_cache.responses()[("r",)] = object()
    cache.public_views_changed()
    assert page_cache.get(("k",)) is None and not page_cache.responses()


def test_campaign_ref_is_cached_and_matches_the_row(app):
    from campaign.services.pages.campaigns import campaign_ref, get_row
    from campaign.services.pages.content import library

    content = library().home()
    ref = campaign_ref(content)
    row = get_row(content)
    assert (ref.id, ref.goal) == (row.id, row.goal)
    assert cache.store(cache.CAMPAIGN_ROWS, app)[content.slug][2] == ref
