"""Choosing each subscriber's top insights, the other mentions of the same idea, and related insights.
Pure functions on arrays.

Relevance is calibrated per interest: an insight is on the subscriber's topic when its cosine to one of their
interest phrases beats that phrase's 95th-percentile cosine to a fixed background of everyday talk
(`core/background.py`) by `MIN_RELEVANCE_MARGIN`, and, unless it beats it by `STANDALONE_MARGIN`, the talk around
it (its context: 30 s either side) beats it by `MIN_CONTEXT_MARGIN` too. A topic is talked about for more than one
sentence; one word that happens to match (or that ASR misheard: "territorial mail" for "males") is not a topic.
The other way round, a passage that never names the topic is on it when its context clearly is (`implied`).
Only on-topic insights are ever used, however few there are: a short brief beats a padded one.

score = 0.55 * relevance + 0.3 * quality + 0.15 * salience among passages of quality >= 0.45, greedy with one
insight per cluster (one idea) and a small penalty per insight already taken from the same episode. Under each
pick: "also on" = the same idea said in other episodes (its cluster), and "related" = other on-topic ideas from
other episodes, each at most once per brief.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from podcast_assets.core.clustering import (
    MAX_IDEA_BONUS,
    SAME_IDEA_SIMILARITY,
    IdeaFeatures,
    pair_idea_similarity,
)
from podcast_assets.core.quantities import share_a_quantity

# all-MiniLM-L6-v2 on the three tuning networks: insights on other themes beat the background by at most 0.11,
# most on-topic ones by 0.15-0.49 (a few by 0.09-0.11 are lost: a short brief beats a padded one).
MIN_RELEVANCE_MARGIN = 0.12
# On the five tuning networks the context of an on-topic passage beats the bar by >= 0.11 wherever the passage
# itself is below 0.3; the lakeshore passages picked on one misheard word had context margins of 0.03 and less.
# A passage well above the bar stands alone (news round-ups change topic every minute).
MIN_CONTEXT_MARGIN = 0.1
STANDALONE_MARGIN = 0.3
CONTEXT_CARRIES_MARGIN = 0.2
NULL_PERCENTILE = 95
MIN_RELATED_SIMILARITY = 0.3
# Two picks this close in idea similarity (clustering's measure) say the same thing even when average linkage
# kept their clusters apart: the later one is left out. From SAME_IDEA_SIMILARITY up, only when they also state
# the same quantity: on the demo, two different findings about lithium, nickel and cobalt reach 0.665.
NEAR_DUPLICATE_SIMILARITY = 0.7
BRIEF_SIZE = 5
RELATED_SIZE = 3
ALSO_ON_SIZE = 3
SAME_EPISODE_PENALTY = 0.05
RELEVANCE_WEIGHT, QUALITY_WEIGHT, SALIENCE_WEIGHT = 0.55, 0.3, 0.15
# The `insights` table keeps passages from 0.35 (search, related insights); a headline pick needs more.
MIN_PICK_QUALITY = 0.45  # spread the brief over episodes where relevance allows


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
    relevance_margin: float
    cluster_id: str
    related_insight_ids: list[str]
    also_on_insight_ids: list[str]


@dataclass(frozen=True)
class Relevance:
    cosine: np.ndarray  # best cosine to any interest phrase, per insight
    margin: np.ndarray  # best (cosine - that phrase's background percentile), per insight
    context_margin: np.ndarray  # the same for the insight's context, against the phrase that gave `margin`
    # Some phrase the passage is not below the background for, and its context is well above: a passage that does
    # not name the topic ("It costs us three to five times the print price") in talk that clearly is about it.
    implied: np.ndarray

    @property
    def on_topic(self) -> np.ndarray:
        supported = (self.margin >= STANDALONE_MARGIN) | (self.context_margin >= MIN_CONTEXT_MARGIN)
        return ((self.margin >= MIN_RELEVANCE_MARGIN) & supported) | self.implied


def relevance(
    insight_vectors: np.ndarray,
    interest_vectors: np.ndarray,
    background_vectors: np.ndarray,
    context_vectors: np.ndarray | None = None,
) -> Relevance:
    """Per insight: its best interest phrase's cosine and margin over the background; `context_vectors` (one per
    insight, e.g. the talk around it) are scored against the same phrases; without them a passage is its own
    context."""
    count = len(insight_vectors)
    if count == 0 or len(interest_vectors) == 0:
        nothing = np.full(count, -1.0)
        return Relevance(np.zeros(count), nothing, nothing, np.zeros(count, dtype=bool))
    if len(background_vectors):
        null = np.percentile(interest_vectors @ background_vectors.T, NULL_PERCENTILE, axis=1)
    else:
        null = np.zeros(len(interest_vectors))
    cosine = insight_vectors @ interest_vectors.T
    context_cosine = None if context_vectors is None else context_vectors @ interest_vectors.T
    return _from_margins(cosine, cosine - null, None if context_cosine is None else context_cosine - null)


def _from_margins(cosine: np.ndarray, margins: np.ndarray, context_margins: np.ndarray | None) -> Relevance:
    """`Relevance` from per-(insight, phrase) cosines and margins of one subscriber's phrases."""
    context_margins = margins if context_margins is None else context_margins  # a passage is its own context
    best = margins.argmax(axis=1)
    rows = np.arange(len(margins))
    # Implied: some phrase the passage is not below the background for, while its context is well above it.
    implied = ((margins >= 0.0) & (context_margins >= CONTEXT_CARRIES_MARGIN)).any(axis=1)
    return Relevance(cosine.max(axis=1), margins[rows, best], context_margins[rows, best], implied)


