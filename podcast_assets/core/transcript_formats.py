"""Publisher transcripts (Podcasting 2.0 `podcast:transcript`): WebVTT, SRT, JSON, HTML and plain text.

All parse into the same segments (start/end seconds, text, speaker). Formats without timings (plain text)
get one segment spanning the episode, so downstream timestamps stay honest rather than invented.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser


class TranscriptFormatError(ValueError):
    """The transcript document cannot be read in its declared format."""


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None


_CUE_TIMING = re.compile(r"(?P<start>[\d:.,]+)\s*-->\s*(?P<end>[\d:.,]+)")
_VOICE_TAG = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_ANY_TAG = re.compile(r"<[^>]+>")


def parse_timestamp(value: str) -> float:
    """`01:02:03.500`, `02:03,5`, `0:53` or `12.5` to seconds."""
    parts = value.strip().replace(",", ".").split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError as error:
        raise TranscriptFormatError(f"bad timestamp {value!r}") from error
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


def _parse_cues(document: str) -> list[Segment]:
    """Cue blocks shared by WebVTT and SRT: optional id line, a timing line, then text lines."""
    segments = []
    for block in re.split(r"\n\s*\n", document.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        timing_index = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_index is None:
            continue  # WEBVTT header, NOTE, STYLE or REGION block
        timing = _CUE_TIMING.search(lines[timing_index])
        if not timing:
            raise TranscriptFormatError(f"bad cue timing line {lines[timing_index]!r}")
        raw_text = " ".join(lines[timing_index + 1 :]).strip()
        voice = _VOICE_TAG.search(raw_text)
        text = html.unescape(_ANY_TAG.sub("", raw_text)).strip()
        if text:
            segments.append(
                Segment(
                    parse_timestamp(timing["start"]),
                    parse_timestamp(timing["end"]),
                    text,
                    voice.group(1).strip() if voice else None,
                )
            )
    return segments


def parse_vtt(document: str) -> list[Segment]:
    if not document.lstrip("\ufeff").startswith("WEBVTT"):
        raise TranscriptFormatError("not a WebVTT document (no WEBVTT header)")
    return _parse_cues(document)


def parse_srt(document: str) -> list[Segment]:
    segments = _parse_cues(document.lstrip("\ufeff"))
    if not segments and document.strip():
        raise TranscriptFormatError("no SRT cues found")
    return segments


def parse_json(document: str) -> list[Segment]:
    """The podcast namespace JSON format: {"version": ..., "segments": [{startTime, endTime, body, speaker}]}."""
    try:
        payload = json.loads(document)
        return [
            Segment(float(s["startTime"]), float(s["endTime"]), str(s["body"]).strip(), s.get("speaker"))
            for s in payload["segments"]
            if str(s.get("body", "")).strip()
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise TranscriptFormatError(f"bad JSON transcript: {error}") from error


class _HtmlTranscriptParser(HTMLParser):
    """The namespace's HTML form: repeated <cite>Speaker:</cite> <time>0:53</time> <p>text</p>."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict] = []
        self._current: dict = {}
        self._tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("cite", "time", "p"):
            self._tag = tag
            self._current.setdefault(tag, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._current.get("p", "").strip():
            self.entries.append(self._current)
            self._current = {}
        if tag == self._tag:
            self._tag = None

    def handle_data(self, data: str) -> None:
        if self._tag:
            self._current[self._tag] = self._current.get(self._tag, "") + data


def parse_html(document: str, duration_s: float | None) -> list[Segment]:
    parser = _HtmlTranscriptParser()
    parser.feed(document)
    entries = parser.entries
    if not entries:
        raise TranscriptFormatError("no <p> paragraphs found in HTML transcript")
    starts = [parse_timestamp(e["time"]) if e.get("time", "").strip() else None for e in entries]
    segments = []
    for index, entry in enumerate(entries):
        start_s = starts[index] if starts[index] is not None else (segments[-1].end_s if segments else 0.0)
        later = [s for s in starts[index + 1 :] if s is not None]
        end_s = later[0] if later else max(duration_s or 0.0, start_s)
        speaker = (entry.get("cite") or "").strip().rstrip(":") or None
        segments.append(Segment(start_s, end_s, " ".join(entry["p"].split()), speaker))
    return segments


def parse_text(document: str, duration_s: float | None) -> list[Segment]:
    text = " ".join(document.split())
    return [Segment(0.0, float(duration_s or 0.0), text)] if text else []


def parse_transcript(document: str, mime_type: str, duration_s: float | None = None) -> list[Segment]:
    """Parse by declared MIME type; raises TranscriptFormatError for an unreadable or unknown type."""
    kind = mime_type.split(";")[0].strip().lower()
    if kind == "text/vtt":
        return parse_vtt(document)
    if kind in ("application/x-subrip", "application/srt", "text/srt"):
        return parse_srt(document)
    if kind == "application/json":
        return parse_json(document)
    if kind == "text/html":
        return parse_html(document, duration_s)
    if kind == "text/plain":
        return parse_text(document, duration_s)
    raise TranscriptFormatError(f"unsupported transcript type {mime_type!r}")
