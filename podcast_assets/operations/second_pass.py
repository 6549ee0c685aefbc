"""The second ASR pass over what briefs show: the spans of the day's picks, their "also on" mentions and related
insights (a few minutes of audio a day) are transcribed again with the deployment's best model and the feed
prompt, and that text is what readers see. `insights.text` keeps the first pass; `shown_passages` holds both.

One span that cannot be decoded or transcribed is a `failed` row and shows its first-pass text; it never fails the
day. Measured (QUALITY.md): on CPU the packaged models do not earn it (base on spans raised the shown-text WER),
so it is off unless `TranscriberResource.second_pass_model` names a model.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from podcast_assets.core.audio import SAMPLE_RATE, decode_16k_mono
from podcast_assets.core.display_text import clean_for_display
from podcast_assets.core.transcripts import asr_prompt

SPAN_PADDING_S = 0.4  # a passage's times come from segment times shared out by characters: leave the words room

SHOWN_SCHEMA = {
    "partition_date": pl.Date,
    "insight_id": pl.String,
    "first_pass_text": pl.String,
    "text": pl.String,
    "model": pl.String,
    "status": pl.String,
    "audio_s": pl.Float64,
    "wall_s": pl.Float64,
    "error": pl.String,
}

_SPANS_SQL = """
SELECT i.insight_id, i.text, i.headline, i.start_s, i.end_s, e.audio_path, e.show_title, e.title, e.description,
       (SELECT any_value(t.language) FROM transcripts t
        WHERE t.partition_date = i.partition_date AND t.episode_id = i.episode_id) AS language
FROM insights i JOIN episodes e USING (partition_date, episode_id)
WHERE i.partition_date = ? AND list_contains(?, i.insight_id)
ORDER BY e.audio_path, i.start_s
"""


def shown_insight_ids(picks: pl.DataFrame) -> list[str]:
    """Every insight a brief of the day shows: picks, their related insights and "also on" mentions."""
    shown: dict[str, None] = {}
    for row in picks.select("insight_id", "related_insight_ids", "also_on_insight_ids").iter_rows():
        for insight_id in [row[0], *(row[1] or []), *(row[2] or [])]:
            shown.setdefault(insight_id)
    return list(shown)


def retranscribe_shown(
    query: Callable[[str, list], pl.DataFrame],
    transcribe: Callable,
    model_name: str,
    day: dt.date,
    insight_ids: list[str],
    log: Callable[[str], None] = print,
) -> pl.DataFrame:
    """`shown_passages` rows for `insight_ids`. `transcribe(audio_16k, prompt, language)` is the second-pass
    transcriber, told the language the first pass found for the episode (a few seconds of audio are too little for
    a multilingual model to detect it); each episode's audio is decoded once."""
    spans = query(_SPANS_SQL, [day, insight_ids]) if insight_ids else pl.DataFrame()
    rows, audio, audio_path, audio_error = [], None, None, None
    for span in spans.iter_rows(named=True):
        row = {
            "partition_date": day,
            "insight_id": span["insight_id"],
            "first_pass_text": span["text"],
            "text": span["headline"] or span["text"],
            "model": model_name,
            "status": "headline",
            "audio_s": 0.0,
            "wall_s": 0.0,
            "error": None,
        }
        rows.append(row)
        if span["headline"]:  # the writer's rewrite is shown; its passage was the first pass
            continue
        started = time.perf_counter()
        try:
            if span["audio_path"] != audio_path:  # each episode decoded once; a corrupt file fails its spans
                audio_path, audio, audio_error = span["audio_path"], None, None
                try:
                    audio = decode_16k_mono(Path(audio_path))
                except Exception as error:
                    audio_error = error
            if audio_error is not None:
                raise audio_error
            first = max(int((span["start_s"] - SPAN_PADDING_S) * SAMPLE_RATE), 0)
            last = min(int((span["end_s"] + SPAN_PADDING_S) * SAMPLE_RATE), len(audio))
            clip = audio[first:last]
            prompt = asr_prompt(span["show_title"], span["title"], span["description"])
            heard = transcribe(clip, prompt, span.get("language"))
            said = " ".join(segment.text for segment in heard.segments).strip()
            row.update(audio_s=len(clip) / SAMPLE_RATE, status="second_pass" if said else "empty")
            if said:
                row["text"] = clean_for_display(said)
        except Exception as error:  # one span: its first pass is shown, the day goes on
            row.update(status="failed", error=f"{type(error).__name__}: {error}")
            log(f"second pass of {span['insight_id']} failed, first pass shown: {row['error']}")
        row["wall_s"] = round(time.perf_counter() - started, 3)
    return pl.DataFrame(rows, schema=SHOWN_SCHEMA, orient="row")
