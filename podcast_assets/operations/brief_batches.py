"""A day's briefs in chunks of subscribers, across processes: bounded memory and both cores at 100,000 subscribers.

The day's shared inputs (`BriefDay`: insight vectors, candidates, interest phrase vectors, feedback verdicts) are
made once by the `briefs` asset. Each chunk of subscribers is ranked and rendered, its three files per brief
written (atomically, flushed once a day), and its pick rows and documents written as two Parquet files in the
day's staging folder; the asset then swaps every chunk into the warehouse in one transaction. Memory is the day's
inputs plus one chunk per worker, whatever the number of subscribers. A run killed half way leaves staging files
only, which the next run of the day clears first: the warehouse has the old day or the new one, never a mix.

Workers are spawned processes (not forked: the parent has torch's OpenMP and DuckDB threads running), each
loading the pickled `BriefDay` once; a day with one chunk, or `workers=1`, runs in the calling process.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from podcast_assets.catalog import links
from podcast_assets.core.atomic_files import atomic_write_bytes, atomic_write_text
from podcast_assets.core.clustering import IdeaFeatures
from podcast_assets.core.feedback import Verdict, adjust_interests, profile_shift
from podcast_assets.core.ranking import Candidate, Relevance, choose_brief, relevance_of_groups
from podcast_assets.core.rendering import BriefDocument, BriefItem

BRIEF_SCHEMA = {
    "partition_date": pl.Date,
    "subscriber_id": pl.String,
    "rank": pl.Int32,
    "insight_id": pl.String,
    "score": pl.Float64,
    "relevance": pl.Float64,
    "relevance_margin": pl.Float64,
    "cluster_id": pl.String,
    "related_insight_ids": pl.List(pl.String),
    "also_on_insight_ids": pl.List(pl.String),
}
DOCUMENT_SCHEMA = {
    "partition_date": pl.Date,
    "subscriber_id": pl.String,
    "n_insights": pl.Int32,
    "status": pl.String,
    "markdown": pl.String,
    "html": pl.String,
    "text": pl.String,
    "path": pl.String,
}
# Subscribers whose relevance is one matrix product (10,000 insights x ~1,000 phrases: ~40 MB of float32).
RELEVANCE_BATCH = 256
# Subscribers per chunk: ~15 KB of rendered documents each, so ~30 MB of a worker's memory per chunk.
CHUNK_SIZE = 2_000


@dataclass
class BriefDay:
    """Everything a chunk needs, made once per day (picklable: sent to each worker once)."""

    day: dt.date
    out_dir: Path
    insights: dict[str, dict]  # insight_id -> row (text, show, episode_title, start_s, deep_link, speaker, chapter)
    candidates: list[Candidate]
    vectors: np.ndarray
    context_vectors: np.ndarray
    features: list[IdeaFeatures]
    members: dict[str, list[int]]
    priors: np.ndarray  # (quality, salience) per candidate
    feed_of: np.ndarray
    background_vectors: np.ndarray
    phrase_vectors: np.ndarray
    phrase_row: dict[str, int]
    nulls: np.ndarray
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkResult:
    picks_path: Path
    documents_path: Path
    ok: int
    no_matches: int
    profiles: list[dict]


def _item(row: dict) -> BriefItem:
    return BriefItem(
        row["text"],
        row["show"],
        row["episode_title"] or "",
        row["start_s"],
        row["deep_link"],
        speaker=row.get("speaker"),
        chapter=row.get("chapter"),
    )


def subscriber_links(subscriber_id: str, day: dt.date) -> dict[str, str]:
    return {
        "audio": links.audio_brief_url(subscriber_id, day),
        "preferences": links.preferences_url(subscriber_id),
        "archive": links.archive_url(subscriber_id),
        "unsubscribe": links.unsubscribe_url(subscriber_id),
    }


def no_brief(day: dt.date, subscriber_id: str, status: str) -> dict:
    return _document(day, subscriber_id, status)


def _document(
    day: dt.date, subscriber_id: str, status: str, rendered: dict | None = None, path: Path | None = None
) -> dict:
    """A `brief_documents` row: the rendered brief, or only the status when there is none."""
    rendered = rendered or {}
    return {
        "partition_date": day,
        "subscriber_id": subscriber_id,
        "n_insights": rendered.get("n_insights", 0),
        "status": status,
        "markdown": rendered.get("md"),
        "html": rendered.get("html"),
        "text": rendered.get("txt"),
        "path": str(path) if path else None,
    }


def _picks_for(day: BriefDay, subscriber: dict, scored: Relevance, interest_vectors: np.ndarray):
    allowed = set(subscriber["feeds"] or [])
    if not allowed:
        return choose_brief(
            day.candidates,
            day.vectors,
            interest_vectors,
            day.background_vectors,
            day.features,
            context_vectors=day.context_vectors,
            scored=scored,
            members=day.members,
            priors=day.priors,
        )
    keep = np.flatnonzero(np.isin(day.feed_of, list(allowed)))  # ranked among those feeds' insights only
    return choose_brief(
        [day.candidates[i] for i in keep],
        day.vectors[keep],
        interest_vectors,
        day.background_vectors,
        [day.features[i] for i in keep],
        context_vectors=day.context_vectors[keep],
        priors=day.priors[keep],
        scored=(
            Relevance(scored.cosine[keep], scored.margin[keep], scored.context_margin[keep], scored.implied[keep])
            if scored is not None
            else None
        ),
    )


def briefs_of_chunk(day: BriefDay, subscribers: list[dict], staging: Path, chunk_index: int) -> ChunkResult:
    """Rank, render and write the briefs of `subscribers` (each with its parsed `phrases`); the chunk's rows go
    to two Parquet files in `staging`, written atomically."""
    brief_rows, documents, profiles = [], [], []
    ok = no_matches = 0
    for start in range(0, len(subscribers), RELEVANCE_BATCH):
        batch = subscribers[start : start + RELEVANCE_BATCH]
        groups = [[day.phrase_row[p] for p in s["phrases"]] for s in batch]
        batch_scores = relevance_of_groups(day.vectors, day.phrase_vectors, day.nulls, groups, day.context_vectors)
        for subscriber, scored in zip(batch, batch_scores, strict=True):
            subscriber_id = subscriber["subscriber_id"]
            interest_vectors = day.phrase_vectors[[day.phrase_row[p] for p in subscriber["phrases"]]]
            clicks = day.verdicts.get(subscriber_id)
            if clicks:
                moved = adjust_interests(interest_vectors, clicks)
                profiles.append(
                    {
                        "email": subscriber["email"],
                        "more": sum(v.more for v in clicks),
                        "less": sum(not v.more for v in clicks),
                        "profile_shift": round(profile_shift(interest_vectors, moved), 4),
                    }
                )
                interest_vectors, scored = moved, None  # moved vectors: relevance computed again, by choose_brief
            picks = _picks_for(day, subscriber, scored, interest_vectors)
            if not picks:
                documents.append(_document(day.day, subscriber_id, "no_matches"))
                no_matches += 1
                continue
            brief_rows += [{"partition_date": day.day, "subscriber_id": subscriber_id, **vars(p)} for p in picks]
            items = []
            for pick in picks:
                item = _item(day.insights[pick.insight_id])
                item.more_url = links.feedback_url(subscriber_id, day.day, pick.insight_id, "more")
                item.less_url = links.feedback_url(subscriber_id, day.day, pick.insight_id, "less")
                item.related = [_item(day.insights[r]) for r in pick.related_insight_ids]
                item.also_on = [_item(day.insights[r]) for r in pick.also_on_insight_ids]
                items.append(item)
            name = subscriber["name"] or subscriber["email"]
            document = BriefDocument(
                name, day.day, subscriber["interests"], items, subscriber_links(subscriber_id, day.day)
            )
            rendered = document.render()
            stem = day.out_dir / subscriber_id
            for kind, body in rendered.items():  # a kill never leaves half a brief; flushed to disk once a day
                atomic_write_text(stem.with_suffix(f".{kind}"), body, durable=False)
            documents.append(
                _document(day.day, subscriber_id, "ok", {**rendered, "n_insights": len(picks)}, stem.with_suffix(".md"))
            )
            ok += 1
    picks_path = staging / f"picks-{chunk_index:05d}.parquet"
    documents_path = staging / f"documents-{chunk_index:05d}.parquet"
    _write_parquet(pl.DataFrame(brief_rows, schema=BRIEF_SCHEMA, orient="row"), picks_path)
    _write_parquet(pl.DataFrame(documents, schema=DOCUMENT_SCHEMA, orient="row"), documents_path)
    return ChunkResult(picks_path, documents_path, ok, no_matches, profiles)


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    temp = path.with_name(f".tmp-{path.name}")
    frame.write_parquet(temp)
    os.replace(temp, path)


def staging_dir(day: BriefDay) -> Path:
    """The day's chunk files; whatever an earlier (killed) run left there is removed first."""
    staging = day.out_dir.parent / ".staging" / day.day.isoformat()
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


