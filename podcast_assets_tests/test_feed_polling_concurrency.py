"""`episodes` polling many feeds at once: a bounded pool, at most `max_connections_per_host` requests in flight to
one host (feed polls and audio downloads alike), conditional GET for every feed, and a feed that fails or hangs
holds up no other. Real threaded HTTP servers on loopback addresses 127.0.0.1-4 (`feed_farm.py`)."""

import datetime as dt
import threading
import time

import dagster as dg
import pytest
import sqlalchemy as sa

from podcast_assets.assets.episodes import episodes
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed
from podcast_assets.catalog.tables import feeds as feeds_table
from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.resources.host_slots import HostSlots, interleaved_by_host
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.feed_farm import Document, FeedFarm, generated_feed

DAY = dt.date(2026, 11, 24)
MP3 = media_bytes("grid-report-40.mp3")  # 78 KB, a real MP3 the asset probes
LIMIT = 2
N_FEEDS = 60


@pytest.fixture
def farm(home, monkeypatch):
    """60 feeds (one episode on DAY each, its audio on the same host) over hosts 1-3; host 1 also has a feed that
    answers 500; host 4 has one that answers after the client's timeout (alone there: the server counts a request
    the client gave up on until its sleep ends, see feed_farm.py)."""
    monkeypatch.setenv(ALLOW_PRIVATE_HOSTS_ENV, "127.0.0.0/8")
    with FeedFarm(n_hosts=4, latency_s=0.03) as farm:
        catalog = CatalogResource()
        for i in range(N_FEEDS):
            host = farm.hosts[i % 3]
            audio_url = farm.add(host, f"/audio/{i}.mp3", Document(MP3, "audio/mpeg"))
            earlier = [DAY - dt.timedelta(days=d) for d in (1, 8)]
            feed = generated_feed(i, earlier, day_item_audio_url=audio_url, day=DAY, notes_words=60)
            add_feed(catalog, farm.add(host, f"/feeds/{i}.xml", Document(feed)))
        add_feed(catalog, farm.add(farm.hosts[0], "/feeds/broken.xml", Document(b"", status=500)))
        stuck = generated_feed(999, [DAY], notes_words=60)
        add_feed(catalog, farm.add(farm.hosts[3], "/feeds/stuck.xml", Document(stuck, delay_s=2.5)))
        yield farm


def _materialize() -> dg.ExecuteInProcessResult:
    http = HttpClientResource(
        timeout_s=1, retries=1, backoff_s=0.01, feed_workers=8, download_workers=8, max_connections_per_host=LIMIT
    )
    resources = {"warehouse": WarehouseResource(), "catalog": CatalogResource(), "media": MediaStoreResource()}
    return dg.materialize([episodes], partition_key=DAY.isoformat(), resources={**resources, "http": http})


def _feeds() -> dict[str, dict]:
    return {row["feed_url"]: row for row in CatalogResource().rows(sa.select(feeds_table))}


def test_feeds_are_polled_concurrently_within_the_per_host_limit_and_answered_304_the_second_time(farm):
    good_hosts = farm.hosts[:3]
    feed_urls = {farm.url(farm.hosts[i % 3], f"/feeds/{i}.xml") for i in range(N_FEEDS)}
    audio_paths = {(farm.hosts[i % 3], f"/audio/{i}.mp3") for i in range(N_FEEDS)}

    result = _materialize()
    assert result.success
    first = farm.reset_stats()
    assert all(first.max_in_flight[host] <= LIMIT for host in good_hosts), first.max_in_flight
    assert first.max_in_flight_total > 1  # concurrency happened
    assert all(first.paths[path] == 1 for path in audio_paths)  # every enclosure downloaded once
    warehouse = WarehouseResource()
    rows = warehouse.query("SELECT * FROM episodes WHERE partition_date = ? ORDER BY episode_id", [DAY])
    assert set(rows["feed_url"]) == feed_urls and rows.height == N_FEEDS
    assert rows["status"].to_list() == ["ok"] * N_FEEDS and rows["audio_bytes"].to_list() == [len(MP3)] * N_FEEDS
    feeds = _feeds()
    assert "HTTP 500" in feeds[farm.url(farm.hosts[0], "/feeds/broken.xml")]["last_error"]
    assert feeds[farm.url(farm.hosts[3], "/feeds/stuck.xml")]["last_error"].startswith("timeout")
    assert all(feeds[url]["last_status"] == 200 and feeds[url]["last_error"] is None for url in feed_urls)
    metadata = result.asset_materializations_for_node("episodes")[0].metadata
    assert metadata["feeds_polled"].value == N_FEEDS + 2 and metadata["feeds_with_errors"].value == 2

    result = _materialize()
    assert result.success
    second = farm.reset_stats()
    assert second.statuses[304] == N_FEEDS  # every good feed: conditional GET answered Not Modified
    assert all(second.max_in_flight[host] <= LIMIT for host in good_hosts), second.max_in_flight
    assert not any(second.paths[path] for path in audio_paths)  # the same audio is kept, not fetched again
    again = warehouse.query("SELECT * FROM episodes WHERE partition_date = ? ORDER BY episode_id", [DAY])
    assert again.drop("fetched_at").equals(rows.drop("fetched_at"))
    assert all(_feeds()[url]["last_status"] == 304 for url in feed_urls)


def test_host_slots_bound_each_lowercased_host_and_interleaving_spreads_hosts():
    slots = HostSlots(2)
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    lock = threading.Lock()

    def request(url: str, key: str) -> None:
        with slots.slot(url):
            with lock:
                in_flight[key] += 1
                most[key] = max(most[key], in_flight[key])
            time.sleep(0.05)
            with lock:
                in_flight[key] -= 1

    urls = [("http://A.example/1", "a"), ("https://a.example:8443/2", "a"), ("http://b.example/3", "b")] * 8
    threads = [threading.Thread(target=request, args=pair) for pair in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(most.values()) <= 2 and most["a"] == 2  # sixteen threads on "a", two at a time

    ordered = interleaved_by_host(["http://a/1", "http://a/2", "http://a/3", "http://b/1", "http://c/1"], str)
    assert ordered == ["http://a/1", "http://b/1", "http://c/1", "http://a/2", "http://a/3"]
    with pytest.raises(ValueError):
        HostSlots(0)
