"""Can "same idea" be told from "same topic"? `python -m benchmarks.paraphrase [--home NETWORK:VOICES:HOME ...]`.

For every labeled network: the day's passages, their paraphrase pairs (one idea on two shows) and their
negatives (two different ideas of one theme, from different episodes). Measured per network and text source:

- AUC of the MiniLM cosine and of the idea similarity (`core/clustering.py`) over positives against negatives;
- the nearest-neighbour rate: the share of pair halves whose most similar passage of another episode (among
  all the day's passages, as the pipeline sees them) is their partner;
- clustering with and without the neighbourhood rule: pairs clustered, and wrong merges (pairs of passages of
  two different ideas, or an idea and a non-insight, that share a cluster).

Text sources: `script` (each planted insight turn as written: the upper bound) and, for each `--home`, the
pipeline's own insight rows in that `podcast-brief eval --home` folder (ASR text as cut by the pipeline, each row
labeled by the turn it overlaps, as `podcast-brief eval` scores it). `--sweep` prints pairs clustered and wrong
merges over a grid of neighbour floors and margins, for tuning on the tuning networks only. The pipeline runs with
the rule off (`insight_clusters` config `neighbour_rule`); QUALITY.md, round 6, says why.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from podcast_assets.core.clustering import (
    NEIGHBOUR_FLOOR,
    NEIGHBOUR_MARGIN,
    cluster_ideas,
    idea_similarity,
)
from podcast_assets.evaluation.network import INSIGHT, Network, load_network, packaged_networks


@dataclass
class Passages:
    """One network's day as a list of passages with their labels (idea None: not an insight)."""

    network: str
    source: str
    texts: list[str]
    vectors: np.ndarray
    episodes: list[str]
    shows: list[str]
    ideas: list[str | None]
    themes: list[str | None]


def script_passages(network: Network, embed) -> Passages:
    rows = [
        (turn.text, episode.slug, show.slug, turn.idea, turn.theme)
        for show, episode in network.episodes()
        if episode.published_at.date() == network.day
        for turn in episode.turns
        if turn.kind == INSIGHT
    ]
    texts, episodes, shows, ideas, themes = (list(column) for column in zip(*rows, strict=True))
    return Passages(network.name, "script", texts, embed(texts), episodes, shows, ideas, themes)


def home_passages(network: Network, home: Path, source: str) -> Passages:
    """The insight rows of `home`'s warehouse for the network's day, with the embeddings the pipeline stored."""
    import duckdb

    from podcast_assets.evaluation.metrics import label_of, labeled_spans
    from podcast_assets.evaluation.run import _slug_of

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        """SELECT i.text, i.start_s, i.end_s, e.audio_url, e.feed_url, emb.embedding
           FROM insights i JOIN episodes e USING (partition_date, episode_id)
           JOIN insight_embeddings emb USING (partition_date, insight_id)
           WHERE i.partition_date = ? ORDER BY i.insight_id""",
        [network.day],
    ).fetchall()
    con.close()
    turns = labeled_spans(network)
    scripts = {e.slug: [t.text for t in e.turns] for _, e in network.episodes()}
    texts, episodes, shows, ideas, themes, vectors = [], [], [], [], [], []
    for text, start_s, end_s, audio_url, feed_url, embedding in rows:
        slug = _slug_of(audio_url)
        label = label_of(turns.get(slug, []), start_s, end_s, text, scripts.get(slug))
        insight = label is not None and label.kind == INSIGHT
        texts.append(text)
        episodes.append(slug)
        shows.append(feed_url)
        ideas.append(label.idea if insight else None)
        themes.append(label.theme if insight else None)
        vectors.append(embedding)
    return Passages(network.name, source, texts, np.asarray(vectors, dtype=np.float32), episodes, shows, ideas, themes)


