"""Is a passage an insight? Deterministic, offline scoring: ads, intros/outros, questions, framing and tangents out.

Every rule is a named signal so the score can be explained (`signals` column) and tuned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from podcast_assets.core.discourse import ad_strength, filler_count, is_framing, is_intro_outro, is_question
from podcast_assets.core.segmenting import MAX_WORDS, split_sentences

# A quantity, not any number word: "two of us today" says nothing, "two thirds of the hives" does.
_NUMBER = re.compile(
    r"\d|\b(half|halved|third|thirds|quarter|quarters|fifth|tenth|double[ds]?|twice|triple[ds]?|tripled"
    r"|percent|hundreds?|thousands?|millions?|billions?)\b"
    r"|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|a few)\s+(times|in|out of"
    r"|percent|years?|decades?|months?|weeks?|days?|hours?|minutes?|degrees?|kilometers?|miles?|meters?|dollars?)\b",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    r"\b(than|cheaper|faster|slower|better|worse|higher|lower|fewer|least|easier|harder|larger|smaller|bigger"
    r"|increase[sd]?|decrease[sd]?|rose|fell|drop(s|ped)?|cut(s)?|grew|shrank|cheapest|biggest|largest|smallest"
    r"|fastest|slowest|highest|lowest|best|worst|strongest|weakest|oldest|newest|easiest|hardest|safest)\b|%",
    re.IGNORECASE,
)
_FINDING = re.compile(
    r"\b(found|finds|shows?|showed|shown|study|studies|research(ers)?|data|trial|survey(s|ed)?|experiment"
    r"|analysis|report(s|ed)?|evidence|measured|turns out|discovered|scientists|according to|records?)\b",
    re.IGNORECASE,
)
_CONTRARIAN = re.compile(
    r"\b(contrary to|myth|misconception|surprising(ly)?|counterintuitive|the opposite|despite|people (think|assume)"
    r"|(most|many) people|not what|backfire|turns out|but actually|(everyone|everybody|people) (says?|thinks?"
    r"|talks? about|assumes?|believes?))\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(isn't|is not|doesn't|does not|do not|don't|barely|no longer|never|only)\b", re.I)
_CONTENT_WORD = re.compile(r"[a-z][a-z-]{4,}")
_CAUSAL = re.compile(
    r"\b(because|since|so that|which makes|which means|means|leads? to|linked to|as a result|thanks to|due to)\b"
    r"|, so\b|\bwhen\b[^,]{3,60},|\b(it's|that's|this is|which is) (how|why)\b",
    re.IGNORECASE,
)
_GENERAL = re.compile(r"\b(often|usually|mostly|always|never|most|every|several|many)\b", re.IGNORECASE)
_CHATTY = re.compile(r"\b(i|i'm|i've|me|my|we're|let's|us|you're|i'd)\b", re.IGNORECASE)
# Life stories of the hosts: "my dog", "my neighbour", "my car this morning".
_PERSONAL = re.compile(
    r"\b(my|our) (dog|cat|kids?|son|daughter|wife|husband|partner|mom|dad|mother|father|neighbou?r|car|house"
    r"|apartment|garden|coffee|trip|weekend|vacation|holiday|friend|brother|sister)\b",
    re.IGNORECASE,
)
# A host's anecdote: "Can I confess something? In college I had a fine...".
_ANECDOTE = re.compile(
    r"\b(in (college|high school|grad school)|when i was (a kid|a teenager|young|little|in)|years ago,? i"
    r"|i remember (when|once|the)|i once|confess|true story|funny story)\b",
    re.IGNORECASE,
)
# Enthusiasm that says nothing: "It's just a really sweet program, one of my favorite things we do."
_ENTHUSIASM = re.compile(
    r"\b(one of my (all[- ]time )?favou?rites?( things)?|(people|kids|everyone|folks) (love|adore) (it|them|this|that)"
    r"|(really|so|super|just) (sweet|cool|fun|neat|amazing|awesome|lovely|wonderful|great)"
    r"|makes you think|how important (this|that|it) is|just the best|the best part of (the whole|it|this))\b",
    re.IGNORECASE,
)
_ADVICE = re.compile(r"\b(should|helps?|avoid|try|makes it easier|keep(ing)?|best way)\b", re.IGNORECASE)

MIN_WORDS = 8
MIN_INSIGHT_SCORE = 0.35
SPECIFIC_MIN_WORDS = 6
SPECIFIC_DENSITY = 0.3
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
        ("comparison", _COMPARISON, 0.15),
        ("finding", _FINDING, 0.2),
        ("contrarian", _CONTRARIAN, 0.25),
        ("negation", _NEGATION, 0.05),
        ("advice", _ADVICE, 0.05),
        ("causal", _CAUSAL, 0.2),
        ("general", _GENERAL, 0.1),
    ):
        if pattern.search(text):
            signals.append(name)
            score += weight
    # Dense with long content words = specific; chat is mostly short words ("we", "it's", "right", "that").
    content_words = [w for w in _CONTENT_WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
    if len(content_words) >= SPECIFIC_MIN_WORDS and len(content_words) / len(words) >= SPECIFIC_DENSITY:
        signals.append("specific")
        score += 0.1
    substance = any(name in signals for name in ("number", "finding", "causal", "contrarian"))
    filler_hits = filler_count(text)
    if filler_hits:
        signals.append("filler")
        score -= 0.2 * filler_hits / max(1, len(sentences))
    if _CHATTY.search(text) and not substance:
        signals.append("chatty")
        score -= 0.15
    if _PERSONAL.search(text):
        signals.append("personal")
        score -= 0.3
    if _ANECDOTE.search(text):  # a story about the host, whatever numbers it has, is not the show's finding
        signals.append("anecdote")
        score -= 0.5
    if _ENTHUSIASM.search(text):
        signals.append("enthusiasm")
        score -= 0.3
    if len(words) > MAX_WORDS:  # only when a single ASR sentence runs on
        signals.append("long")
        score -= 0.15
    if centrality is not None:
        signals.append(f"centrality={centrality:.2f}")
        typical = centrality if typical_centrality is None else typical_centrality
        if centrality < TANGENT_CENTRALITY and centrality < typical - TANGENT_MARGIN:
            signals.append("tangent")
            score -= 0.3
        elif centrality >= typical:
            signals.append("central")  # at least as much about the episode's subject as its typical passage
            score += 0.1
    if opening and not substance:
        signals.append("opening")
        score -= 0.2
    score = max(0.0, min(1.0, score))
    return Verdict(round(score, 3), "insight" if score >= MIN_INSIGHT_SCORE else "weak", tuple(signals))
