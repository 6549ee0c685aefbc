"""episodes: the day's episodes of every registered feed, with their audio downloaded."""

import datetime as dt
import errno
import hashlib
import traceback
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl
import sqlalchemy as sa

from podcast_assets.assets.reporting import markdown_table
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.mirror import mirror_to_warehouse
from podcast_assets.catalog.registry import utc_now
from podcast_assets.catalog.tables import feeds as feeds_table
from podcast_assets.core.audio import AudioError, extension_for, probe_duration_s, sha256_of
from podcast_assets.core.episodes import EPISODES_SCHEMA, day_items, episode_row
from podcast_assets.core.feed_cache import read_cached_feed, write_cached_feed
from podcast_assets.core.rss import Enclosure, FeedParseError, ParsedFeed, parse_feed
from podcast_assets.orchestration.execution import NETWORK_RETRY_POLICY
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.orchestration.sensors import FEED_URL_TAG
from podcast_assets.resources.host_slots import interleaved_by_host
from podcast_assets.resources.http_client import DownloadError, FeedResponse, HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir

ERROR_MAX_CHARS = 1_000  # a feed's last_error: the message, never a traceback


@dataclass
class _Poll:
    """One feed's poll, made in a worker thread: the values for its catalog row, and its day's rows or the error."""

    feed: dict
    record: dict
    parsed: ParsedFeed | None = None
    rows: list[dict] = field(default_factory=list)
    duplicates: int = 0
    alternatives: dict[str, list[Enclosure]] = field(default_factory=dict)  # episode id -> audio to probe next
    error: str | None = None
    traceback: str | None = None  # for the run log, when the error was not one of the expected kinds


def feed_cache_path(feed_url: str) -> Path:
    return home_dir() / "feeds" / (hashlib.sha256(feed_url.encode()).hexdigest()[:16] + ".xml")


def _fetch_feed_document(http: HttpClientResource, feed: dict) -> tuple[FeedResponse, Path, bytes, str | None]:
    """Conditional GET; a 304 re-reads the cached copy so a re-run of a day sees the same items."""
    cache_path = Path(feed["cache_path"]) if feed["cache_path"] else None
    has_cache = cache_path is not None and cache_path.exists()
    response = http.fetch_feed(
        feed["feed_url"],
        etag=feed["etag"] if has_cache else None,
        last_modified=feed["last_modified"] if has_cache else None,
    )
    if response.body is None:
        return response, cache_path, *read_cached_feed(cache_path)
    cache_path = feed_cache_path(feed["feed_url"])
    # Atomic: the row keeps the ETag, and a later 304 re-reads this file, so it must never be half written.
    # The ETag is recorded after all polls: a crash before that leaves the old ETag beside the new file,
    # so the next poll asks with the old one and is sent the current version in full.
    write_cached_feed(cache_path, response.body, response.content_type)
    return response, cache_path, response.body, response.content_type


def _poll_feed(http: HttpClientResource, feed: dict, day: dt.date, other_days: set[str]) -> _Poll:
    """Fetch, parse and turn into the day's rows. Whatever goes wrong is this feed's error, never the day's: an
    expected failure (network, not a feed) as its message, anything else as its type and message with the
    traceback kept for the run log. Thread-safe: touches no catalog or Dagster context (the caller records)."""
    try:
        response, cache_path, body, content_type = _fetch_feed_document(http, feed)
        parsed = parse_feed(body, feed["feed_url"], content_type)
        items, duplicates = day_items(feed["feed_url"], parsed, day, other_days)
        rows = [episode_row(day, feed["feed_url"], feed["title"] or parsed.title, item) for item in items]
    except (DownloadError, FeedParseError, OSError) as error:
        return _Poll(feed, {"last_polled_at": utc_now(), "last_error": str(error)[:ERROR_MAX_CHARS]}, error=str(error))
    except Exception as error:  # a feed nobody foresaw (or a bug it meets): recorded, and the other feeds go on
        message = f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
        record = {"last_polled_at": utc_now(), "last_error": message}
        return _Poll(feed, record, error=message, traceback=traceback.format_exc())
    # A feed that parsed with a problem (broken or unsafe XML) keeps its salvaged items and records the problem.
    record = {
        "last_polled_at": utc_now(),
        "etag": response.etag,
        "last_modified": response.last_modified,
        "last_status": response.status_code,
        "last_error": parsed.problem[:ERROR_MAX_CHARS] if parsed.problem else None,
        "cache_path": str(cache_path),
        "title": sa.func.coalesce(feeds_table.c.title, parsed.title),
    }
    alternatives = {day_item.episode_id: day_item.item.audio_alternatives for day_item in items}
    return _Poll(feed, record, parsed, rows, duplicates, alternatives)


