"""briefs and brief_deliveries: each subscriber's top insights of the day, rendered and emailed once."""

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from podcast_assets.assets.interest_vectors import cached_phrase_vectors
from podcast_assets.assets.reporting import markdown_table
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.brief_history import brief_archive_rows, day_verdicts, write_brief_archive
from podcast_assets.catalog.mirror import mirror_to_warehouse
from podcast_assets.catalog.registry import receiving_subscribers
from podcast_assets.core.atomic_files import flush_to_disk
from podcast_assets.core.background import BACKGROUND_SENTENCES
from podcast_assets.core.clustering import idea_features
from podcast_assets.core.ranking import Candidate, candidate_priors, cluster_members, phrase_nulls
from podcast_assets.core.rendering import deep_link
from podcast_assets.core.subscribers import InvalidSubscriber, interest_phrases
from podcast_assets.operations.brief_batches import (
    BRIEF_SCHEMA,
    CHUNK_SIZE,
    DOCUMENT_SCHEMA,
    BriefDay,
    ChunkResult,
    all_chunks,
    no_brief,
    staging_dir,
)
from podcast_assets.operations.deliveries import deliver_day, sent_to_non_subscribers, sent_twice
from podcast_assets.operations.second_pass import SHOWN_SCHEMA, retranscribe_shown, shown_insight_ids
from podcast_assets.orchestration.execution import NETWORK_RETRY_POLICY
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir

_DAY_INSIGHTS_SQL = """
SELECT i.insight_id, coalesce(i.headline, i.text) AS text, i.start_s, i.score AS quality, i.episode_id,
       e.feed_url, coalesce(f.title, e.show_title, e.feed_url) AS show, e.title AS episode_title, e.audio_url,
       e.link, c.cluster_id, s.salience, emb.embedding, emb.context_embedding, ic.speaker, ic.chapter
FROM insights i
JOIN insight_embeddings emb USING (partition_date, insight_id)
JOIN insight_clusters c USING (partition_date, insight_id)
JOIN cluster_summaries s ON s.partition_date = c.partition_date AND s.cluster_id = c.cluster_id
JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
LEFT JOIN feeds f ON f.feed_url = e.feed_url
LEFT JOIN insight_credits ic USING (partition_date, insight_id)
WHERE i.partition_date = ?
ORDER BY i.insight_id
"""


class BriefsConfig(dg.Config):
    """`workers`: processes ranking and rendering chunks of `chunk_size` subscribers side by side (0 = one per
    core). A day of one chunk runs in the step's own process."""

    workers: int = 0
    chunk_size: int = CHUNK_SIZE

    def resolved_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def _brief_day(
    day: dt.date,
    out_dir: Path,
    day_insights: pl.DataFrame,
    rows: list[dict],
    ranked: list[dict],
    warehouse: WarehouseResource,
    embedder: EmbedderResource,
    catalog: CatalogResource,
) -> BriefDay:
    """The day's inputs shared by every chunk of subscribers, each made once."""
    for row in rows:  # once per insight, not once per brief that shows it
        row["deep_link"] = deep_link(row["audio_url"], row["link"], row["start_s"])
    width = len(rows[0]["embedding"]) if rows else 0
    vectors = np.asarray(day_insights["embedding"].to_list(), dtype=np.float32).reshape(len(rows), width)
    # Rows embedded before contexts were stored have none: the passage is its own context.
    contexts = [
        c if c is not None else v for c, v in zip(day_insights["context_embedding"].to_list(), vectors, strict=True)
    ]
    context_vectors = np.asarray(contexts, dtype=np.float32).reshape(len(rows), width)
    background_vectors = embedder.encode(list(BACKGROUND_SENTENCES)) if rows else np.zeros((0, width))
    distinct = sorted({phrase for subscriber in ranked for phrase in subscriber["phrases"]})
    phrase_vectors = cached_phrase_vectors(warehouse, embedder, distinct)  # cached across days
    candidates = [
        Candidate(r["insight_id"], r["episode_id"], r["feed_url"], r["cluster_id"], r["quality"], r["salience"])
        for r in rows
    ]
    keep = ("text", "show", "episode_title", "start_s", "deep_link", "speaker", "chapter", "episode_id")
    return BriefDay(
        day=day,
        out_dir=out_dir,
        insights={r["insight_id"]: {k: r[k] for k in keep} for r in rows},
        candidates=candidates,
        vectors=vectors,
        context_vectors=context_vectors,
        features=[idea_features(r["text"]) for r in rows],
        members=cluster_members(candidates),
        priors=candidate_priors(candidates),
        feed_of=np.asarray([r["feed_url"] for r in rows], dtype=object),
        background_vectors=background_vectors,
        phrase_vectors=phrase_vectors,
        phrase_row={phrase: k for k, phrase in enumerate(distinct)},
        nulls=phrase_nulls(phrase_vectors, background_vectors) if distinct else np.zeros(0),
        verdicts=day_verdicts(catalog, warehouse, day),
    )


