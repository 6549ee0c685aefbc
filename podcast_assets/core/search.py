"""Hybrid ranking for insight search: MiniLM cosine and BM25 keywords, fused by reciprocal rank.

Exact cosine (one matrix product) rather than an ANN index: at 100,000 insights it takes ~12 ms a query with
recall 1.0 (BENCHMARKS.md, "Search index"), so an index structure would add a build step and lose recall for
nothing a reader notices."""

from __future__ import annotations

import bm25s
import numpy as np

MAX_QUERY_CHARS = 300
RRF_K = 60  # the usual reciprocal-rank-fusion constant: one list's top rank cannot drown the other list
CANDIDATES = 100  # ranks beyond this in either list add nothing to the fused top results


class BadQuery(ValueError):
    """A query that cannot be searched (empty, or only punctuation, or too long)."""


def clean_query(text: str | None) -> str:
    query = " ".join(str(text or "").split())
    if not any(ch.isalnum() for ch in query):
        raise BadQuery("type a few words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"a query is at most {MAX_QUERY_CHARS} characters")
    return query


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    count = min(count, len(scores))
    top = np.argpartition(-scores, count - 1)[:count]
    return top[np.argsort(-scores[top], kind="stable")]


class SearchCorpus:
    """Insight texts and their unit-norm MiniLM vectors, with a BM25 index built once for many queries."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        self.texts, self.vectors = texts, np.asarray(vectors, dtype=np.float32)
        self.bm25 = bm25s.BM25()
        if texts:
            self.bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def keyword_scores(self, query: str) -> np.ndarray:
        """BM25 score of every text (0 where no query word occurs; English stop words ignored)."""
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
        if not self.texts or not tokens:
            return np.zeros(len(self.texts))
        return np.asarray(self.bm25.get_scores(tokens), dtype=float)

    def rank(self, query: str, query_vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """(row, fused score) of the best `limit` rows, best first: a row only the keyword list or only the
        meaning list ranks still gets in; one both rank high comes first."""
        if not self.texts:
            return []
        fused: dict[int, float] = {}
        for rank, row in enumerate(_top(self.vectors @ query_vector, CANDIDATES)):
            fused[int(row)] = 1.0 / (RRF_K + rank + 1)
        keywords = self.keyword_scores(query)
        matched = _top(keywords, CANDIDATES)
        for rank, row in enumerate(matched[keywords[matched] > 0]):
            fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