def _poll_feeds(http: HttpClientResource, feeds: list[dict], day: dt.date, other_days: set[str]) -> list[_Poll]:
    """Every feed polled by `http.feed_workers` threads (each request within the per-host limit), returned in the
    order of `feeds`. Submitted round-robin over hosts so the threads do not all queue on one host's slots."""
    pool = ThreadPoolExecutor(max_workers=max(1, http.feed_workers), thread_name_prefix="feed-poll")
    try:
        futures = {
            feed["feed_url"]: pool.submit(_poll_feed, http, feed, day, other_days)
            for feed in interleaved_by_host(feeds, lambda feed: feed["feed_url"])
        }
        wait(futures.values())
    finally:
        pool.shutdown(cancel_futures=True)  # a run stopped while waiting does not poll the feeds still queued
    return [futures[feed["feed_url"]].result() for feed in feeds]


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


def _download_audio(
    http: HttpClientResource, media: MediaStoreResource, row: dict, alternatives: list[Enclosure]
) -> None:
    """Download and probe the chosen enclosure; when it is not usable audio (an image, a page, a dead link), the
    item's other candidate files in order. Fills the row from the first that is; raises the first error if none."""
    candidates = [(row["audio_url"], row["audio_type"])] + [(e.url, e.type) for e in alternatives]
    audio_dir = home_dir() / "audio" / row["partition_date"].isoformat()
    errors: list[DownloadError | AudioError] = []
    for url, audio_type in candidates:
        destination = audio_dir / (row["episode_id"] + extension_for(audio_type, url))
        try:
            download = http.download_audio(url, destination)
            # Probe before keeping it: corrupt audio is recorded, not uploaded.
            duration_s = probe_duration_s(download.path)
        except (DownloadError, AudioError) as error:
            errors.append(error)
            continue
        row.update(audio_url=url, audio_type=audio_type, audio_bytes=download.n_bytes, audio_sha256=download.sha256)
        row["duration_s"] = duration_s
        row["audio_path"] = media.store(download.path, f"{row['partition_date'].isoformat()}/{download.path.name}")
        return
    if len(errors) > 1:
        raise type(errors[0])(f"{errors[0]} (and {len(errors) - 1} other file(s) of the item: {errors[-1]})")
    raise errors[0]


def _fetch_episode_files(
    http: HttpClientResource,
    media: MediaStoreResource,
    row: dict,
    previous: dict | None,
    alternatives: list[Enclosure] = (),
) -> dict:
    """Download audio (unless the same file is already kept) and the publisher transcript; fill the row."""
    try:
        if _already_stored(media, previous):
            row.update({key: previous[key] for key in ("audio_path", "audio_bytes", "audio_sha256", "duration_s")})
        else:
            _download_audio(http, media, row, list(alternatives))
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
    alternatives: dict[str, list[Enclosure]] = {}
    per_feed: list[dict] = []
    polled: set[str] = set()
    polls = _poll_feeds(http, feeds, day, other_days)
    _record_polls(catalog, polls)  # before anything else can fail: no feed's result or error is lost
    for poll in polls:
        feed, parsed = poll.feed, poll.parsed
        if parsed is None:
            context.log.warning(f"feed {feed['feed_url']} skipped: {poll.error}")
            if poll.traceback:
                context.log.error(f"feed {feed['feed_url']} raised an unexpected error:\n{poll.traceback}")
            per_feed.append({"feed_url": feed["feed_url"], "found": 0, "new": 0, "failed": 0, "feed_error": poll.error})
            continue
        polled.add(feed["feed_url"])
        rows.extend(poll.rows)
        alternatives.update(poll.alternatives)
        if parsed.problem:
            context.log.warning(f"feed {feed['feed_url']}: {parsed.problem}")
        per_feed.append(
            {
                "feed_url": feed["feed_url"],
                "found": len(poll.rows),
                "duplicates_skipped": poll.duplicates,
                "feed_error": parsed.problem,
            }
        )

    # Round-robin over audio hosts, like the polls: each download also holds a slot of its host.
    ready = interleaved_by_host([row for row in rows if row["status"] == "ok"], lambda row: row["audio_url"])
    with ThreadPoolExecutor(max_workers=http.download_workers) as pool:
        list(
            pool.map(
                lambda row: _fetch_episode_files(
                    http, media, row, stored.get(row["episode_id"]), alternatives.get(row["episode_id"], [])
                ),
                ready,
            )
        )

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
