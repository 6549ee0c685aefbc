"""insights and insight_clusters: from a day's transcripts to grouped ideas (insight_embeddings, between them, is in
insight_embeddings.py)."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl

from podcast_assets.assets.reporting import markdown_table
from podcast_assets.core.clustering import (
    NEIGHBOUR_FLOOR,
    NEIGHBOUR_MARGIN,
    SAME_IDEA_SIMILARITY,
    cluster_ideas,
    summarize_clusters,
)
from podcast_assets.core.insights import extract_insights
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.headlines import HeadlineWriterResource
from podcast_assets.resources.warehouse import WarehouseResource

INSIGHT_SCHEMA = {
    "partition_date": pl.Date,
    "insight_id": pl.String,
    "episode_id": pl.String,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "text": pl.String,
    "headline": pl.String,
    "score": pl.Float64,
    "signals": pl.String,
}
REFUSED_COLUMNS = ("passage", "refused", "unsupported")
LOOKBACK_DAYS = 7
# The talk around a passage, for telling a topic from one (mis)heard word: ~30 s either side keeps the window
# (about 200 words) inside MiniLM's 256-token limit.
CONTEXT_WINDOW_S = 30.0
INSIGHT_CONTEXT_SQL = """
SELECT i.insight_id, coalesce(i.headline, i.text) AS text,
       coalesce(string_agg(t.text, ' ' ORDER BY t.segment_index), any_value(i.text)) AS context
FROM insights i
LEFT JOIN transcripts t ON t.partition_date = i.partition_date AND t.episode_id = i.episode_id
     AND t.end_s >= i.start_s - ? AND t.start_s <= i.end_s + ?
