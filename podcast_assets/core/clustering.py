"""Grouping insights by idea across episodes and shows, labelling the groups, and telling new themes from old.

Granularity is one idea, not one topic: agglomerative clustering with average linkage that only merges groups
whose mean *idea similarity* is at least `SAME_IDEA_SIMILARITY`. Idea similarity is the MiniLM cosine plus what
paraphrases share and topic neighbours do not: the same quantity ("a third" ~ "thirty percent") and the same rare
content words. Two passages of one episode are never one idea (an episode states a finding once; its two
findings on one subject stay apart).

A fixed bar misses paraphrases said in other words (idea similarity 0.3-0.6 on ASR text) while different ideas
of one topic reach 0.57. `mutual_neighbours` is the neighbourhood's answer, an option (`neighbour_floor`, off by
default): two passages of different episodes that are each other's nearest passage of another episode, at least
`NEIGHBOUR_FLOOR` alike and nearer to each other by `NEIGHBOUR_MARGIN` than either is to its next candidate, are
merged whatever the bar says. Measured over every tuning network's ASR rows it clustered 4 more of 34 cross-show
ideas and made 10 more wrong merges, and on the held-out networks none more and 6 more wrong (QUALITY.md, round 6;
`python -m benchmarks.paraphrase`), so the pipeline does not use it until the passages it compares are whole ideas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from podcast_assets.core.quantities import quantities, share_a_quantity

SAME_IDEA_SIMILARITY = 0.6
QUANTITY_BONUS = 0.12  # both passages state a like quantity
LEXICAL_WEIGHT = 0.3  # times the Jaccard overlap of their content words
NEIGHBOUR_FLOOR = 0.35  # (when the neighbourhood rule is on) mutual nearest neighbours at least this alike ...
NEIGHBOUR_MARGIN = 0.05  # ... and this much nearer to each other than to their next candidates are one idea
NEIGHBOUR_BLOCK = 1024  # rows of the similarity matrix copied at a time by `mutual_neighbours`
RECURRING_SIMILARITY = 0.7  # a cluster centroid this close to an earlier day's centroid continues that theme


@dataclass(frozen=True)
class ClusterSummary:
    cluster_index: int
    label: str
    size: int
    n_episodes: int
    n_shows: int
    salience: float
    trend: str
    centroid: np.ndarray


_TOKEN = re.compile(r"[a-z][a-z-]{3,}")


def content_words(text: str) -> set[str]:
    """Lower-cased words of 4+ letters that are not stop words, with plural/verb endings cut (crude but stable)."""
    words = set()
    for token in _TOKEN.findall(text.lower()):
        if token in ENGLISH_STOP_WORDS:
            continue
        words.add(re.sub(r"(ies|es|s|ing|ed)$", "", token) or token)
    return words


@dataclass(frozen=True)
class IdeaFeatures:
    """What idea similarity adds to the cosine, computed once per passage."""

    words: frozenset[str]
    stated: frozenset[tuple[str, float]]


def idea_features(text: str) -> IdeaFeatures:
    return IdeaFeatures(frozenset(content_words(text)), frozenset(quantities(text)))


MAX_IDEA_BONUS = LEXICAL_WEIGHT + QUANTITY_BONUS


def pair_idea_similarity(a: IdeaFeatures, b: IdeaFeatures, cosine: float) -> float:
    """Idea similarity of two passages of different episodes, given their embedding cosine."""
    union = a.words | b.words
    lexical = LEXICAL_WEIGHT * (len(a.words & b.words) / len(union) if union else 0.0)
    return cosine + lexical + (QUANTITY_BONUS if share_a_quantity(a.stated, b.stated) else 0.0)


def idea_similarity(embeddings: np.ndarray, texts: list[str], episode_ids: list[str]) -> np.ndarray:
    """Pairwise similarity of ideas: cosine + quantity bonus + lexical overlap; 0 within one episode.
    Vectorised: content-word overlap is a sparse product; quantities are compared only among passages that
    state one."""
    similarity = np.clip(embeddings @ embeddings.T, -1.0, 1.0).astype(float)
    words = [content_words(text) for text in texts]
    vocabulary = {word: index for index, word in enumerate(sorted(set().union(*words)))} if words else {}
    if vocabulary:
        rows = [i for i, ws in enumerate(words) for _ in ws]
        cols = [vocabulary[w] for ws in words for w in ws]
        presence = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocabulary)))
        shared = (presence @ presence.T).toarray()
        sizes = np.asarray(presence.sum(axis=1)).ravel()
        union = sizes[:, None] + sizes[None, :] - shared
        similarity += LEXICAL_WEIGHT * np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    stated = {i: q for i, q in enumerate(quantities(text) for text in texts) if q}
    numbered = sorted(stated)
    for position, i in enumerate(numbered):
        for j in numbered[position + 1 :]:
            if share_a_quantity(stated[i], stated[j]):
                similarity[i, j] += QUANTITY_BONUS
                similarity[j, i] += QUANTITY_BONUS
    episodes = np.asarray(episode_ids)
    similarity[episodes[:, None] == episodes[None, :]] = 0.0
    np.fill_diagonal(similarity, 1.0)
    return similarity


def mutual_neighbours(
    similarity: np.ndarray, episode_ids: list[str], floor: float = NEIGHBOUR_FLOOR, margin: float = NEIGHBOUR_MARGIN
) -> list[tuple[int, int]]:
    """Pairs (i, j) of passages of different episodes that are each other's most similar passage of another
    episode, at least `floor` alike, and at least `margin` more alike than either is to its next candidate (any
    other passage of another episode than its own, j's siblings included: two different ideas of one topic sit as
    near to each other as to the rest of that topic)."""
    episodes = np.unique(np.asarray(episode_ids), return_inverse=True)[1]
    n = len(episodes)
    if n < 2:
        return []
    nearest, best, runner_up = np.empty(n, dtype=int), np.empty(n), np.empty(n)
    for start in range(0, n, NEIGHBOUR_BLOCK):  # rows in blocks: no second n x n matrix at 10,000 insights
        block = similarity[start : start + NEIGHBOUR_BLOCK].astype(float)  # a copy
        block[episodes[start : start + len(block), None] == episodes[None, :]] = -np.inf  # the diagonal too
        top = np.argpartition(-block, 1, axis=1)[:, :2]
        values = np.take_along_axis(block, top, axis=1)
        first = values.argmax(axis=1)
        rows = np.arange(len(block))
        nearest[start : start + len(block)] = top[rows, first]
        best[start : start + len(block)] = values[rows, first]
        runner_up[start : start + len(block)] = values[rows, 1 - first]
    return [
        (i, int(j))
        for i, j in enumerate(nearest)
        if i < j and nearest[j] == i and best[i] >= floor and best[i] - max(runner_up[i], runner_up[j]) >= margin
    ]


def cluster_ideas(
    embeddings: np.ndarray,
    texts: list[str] | None = None,
    episode_ids: list[str] | None = None,
    threshold: float = SAME_IDEA_SIMILARITY,
    neighbour_floor: float | None = None,
    neighbour_margin: float = NEIGHBOUR_MARGIN,
) -> np.ndarray:
    """Cluster index per row of unit-norm `embeddings` (with `texts`/`episode_ids`: by idea similarity). With a
    `neighbour_floor` (e.g. `NEIGHBOUR_FLOOR`), mutual nearest neighbours of different episodes are merged first."""
    if len(embeddings) <= 1:
        return np.zeros(len(embeddings), dtype=int)
    texts = texts if texts is not None else [""] * len(embeddings)
    episode_ids = episode_ids if episode_ids is not None else [str(i) for i in range(len(embeddings))]
    similarity = idea_similarity(embeddings, texts, episode_ids)
    if neighbour_floor is not None:
        for i, j in mutual_neighbours(similarity, episode_ids, neighbour_floor, neighbour_margin):
            similarity[i, j] = similarity[j, i] = 1.0
    distance = np.clip(1.0 - similarity, 0.0, None)
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0 - threshold
    )
    return model.fit_predict(distance)


def ctfidf_labels(texts: list[str], labels: np.ndarray, top_n: int = 3) -> dict[int, str]:
    """Class-based TF-IDF (as in BERTopic): the terms that set each cluster apart from the others."""
    clusters = sorted(set(int(label) for label in labels))
    documents = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == c) for c in clusters]
    try:
        vectorizer = CountVectorizer(
            stop_words="english", ngram_range=(1, 2), token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]+\b"
        )
        counts = vectorizer.fit_transform(documents).toarray().astype(float)
    except ValueError:  # only stop words
        return {c: "misc" for c in clusters}
    term_frequency = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average_words = counts.sum() / len(clusters)
    idf = np.log(1 + average_words / np.maximum(counts.sum(axis=0), 1))
    weights = term_frequency * idf
    terms = vectorizer.get_feature_names_out()
    result = {}
    for row, cluster in enumerate(clusters):
        picked: list[str] = []
        for index in np.argsort(-weights[row]):
            term = terms[index]
            if weights[row, index] <= 0 or len(picked) == top_n:
                break
            if any(term in p or p in term for p in picked):  # "sodium" and "sodium ion" say the same
                continue
            picked.append(term)
        result[cluster] = ", ".join(picked) or "misc"
    return result


def summarize_clusters(
    embeddings: np.ndarray,
    labels: np.ndarray,
    texts: list[str],
    episode_ids: list[str],
    show_ids: list[str],
    quality: list[float],
    previous_centroids: np.ndarray,
    previous_sizes: np.ndarray,
    chapters: list[str | None] | None = None,
) -> list[ClusterSummary]:
    """Label, size, reach and salience of each cluster, and its trend against earlier days' clusters.

    salience = 0.5 * share of the day's shows that speak of it + 0.2 * size (capped at 5) + 0.3 * mean quality.
    trend: `new` (nothing like it in the look-back window), `rising` (seen before, bigger today), `recurring`.
    `chapters`: the chapter title playing at each insight (Podcasting 2.0 chapters), used in the label.
    """
    # The publisher's chapter title names the subject in the show's own words: it counts toward the label twice.
    label_texts = [f"{t} {c}. {c}." if c else t for t, c in zip(texts, chapters or [None] * len(texts), strict=True)]
    names = ctfidf_labels(label_texts, labels)
    all_shows = max(len(set(show_ids)), 1)
    summaries = []
    for cluster in sorted(set(int(label) for label in labels)):
        members = np.flatnonzero(labels == cluster)
        centroid = embeddings[members].mean(axis=0)
        centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        n_shows = len({show_ids[i] for i in members})
        salience = (
            0.5 * n_shows / all_shows
            + 0.2 * min(len(members), 5) / 5
            + 0.3 * float(np.mean([quality[i] for i in members]))
        )
        trend = "new"
        if len(previous_centroids):
            similarity = previous_centroids @ centroid
            matched = similarity >= RECURRING_SIMILARITY
            if matched.any():
                trend = "rising" if len(members) > float(previous_sizes[matched].mean()) else "recurring"
        summaries.append(
            ClusterSummary(
                cluster,
                names[cluster],
                len(members),
                len({episode_ids[i] for i in members}),
                n_shows,
                round(salience, 4),
                trend,
                centroid,
            )
        )
    return summaries
