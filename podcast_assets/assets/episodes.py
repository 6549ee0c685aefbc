"""episodes: the day's episodes of every registered feed, with their audio downloaded."""

import datetime as dt
import errno
import hashlib
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import sqlalchemy as sa

from podcast_assets.admin import utc_now
from podcast_assets.assets.reporting import markdown_table
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.mirror import mirror_to_warehouse
from podcast_assets.catalog.tables import feeds as feeds_table
from podcast_assets.core.atomic_files import atomic_write_bytes
from podcast_assets.core.audio import AudioError, extension_for, probe_duration_s, sha256_of
from podcast_assets.core.episodes import EPISODES_SCHEMA, day_items, episode_row
from podcast_assets.core.rss import FeedParseError, ParsedFeed, parse_feed
from podcast_assets.execution import NETWORK_RETRY_POLICY
from podcast_assets.partitions import daily_partitions
from podcast_assets.resources.host_slots import interleaved_by_host
from podcast_assets.resources.http_client import DownloadError, HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.sensors import FEED_URL_TAG
from podcast_assets.settings import home_dir


@dataclass
class _Poll:
    """One feed's poll, made in a worker thread: the values for its catalog row and the parsed feed or the error."""

    feed: dict
    record: dict
    parsed: ParsedFeed | None = None
    error: str | None = None


def _poll_feed(http: HttpClientResource, feed: dict) -> _Poll:
    """Fetch with conditional GET; a 304 re-reads the cached copy so a re-run of a day sees the same items.
    Thread-safe: touches no catalog or Dagster context (the caller records and logs)."""
    try:
        cache_path = Path(feed["cache_path"]) if feed["cache_path"] else None
        has_cache = cache_path is not None and cache_path.exists()
        response = http.fetch_feed(
            feed["feed_url"],
            etag=feed["etag"] if has_cache else None,
            last_modified=feed["last_modified"] if has_cache else None,
        )
        if response.body is None:
            body = cache_path.read_bytes()
        else:
            body = response.body
            cache_path = home_dir() / "feeds" / (hashlib.sha256(feed["feed_url"].encode()).hexdigest()[:16] + ".xml")
            # Atomic: the row keeps the ETag, and a later 304 re-reads this file, so it must never be half written.
            # The ETag is recorded after all polls: a crash before that leaves the old ETag beside the new file,
            # so the next poll asks with the old one and is sent the current version in full.
            atomic_write_bytes(cache_path, body)
        parsed = parse_feed(body)
    except (DownloadError, FeedParseError, OSError) as error:
        return _Poll(feed, {"last_polled_at": utc_now(), "last_error": str(error)}, error=str(error))
    # A feed that parsed with a problem (broken or unsafe XML) keeps its salvaged items and records the problem.
    record = {
        "last_polled_at": utc_now(),
        "etag": response.etag,
        "last_modified": response.last_modified,
        "last_status": response.status_code,
        "last_error": parsed.problem,
        "cache_path": str(cache_path),
        "title": sa.func.coalesce(feeds_table.c.title, parsed.title),
    }
    return _Poll(feed, record, parsed)


def _poll_feeds(http: HttpClientResource, feeds: list[dict]) -> tuple[list[_Poll], Exception | None]:
    """Every feed polled by `http.feed_workers` threads (each request within the per-host limit), returned in the
    order of `feeds`, with the first unexpected exception (a bug) if any. Submitted round-robin over hosts so the
    threads do not all queue on one host's slots."""
    pool = ThreadPoolExecutor(max_workers=max(1, http.feed_workers), thread_name_prefix="feed-poll")
    try:
        futures = {
            feed["feed_url"]: pool.submit(_poll_feed, http, feed)
            for feed in interleaved_by_host(feeds, lambda feed: feed["feed_url"])
        }
        wait(futures.values())
    finally:
        pool.shutdown(cancel_futures=True)  # a run stopped while waiting does not poll the feeds still queued
    polls: list[_Poll] = []
    unexpected: Exception | None = None
    for feed in feeds:
        try:
            polls.append(futures[feed["feed_url"]].result())
        except Exception as error:  # a bug, not a feed's problem: the other feeds are recorded first, then it fails
            unexpected = unexpected or error
    return polls, unexpected


