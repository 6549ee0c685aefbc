"""Passages as readers see them: ASR disfluencies and stutters removed, a capital first, punctuation last.

Only the display copy is cleaned; the stored transcript keeps what was said.
"""

from __future__ import annotations

import re

_DISFLUENCY = re.compile(r"(?<![\w'])(um+|uh+|erm|er|ah|hmm+|mm+)(?![\w'])[,.]?\s*", re.IGNORECASE)
_HEDGE_OPENERS = re.compile(r"^((so|well|look|honestly|okay|ok|yeah|and|but|now|right|i mean|you know),?\s+)+", re.I)
_INLINE_HEDGES = re.compile(r",?\s*\b(you know|i mean|like, )\b,?", re.IGNORECASE)
_REPEATED_WORD = re.compile(r"\b(\w+)(\s*,?\s+\1\b)+", re.IGNORECASE)


def clean_for_display(text: str) -> str:
    cleaned = _DISFLUENCY.sub("", text)
    cleaned = _INLINE_HEDGES.sub("", cleaned)
    cleaned = _REPEATED_WORD.sub(r"\1", cleaned)
    cleaned = _HEDGE_OPENERS.sub("", cleaned.strip())
    cleaned = re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s{2,}", " ", cleaned)).strip(" ,;:-")
    if not cleaned:
        return text.strip()
    cleaned = cleaned[0].upper() + cleaned[1:]
    if cleaned[-1] not in ".!?\"'”":
        cleaned += "."
    return cleaned
