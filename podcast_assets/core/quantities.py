"""The quantities a sentence states, normalised so "a third", "one in three" and "thirty percent" compare.

Two shows reporting one finding in their own words rarely share phrasing, but they share its numbers.
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0, "one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_FRACTIONS = {"half": 1 / 2, "third": 1 / 3, "quarter": 1 / 4, "fourth": 1 / 4, "fifth": 1 / 5, "tenth": 1 / 10}
_NUMBER = r"(\d+(?:\.\d+)?|(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?)|(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)|(?:a|one) hundred)"  # noqa: E501


def _value(word: str) -> float:
    word = word.lower().strip()
    if re.fullmatch(r"\d+(\.\d+)?", word):
        return float(word)
    if word.endswith("hundred"):
        return 100.0
    parts = re.split(r"[\s-]", word)
    return float(sum(_TENS.get(p, _UNITS.get(p, 0)) for p in parts))


def quantities(text: str) -> set[tuple[str, float]]:
    """("share", 0.33) for percentages and fractions, ("times", 4.0) for multipliers."""
    lowered = text.lower()
    found: set[tuple[str, float]] = set()
    for match in re.finditer(_NUMBER + r"\s*(%|percent|per cent)", lowered):
        found.add(("share", round(_value(match.group(1)) / 100, 3)))
    for match in re.finditer(r"\b(a|one|two|three)\s+(half|third|quarter|fourth|fifth|tenth)s?\b", lowered):
        found.add(("share", round(_value(match.group(1)) * _FRACTIONS[match.group(2)], 3)))
    for match in re.finditer(r"\b" + _NUMBER + r" (?:in|out of) " + _NUMBER + r"\b", lowered):
        part, whole = _value(match.group(1)), _value(match.group(2))
        if 0 < part <= whole:
            found.add(("share", round(part / whole, 3)))
    for match in re.finditer(r"\b" + _NUMBER + r"\s+times\b", lowered):
        found.add(("times", _value(match.group(1))))
    if re.search(r"\b(twice|double|doubles|doubled)\b", lowered):
        found.add(("times", 2.0))
    return found


def share_a_quantity(a: set[tuple[str, float]], b: set[tuple[str, float]], tolerance: float = 0.04) -> bool:
    """True when both state a like quantity: shares within `tolerance` (a third ~ thirty percent), equal multipliers."""
    for kind, value in a:
        for other_kind, other in b:
            if kind == other_kind and (abs(value - other) <= tolerance if kind == "share" else value == other):
                return True
    return False
