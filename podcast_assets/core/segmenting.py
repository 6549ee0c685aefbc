"""Cutting transcript segments into timed sentences and candidate passages of one to three sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A sentence ends at . ! ? followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")
# Sentences that lean on the previous one ("That means...", "And it...") belong to its passage.
_CONTINUATION = re.compile(r"^(and|but|so|which|that|this|it|they|because|meaning)\b", re.IGNORECASE)
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Sentence:
    episode_id: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Passage:
    episode_id: str
    start_s: float
    end_s: float
    text: str


def split_sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def timed_sentences(episode_id: str, segments: list[dict]) -> list[Sentence]:
    """Sentences with times. Without word alignment, a segment's time is shared out by character count."""
    sentences = []
    for segment in segments:
        parts = split_sentences(segment["text"] or "")
        total = sum(len(p) for p in parts) or 1
        span = max(0.0, segment["end_s"] - segment["start_s"])
        cursor = segment["start_s"]
        for part in parts:
            duration = span * len(part) / total
            sentences.append(Sentence(episode_id, round(cursor, 2), round(cursor + duration, 2), part))
            cursor += duration
    return sentences


def passages(sentences: list[Sentence], joinable: Callable[[str], bool] = lambda text: True) -> list[Passage]:
    """Each sentence starts a passage; continuation sentences are folded into the one before (up to three)
    when `joinable` accepts both it and the passage's first sentence (so an outro starting with "That's all"
    never rides on an insight, and an insight starting with "So" is not swallowed by the intro before it)."""
    grouped: list[list[Sentence]] = []
    for sentence in sentences:
        if (
            grouped
            and len(grouped[-1]) < MAX_SENTENCES
            and _CONTINUATION.match(sentence.text)
            and joinable(sentence.text)
            and joinable(grouped[-1][0].text)
        ):
            grouped[-1].append(sentence)
        else:
            grouped.append([sentence])
    return [
        Passage(group[0].episode_id, group[0].start_s, group[-1].end_s, " ".join(s.text for s in group))
        for group in grouped
    ]
