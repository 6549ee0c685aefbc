"""From one episode's transcript segments to scored insight candidates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from podcast_assets.core.scoring import ad_mask, score_passage
from podcast_assets.core.segmenting import passages, timed_sentences


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
    rejected: dict[str, int]  # why the other passages were dropped: ad, intro_outro, filler, weak


def insight_id_for(episode_id: str, start_s: float, text: str) -> str:
    return hashlib.sha256(f"{episode_id}|{start_s:.2f}|{text}".encode()).hexdigest()[:16]


def extract_insights(episode_id: str, segments: list[dict]) -> Extraction:
    sentences = timed_sentences(episode_id, segments)
    is_ad = ad_mask([s.text for s in sentences])
    rejected = {"ad": sum(is_ad)}
    kept = [s for s, ad in zip(sentences, is_ad, strict=True) if not ad]
    insights = []
    for passage in passages(kept, joinable=lambda text: score_passage(text).kind in ("insight", "weak")):
        verdict = score_passage(passage.text)
        if not verdict.is_insight:
            rejected[verdict.kind] = rejected.get(verdict.kind, 0) + 1
            continue
        insights.append(
            Insight(
                insight_id_for(episode_id, passage.start_s, passage.text),
                episode_id,
                passage.start_s,
                passage.end_s,
                passage.text,
                verdict.score,
                ",".join(verdict.signals),
            )
        )
    return Extraction(insights, rejected)