def _second_pass(
    context: dg.AssetExecutionContext,
    transcriber: TranscriberResource,
    warehouse: WarehouseResource,
    day: dt.date,
    pick_files: list[Path],
) -> pl.DataFrame:
    """`shown_passages` of the day: every shown span transcribed again, when a second-pass model is configured."""
    second = transcriber.second_pass()
    if second is None or not pick_files:
        return pl.DataFrame(schema=SHOWN_SCHEMA)
    picks = pl.read_parquet(pick_files, columns=["insight_id", "related_insight_ids", "also_on_insight_ids"])

    def transcribe(audio, prompt: str | None, language: str | None):
        return second.in_language(language).transcribe(audio, prompt)

    return retranscribe_shown(
        warehouse.query, transcribe, second.model_name(), day, shown_insight_ids(picks), context.log.warning
    )


def _second_pass_metadata(shown: pl.DataFrame) -> dict:
    if not shown.height:
        return {"second_pass": "off"}
    counts = dict(shown.group_by("status").len().iter_rows())
    return {
        "second_pass": f"{shown['model'][0]}: {counts.get('second_pass', 0)} of {shown.height} shown passages",
        "second_pass_failed": counts.get("failed", 0),
        "second_pass_audio_s": round(float(shown["audio_s"].sum()), 1),
        "second_pass_wall_s": round(float(shown["wall_s"].sum()), 1),
    }


def _archive_rows(chunk_results: list[ChunkResult], insights: dict[str, dict]) -> Iterator[dict]:
    """The archive rows, one chunk's documents in memory at a time."""
    for result in chunk_results:
        documents = pl.read_parquet(
            result.documents_path, columns=["partition_date", "subscriber_id", "n_insights", "status", "html"]
        )
        picks = pl.read_parquet(result.picks_path, columns=["subscriber_id", "rank", "insight_id"])
        yield from brief_archive_rows(documents, picks, insights)


# Asset check name -> the count in `_brief_problems` that must be zero.
BRIEF_CHECKS = {
    "at_most_five_insights": "over_five",
    "no_duplicate_insight": "duplicate_insight",
    "no_two_insights_from_one_cluster": "same_cluster_twice",
    "related_never_from_own_episode": "related_from_own_episode",
}


def _brief_problems(briefs: pl.DataFrame, episode_of: dict[str, str]) -> dict[str, int]:
    """Counts of broken promises, for the asset checks."""
    per_subscriber = briefs.group_by("subscriber_id").agg(
        pl.len().alias("n"),
        pl.col("insight_id").n_unique().alias("unique"),
        pl.col("cluster_id").n_unique().alias("clusters"),
    )
    related_same_episode = sum(
        1
        for insight_id, related in briefs.select("insight_id", "related_insight_ids").iter_rows()
        for other in related or []
        if episode_of.get(other) == episode_of.get(insight_id)
    )
    return {
        "over_five": per_subscriber.filter(pl.col("n") > 5).height,
        "duplicate_insight": per_subscriber.filter(pl.col("unique") < pl.col("n")).height,
        "same_cluster_twice": per_subscriber.filter(pl.col("clusters") < pl.col("n")).height,
        "related_from_own_episode": related_same_episode,
    }


