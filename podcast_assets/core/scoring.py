"""Is a passage an insight? Deterministic, offline scoring: ads, intros/outros, questions, framing and tangents out.

Every rule is a named signal so the score can be explained (`signals` column) and tuned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podcast_assets.core.discourse import ad_strength, filler_count, is_framing, is_intro_outro, is_question
from podcast_assets.core.segmenting import split_sentences

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|fifty|hundred|thousand|million"
    r"|billion|half|third|quarter|fifth|double|twice|times|percent)\b",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    r"\b(than|more|less|fewer|cheaper|faster|slower|better|worse|higher|lower|most|least|easier|harder)\b|%",
    re.IGNORECASE,
)
_FINDING = re.compile(
    r"\b(found|finds|shows?|showed|study|studies|research(ers)?|data|trial|report(s|ed)?|evidence|measured"
    r"|now|can|could|means|turns out|discovered)\b",
    re.IGNORECASE,
)
_CONTRARIAN = re.compile(
    r"\b(contrary|fears?|popular belief|actually|surprisingly|myth|despite|does not|doesn't|do not|don't|not"
    r"|barely|even|still)\b",
    re.IGNORECASE,
)
_CAUSAL = re.compile(
    r"\b(because|since|so that|which makes|which means|means|leads? to|linked to|as a result|thanks to|due to)\b"
    r"|, so\b|\bwhen\b[^,]{3,60},",
    re.IGNORECASE,
)
_GENERAL = re.compile(r"\b(often|usually|mostly|always|never|most|every|several|many)\b", re.IGNORECASE)
_CHATTY = re.compile(r"\b(i|i'm|i've|me|my|we're|let's|us)\b", re.IGNORECASE)
_ADVICE = re.compile(r"\b(should|helps?|avoid|try|makes it easier|keep(ing)?|best way)\b", re.IGNORECASE)

MIN_WORDS = 8
MAX_WORDS = 90
MIN_INSIGHT_SCORE = 0.3
# Cosine of a passage to its episode's content centroid (all-MiniLM-L6-v2). Below it, the talk has left the
# episode's subject (a tangent about the weather, a pet, a pitch).
TANGENT_CENTRALITY = 0.2
TANGENT_MARGIN = 0.15


@dataclass(frozen=True)
class Verdict:
    score: float
    kind: str  # "insight", "ad", "intro_outro", "filler" or "weak"
    signals: tuple[str, ...]

    @property
    def is_insight(self) -> bool:
        return self.kind == "insight"


def score_passage(
    text: str, centrality: float | None = None, typical_centrality: float | None = None, opening: bool = False
) -> Verdict:
    """`centrality`: cosine of the passage to the rest of its episode's content, `typical_centrality` the episode's
    median of it (a tangent sits far below both); `opening`: the passage lies in the first tenth of the episode,
    where shows greet, introduce and set the agenda, so it needs real substance to count."""
    words = text.split()
    sentences = split_sentences(text)
    if any(ad_strength(s) == 2 for s in sentences):
        return Verdict(0.0, "ad", ("ad",))
    if any(is_intro_outro(s) for s in sentences):
        return Verdict(0.0, "intro_outro", ("intro_outro",))
    if is_question(sentences[0] if sentences else text):
        return Verdict(0.0, "question", ("question",))
    if is_framing(sentences[0] if sentences else text):
        return Verdict(0.0, "framing", ("framing",))
    if len(words) < MIN_WORDS:
        return Verdict(0.0, "filler", ("too_short",))
    signals = []
    # A declarative sentence of some length is usually saying something; the signals below decide how much.
    score = 0.2 if len(words) >= 12 else 0.1
    for name, pattern, weight in (
        ("number", _NUMBER, 0.25),
        ("comparison", _COMPARISON, 0.2),
        ("finding", _FINDING, 0.2),
        ("contrarian", _CONTRARIAN, 0.15),
        ("advice", _ADVICE, 0.1),
        ("causal", _CAUSAL, 0.15),
        ("general", _GENERAL, 0.1),
    ):
        if pattern.search(text):
            signals.append(name)
            score += weight
    substance = any(name in signals for name in ("number", "finding", "causal"))
    filler_hits = filler_count(text)
    if filler_hits:
        signals.append("filler")
        score -= 0.2 * filler_hits / max(1, len(sentences))
    if _CHATTY.search(text) and not substance:
        signals.append("chatty")
        score -= 0.15
    if len(words) > MAX_WORDS:
        signals.append("long")
        score -= 0.15
    if centrality is not None:
        signals.append(f"centrality={centrality:.2f}")
        typical = centrality if typical_centrality is None else typical_centrality
        if centrality < TANGENT_CENTRALITY and centrality < typical - TANGENT_MARGIN:
            signals.append("tangent")
            score -= 0.3
    if opening and not substance:
        signals.append("opening")
        score -= 0.2
    score = max(0.0, min(1.0, score))
    return Verdict(round(score, 3), "insight" if score >= MIN_INSIGHT_SCORE else "weak", tuple(signals))
