"""Matching what the pipeline produced back to the demo scripts' planted insights and ads."""

from __future__ import annotations

from difflib import SequenceMatcher

from podcast_assets.core.wer import normalize
from podcast_assets.evaluation.demo_network import all_episodes
from podcast_assets.evaluation.network import Turn


def paragraphs(kind: str) -> list[tuple[str, Turn]]:
    """(episode slug, paragraph) of every paragraph of `kind` in the demo network."""
    return [(episode.slug, p) for _, episode in all_episodes() for p in episode.turns if p.kind == kind]


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, normalize(a), normalize(b)).ratio()


def best_planted(text: str) -> tuple[float, str | None, Turn | None]:
    """Closest planted insight paragraph to `text` (ASR and sentence cutting change the words a little)."""
    scored = [(similarity(text, p.text), slug, p) for slug, p in paragraphs("insight")]
    return max(scored, key=lambda s: s[0]) if scored else (0.0, None, None)


def planted_theme(text: str, threshold: float = 0.5) -> str | None:
    score, _, paragraph = best_planted(text)
    return paragraph.theme if paragraph and score >= threshold else None


def ad_likeness(text: str) -> float:
    """Highest similarity of `text` to any sentence of any ad read."""
    from podcast_assets.core.segmenting import split_sentences

    sentences = [s for _, p in paragraphs("ad") for s in split_sentences(p.text)]
    return max(similarity(text, s) for s in sentences)
