"""From one episode's transcript segments to scored, one-idea insight passages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from podcast_assets.core.discourse import ad_mask, is_framing, is_intro_outro, is_question
from podcast_assets.core.display_text import clean_for_display
from podcast_assets.core.scoring import score_passage
from podcast_assets.core.segmenting import idea_groups, timed_sentences

Encoder = Callable[[list[str]], np.ndarray]  # texts -> unit-norm rows
OPENING_SHARE = 0.1  # the first tenth of an episode is where shows greet, introduce and set the agenda


@dataclass(frozen=True)
class Insight:
    insight_id: str
    episode_id: str
    start_s: float
    end_s: float
    text: str
    score: float
    signals: str


@dataclass(frozen=True)
class Extraction:
    insights: list[Insight]
    rejected: dict[str, int]  # why the other passages were dropped: ad, intro_outro, question, framing, filler, weak


def insight_id_for(episode_id: str, start_s: float, text: str) -> str:
    return hashlib.sha256(f"{episode_id}|{start_s:.2f}|{text}".encode()).hexdigest()[:16]


def sentence_role(text: str, is_ad: bool) -> str:
    if is_ad:
        return "ad"
    if is_intro_outro(text):
        return "intro_outro"
    if is_question(text):
        return "question"
    if is_framing(text):
        return "framing"
    return "content"


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def extract_insights(episode_id: str, segments: list[dict], encode: Encoder | None = None) -> Extraction:
    """Sentences -> roles (ad, intro/outro, question, framing, content) -> one-idea passages of content ->
    scored. With `encode` (MiniLM), passages also join on coherence and are scored on centrality to the episode."""
    sentences = timed_sentences(episode_id, segments)
    if not sentences:
        return Extraction([], {})
    texts = [s.text for s in sentences]
    roles = [sentence_role(t, ad) for t, ad in zip(texts, ad_mask(texts), strict=True)]
    vectors = encode(texts) if encode is not None else None
    content = [i for i, role in enumerate(roles) if role == "content"]
    content_sum = vectors[content].sum(axis=0) if vectors is not None and content else None
    opening_until_s = sentences[-1].end_s * OPENING_SHARE
    groups = idea_groups(texts, [r == "content" for r in roles], vectors, [s.speaker for s in sentences])
    centrality: dict[int, float | None] = {}
    for number, group in enumerate(groups):
        if roles[group[0]] == "content" and content_sum is not None and len(content) > len(group):
            own = vectors[group].sum(axis=0)
            centrality[number] = float(_unit(own) @ _unit(content_sum - own))  # against the rest of the episode
    # Magazine shows jump between subjects, so a tangent is judged against the episode's own typical passage.
    typical = float(np.median(list(centrality.values()))) if centrality else None
    rejected: dict[str, int] = {}
    insights = []
    for number, group in enumerate(groups):
        if roles[group[0]] != "content":
            rejected[roles[group[0]]] = rejected.get(roles[group[0]], 0) + 1
            continue
        raw = " ".join(texts[i] for i in group)
        verdict = score_passage(
            raw,
            centrality.get(number),
            typical,
            opening=sentences[group[0]].start_s < opening_until_s,
        )
        if not verdict.is_insight:
            rejected[verdict.kind] = rejected.get(verdict.kind, 0) + 1
            continue
        first, last = sentences[group[0]], sentences[group[-1]]
        text = clean_for_display(raw)
        insights.append(
            Insight(
                insight_id_for(episode_id, first.start_s, text),
                episode_id,
                first.start_s,
                last.end_s,
                text,
                verdict.score,
                ",".join(verdict.signals),
            )
        )
    return Extraction(insights, rejected)