WHERE i.partition_date = ?
GROUP BY i.insight_id, i.headline, i.text
ORDER BY i.insight_id
"""


def _score_histogram(scores: pl.Series) -> str:
    counts = scores.cut([0.4, 0.6, 0.8], labels=["<0.4", "0.4-0.6", "0.6-0.8", ">=0.8"]).value_counts(sort=False)
    return markdown_table(counts.rename({counts.columns[0]: "score", counts.columns[1]: "insights"}))


@dg.asset(
    partitions_def=daily_partitions,
    deps=["transcripts"],
    kinds={"python", "duckdb"},
    group_name="insights",
)
def insights(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    embedder: EmbedderResource,
    headline_writer: HeadlineWriterResource,
) -> dg.MaterializeResult:
    """One-idea passages cut from the day's transcripts (a claim with the sentences that carry its evidence or
    its "because", joined on discourse cues and MiniLM coherence), with the start time of their first sentence,
    scored for being an insight (a finding, number, comparison, cause, contrarian view, central to the episode).
    Ad reads (host-read ones too), intros/outros, questions, agenda and transition talk, filler and tangents are
    removed; counts of what was dropped are in the metadata, the signals behind each score in `signals`.
    Display text is cleaned of disfluencies (the `transcripts` table keeps the raw words).
    With an LLM configured (`headline_writer`), the best insights are also rewritten as one self-contained
    insight (`headline`), kept only when every number and name it states is in the passage."""
    day = dt.date.fromisoformat(context.partition_key)
    segments = warehouse.query(
        "SELECT * FROM transcripts WHERE partition_date = ? ORDER BY episode_id, segment_index", [day]
    )
    rows, rejected, episodes_without = [], {}, []
    for (episode_id,), episode_segments in segments.group_by("episode_id", maintain_order=True):
        extraction = extract_insights(episode_id, episode_segments.to_dicts(), embedder.encode)
        for reason, count in extraction.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
        if not extraction.insights:
            episodes_without.append(episode_id)
        rows += [{"partition_date": day, **vars(insight), "headline": None} for insight in extraction.insights]
    writer_outcomes: dict[str, int] = {}
    refused_rewrites = []
    if headline_writer.enabled():
        for row in sorted(rows, key=lambda r: -r["score"])[: headline_writer.max_headlines]:
            rewrite = headline_writer.rewrite(row["text"])
            row["headline"] = rewrite.text
            writer_outcomes[rewrite.outcome] = writer_outcomes.get(rewrite.outcome, 0) + 1
            if rewrite.outcome == "unfaithful":
                refused_rewrites.append(
                    {"passage": row["text"], "refused": rewrite.refused, "unsupported": ", ".join(rewrite.unsupported)}
                )
        if refused_rewrites:
            context.log.warning(
                f"{len(refused_rewrites)} rewrites stated numbers or names their passage does not: the passage is "
                "shown instead (see the `refused_rewrites` metadata)"
            )
    frame = pl.DataFrame(rows, schema=INSIGHT_SCHEMA, orient="row")
    warehouse.replace_partition("insights", day, frame)
    if episodes_without:
        context.log.warning(f"{len(episodes_without)} transcribed episodes gave no usable insight: {episodes_without}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "dagster/column_schema": warehouse.table_schema("insights"),
            "episodes_with_insights": frame["episode_id"].n_unique(),
            "episodes_without_insights": len(episodes_without),
            "mean_score": float(frame["score"].mean() or 0.0),
            "rejected_ads": rejected.get("ad", 0),
            "rejected_intro_outro": rejected.get("intro_outro", 0),
            "rejected_questions": rejected.get("question", 0),
            "rejected_framing": rejected.get("framing", 0),
            "rejected_filler_or_weak": rejected.get("filler", 0) + rejected.get("weak", 0),
            "headlines_written": int(frame["headline"].is_not_null().sum()),
            "writer_outcomes": dg.MetadataValue.json(writer_outcomes),
            "refused_rewrites": dg.MetadataValue.md(
                markdown_table(pl.DataFrame(refused_rewrites, schema=dict.fromkeys(REFUSED_COLUMNS, pl.String)), 10)
            ),
            "score_distribution": dg.MetadataValue.md(_score_histogram(frame["score"])) if frame.height else "_none_",
            "top_insights": dg.MetadataValue.md(
                markdown_table(frame.sort("score", descending=True).select("score", "text", "signals"), 10)
            ),
        }
    )


def _embeddings_table_sql(dimension: int) -> str:
    vector = f"FLOAT[{int(dimension)}]"
    return (
        "CREATE TABLE IF NOT EXISTS insight_embeddings (partition_date DATE NOT NULL, insight_id VARCHAR NOT NULL, "
        f"embedding {vector} NOT NULL, model VARCHAR NOT NULL, context_embedding {vector});"
        f"ALTER TABLE insight_embeddings ADD COLUMN IF NOT EXISTS context_embedding {vector}"
    )


def _vectors(frame: pl.DataFrame) -> np.ndarray:
    if frame.is_empty():
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(frame["embedding"].to_list(), dtype=np.float32)


def _centroids(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm centroid and size of each earlier cluster in `frame` (cluster_id, embedding)."""
    if frame.is_empty():
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0)
    vectors = _vectors(frame)
    cluster_ids = frame["cluster_id"].to_numpy()
    centroids, sizes = [], []
    for cluster_id in np.unique(cluster_ids):
        members = vectors[cluster_ids == cluster_id]
        centroid = members.mean(axis=0)
        centroids.append(centroid / (np.linalg.norm(centroid) or 1.0))
        sizes.append(len(members))
    return np.asarray(centroids, dtype=np.float32), np.asarray(sizes, dtype=float)


class ClusterConfig(dg.Config):
    """`neighbour_rule`: merge mutual nearest passages of two episodes below the bar (`core.clustering`). Off: on
    the tuning networks' ASR it merged 10 pairs of different ideas for 4 paraphrases (QUALITY.md, round 6)."""

    neighbour_rule: bool = False


