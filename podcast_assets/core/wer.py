"""Word error rate, with the normalisation ASR output needs (case, punctuation, digits vs number words)."""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(number: int) -> str:
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{number_words(thousands)} thousand" + (f" {number_words(rest)}" if rest else "")


def normalize(text: str) -> list[str]:
    text = text.lower().replace("%", " percent ")
    text = re.sub(r"(\w)\.(com|io|net|org)\b", r"\1 dot \2", text)
    text = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text.replace("-", " "))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def _edit_row(reference: list[str], hypothesis: list[str], free_reference_ends: bool) -> list[int]:
    """Levenshtein distances over words after the whole hypothesis, one per reference prefix. With
    `free_reference_ends`, the alignment may start at any reference word (and, taking the row's minimum, end at any)."""
    previous = [0] * (len(reference) + 1) if free_reference_ends else list(range(len(reference) + 1))
    for i, hyp_word in enumerate(hypothesis, start=1):
        current = [i] + [0] * len(reference)
        for j, ref_word in enumerate(reference, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by Levenshtein distance over words."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return _edit_row(ref, hyp, free_reference_ends=False)[-1] / len(ref)


def window_error_rate(reference: str, hypothesis: str) -> float:
    """Edits per hypothesis word against the best-matching stretch of `reference` (reference words before and after
    it are free): the error rate of a passage cut from a longer script, whose own bounds in the script are unknown."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not hyp:
        return 0.0
    return min(_edit_row(ref, hyp, free_reference_ends=True)) / len(hyp)