def _auc(positives: list[float], negatives: list[float]) -> float:
    if not positives or not negatives:
        return float("nan")
    pos, neg = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def pair_labels(p: Passages) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(paraphrase pairs, same-theme different-idea pairs) as index pairs of passages of different episodes."""
    positives, negatives = [], []
    for i, j in itertools.combinations(range(len(p.texts)), 2):
        if p.episodes[i] == p.episodes[j] or p.ideas[i] is None or p.ideas[j] is None:
            continue
        if p.ideas[i] == p.ideas[j] and p.shows[i] != p.shows[j]:
            positives.append((i, j))
        elif p.ideas[i] != p.ideas[j] and p.themes[i] == p.themes[j]:
            negatives.append((i, j))
    return positives, negatives


def clustering_outcome(p: Passages, labels: np.ndarray) -> tuple[int, int, int]:
    """(ideas said on two shows, of them clustered together at least once, wrong merges)."""
    positives, _ = pair_labels(p)
    ideas = {p.ideas[i] for i, _ in positives}
    together = {p.ideas[i] for i, j in positives if labels[i] == labels[j]}
    wrong = sum(
        1
        for i, j in itertools.combinations(range(len(p.texts)), 2)
        if labels[i] == labels[j]
        and p.episodes[i] != p.episodes[j]
        and (p.ideas[i] != p.ideas[j] or p.ideas[i] is None)
    )
    return len(ideas), len(together), wrong


def measure(p: Passages) -> dict:
    cosine = np.clip(p.vectors @ p.vectors.T, -1, 1)
    similarity = idea_similarity(p.vectors, p.texts, p.episodes)
    positives, negatives = pair_labels(p)
    halves = 0
    nearest_is_partner = 0
    other_episode = np.asarray(p.episodes)[:, None] != np.asarray(p.episodes)[None, :]
    masked = np.where(other_episode, similarity, -np.inf)
    for i, j in positives:
        for a, b in ((i, j), (j, i)):
            halves += 1
            nearest_is_partner += masked[a].max() == masked[a, b]
    n_ideas, plain, plain_wrong = clustering_outcome(p, cluster_ideas(p.vectors, p.texts, p.episodes))
    _, neighbourly, neighbourly_wrong = clustering_outcome(
        p, cluster_ideas(p.vectors, p.texts, p.episodes, neighbour_floor=NEIGHBOUR_FLOOR)
    )
    return {
        "network": p.network,
        "text": p.source,
        "pairs/negatives": f"{len(positives)}/{len(negatives)}",
        "cosine AUC": round(_auc([cosine[i, j] for i, j in positives], [cosine[i, j] for i, j in negatives]), 3),
        "idea AUC": round(_auc([similarity[i, j] for i, j in positives], [similarity[i, j] for i, j in negatives]), 3),
        "nearest is partner": f"{nearest_is_partner}/{halves}",
        "clustered (bar only)": f"{plain}/{n_ideas}",
        "wrong merges (bar only)": plain_wrong,
        "clustered (+ neighbours)": f"{neighbourly}/{n_ideas}",
        "wrong merges (+ neighbours)": neighbourly_wrong,
    }


def sweep(all_passages: list[Passages]) -> None:
    print("| floor | margin | ideas clustered | wrong merges |\n|---|---|---|---|")
    for floor in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        for margin in (0.0, 0.03, 0.05, 0.08, 0.1, 0.15):
            clustered = ideas = wrong = 0
            for p in all_passages:
                labels = cluster_ideas(p.vectors, p.texts, p.episodes, neighbour_floor=floor, neighbour_margin=margin)
                n, together, bad = clustering_outcome(p, labels)
                ideas, clustered, wrong = ideas + n, clustered + together, wrong + bad
            print(f"| {floor} | {margin} | {clustered}/{ideas} | {wrong} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--networks", nargs="*", help="network names (default: all packaged)")
    parser.add_argument(
        "--home", action="append", default=[], help="NETWORK:VOICES:HOME, an eval home to read ASR passages from"
    )
    parser.add_argument("--no-script", action="store_true", help="only the homes' ASR passages")
    parser.add_argument("--sweep", action="store_true", help="grid of neighbour floors and margins")
    args = parser.parse_args()
    from podcast_assets.resources.embedder import EmbedderResource

    embedder = EmbedderResource()
    all_passages = []
    if not args.no_script:
        for name in args.networks or packaged_networks():
            all_passages.append(script_passages(load_network(name), embedder.encode))
    for spec in args.home:
        name, voices, home = spec.split(":", 2)
        all_passages.append(home_passages(load_network(name, voices), Path(home), f"asr ({voices})"))
    results = [measure(p) for p in all_passages]
    print(f"neighbour floor {NEIGHBOUR_FLOOR}, margin {NEIGHBOUR_MARGIN}\n")
    print("| " + " | ".join(results[0]) + " |\n" + "|---" * len(results[0]) + "|")
    for row in results:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    if args.sweep:
        sweep(all_passages)


if __name__ == "__main__":
    main()
