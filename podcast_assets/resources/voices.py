"""Voice embeddings of timed spans of an episode: Resemblyzer's speaker encoder (weights ship in its wheel,
Apache-2.0), run on this process's CPU or GPU."""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16_000
FRAME_S = 0.01  # Resemblyzer's mel frames: 25 ms windows every 10 ms
WINDOW_FRAMES = 160  # the encoder's partial utterance: 1.6 s
WINDOW_STEP_FRAMES = 80
BATCH = 256


@functools.lru_cache(maxsize=2)
def _encoder(device: str):
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device, verbose=False)


def _windows(start: int, end: int, n_frames: int) -> list[int]:
    """Start frames of the 1.6 s windows over [start, end): every 0.8 s, at least one centred on a shorter span."""
    if n_frames <= WINDOW_FRAMES:
        return [0]
    inside = list(range(start, min(end, n_frames) - WINDOW_FRAMES + 1, WINDOW_STEP_FRAMES))
    if inside:
        return inside
    middle = (start + end) // 2  # a short span, or one running past the audio's end
    return [min(max(0, middle - WINDOW_FRAMES // 2), n_frames - WINDOW_FRAMES)]


def voice_embeddings(audio_16k: np.ndarray, spans_s: list[tuple[float, float]], device: str = "cpu") -> np.ndarray:
    """(len(spans_s), 256) unit-norm voice embeddings, one per (start_s, end_s) span of the 16 kHz mono audio."""
    import torch
    from resemblyzer.audio import wav_to_mel_spectrogram

    if not spans_s:
        return np.zeros((0, 256), dtype=np.float32)
    mel = wav_to_mel_spectrogram(np.asarray(audio_16k, dtype=np.float32))
    if len(mel) < WINDOW_FRAMES:
        mel = np.pad(mel, ((0, WINDOW_FRAMES - len(mel)), (0, 0)))
    owners, starts = [], []
    for index, (start_s, end_s) in enumerate(spans_s):
        for start in _windows(int(start_s / FRAME_S), int(end_s / FRAME_S), len(mel)):
            owners.append(index)
            starts.append(start)
    encoder = _encoder(device)
    parts = []
    with torch.inference_mode():
        for first in range(0, len(starts), BATCH):
            batch = np.stack([mel[s : s + WINDOW_FRAMES] for s in starts[first : first + BATCH]])
            parts.append(encoder(torch.from_numpy(batch).to(device)).cpu().numpy())
    partials = np.concatenate(parts)
    sums = np.zeros((len(spans_s), partials.shape[1]), dtype=np.float32)
    np.add.at(sums, np.asarray(owners), partials)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