# --- worker processes -------------------------------------------------------------------------------------------
_WORKER_DAY: BriefDay | None = None


def _load_day(path: str) -> None:
    global _WORKER_DAY
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # one core per worker; see the note in the briefs asset
    with open(path, "rb") as handle:
        _WORKER_DAY = pickle.load(handle)


def _chunk_in_worker(subscribers: list[dict], staging: str, chunk_index: int) -> ChunkResult:
    assert _WORKER_DAY is not None
    return briefs_of_chunk(_WORKER_DAY, subscribers, Path(staging), chunk_index)


def all_chunks(
    day: BriefDay, subscribers: list[dict], staging: Path, workers: int, chunk_size: int = CHUNK_SIZE
) -> Iterator[ChunkResult]:
    """Every chunk's result, in chunk order. `workers` processes when there is more than one chunk."""
    chunks = [subscribers[i : i + chunk_size] for i in range(0, len(subscribers), chunk_size)]
    # A daemonic process (some pool workers) may not start children: its chunks run here, one after another.
    if workers <= 1 or len(chunks) <= 1 or multiprocessing.current_process().daemon:
        for index, chunk in enumerate(chunks):
            yield briefs_of_chunk(day, chunk, staging, index)
        return
    day_path = staging / "day.pickle"
    atomic_write_bytes(day_path, pickle.dumps(day, protocol=pickle.HIGHEST_PROTOCOL))
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_load_day,
        initargs=(str(day_path),),
    ) as pool:
        futures = [pool.submit(_chunk_in_worker, chunk, str(staging), i) for i, chunk in enumerate(chunks)]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
