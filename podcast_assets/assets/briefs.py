"""briefs and brief_deliveries: each subscriber's top insights of the day, rendered and emailed once."""

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from podcast_assets.admin import receiving_subscribers
from podcast_assets.assets.interest_vectors import cached_phrase_vectors
from podcast_assets.assets.reporting import markdown_table
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.brief_history import brief_archive_rows, day_verdicts, write_brief_archive
from podcast_assets.catalog.mirror import mirror_to_warehouse
from podcast_assets.core.atomic_files import atomic_write_text, flush_to_disk
from podcast_assets.core.background import BACKGROUND_SENTENCES
from podcast_assets.core.clustering import idea_features
from podcast_assets.core.feedback import adjust_interests, profile_shift
from podcast_assets.core.ranking import (
    Candidate,
    Relevance,
    choose_brief,
    cluster_members,
    phrase_nulls,
    relevance_of_groups,
)
from podcast_assets.core.rendering import BriefDocument, BriefItem, deep_link
from podcast_assets.core.subscribers import InvalidSubscriber, interest_phrases
from podcast_assets.execution import NETWORK_RETRY_POLICY
from podcast_assets.operations.deliveries import deliver_day, sent_to_non_subscribers, sent_twice
from podcast_assets.partitions import daily_partitions
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir
from podcast_assets.web import links

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
# Subscribers whose relevance is one matrix product (10,000 insights x ~1,000 phrases: ~40 MB of float32).
RELEVANCE_BATCH = 256
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


