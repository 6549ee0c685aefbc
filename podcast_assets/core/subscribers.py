"""Validating subscribers before anything is written."""

from __future__ import annotations

import hashlib
import re

# Pragmatic address check: one @, a dotted domain, no spaces. Deliverability is the SMTP server's call.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


class InvalidSubscriber(ValueError):
    pass


def normalize_email(email: str) -> str:
    address = email.strip().lower()
    if not _EMAIL.match(address):
        raise InvalidSubscriber(f"invalid email address: {email!r}")
    return address


def parse_interests(interests: str) -> list[str]:
    """Free text like "AI safety, interpretability; battery chemistry" into interest phrases."""
    phrases = [p.strip() for p in re.split(r"[,;\n]", interests or "") if p.strip()]
    if not phrases:
        raise InvalidSubscriber("interests must not be empty: say what the brief should be about")
    return phrases


def subscriber_id_for(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:12]


def interest_phrases(interests: str) -> list[str]:
    """The phrases to match against: each listed interest, and the whole text when it lists several (a sentence
    like "how cities can make buses work better" stays one phrase)."""
    phrases = parse_interests(interests)
    whole = " ".join(interests.split())
    return phrases + [whole] if len(phrases) > 1 else phrases
