"""From one episode's transcript segments to scored, one-idea insight passages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from podcast_assets.core.discourse import (
    ad_mask,
    is_framing,
    is_intro_outro,
    is_premise_of,
    is_question,
    is_small_talk,
    is_tag_question,
    is_tangent,
    leads_a_letter,
)
from podcast_assets.core.display_text import clean_for_display
from podcast_assets.core.scoring import score_passage
from podcast_assets.core.segmenting import (
    Sentence,
    answer_continuations,
    idea_groups,
    timed_sentences,
    turn_continuations,
)

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
    rejected: dict[str, int]  # why the other passages were dropped: ad, intro_outro, question, framing, tangent,
    # filler, weak


def insight_id_for(episode_id: str, start_s: float, text: str) -> str:
    return hashlib.sha256(f"{episode_id}|{start_s:.2f}|{text}".encode()).hexdigest()[:16]


def sentence_role(text: str, is_ad: bool) -> str:
    if is_ad:
        return "ad"
    if is_intro_outro(text):
        return "intro_outro"
    if is_tangent(text):
        return "tangent"
    if is_question(text):
        return "question"
    if is_framing(text):
        return "framing"
    return "content"


INTRO_SHARE = 0.25  # where an episode's opening (greetings, banter, plugs, agenda) may run to
OUTRO_SHARE = 0.2  # where its sign-off may start from the end
TANGENT_RUN_MAX = 3  # sentences of small talk that may follow an aside
LETTER_MAX = 4  # sentences a read-out letter may run before its question


def episode_roles(sentences: list[Sentence], texts: list[str]) -> list[str]:
    """Per sentence: ad, intro_outro, question, framing, tangent or content, with the episode's shape applied.

    Shows open with greetings, banter and plugs and close the opening with the agenda ("Today we're digging
    into..."): everything before the last agenda or greeting line of the first quarter is opening. Likewise
    everything after the first sign-off line of the last fifth is closing. Short replies after an aside
    ("Side note, my dog...") and the small talk after it are part of the aside."""
    roles = [sentence_role(t, ad) for t, ad in zip(texts, ad_mask(texts), strict=True)]
    duration_s = sentences[-1].end_s or 1.0
    opening = [i for i, s in enumerate(sentences) if s.start_s <= duration_s * INTRO_SHARE]
    closers = [i for i in opening if roles[i] in ("framing", "intro_outro")]
    for i in range(closers[-1] if closers else 0):
        if roles[i] == "content":
            roles[i] = "intro_outro"
    sign_offs = [i for i, s in enumerate(sentences) if s.start_s >= duration_s * (1 - OUTRO_SHARE)]
    first_sign_off = next((i for i in sign_offs if roles[i] == "intro_outro"), None)
    for i in range(first_sign_off + 1 if first_sign_off is not None else len(roles), len(roles)):
        if roles[i] == "content":
            roles[i] = "intro_outro"
    # "People assume digital is cheaper. Is it?": the statement is the set-up of the host's question.
    for i in range(len(roles) - 1):
        if roles[i] == "content" and (is_tag_question(texts[i + 1]) or is_premise_of(texts[i], texts[i + 1])):
            roles[i] = "question"
    # A listener's letter read out is their question, from its lead-in to its question mark.
    for lead in [i for i, text in enumerate(texts) if leads_a_letter(text)]:
        last = min(lead + 1 + LETTER_MAX, len(texts))
        end = next((j for j in range(lead + 1, last) if roles[j] == "question"), None)
        for i in range(lead, end if end is not None else lead + 1):
            if roles[i] in ("content", "framing"):
                roles[i] = "question"
    for start in [i for i, role in enumerate(roles) if role == "tangent"]:
        for i in range(start + 1, min(start + 1 + TANGENT_RUN_MAX, len(roles))):
            if roles[i] not in ("content", "tangent") or not is_small_talk(texts[i]):
                break
            roles[i] = "tangent"
    return roles


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
    roles = episode_roles(sentences, texts)
    vectors = encode(texts) if encode is not None else None
    content = [i for i, role in enumerate(roles) if role == "content"]
    content_sum = vectors[content].sum(axis=0) if vectors is not None and content else None
    opening_until_s = sentences[-1].end_s * OPENING_SHARE
    speakers = [s.speaker for s in sentences]
    goes_on = zip(answer_continuations(roles, texts, speakers), turn_continuations(roles, texts, speakers), strict=True)
    groups = idea_groups(texts, [r == "content" for r in roles], vectors, speakers, [a or b for a, b in goes_on])
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