def _record_polls(catalog: CatalogResource, polls: list[_Poll]) -> None:
    """Every feed's poll result in one transaction (one write lock for the run, not one per feed)."""
    with catalog.begin() as connection:
        for poll in polls:
            connection.execute(
                feeds_table.update().where(feeds_table.c.feed_url == poll.feed["feed_url"]).values(**poll.record)
            )


def _already_stored(media: MediaStoreResource, previous: dict | None) -> bool:
    """The same audio is already kept: a local file whose hash still matches, or the object uploaded then."""
    if not previous or not previous["audio_path"]:
        return False
    if "://" in previous["audio_path"]:
        return media.exists(previous["audio_path"])
    path = Path(previous["audio_path"])
    return path.exists() and sha256_of(path) == previous["audio_sha256"]


def _fetch_episode_files(http: HttpClientResource, media: MediaStoreResource, row: dict, previous: dict | None) -> dict:
    """Download audio (unless the same file is already kept) and the publisher transcript; fill the row."""
    audio_dir = home_dir() / "audio" / row["partition_date"].isoformat()
    try:
        if _already_stored(media, previous):
            row.update({key: previous[key] for key in ("audio_path", "audio_bytes", "audio_sha256", "duration_s")})
        else:
            destination = audio_dir / (row["episode_id"] + extension_for(row["audio_type"], row["audio_url"]))
            download = http.download_audio(row["audio_url"], destination)
            # Probe before keeping it: corrupt audio is recorded, not uploaded.
            row.update(
                audio_bytes=download.n_bytes, audio_sha256=download.sha256, duration_s=probe_duration_s(download.path)
            )
            row["audio_path"] = media.store(download.path, f"{row['partition_date'].isoformat()}/{download.path.name}")
    except (DownloadError, AudioError) as error:
        row.update(status="failed", error=str(error))
        return row
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        # A full disk (home folder or media store) fails this episode only; writes are atomic, nothing half kept.
        row.update(status="failed", error=f"disk full: {error}")
        return row
    if row["transcript_url"]:
        destination = home_dir() / "transcripts" / row["partition_date"].isoformat() / f"{row['episode_id']}.txt"
        try:
            row["transcript_path"] = str(http.download_text(row["transcript_url"], destination).path)
        except DownloadError as error:
            row["transcript_error"] = f"publisher transcript unavailable, will use ASR: {error}"
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            row["transcript_error"] = f"disk full: {error}; will use ASR"
    return row


