"""Audio files: recognise, hash, probe duration and decode to 16 kHz mono (PyAV, no ffmpeg CLI)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000

_EXTENSIONS = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/flac": ".flac",
    "video/mp4": ".mp4",
}


class AudioError(ValueError):
    """An audio file that cannot be used: not audio, corrupt, empty."""


def extension_for(content_type: str | None, url: str) -> str:
    suffix = Path(url.split("?")[0]).suffix.lower()
    if content_type and content_type.split(";")[0].strip().lower() in _EXTENSIONS:
        return _EXTENSIONS[content_type.split(";")[0].strip().lower()]
    return suffix if suffix and len(suffix) <= 5 else ".audio"


def looks_like_audio(content_type: str | None, first_bytes: bytes) -> bool:
    """Reject HTML error pages and other non-audio bodies served at an enclosure URL."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith(("text/", "application/json", "application/xml", "image/")):
        return False
    head = first_bytes[:16].lstrip().lower()
    return not head.startswith((b"<!doctype", b"<html", b"<?xml", b"{"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe_duration_s(path: Path) -> float:
    """Duration from the container, or by decoding when the container does not say. Raises AudioError."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError("no audio stream in file")
            if container.duration:
                return container.duration / av.time_base
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            return samples / (stream.rate or SAMPLE_RATE)
    except AudioError:
        raise
    except Exception as error:  # PyAV raises many FFmpeg error subclasses
        raise AudioError(f"corrupt or unreadable audio: {error}") from error


def decode_16k_mono(path: Path) -> np.ndarray:
    """Decode to float32 16 kHz mono, the input whisperx expects. Raises AudioError."""
    from faster_whisper import decode_audio  # heavy import, only where audio is decoded

    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as error:
        raise AudioError(f"corrupt or unreadable audio: {error}") from error
    if samples.size == 0:
        raise AudioError("audio decodes to no samples")
    return samples


def is_silent(samples: np.ndarray, threshold_dbfs: float = -50.0) -> bool:
    """True when the whole file is below the threshold (RMS), i.e. there is nothing to transcribe."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return rms == 0.0 or 20 * np.log10(rms) < threshold_dbfs
