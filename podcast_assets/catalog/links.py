"""Every link a subscriber gets, built from PODCAST_BRIEF_PUBLIC_URL (read when used, by the web app and the daily
run alike) and carrying a signed token, never a bare email or id."""

from __future__ import annotations

import datetime as dt
import os
from email.utils import parseaddr
from urllib.parse import quote, urlencode

from podcast_assets.catalog.tokens import signer

PUBLIC_URL_ENV = "PODCAST_BRIEF_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


def public_url() -> str:
    return (os.environ.get(PUBLIC_URL_ENV) or DEFAULT_PUBLIC_URL).rstrip("/")


def _link(path: str, purpose: str, payload: dict) -> str:
    return f"{public_url()}{path}?{urlencode({'t': signer().sign(purpose, payload)})}"


def confirm_url(signup_id: str) -> str:
    return _link("/confirm", "confirm", {"signup": signup_id})


def preferences_url(subscriber_id: str) -> str:
    return _link("/preferences", "manage", {"s": subscriber_id})


def archive_url(subscriber_id: str) -> str:
    return _link("/archive", "manage", {"s": subscriber_id})


def audio_brief_url(subscriber_id: str, day: dt.date) -> str:
    """The day's audio brief (assets/audio_briefs.py). It is made in the same run as the email, beside delivery
    rather than before it (a failed MP3 must not hold an email back), so the page says when it is not there."""
    return _link(f"/audio/{day.isoformat()}", "manage", {"s": subscriber_id})


def unsubscribe_url(subscriber_id: str) -> str:
    return _link("/unsubscribe", "unsubscribe", {"s": subscriber_id})


def feedback_url(subscriber_id: str, day: dt.date, insight_id: str, verdict: str) -> str:
    return _link("/feedback", "feedback", {"s": subscriber_id, "d": day.isoformat(), "i": insight_id, "v": verdict})


def list_unsubscribe(subscriber_id: str, sender: str) -> tuple[str, str]:
    """(https, mailto) for the List-Unsubscribe header (RFC 2369 / RFC 8058). The mailto goes to the sender's
    address with the token in the subject: whoever reads that mailbox can act on it."""
    token = signer().sign("unsubscribe", {"s": subscriber_id})
    address = parseaddr(sender)[1] or "brief@localhost"
    return unsubscribe_url(subscriber_id), f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
