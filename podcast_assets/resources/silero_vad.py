"""Silero VAD v6 for whisperx, from the ONNX file the faster-whisper wheel ships (offline, ONNX Runtime, one thread).

whisperx's own `vad_method="silero"` fetches the model with torch.hub, which fails offline. On CPU this VAD takes
~0.1% of the audio's duration, where whisperx's default pyannote VAD took ~40% of the whole transcription
(BENCHMARKS.md, "Voice activity detection on CPU").
"""

from __future__ import annotations

from typing import Any

SAMPLE_RATE = 16_000
# Chosen on the tuning networks (demo, dockside, riverbend) with feed prompts: a second of silence ends a speech span
# (100 ms cut sentences apart: WER 0.103 against 0.083 on the demo), 400 ms of padding keeps the first and last
# phonemes, and a span may run to whisper's 30 s window (15 s spans: WER 0.142 against 0.115 on riverbend). So a
# segment can be up to 30 s long, against 15 s with pyannote: coarser deep links.
SPEECH_PAD_MS = 400
MIN_SILENCE_MS = 1000
MAX_SPAN_S = 30.0


def silero_vad(threshold: float = 0.5) -> Any:
    """A whisperx `Vad` (pass as `vad_model=`); the pipeline merges its spans into chunks of `chunk_size`."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    from whisperx.diarize import Segment
    from whisperx.vads.vad import Vad

    options = VadOptions(
        threshold=threshold,
        max_speech_duration_s=MAX_SPAN_S,
        min_silence_duration_ms=MIN_SILENCE_MS,
        speech_pad_ms=SPEECH_PAD_MS,
    )

    class SileroOnnxVad(Vad):
        def __init__(self) -> None:
            super().__init__(threshold)

        def __call__(self, audio: dict, **_kwargs) -> list:
            if audio["sample_rate"] != SAMPLE_RATE:
                raise ValueError(f"the VAD takes {SAMPLE_RATE} Hz audio, not {audio['sample_rate']}")
            spans = get_speech_timestamps(audio["waveform"], options, sampling_rate=SAMPLE_RATE)
            return [Segment(span["start"] / SAMPLE_RATE, span["end"] / SAMPLE_RATE, "UNKNOWN") for span in spans]

        @staticmethod
        def preprocess_audio(audio):
            return audio

        @staticmethod
        def merge_chunks(segments, chunk_size, onset: float = 0.5, offset: float | None = None) -> list[dict]:
            # Vad.merge_chunks fails on no speech; the pipeline then transcribes nothing, as with pyannote.
            return Vad.merge_chunks(segments, chunk_size, onset, offset) if segments else []

    return SileroOnnxVad()