# Asset check name -> the count in `_brief_problems` that must be zero.
BRIEF_CHECKS = {
    "at_most_five_insights": "over_five",
    "no_duplicate_insight": "duplicate_insight",
    "no_two_insights_from_one_cluster": "same_cluster_twice",
    "related_never_from_own_episode": "related_from_own_episode",
}


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
    warehouse: WarehouseResource,
    embedder: EmbedderResource,
    catalog: CatalogResource,
) -> dg.MaterializeResult:
    """Per active subscriber: the 5 best insights of the day by relevance to their interests (embedding
    similarity, calibrated per interest against a background of everyday talk: off-topic insights are never
    picked), quality and salience; never two from one cluster, spread over episodes; each with the other
    mentions of the same idea ("also on") and up to 3 related on-topic ideas from other episodes, none twice.
    Rendered as Markdown, HTML and text under `<home>/briefs/<day>/`.
    A subscriber with fewer good matches gets fewer; one with none gets no brief (status `no_matches`).
    Subscribers (active, confirmed, not paused) come from the catalog; their "more/less like this" clicks of
    earlier days move their interest vectors first (core/feedback.py). Each insight carries signed feedback
    links, each brief preferences, archive and unsubscribe links; the day's briefs go to the catalog's archive."""
    day = dt.date.fromisoformat(context.partition_key)
    day_insights = warehouse.query(_DAY_INSIGHTS_SQL, [day])
    subscribers = receiving_subscribers(catalog)
    verdicts = day_verdicts(catalog, warehouse, day)
    profiles = []
    rows = day_insights.to_dicts()
    for row in rows:  # once per insight, not once per brief that shows it
        row["deep_link"] = deep_link(row["audio_url"], row["link"], row["start_s"])
    vectors = np.asarray(day_insights["embedding"].to_list(), dtype=np.float32) if rows else np.zeros((0, 0))
    # Rows embedded before contexts were stored have none: the passage is its own context.
    context_vectors = np.asarray(
        [c if c is not None else v for c, v in zip(day_insights["context_embedding"].to_list(), vectors, strict=True)]
        if rows
        else np.zeros((0, 0)),
        dtype=np.float32,
    )
    out_dir = home_dir() / "briefs" / day.isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)
    brief_rows, documents = [], []
    if not rows:
        context.log.warning(f"no insights for {day}: no episodes, transcripts or usable passages, so no briefs")
    # Built once per run; each subscriber only narrows them down.
    background_vectors = embedder.encode(list(BACKGROUND_SENTENCES)) if rows else None
    features = [idea_features(r["text"]) for r in rows]
    by_id = {r["insight_id"]: r for r in rows}
    candidates = [
        Candidate(r["insight_id"], r["episode_id"], r["feed_url"], r["cluster_id"], r["quality"], r["salience"])
        for r in rows
    ]
    # At scale (100,000 subscribers, 10,000 insights): each distinct interest phrase is embedded once, relevance
    # is one matrix product per batch of subscribers, and nothing per subscriber scans every insight in Python.
    phrases_of: dict[str, list[str]] = {}
    for subscriber in subscribers if rows else []:
        try:
            phrases_of[subscriber["subscriber_id"]] = interest_phrases(subscriber["interests"])
        except InvalidSubscriber:
            pass  # recorded below, in the subscriber's turn
    distinct = sorted({phrase for phrases in phrases_of.values() for phrase in phrases})
    phrase_row = {phrase: k for k, phrase in enumerate(distinct)}
    phrase_vectors = cached_phrase_vectors(warehouse, embedder, distinct)  # cached across days
    nulls = phrase_nulls(phrase_vectors, background_vectors) if distinct else np.zeros(0)
    members = cluster_members(candidates)
    feed_of = np.asarray([r["feed_url"] for r in rows], dtype=object)
    scored_of: dict[str, Relevance] = {}
    # One BLAS thread: beside torch's OpenMP threads, OpenBLAS's own turn each small product into a spin-wait
    # (8 ms instead of 27 us for 1,500 x 384 @ 384 here); the big batched products lose nothing. Restored below.
    blas_limit = threadpool_limits(limits=1, user_api="blas")
    for position, subscriber in enumerate(subscribers if rows else []):
        subscriber_id = subscriber["subscriber_id"]
        if position % RELEVANCE_BATCH == 0:  # the next batch of subscribers, in one matrix product
            batch = [s["subscriber_id"] for s in subscribers[position : position + RELEVANCE_BATCH]]
            batch = [sid for sid in batch if sid in phrases_of]
            groups = [[phrase_row[p] for p in phrases_of[sid]] for sid in batch]
            batch_scores = relevance_of_groups(vectors, phrase_vectors, nulls, groups, context_vectors)
            scored_of = dict(zip(batch, batch_scores, strict=True))
        if subscriber_id not in phrases_of:
            try:
                interest_phrases(subscriber["interests"])
            except InvalidSubscriber as error:  # written around the CLI: recorded for this subscriber only
                context.log.warning(f"subscriber {subscriber['email']} skipped: {error}")
                documents.append(_document(day, subscriber_id, "no_interests"))
                continue
        scored = scored_of.pop(subscriber_id)
        interest_vectors = phrase_vectors[[phrase_row[p] for p in phrases_of[subscriber_id]]]
        allowed = set(subscriber["feeds"] or [])
        if verdicts.get(subscriber_id):
            moved = adjust_interests(interest_vectors, verdicts[subscriber_id])
            clicks = verdicts[subscriber_id]
            profiles.append(
                {
                    "email": subscriber["email"],
                    "more": sum(v.more for v in clicks),
                    "less": sum(not v.more for v in clicks),
                    "profile_shift": round(profile_shift(interest_vectors, moved), 4),
                }
            )
            interest_vectors = moved
            scored = None  # moved vectors: relevance computed again, by choose_brief
        if allowed:  # restricted to some feeds: ranked among those feeds' insights only
            keep = np.flatnonzero(np.isin(feed_of, list(allowed)))
            picks = choose_brief(
                [candidates[i] for i in keep],
                vectors[keep],
                interest_vectors,
                background_vectors,
                [features[i] for i in keep],
                context_vectors=context_vectors[keep],
                scored=(
                    Relevance(
                        scored.cosine[keep], scored.margin[keep], scored.context_margin[keep], scored.implied[keep]
                    )
                    if scored is not None
                    else None
                ),
            )
        else:
            picks = choose_brief(
                candidates,
                vectors,
                interest_vectors,
                background_vectors,
                features,
                context_vectors=context_vectors,
                scored=scored,
                members=members,
            )
        if not picks:
            documents.append(_document(day, subscriber_id, "no_matches"))
            continue
        brief_rows += [{"partition_date": day, "subscriber_id": subscriber_id, **vars(p)} for p in picks]
        items = []
        for pick in picks:
            item = _item(by_id[pick.insight_id])
            item.more_url = links.feedback_url(subscriber_id, day, pick.insight_id, "more")
            item.less_url = links.feedback_url(subscriber_id, day, pick.insight_id, "less")
            item.related = [_item(by_id[r]) for r in pick.related_insight_ids]
            item.also_on = [_item(by_id[r]) for r in pick.also_on_insight_ids]
            items.append(item)
        name = subscriber["name"] or subscriber["email"]
        links_of = subscriber_links(subscriber_id, day)
        rendered = BriefDocument(name, day, subscriber["interests"], items, links_of).render()
        stem = out_dir / subscriber_id
        for kind, body in rendered.items():  # a kill never leaves half a brief; flushed to disk once, below
            atomic_write_text(stem.with_suffix(f".{kind}"), body, durable=False)
        documents.append(
            _document(day, subscriber_id, "ok", {**rendered, "n_insights": len(picks)}, stem.with_suffix(".md"))
        )
    blas_limit.restore_original_limits()
    flush_to_disk()
    brief_frame = pl.DataFrame(brief_rows, schema=BRIEF_SCHEMA, orient="row")
    document_frame = pl.DataFrame(documents, schema=DOCUMENT_SCHEMA, orient="row")
    warehouse.replace_partition("briefs", day, brief_frame)
    warehouse.replace_partition("brief_documents", day, document_frame)
    write_brief_archive(catalog, day, brief_archive_rows(document_frame, brief_frame, by_id))

    problems = _brief_problems(brief_frame, {r["insight_id"]: r["episode_id"] for r in rows})
    sample = document_frame.filter(pl.col("status") == "ok").head(1)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": brief_frame.height,
            "subscribers": len(subscribers),
            "briefs_written": int((document_frame["status"] == "ok").sum()),
            "subscribers_without_matches": int((document_frame["status"] == "no_matches").sum()),
            "day_has_insights": bool(rows),
            "mean_relevance": float(brief_frame["relevance"].mean() or 0.0),
            "min_relevance": float(brief_frame["relevance"].min() or 0.0),
            "subscribers_with_feedback": len(profiles),
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