@dg.asset(
    partitions_def=daily_partitions,
    deps=["insight_clusters", "insight_credits", "subscribers"],
    kinds={"python", "duckdb", "jinja"},
    group_name="delivery",
    check_specs=[dg.AssetCheckSpec(name, asset="briefs") for name in BRIEF_CHECKS],
)
def briefs(
    context: dg.AssetExecutionContext,
    config: BriefsConfig,
    warehouse: WarehouseResource,
    embedder: EmbedderResource,
    catalog: CatalogResource,
    transcriber: TranscriberResource,
) -> dg.MaterializeResult:
    """Per active subscriber: the 5 best insights of the day by relevance to their interests (embedding
    similarity, calibrated per interest against a background of everyday talk: off-topic insights are never
    picked), quality and salience; never two from one cluster, spread over episodes; each with the other
    mentions of the same idea ("also on") and up to 3 related on-topic ideas from other episodes, none twice.
    Rendered as Markdown, HTML and text under `<home>/briefs/<day>/`. With a second-pass model configured
    (`transcriber.second_pass_model`), every shown span is transcribed again and briefs show that text
    (`shown_passages` keeps both passes).
    A subscriber with fewer good matches gets fewer; one with none gets no brief (status `no_matches`).
    Subscribers (active, confirmed, not paused) come from the catalog; their "more/less like this" clicks of
    earlier days move their interest vectors first (core/feedback.py). Each insight carries signed feedback
    links, each brief preferences, archive and unsubscribe links; the day's briefs go to the catalog's archive."""
    day = dt.date.fromisoformat(context.partition_key)
    day_insights = warehouse.query(_DAY_INSIGHTS_SQL, [day])
    subscribers = receiving_subscribers(catalog)
    rows = day_insights.to_dicts()
    if not rows:
        context.log.warning(f"no insights for {day}: no episodes, transcripts or usable passages, so no briefs")
    # At scale (100,000 subscribers, 10,000 insights): each distinct interest phrase is embedded once, relevance
    # is one matrix product per batch of subscribers, nothing per subscriber scans every insight in Python, and
    # chunks of subscribers run in `BriefsConfig.workers` processes (operations/brief_batches.py).
    ranked, documents = [], []
    for subscriber in subscribers if rows else []:
        try:
            ranked.append({**subscriber, "phrases": interest_phrases(subscriber["interests"])})
        except InvalidSubscriber as error:  # written around the CLI: recorded for this subscriber only
            context.log.warning(f"subscriber {subscriber['email']} skipped: {error}")
            documents.append(no_brief(day, subscriber["subscriber_id"], "no_interests"))
    out_dir = home_dir() / "briefs" / day.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    brief_day = _brief_day(day, out_dir, day_insights, rows, ranked, warehouse, embedder, catalog)
    staging = staging_dir(brief_day)
    chunk_results = []
    # One BLAS thread: beside torch's OpenMP threads, OpenBLAS's own turn each small product into a spin-wait
    # (8 ms instead of 27 us for 1,500 x 384 @ 384 here); the big batched products lose nothing.
    with threadpool_limits(limits=1, user_api="blas"):
        for result in all_chunks(brief_day, ranked, staging, config.resolved_workers(), config.chunk_size):
            chunk_results.append(result)
    shown = _second_pass(context, transcriber, warehouse, day, [r.picks_path for r in chunk_results])
    if shown.height:  # the same picks (ranking reads no text), rendered again with the text readers should see
        for insight_id, text in shown.select("insight_id", "text").iter_rows():
            brief_day.insights[insight_id]["text"] = text
        with threadpool_limits(limits=1, user_api="blas"):
            chunk_results = list(all_chunks(brief_day, ranked, staging, config.resolved_workers(), config.chunk_size))
    flush_to_disk()
    pick_files = [r.picks_path for r in chunk_results]
    document_files = [r.documents_path for r in chunk_results]
    shown_path = staging / "shown-passages.parquet"
    shown.write_parquet(shown_path)
    if documents:  # subscribers without a usable interest: a status row each
        extra = staging / "documents-without-interests.parquet"
        pl.DataFrame(documents, schema=DOCUMENT_SCHEMA, orient="row").write_parquet(extra)
        document_files.append(extra)
    warehouse.replace_partition_from_files(
        day, {"briefs": pick_files, "brief_documents": document_files, "shown_passages": [shown_path]}
    )
    brief_frame = pl.read_parquet(pick_files) if pick_files else pl.DataFrame(schema=BRIEF_SCHEMA)
    write_brief_archive(catalog, day, _archive_rows(chunk_results, brief_day.insights))
    profiles = [profile for r in chunk_results for profile in r.profiles]
    briefs_written = sum(r.ok for r in chunk_results)
    sample = warehouse.query(
        "SELECT markdown FROM brief_documents WHERE partition_date = ? AND status = 'ok' "
        "ORDER BY subscriber_id LIMIT 1",
        [day],
    )
    shutil.rmtree(staging, ignore_errors=True)

    problems = _brief_problems(brief_frame, {r["insight_id"]: r["episode_id"] for r in rows})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": brief_frame.height,
            "subscribers": len(subscribers),
            "briefs_written": briefs_written,
            "subscribers_without_matches": sum(r.no_matches for r in chunk_results),
            "subscribers_without_interests": len(documents),
            "day_has_insights": bool(rows),
            "mean_relevance": float(brief_frame["relevance"].mean() or 0.0),
            "min_relevance": float(brief_frame["relevance"].min() or 0.0),
            "subscribers_with_feedback": len(profiles),
            **_second_pass_metadata(shown),
            "feedback_profiles": dg.MetadataValue.md(
                markdown_table(pl.DataFrame(profiles)) if profiles else "_no feedback clicks before this day_"
            ),
            "sample_brief": dg.MetadataValue.md(
                sample["markdown"][0] if sample.height else "_no brief today: no insights matched any subscriber_"
            ),
        },
        check_results=[
            dg.AssetCheckResult(check_name=name, passed=problems[key] == 0, metadata={key: problems[key]})
            for name, key in BRIEF_CHECKS.items()
        ],
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=["briefs"],
    kinds={"python", "duckdb", "email"},
    retry_policy=NETWORK_RETRY_POLICY,
    group_name="delivery",
    check_specs=[
        dg.AssetCheckSpec("never_sent_twice", asset="brief_deliveries"),
        dg.AssetCheckSpec("only_to_confirmed_subscribers", asset="brief_deliveries"),
    ],
)
def brief_deliveries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mailer: MailerResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    """One multipart (text + HTML) email per subscriber with a brief that day, over SMTP or into the outbox.
    Each is recorded `sending` (with its stable Message-ID) before the SMTP transaction and `sent` after, so a
    crash can never cause a blind second send. Already `sent`/`written`: skipped. `failed` (certainly not
    delivered): retried by the next materialization. Left `sending` by a run that died, or no answer after the
    message: `unknown_after_crash` / `unknown_no_reply`, not resent (at-most-once; `podcast-brief deliveries
    resend` sends on purpose). `rejected` (5xx): not retried."""
    day = dt.date.fromisoformat(context.partition_key)
    outcomes = deliver_day(warehouse, catalog, mailer, day, context.run_id, log=context.log.warning)
    doubles = sent_twice(catalog, day)
    not_subscribed = sent_to_non_subscribers(catalog)
    mirror_to_warehouse(catalog, warehouse, ("subscribers", "brief_deliveries", "delivery_attempts"))
    deliveries = warehouse.query(
        "SELECT subscriber_id, status, attempts, sent_at, smtp_code, error FROM brief_deliveries "
        "WHERE partition_date = ? ORDER BY subscriber_id",
        [day],
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": deliveries.height,
            "transport": mailer.transport(),
            **{f"deliveries_{k}": v for k, v in outcomes.items()},
            "deliveries": dg.MetadataValue.md(markdown_table(deliveries)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="never_sent_twice",
                passed=doubles.is_empty(),
                metadata={"subscribers_maybe_sent_twice": doubles.height},
                description="Automatic attempts that may have reached a mailbox: at most one per subscriber "
                "(operator resends not counted).",
            ),
            dg.AssetCheckResult(
                check_name="only_to_confirmed_subscribers",
                passed=not_subscribed.is_empty(),
                metadata={
                    "briefs_to_unconfirmed_or_unsubscribed": not_subscribed.height,
                    "addresses": dg.MetadataValue.md(markdown_table(not_subscribed)),
                },
                description="No brief, on any day, went to an address before it confirmed or after it unsubscribed.",
            ),
        ],
    )
