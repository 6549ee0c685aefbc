"""Polling 2,000 feeds: the `episodes` asset one feed at a time vs concurrent, and plain httpx on the same URLs.

    python -m benchmarks.feed_polling [--feeds 2000] [--hosts 50] [--latency-ms 50] [--workers 16] [--per-host 2]
                                      [--skip-sequential]

The feeds are generated (seeded): RSS 2.0, 8 items with 350-800 words of HTML show notes each (20-52 KB a feed).
One feed in 50 has an episode on the partition day whose enclosure is a real 78 KB MP3 on the feed's host (the
asset downloads and probes it on the first poll and keeps it on the second); the other feeds have no episode that
day. Feed i is on host i mod `--hosts`, so with 50 hosts (or a divisor of 50) all the MP3s are on the first host and
the asset's 4 download threads meet the per-host limit there. A separate process serves the feeds
(`podcast_assets_tests/feed_farm.py`: one threaded HTTP server per loopback address 127.0.0.1 ... 127.0.0.`--hosts`),
holds every answer `--latency-ms` like a network would, sends ETag and Last-Modified, answers a matching conditional
GET with 304, and records the most requests in flight per host.

Timed, one after the other in this process:
- the real `episodes` asset (`dg.materialize`, URL policy, parsing, cache files, catalog, warehouse) with
  `feed_workers=1` (the old one-after-another way), first poll (all 200) then second poll (all 304), on a fresh home;
- the same with `feed_workers=--workers` and `max_connections_per_host=--per-host`, on another fresh home;
- raw: plain `httpx.Client.get` of the same URLs from a ThreadPoolExecutor of 1 and of `--workers` threads (no
  policy, parsing, cache, catalog or per-host limit), then again with the ETags seen (If-None-Match).
Peak RSS is this process's (ru_maxrss, so it only grows down the table); the server's memory is not in it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import random
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DAY = dt.date(2026, 11, 24)
AUDIO = "grid-report-40.mp3"  # 78 KB, from the demo network


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(connection, n_feeds: int, n_hosts: int, latency_s: float) -> None:
    """The feed server's process: generate and serve the feeds, send their URLs, then answer "stats" until "stop"."""
    from podcast_assets.evaluation.feeds import media_bytes
    from podcast_assets_tests.feed_farm import Document, FeedFarm, generated_feed

    mp3 = media_bytes(AUDIO)
    rng = random.Random(2000)
    with FeedFarm(n_hosts=n_hosts, latency_s=latency_s) as farm:
        urls, sizes = [], []
        for i in range(n_feeds):
            host = farm.hosts[i % n_hosts]
            earlier = [DAY - dt.timedelta(days=1 + 7 * week) for week in range(8)]
            audio_url = farm.add(host, f"/audio/{i}.mp3", Document(mp3, "audio/mpeg")) if i % 50 == 0 else None
            body = generated_feed(i, earlier, audio_url, DAY, notes_words=rng.randint(350, 800))
            urls.append(farm.add(host, f"/feeds/{i}.xml", Document(body)))
            sizes.append(len(body))
        connection.send((urls, sizes))
        cpu_before = time.process_time()
        while (command := connection.recv()) != "stop":
            assert command == "stats"
            stats = farm.reset_stats()
            cpu_now = time.process_time()
            connection.send(
                {
                    "statuses": dict(stats.statuses),
                    "max_per_host": max(stats.max_in_flight.values(), default=0),
                    "max_total": stats.max_in_flight_total,
                    "cpu_s": cpu_now - cpu_before,
                }
            )
            cpu_before = cpu_now


def _fresh_home(urls: list[str]) -> Path:
    """A new PODCAST_BRIEF_HOME with the feeds registered (one insert; `add_feed` per URL is not what is timed)."""
    from podcast_assets.catalog import CatalogResource
    from podcast_assets.catalog.registry import utc_now
    from podcast_assets.catalog.tables import feeds

    home = Path(tempfile.mkdtemp(prefix="podcast-brief-bench-feeds-"))
    os.environ["PODCAST_BRIEF_HOME"] = str(home)
    now = utc_now()
    with CatalogResource().begin() as connection:
        connection.execute(feeds.insert(), [{"feed_url": url, "added_at": now} for url in urls])
    return home


