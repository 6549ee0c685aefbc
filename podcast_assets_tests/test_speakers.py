"""Speakers told apart by voice (Resemblyzer's packaged encoder) and the passage cut that follows a speaker's turn.

Real parts: the neural-voice renderings of the lagoon network (Kokoro and Piper voices, committed MP3s with the
span of every scripted turn), a real two-speaker phone call (the sample shipped in the pyannote.audio wheel, with
its RTTM), the real MiniLM sentence model."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from podcast_assets.assets.transcripts import _with_speakers
from podcast_assets.core.audio import decode_16k_mono
from podcast_assets.core.insights import extract_insights
from podcast_assets.core.segmenting import ANSWER_MAX_SENTENCES, answer_continuations, turn_continuations
from podcast_assets.core.speakers import voices_of
from podcast_assets.core.transcript_formats import Segment
from podcast_assets.evaluation.network import INSIGHT, load_network
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.voices import voice_embeddings

EPISODE = "proving-drawer-42"  # three speakers, one voice each


@pytest.fixture(scope="module")
def lagoon_episode():
    network = load_network("lagoon", "neural")
    episode = next(e for _, e in network.episodes() if e.slug == EPISODE)
    spans = network.spans()[EPISODE]
    audio = decode_16k_mono(network.media_dir / f"{EPISODE}.mp3")
    return episode, spans, audio


def test_each_voice_found_is_one_speaker_of_the_script(lagoon_episode):
    _episode, spans, audio = lagoon_episode
    labels = voices_of(voice_embeddings(audio, [(s["start_s"], s["end_s"]) for s in spans]))
    truth = [s["speaker"] for s in spans]
    assert len({label for label in labels if label}) == len(set(truth)) == 3
    labeled = [(label, speaker) for label, speaker in zip(labels, truth, strict=True) if label]
    assert len(labeled) >= 0.9 * len(spans)
    # Each voice is one speaker: the pairs (voice, speaker) are as many as the voices.
    majority = {label: Counter(s for v, s in labeled if v == label).most_common(1)[0][0] for label, _ in labeled}
    assert sum(majority[v] == s for v, s in labeled) >= 0.95 * len(labeled)
    assert len(set(majority.values())) == 3


def test_voices_the_encoder_cannot_separate_get_no_speaker():
    """A real narrow-band phone call: its two voices are as alike to the encoder as one voice's turns, so no
    speaker is invented (the passage cut then works as without speakers)."""
    sample = Path(importlib.util.find_spec("pyannote.audio").submodule_search_locations[0]) / "sample"
    audio = decode_16k_mono(sample / "sample.wav")
    turns = [line.split() for line in (sample / "sample.rttm").read_text().splitlines()]
    spans = [(float(t[3]), float(t[3]) + float(t[4])) for t in turns]
    assert len({t[7] for t in turns}) == 2
    assert voices_of(voice_embeddings(audio, spans)) == [None] * len(spans)


def _segments_crossing_turns(episode, spans) -> list[Segment]:
    """Segments as whisper cuts them: each runs across two scripted turns, with no speaker."""
    segments = []
    for first in range(0, len(spans), 2):
        pair = range(first, min(first + 2, len(spans)))
        text = " ".join(episode.turns[i].text for i in pair)
        segments.append(Segment(spans[pair[0]]["start_s"], spans[pair[-1]]["end_s"], text))
    return segments


def _turn_of(episode, text: str) -> int | None:
    return next((i for i, turn in enumerate(episode.turns) if text in turn.text), None)


def test_sentences_get_their_voice_and_each_planted_insight_is_one_passage(lagoon_episode):
    episode, spans, audio = lagoon_episode
    segments = _segments_crossing_turns(episode, spans)
    voiced = TranscriberResource().with_speakers(segments, audio)
    assert len(voiced) > len(segments)  # one segment per sentence now
    speaker_of_turn = {i: s["speaker"] for i, s in enumerate(spans)}
    pairs = [(s.speaker, speaker_of_turn[_turn_of(episode, s.text)]) for s in voiced if s.speaker]
    assert len(pairs) >= 0.9 * len(voiced)
    majority = {v: Counter(s for w, s in pairs if w == v).most_common(1)[0][0] for v, _ in pairs}
    assert sum(majority[v] == s for v, s in pairs) >= 0.9 * len(pairs)

    encode = EmbedderResource().encode
    planted = {i for i, turn in enumerate(episode.turns) if turn.kind == INSIGHT}

    def whole_insight_turns(segs: list[Segment]) -> int:
        """Planted insight turns all of whose sentences are in one passage that holds no other planted turn."""
        rows = [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text, "speaker": s.speaker} for s in segs]
        turn_of = [_turn_of(episode, s.text) for s in segs]
        passages = [
            [turn_of[k] for k, s in enumerate(segs) if insight.start_s <= s.start_s and s.end_s <= insight.end_s]
            for insight in extract_insights(EPISODE, rows, encode).insights
        ]
        return sum(
            any(p.count(turn) == turn_of.count(turn) and len(set(p) & planted) == 1 for p in passages)
            for turn in planted
        )

    unvoiced = [Segment(s.start_s, s.end_s, s.text) for s in voiced]
    with_voices, without = whole_insight_turns(voiced), whole_insight_turns(unvoiced)
    assert with_voices > without
    assert with_voices >= len(planted) - 1


def test_a_failing_voice_encoder_keeps_the_transcript_without_speakers():
    segments = [Segment(0.0, 2.0, "One sentence. Another one."), Segment(2.0, 4.0, "A third.")]
    kept, note = _with_speakers(segments, None, TranscriberResource())
    assert kept == segments
    assert note and note.startswith("speakers not told apart")


def test_speaker_turns_off_leaves_whisper_segments(lagoon_episode):
    episode, spans, audio = lagoon_episode
    segments = _segments_crossing_turns(episode, spans)
    assert TranscriberResource(speaker_turns="off").with_speakers(segments, audio) == segments


def test_a_short_turn_of_one_speaker_is_one_idea_and_a_long_one_is_left_to_the_text():
    roles = ["question"] + ["content"] * 3 + ["content"] * (ANSWER_MAX_SENTENCES + 1)
    speakers = ["a", "b", "b", "b"] + ["a"] * (ANSWER_MAX_SENTENCES + 1)
    texts = [f"Sentence number {i} here." for i in range(len(roles))]
    goes_on = turn_continuations(roles, texts, speakers)
    assert goes_on[:4] == [False, False, True, True]  # b's three sentences: one passage
    assert not any(goes_on[4:])  # a's monologue is longer than an answer: cut by what the words say
    assert not any(turn_continuations(roles, texts, [None] * len(roles)))


def test_an_answer_stops_where_another_known_speaker_starts():
    roles = ["question", "content", "content", "content"]
    texts = ["Why is that?", "Because of heat.", "Heat ages cells.", "I see, and what else."]
    assert answer_continuations(roles, texts) == [False, False, True, True]
    assert answer_continuations(roles, texts, ["a", "b", "b", "a"]) == [False, False, True, False]
    assert np.array_equal(answer_continuations(roles, texts, [None] * 4), answer_continuations(roles, texts))


def test_every_span_gets_a_voice_window_even_past_the_audio_end():
    from podcast_assets.resources.voices import WINDOW_FRAMES, _windows

    assert _windows(0, 400, 1000) == [0, 80, 160, 240]  # 1.6 s windows every 0.8 s, the last one inside the span
    assert _windows(950, 1200, 1000) == [1000 - WINDOW_FRAMES]  # runs past the end: the last window of the audio
    assert _windows(500, 520, 1000) == [430]  # shorter than a window: one window centred on it
    assert _windows(0, 50, 100) == [0]  # audio shorter than a window (padded by the caller)
