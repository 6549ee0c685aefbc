"""Cutting transcript segments into timed sentences, and sentences into one-idea passages."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from podcast_assets.core.discourse import announces_next, continues_previous, is_filler, is_reaction

# A sentence ends at . ! ? followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")
MAX_SENTENCES = 4
MAX_WORDS = 90  # a passage longer than this is two ideas or a monologue
# The answer to one question is one idea up to a little longer: a guest's answer runs 5-6 ASR sentences.
ANSWER_MAX_SENTENCES = 6
ANSWER_MAX_WORDS = 120
JOIN_COHERENCE = 0.5
REACTIONS_BEFORE_ANSWER = 2  # "Jess, great question." "Oh, I have a love-hate relationship with slant boards."


@dataclass(frozen=True)
class Sentence:
    episode_id: str
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


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
            sentences.append(
                Sentence(episode_id, round(cursor, 2), round(cursor + duration, 2), part, segment.get("speaker"))
            )
            cursor += duration
    return sentences


def _content_run(roles: list[str], texts: list[str], first: int, goes_on) -> list[int]:
    """The content sentences without filler from `first` on, while `goes_on(previous, next)` holds."""
    run: list[int] = []
    step = first
    while (
        step < len(texts)
        and roles[step] == "content"
        and not is_filler(texts[step])
        and (not run or goes_on(run[-1], step))
    ):
        run.append(step)
        step += 1
    return run


def _mark_if_one_answer(out: list[bool], run: list[int], texts: list[str]) -> None:
    """A run short enough to be one answer (ANSWER_MAX_SENTENCES, ANSWER_MAX_WORDS) is one idea: its sentences after
    the first go on it, whatever words they use to go on."""
    if len(run) <= ANSWER_MAX_SENTENCES and sum(len(texts[i].split()) for i in run) <= ANSWER_MAX_WORDS:
        for i in run[1:]:
            out[i] = True


def answer_continuations(roles: list[str], texts: list[str], speakers: list[str | None] | None = None) -> list[bool]:
    """Per sentence: it goes on the short answer to a question. The content sentences right after a question (and
    after the answerer's short reaction to it, if any), up to the next question, filler, other role or change of a
    known speaker, are one answer."""
    out = [False] * len(texts)
    speakers = speakers or [None] * len(texts)

    def same_answer(previous: int, step: int) -> bool:
        return None in (speakers[previous], speakers[step]) or speakers[previous] == speakers[step]

    index = 0
    while index < len(texts):
        if roles[index] != "question":
            index += 1
            continue
        first = index + 1
        while first < len(texts) and first - index <= REACTIONS_BEFORE_ANSWER and is_reaction(texts[first]):
            first += 1
        run = _content_run(roles, texts, first, same_answer)
        _mark_if_one_answer(out, run, texts)
        index = first + len(run) if run else index + 1
    return out


def turn_continuations(roles: list[str], texts: list[str], speakers: list[str | None]) -> list[bool]:
    """Per sentence: it goes on its speaker's short turn. A run of content sentences of one known speaker (no
    filler, no other role between) that fits one answer is one idea: on the labeled networks a planted insight is
    one turn, and ASR text of it often has no words that link its sentences (QUALITY.md, round 7)."""
    out = [False] * len(texts)
    index = 0
    while index < len(texts):
        run = (
            []
            if speakers[index] is None
            else _content_run(roles, texts, index, lambda previous, step: speakers[step] == speakers[previous])
        )
        _mark_if_one_answer(out, run, texts)
        index += max(1, len(run))
    return out


def idea_groups(
    texts: list[str],
    joinable: list[bool],
    vectors: np.ndarray | None = None,
    speakers: list[str | None] | None = None,
    answer: list[bool] | None = None,
) -> list[list[int]]:
    """Sentence indexes grouped into one-idea passages, in order.

    A sentence joins the passage before it when both are `joinable` (content, not a question, ad or framing),
    the speaker did not change (when known), the passage is not full, and the sentence leans on the one before
    (a "because", "that means", evidence, a pronoun pointing back), the sentence before announced it ("Here's
    what the research shows."), or it is about the very same thing (embedding
    coherence >= JOIN_COHERENCE: MiniLM gives adjacent sentences of different ideas up to ~0.46 on the demo).
    """
    groups: list[list[int]] = []
    for index, text in enumerate(texts):
        current = groups[-1] if groups else None
        if current is not None and answer is not None and answer[index]:
            current.append(index)  # the rest of a short answer (its size was checked as a whole)
            continue
        if (
            current is not None
            and joinable[index]
            and all(joinable[i] for i in current)
            and len(current) < MAX_SENTENCES
            and sum(len(texts[i].split()) for i in current) + len(text.split()) <= MAX_WORDS
            and (speakers is None or speakers[index] is None or speakers[index] == speakers[current[-1]])
            and (
                continues_previous(text, texts[current[-1]])
                or announces_next(texts[current[-1]])
                or (vectors is not None and float(vectors[index] @ vectors[current[-1]]) >= JOIN_COHERENCE)
            )
        ):
            current.append(index)
        else:
            groups.append([index])
    return groups