@dg.asset(
    partitions_def=daily_partitions,
    deps=["insight_embeddings", "episodes", "insight_credits"],
    kinds={"python", "duckdb", "scikitlearn"},
    group_name="insights",
)
def insight_clusters(
    context: dg.AssetExecutionContext, config: ClusterConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Insights grouped by idea across episodes and shows (agglomerative clustering, average linkage, idea
    similarity >= 0.6: MiniLM cosine plus shared quantities and content words; never two of one episode; with
    `neighbour_rule`, two passages that are each other's clear nearest neighbour across episodes are merged first,
    below the bar: off by default, measured to merge more different ideas than paraphrases, QUALITY.md),
    with a c-TF-IDF label (of the passages and the publisher's chapter titles, when the feed has chapters), size,
    number of episodes and shows, salience, and trend against the clusters of
    the previous 7 days (new / rising / recurring). Writes `insight_clusters` (one row per insight)
    and `cluster_summaries` (one row per cluster)."""
    day = dt.date.fromisoformat(context.partition_key)
    frame = warehouse.query(
        """SELECT i.insight_id, i.text, i.score, i.episode_id, e.feed_url, emb.embedding, ic.chapter
           FROM insights i
           LEFT JOIN insight_credits ic USING (partition_date, insight_id)
           JOIN insight_embeddings emb USING (partition_date, insight_id)
           JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
           WHERE i.partition_date = ? ORDER BY i.insight_id""",
        [day],
    )
    previous = warehouse.query(
        """SELECT c.cluster_id, emb.embedding FROM insight_clusters c
           JOIN insight_embeddings emb USING (partition_date, insight_id)
           WHERE c.partition_date BETWEEN ? AND ? ORDER BY c.cluster_id""",
        [day - dt.timedelta(days=LOOKBACK_DAYS), day - dt.timedelta(days=1)],
    )
    previous_centroids, previous_sizes = _centroids(previous)
    vectors = _vectors(frame)
    labels = cluster_ideas(
        vectors,
        frame["text"].to_list(),
        frame["episode_id"].to_list(),
        neighbour_floor=NEIGHBOUR_FLOOR if config.neighbour_rule else None,
    )
    summaries = (
        summarize_clusters(
            vectors,
            labels,
            frame["text"].to_list(),
            frame["episode_id"].to_list(),
            frame["feed_url"].to_list(),
            frame["score"].to_list(),
            previous_centroids,
            previous_sizes,
            frame["chapter"].to_list(),
        )
        if frame.height
        else []
    )
    cluster_ids = {s.cluster_index: f"{day.isoformat()}-c{s.cluster_index:03d}" for s in summaries}
    assignments = pl.DataFrame(
        {
            "partition_date": [day] * frame.height,
            "insight_id": frame["insight_id"],
            "cluster_id": [cluster_ids[int(label)] for label in labels],
            "similarity_to_centroid": [
                float(vectors[i] @ next(s.centroid for s in summaries if s.cluster_index == int(label)))
                for i, label in enumerate(labels)
            ],
        },
        schema={
            "partition_date": pl.Date,
            "insight_id": pl.String,
            "cluster_id": pl.String,
            "similarity_to_centroid": pl.Float64,
        },
    )
    summary_frame = pl.DataFrame(
        [
            {
                "partition_date": day,
                "cluster_id": cluster_ids[s.cluster_index],
                "label": s.label,
                "size": s.size,
                "n_episodes": s.n_episodes,
                "n_shows": s.n_shows,
                "salience": s.salience,
                "trend": s.trend,
            }
            for s in summaries
        ],
        schema={
            "partition_date": pl.Date,
            "cluster_id": pl.String,
            "label": pl.String,
            "size": pl.Int32,
            "n_episodes": pl.Int32,
            "n_shows": pl.Int32,
            "salience": pl.Float64,
            "trend": pl.String,
        },
        orient="row",
    )
    warehouse.replace_partition("insight_clusters", day, assignments)
    warehouse.replace_partition("cluster_summaries", day, summary_frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": assignments.height,
            "clusters": summary_frame.height,
            "cross_show_clusters": summary_frame.filter(pl.col("n_shows") > 1).height,
            "new_clusters": summary_frame.filter(pl.col("trend") == "new").height,
            "same_idea_similarity": SAME_IDEA_SIMILARITY,
            "neighbour_rule": f"floor {NEIGHBOUR_FLOOR}, margin {NEIGHBOUR_MARGIN}" if config.neighbour_rule else "off",
            "cluster_labels": dg.MetadataValue.md(
                markdown_table(
                    summary_frame.sort("salience", descending=True).select(
                        "label", "size", "n_shows", "salience", "trend"
                    ),
                    30,
                )
            ),
        }
    )