def _asset_poll(workers: int, per_host: int) -> tuple[int, int]:
    """One `episodes` run; (episodes ok, feeds with errors)."""
    import dagster as dg

    from podcast_assets.assets.episodes import episodes
    from podcast_assets.catalog import CatalogResource
    from podcast_assets.resources.http_client import HttpClientResource
    from podcast_assets.resources.media_store import MediaStoreResource
    from podcast_assets.resources.warehouse import WarehouseResource

    http = HttpClientResource(feed_workers=workers, max_connections_per_host=per_host)
    resources = {"warehouse": WarehouseResource(), "catalog": CatalogResource(), "http": http}
    result = dg.materialize(
        [episodes], partition_key=DAY.isoformat(), resources={**resources, "media": MediaStoreResource()}
    )
    assert result.success
    metadata = result.asset_materializations_for_node("episodes")[0].metadata
    return metadata["episodes_ok"].value, metadata["feeds_with_errors"].value


def _raw_poll(urls: list[str], workers: int, etags: dict[str, str]) -> tuple[dict[str, str], int]:
    """Plain GETs (If-None-Match where an ETag is known); (ETags seen, responses that were not 200 or 304)."""
    import httpx

    with httpx.Client(timeout=30, trust_env=False) as client, ThreadPoolExecutor(max_workers=workers) as pool:

        def get(url: str) -> tuple[str, int, str | None]:
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            response = client.get(url, headers=headers)
            return url, response.status_code, response.headers.get("ETag")

        answers = list(pool.map(get, urls))
    return {url: etag for url, _, etag in answers if etag}, sum(1 for _, s, _ in answers if s not in (200, 304))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="held before every answer")
    parser.add_argument("--workers", type=int, default=16, help="feed_workers of the concurrent rows")
    parser.add_argument("--per-host", type=int, default=2, help="max_connections_per_host")
    parser.add_argument("--skip-sequential", action="store_true", help="no feed_workers=1 rows (the slow ones)")
    args = parser.parse_args()
    os.environ["PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS"] = "127.0.0.0/8"

    here, there = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(there, args.feeds, args.hosts, args.latency_ms / 1000), daemon=True
    )
    server.start()
    urls, sizes = here.recv()
    urls = sorted(urls)  # the order the asset reads the catalog in
    print(
        f"{len(urls)} feeds on {args.hosts} hosts, {min(sizes) / 1024:.0f}-{max(sizes) / 1024:.0f} KB "
        f"(median {statistics.median(sizes) / 1024:.0f} KB), {args.feeds // 50 + (args.feeds % 50 > 0)} with an "
        f"episode on {DAY}; latency {args.latency_ms:g} ms",
        flush=True,
    )
    here.send("stats")
    here.recv()  # start counting from here

    rows = []

    def timed(way: str, workers: int, poll: str, run) -> None:
        cpu_before, started = time.process_time(), time.perf_counter()
        result = run()
        wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_before
        here.send("stats")
        stats = here.recv()
        rows.append((way, workers, poll, wall_s, cpu_s, stats, peak_rss_mib(), result))
        print(f"{way} x{workers} {poll}: {wall_s:.1f} s, {stats['statuses']}, {result}", flush=True)

    try:
        configurations = ([] if args.skip_sequential else [1]) + [args.workers]
        for workers in configurations:
            _fresh_home(urls)
            for poll in ("first (200)", "second (304)"):
                timed("episodes asset", workers, poll, lambda w=workers: _asset_poll(w, args.per_host))
        for workers in configurations:
            etags: dict[str, str] = {}
            for poll in ("first (200)", "second (304)"):

                def raw(w=workers, known=etags) -> int:
                    seen, bad = _raw_poll(urls, w, known)
                    known.update(seen)
                    return bad

                timed("raw httpx", workers, poll, raw)
    finally:
        here.send("stop")
        server.join(timeout=30)

    load = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average now {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f}; {len(urls)} feeds, {args.hosts} hosts, {args.latency_ms:g} ms latency, "
        f"per-host limit {args.per_host} (asset rows only)\n"
    )
    print(
        "| way | threads | poll | wall (s) | feeds/s | answered 304 | max in flight per host (server) | "
        "max in flight, all hosts | CPU s (this process) | server CPU s | peak RSS (MiB) | result |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for way, workers, poll, wall_s, cpu_s, stats, rss, result in rows:
        if way == "raw httpx":
            result = f"{result} errors"
        else:
            result = f"{result[0]} episodes ok, {result[1]} feeds with errors"
        print(
            f"| {way} | {workers} | {poll} | {wall_s:.1f} | {len(urls) / wall_s:.0f} | "
            f"{stats['statuses'].get(304, 0)} | {stats['max_per_host']} | {stats['max_total']} | {cpu_s:.1f} | "
            f"{stats['cpu_s']:.1f} | {rss:.0f} | {result} |"
        )


if __name__ == "__main__":
    main()
