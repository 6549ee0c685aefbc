"""episode_credits and insight_credits: who said each insight, in which chapter (Podcasting 2.0 tags, VTT voices)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.tables import feeds as feeds_table
from podcast_assets.core.credits import (
    Chapter,
    ChaptersError,
    ItemCredits,
    Person,
    chapter_at,
    credits_by_key,
    parse_chapters,
    speaker_name,
)
from podcast_assets.core.feed_cache import read_cached_feed
from podcast_assets.core.rss import parse_feed
from podcast_assets.orchestration.execution import NETWORK_RETRY_POLICY
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.http_client import DownloadError, HttpClientResource
from podcast_assets.resources.warehouse import WarehouseResource

CHAPTER_SCHEMA = {"partition_date": pl.Date, "episode_id": pl.String, "start_s": pl.Float64, "title": pl.String}
PERSON_SCHEMA = {
    "partition_date": pl.Date,
    "episode_id": pl.String,
    "name": pl.String,
    "role": pl.String,
    "person_group": pl.String,
    "href": pl.String,
}
CREDIT_SCHEMA = {"partition_date": pl.Date, "insight_id": pl.String, "chapter": pl.String, "speaker": pl.String}


def _feed_credits(
    context: dg.AssetExecutionContext, catalog: CatalogResource, feed_urls: list[str]
) -> dict[str, dict[str, ItemCredits]]:
    """Per feed, the credits of its items, read from the copy `episodes` just cached (no second fetch). A cached
    feed that cannot be read again is logged and its episodes go without credits; the other feeds keep theirs."""
    rows = catalog.rows(sa.select(feeds_table.c.feed_url, feeds_table.c.cache_path))
    found = {}
    for row in rows:
        path = Path(row["cache_path"]) if row["feed_url"] in feed_urls and row["cache_path"] else None
        if path is None or not path.exists():
            continue
        try:
            document, content_type = read_cached_feed(path)
            found[row["feed_url"]] = credits_by_key(parse_feed(document, row["feed_url"], content_type))
        except Exception as error:  # one feed's credits never fail the day's
            context.log.warning(f"credits of feed {row['feed_url']} skipped: {type(error).__name__}: {error}")
    return found


@dg.asset(
    partitions_def=daily_partitions,
    deps=["episodes"],
    kinds={"python", "duckdb"},
    group_name="ingest",
    retry_policy=NETWORK_RETRY_POLICY,
)
def episode_credits(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, http: HttpClientResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    """Podcasting 2.0 `podcast:person` tags (name, role, group, link) and `podcast:chapters` JSON chapters of the
    day's episodes, the chapters fetched through the policy-checked HTTP client. A chapters file that cannot be
    fetched or read is logged and counted; that episode keeps its persons and the others their chapters."""
    day = dt.date.fromisoformat(context.partition_key)
    episodes = warehouse.query(
        "SELECT episode_id, feed_url, guid, audio_url FROM episodes WHERE partition_date = ? AND status = 'ok'", [day]
    )
    by_feed = _feed_credits(context, catalog, episodes["feed_url"].unique().to_list())
    chapters, persons, failures = [], [], {}
    for episode in episodes.to_dicts():
        items = by_feed.get(episode["feed_url"], {})
        credits = items.get(episode["guid"] or "") or items.get(episode["audio_url"] or "")
        if credits is None:
            continue
        persons += [{"partition_date": day, "episode_id": episode["episode_id"], **_person(p)} for p in credits.persons]
        found = credits.inline_chapters
        if credits.chapters_url:
            try:
                document = http.fetch_feed(credits.chapters_url).body or b""
                found = parse_chapters(document)
            except (DownloadError, ChaptersError) as error:
                failures[episode["episode_id"]] = str(error)
                context.log.warning(f"chapters of {episode['episode_id']} skipped: {error}")
        if found:
            chapters += [
                {"partition_date": day, "episode_id": episode["episode_id"], "start_s": c.start_s, "title": c.title}
                for c in found
            ]
    warehouse.replace_partition("episode_chapters", day, pl.DataFrame(chapters, schema=CHAPTER_SCHEMA, orient="row"))
    warehouse.replace_partition("episode_persons", day, pl.DataFrame(persons, schema=PERSON_SCHEMA, orient="row"))
    return dg.MaterializeResult(
        metadata={
            "episodes_with_chapters": len({c["episode_id"] for c in chapters}),
            "episodes_with_persons": len({p["episode_id"] for p in persons}),
            "chapters": len(chapters),
            "persons": len(persons),
            "chapters_failed": len(failures),
            "chapter_errors": dg.MetadataValue.json(failures),
        }
    )


def _person(person: Person) -> dict:
    return {"name": person.name, "role": person.role, "person_group": person.group, "href": person.href}


@dg.asset(
    partitions_def=daily_partitions,
    deps=["insights", "episode_credits", "transcripts"],
    kinds={"python", "duckdb"},
    group_name="insights",
)
def insight_credits(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each insight's chapter (the one playing at its start) and speaker: the publisher transcript's voice tag at
    its start (a generic "Host"/"Guest" becomes the one such person the feed names), else the host of a show
    whose feed names one host and no other cast."""
    day = dt.date.fromisoformat(context.partition_key)
    insights = warehouse.query(
        "SELECT insight_id, episode_id, start_s FROM insights WHERE partition_date = ? ORDER BY insight_id", [day]
    )
    chapters = warehouse.query("SELECT * FROM episode_chapters WHERE partition_date = ? ORDER BY start_s", [day])
    persons = warehouse.query("SELECT * FROM episode_persons WHERE partition_date = ?", [day])
    voices = warehouse.query(
        "SELECT episode_id, start_s, end_s, speaker FROM transcripts "
        "WHERE partition_date = ? AND speaker IS NOT NULL ORDER BY episode_id, start_s",
        [day],
    )
    rows = []
    for insight in insights.to_dicts():
        episode = insight["episode_id"]
        mine = chapters.filter(pl.col("episode_id") == episode)
        chapter_list = [Chapter(r["start_s"], r["title"]) for r in mine.to_dicts()]
        cast = [
            Person(r["name"], r["role"], r["person_group"], r["href"])
            for r in persons.filter(pl.col("episode_id") == episode).to_dicts()
        ]
        said = voices.filter((pl.col("episode_id") == episode) & (pl.col("start_s") <= insight["start_s"] + 0.01)).tail(
            1
        )
        voice = said["speaker"][0] if said.height and said["end_s"][0] > insight["start_s"] else None
        rows.append(
            {
                "partition_date": day,
                "insight_id": insight["insight_id"],
                "chapter": chapter_at(chapter_list, insight["start_s"]),
                "speaker": speaker_name(voice, cast),
            }
        )
    frame = pl.DataFrame(rows, schema=CREDIT_SCHEMA, orient="row")
    warehouse.replace_partition("insight_credits", day, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "with_chapter": int(frame["chapter"].is_not_null().sum()),
            "with_speaker": int(frame["speaker"].is_not_null().sum()),
        }
    )