def cluster_members(candidates: list[Candidate]) -> dict[str, list[int]]:
    """cluster_id -> candidate indices, ascending: built once per day, so `also_on` never scans every candidate."""
    members: dict[str, list[int]] = {}
    for j, c in enumerate(candidates):
        members.setdefault(c.cluster_id, []).append(j)
    return members


def phrase_nulls(phrase_vectors: np.ndarray, background_vectors: np.ndarray) -> np.ndarray:
    """Each interest phrase's background percentile (what `relevance` subtracts), for many phrases at once."""
    if len(background_vectors) == 0 or len(phrase_vectors) == 0:
        return np.zeros(len(phrase_vectors), dtype=np.float32)
    return np.percentile(phrase_vectors @ background_vectors.T, NULL_PERCENTILE, axis=1)


def relevance_of_groups(
    insight_vectors: np.ndarray,
    phrase_vectors: np.ndarray,
    nulls: np.ndarray,
    groups: list[list[int]],
    context_vectors: np.ndarray | None = None,
) -> list[Relevance]:
    """`relevance` for many subscribers in one matrix product: `groups[k]` are the rows of `phrase_vectors` (and
    `nulls`) that are subscriber k's interest phrases. Same numbers as calling `relevance` per subscriber."""
    columns = [row for group in groups for row in group]
    count = len(insight_vectors)
    if count == 0 or not columns:
        return [relevance(insight_vectors, np.zeros((0, 0)), np.zeros((0, 0))) for _ in groups]
    # Each distinct phrase of the batch once (many subscribers list the same interests), then per subscriber its
    # own columns of the products.
    distinct, position = np.unique(np.asarray(columns), return_inverse=True)
    cosine = insight_vectors @ phrase_vectors[distinct].T
    margin = cosine - nulls[distinct]
    context_margin = None if context_vectors is None else context_vectors @ phrase_vectors[distinct].T - nulls[distinct]
    out, start = [], 0
    for group in groups:
        stop = start + len(group)
        if stop == start:
            out.append(relevance(insight_vectors, np.zeros((0, 0)), np.zeros((0, 0))))
        else:
            own = position[start:stop]
            out.append(
                _from_margins(
                    cosine[:, own], margin[:, own], None if context_margin is None else context_margin[:, own]
                )
            )
        start = stop
    return out


