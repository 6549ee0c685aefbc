"""Is a passage an insight? Deterministic, offline scoring with ad reads, intros/outros and filler removed.

Every rule is a named signal so the score can be explained (`signals` column) and tuned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Sponsor reads. A URL-like token or a promo phrase is enough on its own.
_AD_STRONG = re.compile(
    r"\b(sponsor(ed|s)?|brought to you by|promo code|use code|coupon|discount|free trial|free shipping"
    r"|percent off|% off|sign up|special offer|support for (this|the)\b.*\bcomes from|supported by)\b"
    r"|\b[\w-]+\s?(\.|dot\s)(com|io|net|org|co|fm)\b",
    re.IGNORECASE,
)
_INTRO_OUTRO = re.compile(
    r"\b(welcome (back )?to|i'm (your host|joined)|thanks? (you )?(so much )?for (listening|coming)|subscribe"
    r"|see you (next|tomorrow)|that's (all|it|a wrap|the signal)|that is it|bye for now|left us a review"
    r"|let's (get|keep) (right )?(into|going)|sweet dreams|sleep well|thank you (all )?for listening"
    r"|we will be back|special edition|before we start|back next week)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(r"\b(i mean|you know|kind of wild|yeah|okay|anyway|where were we|right\?)", re.IGNORECASE)

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
_CAUSAL = re.compile(r"\b(because|since|so that|which makes|which means|means|leads? to|linked to)\b", re.IGNORECASE)
_GENERAL = re.compile(r"\b(often|usually|mostly|always|never|most|every|several|many)\b", re.IGNORECASE)
_CHATTY = re.compile(r"\b(i|i'm|i've|me|my|we're|let's|us)\b|\?$", re.IGNORECASE)
_ADVICE = re.compile(r"\b(should|helps?|avoid|try|makes it easier|keep(ing)?|best way)\b", re.IGNORECASE)

MIN_WORDS = 8
MIN_INSIGHT_SCORE = 0.3


@dataclass(frozen=True)
class Verdict:
    score: float
    kind: str  # "insight", "ad", "intro_outro", "filler" or "weak"
    signals: tuple[str, ...]

    @property
    def is_insight(self) -> bool:
        return self.kind == "insight"


def score_passage(text: str) -> Verdict:
    words = text.split()
    if _AD_STRONG.search(text):
        return Verdict(0.0, "ad", ("ad",))
    if _INTRO_OUTRO.search(text):
        return Verdict(0.0, "intro_outro", ("intro_outro",))
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
    filler_hits = len(_FILLER.findall(text))
    if filler_hits:
        signals.append("filler")
        score -= 0.2 * filler_hits
    if _CHATTY.search(text):
        signals.append("chatty")
        score -= 0.15
    if len(words) > 60:
        signals.append("long")
        score -= 0.15
    score = max(0.0, min(1.0, score))
    return Verdict(round(score, 3), "insight" if score >= MIN_INSIGHT_SCORE else "weak", tuple(signals))


def ad_mask(texts: list[str]) -> list[bool]:
    """Sentence-level ad detection with spill-over: the sentence right after a sponsor mention is part of the
    read when it carries an ad cue too (a product pitch rarely fits one sentence)."""
    strong = [bool(_AD_STRONG.search(text)) for text in texts]
    mask = list(strong)
    for index in range(1, len(texts)):
        if strong[index - 1] and re.search(r"\b(code|offer|trial|free|visit|today|your first)\b", texts[index], re.I):
            mask[index] = True
    return mask
