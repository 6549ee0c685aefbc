"""The audio brief files the daily run wrote (assets/audio_briefs.py), found for a signed subscriber and a day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from podcast_assets.settings import home_dir


def audio_brief_path(subscriber_id: str, day: dt.date) -> Path | None:
    """The subscriber's MP3 of `day`, or None. The id comes from a signed token; the name check is a second lock."""
    if not subscriber_id or Path(subscriber_id).name != subscriber_id or subscriber_id.startswith("."):
        return None
    path = home_dir() / "audio_briefs" / day.isoformat() / f"{subscriber_id}.mp3"
    return path if path.is_file() else None
