"""The audio brief: the original voices of a subscriber's picks, each introduced by a spoken line, as one MP3.

Clips are cut from the decoded episode on the insight's sentence boundaries (its first sentence's start, its last
sentence's end), faded in and out and brought to the same loudness, so shows recorded hot or quiet sound alike."""

from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pyloudnorm

from podcast_assets.core.audio import AudioError

RATE = 24_000  # mono speech; MP3 at 24 kHz keeps voices clear at half the bytes of 48 kHz
TARGET_LUFS = -16.0
FADE_S = 0.08
LEAD_S, TAIL_S = 0.15, 0.35  # breathing room around the sentences (word timings are a little tight)
GAP_S = 0.4  # silence after each intro and each clip
MP3_FRAME = 1152


@dataclass(frozen=True)
class ClipSpan:
    start_s: float
    end_s: float


def clip_span(start_s: float, end_s: float, duration_s: float) -> ClipSpan:
    """The insight's sentences with a little room each side, always inside the episode."""
    start = max(0.0, start_s - LEAD_S)
    end = min(duration_s, end_s + TAIL_S)
    if end <= start:
        raise AudioError(f"clip {start_s:.1f}-{end_s:.1f} s lies outside the {duration_s:.1f} s episode")
    return ClipSpan(start, end)


def decode(path: Path) -> np.ndarray:
    """Float32 mono at RATE. Raises AudioError."""
    from faster_whisper import decode_audio  # PyAV decoding and resampling, as the transcriber reads audio

    try:
        samples = decode_audio(str(path), sampling_rate=RATE)
    except Exception as error:  # PyAV raises many FFmpeg error subclasses
        raise AudioError(f"corrupt or unreadable audio: {error}") from error
    if samples.size == 0:
        raise AudioError("audio decodes to no samples")
    return samples.astype(np.float32)


def cut(samples: np.ndarray, span: ClipSpan) -> np.ndarray:
    return finish(samples[int(span.start_s * RATE) : int(span.end_s * RATE)])


def finish(clip: np.ndarray) -> np.ndarray:
    """Loudness-normalized to TARGET_LUFS (peaks kept below full scale), with short fades in and out."""
    clip = clip.astype(np.float64)
    if len(clip) >= int(0.4 * RATE):  # BS.1770 gating needs at least one 400 ms block
        loudness = pyloudnorm.Meter(RATE).integrated_loudness(clip)
        if np.isfinite(loudness):
            clip = clip * 10 ** ((TARGET_LUFS - loudness) / 20)
    peak = float(np.max(np.abs(clip))) if clip.size else 0.0
    if peak > 0.98:
        clip = clip * (0.98 / peak)
    fade = min(int(FADE_S * RATE), len(clip) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        clip[:fade] *= ramp
        clip[-fade:] *= ramp[::-1]
    return clip.astype(np.float32)


def speak(text: str, voice: str) -> np.ndarray:
    """`text` read by espeak-ng (`voice`), finished like a clip. Raises AudioError."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "intro.wav"
        try:
            subprocess.run(
                ["espeak-ng", "-v", voice, "-w", str(wav), "--", text], check=True, capture_output=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise AudioError(f"espeak-ng could not speak the intro: {error}") from error
        return finish(decode(wav))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def encode_mp3(samples: np.ndarray, bitrate: int = 64_000) -> bytes:
    """Mono MP3 (libmp3lame) of float32 samples at RATE."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = bitrate
        pcm = np.clip(samples, -1.0, 1.0).astype(np.float32)
        for offset in range(0, len(pcm), MP3_FRAME):
            frame = av.AudioFrame.from_ndarray(pcm[None, offset : offset + MP3_FRAME], format="fltp", layout="mono")
            frame.sample_rate = RATE
            frame.pts = offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
