"""Cleaning transcript segments before they are stored, and the checks we hold them to."""

from __future__ import annotations

from podcast_assets.core.transcript_formats import Segment

# Publisher timings may run a little past the audio we measured; beyond this they are wrong.
DURATION_TOLERANCE_S = 1.0
# Whisper reads at most 224 prompt tokens (about 150 words); the start of the text matters most.
PROMPT_MAX_WORDS = 120


def asr_prompt(
    show_title: str | None,
    episode_title: str | None,
    description: str | None = None,
    chapter_titles: tuple[str, ...] = (),
) -> str | None:
    """Whisper's initial prompt from what the feed already says: names and terms spelled as the show spells them
    ("Mamba", "kombucha", a guest's name) come out right far more often when they appear in the prompt."""
    parts = [p.strip().rstrip(".") + "." for p in (show_title, episode_title, *chapter_titles) if p and p.strip()]
    if description and description.strip():
        parts.append(" ".join(description.split()))
    words = " ".join(parts).split()
    return " ".join(words[:PROMPT_MAX_WORDS]) or None


def normalize_segments(segments: list[Segment], duration_s: float | None) -> list[Segment]:
    """Ordered by start, clamped into [0, duration], without empty text or inverted times."""
    limit = duration_s if duration_s and duration_s > 0 else None
    cleaned = []
    for segment in sorted(segments, key=lambda s: (s.start_s, s.end_s)):
        start_s = max(0.0, segment.start_s)
        end_s = max(start_s, segment.end_s)
        if limit is not None:
            start_s, end_s = min(start_s, limit), min(end_s, limit)
        if segment.text.strip():
            cleaned.append(Segment(round(start_s, 3), round(end_s, 3), segment.text.strip(), segment.speaker))
    return cleaned


def segment_time_problems(rows: list[dict], duration_by_episode: dict[str, float | None]) -> list[str]:
    """Human-readable problems: segments out of order or outside the episode's audio duration."""
    problems = []
    last_start: dict[str, float] = {}
    for row in sorted(rows, key=lambda r: (r["episode_id"], r["segment_index"])):
        episode_id = row["episode_id"]
        duration_s = duration_by_episode.get(episode_id)
        if row["end_s"] < row["start_s"]:
            problems.append(f"{episode_id}#{row['segment_index']}: ends before it starts")
        if row["start_s"] < last_start.get(episode_id, 0.0):
            problems.append(f"{episode_id}#{row['segment_index']}: starts before the previous segment")
        if duration_s and row["end_s"] > duration_s + DURATION_TOLERANCE_S:
            problems.append(f"{episode_id}#{row['segment_index']}: ends at {row['end_s']:.1f}s after {duration_s:.1f}s")
        last_start[episode_id] = row["start_s"]
    return problems
