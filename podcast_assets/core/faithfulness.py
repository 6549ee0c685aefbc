"""Is a rewritten insight faithful to the passage it was written from?

A language model asked to rewrite a passage can invent what sounds right: a year, a place, a round number. A
rewrite is shown only when every number and every name it states is in the passage; otherwise the reader sees
the cleaned passage. Numbers are compared after spelled numbers become digits ("one hundred hours" = "100
hours"), so a faithful rewrite may use either form. Names are the capitalized words a sentence does not start
with, and acronyms anywhere ("LFP", "CO2"): a sentence's first word is not judged, since any word is
capitalized there. The check is deliberately strict: a faithful rewrite it refuses costs polish, an unfaithful
one it passes costs the reader's trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import alpha2digit

_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’\-]*")
_NUMBER = re.compile(
    r"(?P<currency>[$€£¥])?\s?(?P<value>\d+(?:,\d{3})*(?:\.\d+)?)\s?(?P<unit>%|percent\b|per cent\b|dollars?\b"
    r"|euros?\b|pounds?\b|yen\b)?",
    re.IGNORECASE,
)
_UNIT_OF = {"$": "$", "dollar": "$", "dollars": "$", "€": "€", "euro": "€", "euros": "€", "£": "£", "pound": "£",
            "pounds": "£", "¥": "¥", "yen": "¥", "%": "%", "percent": "%", "per cent": "%"}  # fmt: skip
_POSSESSIVE = re.compile(r"['’]s$")
_NOT_NAMES = {"i", "i'm", "i've", "i'd", "i'll", "ok", "tv"}


@dataclass(frozen=True)
class Faithfulness:
    unsupported: tuple[str, ...]  # numbers and names of the rewrite that the passage does not state

    @property
    def faithful(self) -> bool:
        return not self.unsupported


def _digits(text: str) -> str:
    # threshold 0: "two" becomes "2" too, so a rewrite and its passage are converted alike.
    return alpha2digit(text, "en", threshold=0)


def numbers_in(text: str) -> set[tuple[str, str]]:
    """The numbers a text states, spelled or in digits, canonical ("1,200" -> "1200", "3.50" -> "3.5"), each with
    its unit when it has a currency or percent ("$100" -> ("100", "$"), "twenty percent" -> ("20", "%"))."""
    found = set()
    for match in _NUMBER.finditer(_digits(text)):
        value = match.group("value").replace(",", "")
        value = value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"
        unit = match.group("currency") or (match.group("unit") or "").lower()
        found.add((value, _UNIT_OF.get(unit, "")))
    return found


def _label(number: tuple[str, str]) -> str:
    value, unit = number
    return f"{unit}{value}" if unit and unit != "%" else f"{value}{unit}"


def _stated(number: tuple[str, str], passage_numbers: set[tuple[str, str]]) -> bool:
    value, unit = number
    return any(v == value and (not unit or u == unit) for v, u in passage_numbers)


def _words_of(text: str) -> set[str]:
    words = set()
    for word in _WORD.findall(text):
        word = _POSSESSIVE.sub("", word.lower().replace("’", "'"))
        words.add(word)
        words.update(part for part in word.split("-") if part)
    return words


def names_in(text: str) -> set[str]:
    """Capitalized words not at the start of a sentence, and acronyms, with possessives dropped."""
    names = set()
    for match in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", match.group(0).replace("’", "'"))
        acronym = sum(c.isupper() for c in word) >= 2
        starts_sentence = bool(_SENTENCE_START.search(text[: match.start()]))
        if word.lower() in _NOT_NAMES or not word[0].isupper() or (starts_sentence and not acronym):
            continue
        names.add(word)
    return names


def check_rewrite(rewrite: str, passage: str) -> Faithfulness:
    """Which numbers and names of `rewrite` the passage does not state (none: the rewrite may be shown)."""
    passage_numbers = numbers_in(passage)
    passage_words = _words_of(passage)
    unsupported = sorted(_label(n) for n in numbers_in(rewrite) if not _stated(n, passage_numbers))
    for name in sorted(names_in(rewrite)):
        parts = [p for p in name.lower().split("-") if p]
        if name.lower() not in passage_words and not all(p in passage_words for p in parts):
            unsupported.append(name)
    return Faithfulness(tuple(unsupported))