def also_on(
    index: int,
    candidates: list[Candidate],
    vectors: np.ndarray,
    limit: int = ALSO_ON_SIZE,
    members: dict[str, list[int]] | None = None,
) -> list[int]:
    """The same idea (same cluster) said in other episodes, other shows first, closest first. `members`
    (`cluster_members`) saves scanning every candidate."""
    own = candidates[index]
    pool = members[own.cluster_id] if members is not None else range(len(candidates))
    options = [
        j
        for j in pool
        if j != index and candidates[j].cluster_id == own.cluster_id and candidates[j].episode_id != own.episode_id
    ]
    # Cosines of the options only (not of every candidate): at 10,000 insights x 100,000 briefs that is the cost.
    similarity = dict(zip(options, vectors[options] @ vectors[index], strict=True)) if options else {}
    options.sort(key=lambda j: (candidates[j].show_id == own.show_id, -similarity[j]))
    return options[:limit]


def candidate_priors(candidates: list[Candidate]) -> np.ndarray:
    """(quality, salience) per candidate, as an (n, 2) array: built once per day for `choose_brief`."""
    return np.asarray([(c.quality, c.salience) for c in candidates], dtype=np.float64).reshape(len(candidates), 2)


def eligible_pool(eligible: set[int], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    indices = np.fromiter(sorted(eligible), dtype=np.int64, count=len(eligible))
    return indices, vectors[indices]


def _nearest_first(similarity: np.ndarray, head: int = 64):
    """Indices in the order of `np.argsort(-similarity, kind="stable")`, sorting only the `head` largest (and
    their ties) unless the caller reads past them: the related scan stops after a few."""
    if len(similarity) <= head:
        yield from np.argsort(-similarity, kind="stable").tolist()
        return
    bar = np.partition(similarity, len(similarity) - head)[len(similarity) - head]
    for part in (np.flatnonzero(similarity >= bar), np.flatnonzero(similarity < bar)):
        yield from part[np.lexsort((part, -similarity[part]))].tolist()


def related_for(
    index: int,
    candidates: list[Candidate],
    vectors: np.ndarray,
    eligible: set[int],
    exclude: set[int],
    limit: int = RELATED_SIZE,
    pool: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[int]:
    """Other ideas (other clusters) from other episodes among `eligible` (on the subscriber's topic), nearest
    first, other shows first among equals; never one in `exclude` (picks, and what the brief already shows).
    `pool`: `eligible` as a sorted index array and its vectors, when the caller already has them."""
    own = candidates[index]
    if not eligible:
        return []
    indices, pool_vectors = pool if pool is not None else eligible_pool(eligible, vectors)
    similarity = pool_vectors @ vectors[index]
    # Nearest first, so the scan stops early: once `limit` options are found, only cosines within 0.011 of the
    # last one can still rank above it after rounding to two decimals (rounding moves a cosine by 0.005 at most).
    options: list[int] = []
    cosine_of: dict[int, float] = {}
    floor = MIN_RELATED_SIMILARITY
    for k in _nearest_first(similarity):
        cosine = float(similarity[k])
        if cosine < floor:
            break
        j = int(indices[k])
        if j in exclude or candidates[j].cluster_id == own.cluster_id or candidates[j].episode_id == own.episode_id:
            continue
        options.append(j)
        cosine_of[j] = cosine
        if len(options) == limit:
            floor = max(floor, cosine - 0.011)
    options.sort(key=lambda j: (-round(cosine_of[j], 2), candidates[j].show_id == own.show_id, j))
    return options[:limit]


def choose_brief(
    candidates: list[Candidate],
    vectors: np.ndarray,
    interest_vectors: np.ndarray,
    background_vectors: np.ndarray | None = None,
    features: list[IdeaFeatures] | None = None,
    size: int = BRIEF_SIZE,
    context_vectors: np.ndarray | None = None,
    scored: Relevance | None = None,
    members: dict[str, list[int]] | None = None,
    priors: np.ndarray | None = None,
) -> list[Pick]:
    """Greedy top-`size` among on-topic insights: best score first, at most one per cluster and never two that
    say the same idea (by their `features`, when given), a small penalty per insight already taken from the same
    episode; then "also on" and related insights, none shown twice. At scale the caller passes `scored` (this
    subscriber's `relevance`, computed for many subscribers at once by `relevance_of_groups`) and `members`
    (`cluster_members` of the day) and `priors` (`candidate_priors`), so nothing here scans every candidate in
    Python."""

    def same_idea(i: int, j: int) -> bool:
        if features is None or candidates[i].episode_id == candidates[j].episode_id:
            return False
        cosine = float(vectors[i] @ vectors[j])
        if cosine + MAX_IDEA_BONUS < SAME_IDEA_SIMILARITY:
            return False  # too far apart for words or numbers to make them one idea
        similarity = pair_idea_similarity(features[i], features[j], cosine)
        if similarity >= NEAR_DUPLICATE_SIMILARITY:
            return True
        # Close, and the same number: "4 out of 5 fires" and "80% of fires" are one finding.
        return similarity >= SAME_IDEA_SIMILARITY and share_a_quantity(features[i].stated, features[j].stated)

    background = background_vectors if background_vectors is not None else np.zeros((0, vectors.shape[-1]))
    scored = scored if scored is not None else relevance(vectors, interest_vectors, background, context_vectors)
    on_topic_indices = np.flatnonzero(scored.on_topic)
    on_topic = set(on_topic_indices.tolist())
    priors = candidate_priors(candidates) if priors is None else priors
    pickable = on_topic_indices[priors[on_topic_indices, 0] >= MIN_PICK_QUALITY]
    # In the cosine's precision (float32 from the matrix products), term by term as a scalar sum would round.
    cosine = scored.cosine[pickable]
    base_values = (
        RELEVANCE_WEIGHT * cosine
        + (QUALITY_WEIGHT * priors[pickable, 0]).astype(cosine.dtype)
        + (SALIENCE_WEIGHT * priors[pickable, 1]).astype(cosine.dtype)
    )
    base = dict(zip(pickable.tolist(), base_values.tolist(), strict=True))
    chosen: list[int] = []
    used_clusters: set[str] = set()
    # Each round picks the max of (score - episode penalty, -index) over the remaining candidates that pass the
    # cluster and same-idea rules. Found by scanning in order of the unpenalized score: a penalty only lowers a
    # score, so the scan stops once no later candidate can win, and the costly same-idea test runs only for a
    # candidate that would win (hundreds of on-topic insights x 5 rounds per subscriber otherwise).
    by_base = pickable[np.lexsort((pickable, -base_values))].tolist()  # best first; equal scores: lower index first
    while len(chosen) < size:
        per_episode: dict[str, int] = {}
        for i in chosen:
            per_episode[candidates[i].episode_id] = per_episode.get(candidates[i].episode_id, 0) + 1
        best, best_key = None, None
        for i in by_base:
            if best_key is not None and (base[i], -i) <= best_key:
                break
            key = (base[i] - SAME_EPISODE_PENALTY * per_episode.get(candidates[i].episode_id, 0), -i)
            if best_key is not None and key <= best_key:
                continue
            if candidates[i].cluster_id in used_clusters or any(same_idea(i, j) for j in chosen):
                continue
            best, best_key = i, key
        if best is None:
            break
        chosen.append(best)
        used_clusters.add(candidates[best].cluster_id)
    shown = set(chosen)
    mentions = {i: also_on(i, candidates, vectors, members=members) for i in chosen}
    for others in mentions.values():
        shown.update(others)
    picks = []
    # One copy of the on-topic vectors per brief (flatnonzero is sorted: the same pool as `eligible_pool`).
    pool = (on_topic_indices, vectors[on_topic_indices]) if chosen else None
    for rank, i in enumerate(chosen, start=1):
        related = related_for(i, candidates, vectors, on_topic, exclude=shown, pool=pool)
        shown.update(related)
        picks.append(
            Pick(
                rank,
                candidates[i].insight_id,
                round(float(base[i]), 4),
                round(float(scored.cosine[i]), 4),
                round(float(scored.margin[i]), 4),
                candidates[i].cluster_id,
                [candidates[j].insight_id for j in related],
                [candidates[j].insight_id for j in mentions[i]],
            )
        )
    return picks
