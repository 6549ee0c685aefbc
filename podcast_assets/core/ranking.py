"""Choosing each subscriber's top insights and their related insights. Pure functions on arrays.

score = 0.7 * relevance + 0.15 * quality + 0.15 * salience, where relevance is the best cosine similarity
between the insight and any of the subscriber's interest phrases. Insights below `MIN_RELEVANCE` are never
used, so a subscriber with few matches gets a short brief instead of padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_RELEVANCE = 0.25  # all-MiniLM-L6-v2: on-topic insights score 0.3-0.55, unrelated ones below 0.2
MIN_RELATED_SIMILARITY = 0.4
BRIEF_SIZE = 5
RELATED_SIZE = 3
SAME_EPISODE_PENALTY = 0.05  # spread the brief over episodes where relevance allows


@dataclass(frozen=True)
class Candidate:
    insight_id: str
    episode_id: str
    show_id: str
    cluster_id: str
    quality: float
    salience: float


@dataclass(frozen=True)
class Pick:
    rank: int
    insight_id: str
    score: float
    relevance: float
    cluster_id: str
    related_insight_ids: list[str]


def relevance(insight_vectors: np.ndarray, interest_vectors: np.ndarray) -> np.ndarray:
    if len(insight_vectors) == 0 or len(interest_vectors) == 0:
        return np.zeros(len(insight_vectors))
    return (insight_vectors @ interest_vectors.T).max(axis=1)


def related_for(
    index: int, candidates: list[Candidate], vectors: np.ndarray, exclude: set[int], limit: int = RELATED_SIZE
) -> list[int]:
    """Same cluster first, then nearest neighbours; never the insight's own episode; other shows first."""
    own = candidates[index]
    similarity = vectors @ vectors[index]
    options = [
        j
        for j in range(len(candidates))
        if j != index
        and j not in exclude
        and candidates[j].episode_id != own.episode_id
        and (candidates[j].cluster_id == own.cluster_id or similarity[j] >= MIN_RELATED_SIMILARITY)
    ]
    options.sort(
        key=lambda j: (candidates[j].cluster_id != own.cluster_id, candidates[j].show_id == own.show_id, -similarity[j])
    )
    return options[:limit]


def choose_brief(
    candidates: list[Candidate], vectors: np.ndarray, interest_vectors: np.ndarray, size: int = BRIEF_SIZE
) -> list[Pick]:
    """Greedy top-`size`: best score first, at most one insight per cluster, a small penalty per insight already
    taken from the same episode."""
    relevances = relevance(vectors, interest_vectors)
    base = {
        i: 0.7 * relevances[i] + 0.15 * c.quality + 0.15 * c.salience
        for i, c in enumerate(candidates)
        if relevances[i] >= MIN_RELEVANCE
    }
    chosen: list[int] = []
    used_clusters: set[str] = set()
    while base and len(chosen) < size:
        per_episode = {}
        for i in chosen:
            per_episode[candidates[i].episode_id] = per_episode.get(candidates[i].episode_id, 0) + 1
        best = max(
            (i for i in base if candidates[i].cluster_id not in used_clusters),
            key=lambda i: (base[i] - SAME_EPISODE_PENALTY * per_episode.get(candidates[i].episode_id, 0), i),
            default=None,
        )
        if best is None:
            break
        chosen.append(best)
        used_clusters.add(candidates[best].cluster_id)
    picks = []
    for rank, i in enumerate(chosen, start=1):
        related = related_for(i, candidates, vectors, exclude=set(chosen))
        picks.append(
            Pick(
                rank,
                candidates[i].insight_id,
                round(float(base[i]), 4),
                round(float(relevances[i]), 4),
                candidates[i].cluster_id,
                [candidates[j].insight_id for j in related],
            )
        )
    return picks