@dg.asset(
    partitions_def=daily_partitions,
    deps=["feeds"],
    kinds={"python", "duckdb"},
    group_name="ingest",
    retry_policy=NETWORK_RETRY_POLICY,
    check_specs=[dg.AssetCheckSpec("no_duplicate_episode_ids", asset="episodes")],
)
def episodes(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    http: HttpClientResource,
    media: MediaStoreResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    """Episodes published on the partition day (UTC) by every registered feed, audio downloaded with its sha256.

    One row per episode; a dead enclosure, a non-audio or oversized file, corrupt audio or a malformed item is
    a row with status 'failed' and the reason in `error`. A feed that cannot be fetched or parsed is recorded in
    `feeds.last_error` and the other feeds go on.
    """
    day = dt.date.fromisoformat(context.partition_key)
    # The new-feed sensor launches runs for one feed: poll only it and keep the other feeds' rows of the day.
    only_feed = context.run.tags.get(FEED_URL_TAG)
    selected = sa.select(feeds_table).order_by(feeds_table.c.feed_url)
    feeds = catalog.rows(selected.where(feeds_table.c.feed_url == only_feed) if only_feed else selected)
    other_days = set(
        warehouse.query("SELECT episode_id FROM episodes WHERE partition_date <> ?", [day])["episode_id"].to_list()
    )
    stored = {
        row["episode_id"]: row
        for row in warehouse.query(
            "SELECT episode_id, audio_path, audio_bytes, audio_sha256, duration_s FROM episodes "
            "WHERE partition_date = ? AND status = 'ok'",
            [day],
        ).to_dicts()
    }
    rows: list[dict] = []
    per_feed: list[dict] = []
    polled: set[str] = set()
    polls, unexpected = _poll_feeds(http, feeds)
    _record_polls(catalog, polls)  # before anything else can fail: no feed's result or error is lost
    if unexpected is not None:
        raise unexpected
    for poll in polls:
        feed, parsed = poll.feed, poll.parsed
        if parsed is None:
            context.log.warning(f"feed {feed['feed_url']} skipped: {poll.error}")
            per_feed.append({"feed_url": feed["feed_url"], "found": 0, "new": 0, "failed": 0, "feed_error": poll.error})
            continue
        polled.add(feed["feed_url"])
        items, duplicates = day_items(feed["feed_url"], parsed, day, other_days)
        feed_rows = [episode_row(day, feed["feed_url"], feed["title"] or parsed.title, item) for item in items]
        rows.extend(feed_rows)
        if parsed.problem:
            context.log.warning(f"feed {feed['feed_url']}: {parsed.problem}")
        per_feed.append(
            {
                "feed_url": feed["feed_url"],
                "found": len(feed_rows),
                "duplicates_skipped": duplicates,
                "feed_error": parsed.problem,
            }
        )

    # Round-robin over audio hosts, like the polls: each download also holds a slot of its host.
    ready = interleaved_by_host([row for row in rows if row["status"] == "ok"], lambda row: row["audio_url"])
    with ThreadPoolExecutor(max_workers=http.download_workers) as pool:
        list(pool.map(lambda row: _fetch_episode_files(http, media, row, stored.get(row["episode_id"])), ready))

    frame = pl.DataFrame(rows, schema=EPISODES_SCHEMA, orient="row")
    # Rows of feeds not polled this run (another feed's run, a feed down right now, a removed feed) are kept:
    # a re-run replaces what it re-read and never loses what it could not.
    earlier = warehouse.query("SELECT * FROM episodes WHERE partition_date = ?", [day])
    kept = earlier.filter(~pl.col("feed_url").is_in(list(polled)))
    frame = pl.concat([kept.select(list(EPISODES_SCHEMA)).cast(EPISODES_SCHEMA), frame])
    warehouse.replace_partition("episodes", day, frame)
    mirror_to_warehouse(catalog, warehouse, ("feeds",))  # the poll results, for SQL models (daily_feed_health)

    for summary in per_feed:
        feed_frame = frame.filter(pl.col("feed_url") == summary["feed_url"])
        summary["new"] = feed_frame.filter(~pl.col("episode_id").is_in(list(stored))).height
        summary["failed"] = feed_frame.filter(pl.col("status") == "failed").height
    failures = frame.filter(pl.col("status") == "failed")
    duplicates = warehouse.query(
        "SELECT episode_id, count(*) AS n FROM episodes GROUP BY episode_id HAVING count(*) > 1"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "dagster/column_schema": warehouse.table_schema("episodes"),
            "episodes_ok": frame.height - failures.height,
            "episodes_failed": failures.height,
            "audio_hours": float(frame["duration_s"].fill_null(0).sum()) / 3600,
            "feeds_polled": len(feeds),
            "feeds_with_errors": sum(1 for s in per_feed if s.get("feed_error")),
            "per_feed": dg.MetadataValue.md(markdown_table(pl.DataFrame(per_feed))) if per_feed else "_no feeds_",
            "episodes": dg.MetadataValue.md(
                markdown_table(frame.select("show_title", "title", "published_at", "duration_s", "status", "error"))
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_duplicate_episode_ids",
                passed=duplicates.is_empty(),
                metadata={"duplicate_ids": duplicates.height},
            )
        ],
    )
