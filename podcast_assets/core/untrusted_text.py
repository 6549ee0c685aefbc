"""Text from feeds and transcripts is data: one-line fields without control characters, and bounded lengths.

Used where such text enters the platform (feed parsing) and again where it leaves it in a structured place
(email headers), so a title like "Hi\\r\\nBcc: everyone@example.com" or a 50 MB title can do no harm.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls (CR, LF, ESC, NUL...), line/paragraph separators and the bidi overrides used to spoof text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")

TITLE_MAX_CHARS = 1_000
NAME_MAX_CHARS = 200
URL_MAX_CHARS = 2_048
ID_MAX_CHARS = 1_000


def one_line(text: str | None, max_chars: int = TITLE_MAX_CHARS) -> str | None:
    """`text` as one line: control characters become spaces, runs of spaces collapse, at most `max_chars`
    characters (cut with an ellipsis). None or blank gives None."""
    if text is None:
        return None
    # Look at a bounded prefix only: cleaning a 50 MB title costs no more than cleaning a short one.
    head = str(text)[: max_chars * 4 + 64]
    cleaned = _SPACES.sub(" ", _UNSAFE.sub(" ", head)).strip()
    if not cleaned:
        return None
    if len(cleaned) > max_chars or len(head) < len(str(text)):
        cleaned = cleaned[: max_chars - 1].rstrip() + "…"
    return unicodedata.normalize("NFC", cleaned)


def header_text(text: str | None, max_chars: int = NAME_MAX_CHARS) -> str:
    """Safe for an email header value or display name: one line, no CR/LF or other controls, bounded."""
    return one_line(text, max_chars) or ""
