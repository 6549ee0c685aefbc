"""Generate a labeled network's MP3 episodes from its scripts (run once per network and voice condition, output
committed).

Needs Debian's `espeak-ng` (`--voices espeak`) or `make voices` (`--voices neural`: Kokoro and
Piper, see `voices.py`); the pipeline itself never calls them. Writes `media-neural/` or `media/` with
`<slug>.mp3` per episode and `manifest.json` with each turn's start/end seconds and speaker (the truth the
evaluation scores against, and the timing of publisher VTT transcripts). Rendered turns are cached (by voice
and text) under `~/.cache/podcast-brief/voices`, so rebuilding after an edit re-speaks only what changed.

    python -m podcast_assets.evaluation.build_media podcast_assets/evaluation/networks/harbor --voices neural
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from podcast_assets.evaluation.network import Network, load_network
from podcast_assets.evaluation.voices import RATE, Speak, espeak_speaker, neural_cast, neural_speaker

CACHE_DIR = Path.home() / ".cache" / "podcast-brief" / "voices"


def _encode_mp3(pcm: np.ndarray, target: Path, title: str, artist: str) -> None:
    """32 kbit/s mono MP3 through PyAV's bundled libmp3lame (no ffmpeg binary needed), written atomically."""
    import av

    partial = target.with_suffix(".partial.mp3")
    with av.open(str(partial), "w", format="mp3") as container:
        container.metadata.update({"title": title, "artist": artist})
        stream = container.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = 32_000
        frame_size = 1152 * 8
        for start in range(0, len(pcm), frame_size):
            chunk = np.ascontiguousarray(pcm[start : start + frame_size], dtype=np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = RATE
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.replace(target)


def _cached(speak: Speak, text: str, voice: str) -> np.ndarray:
    key = hashlib.sha256(f"{voice}|{RATE}|{text}".encode()).hexdigest()[:24]
    path = CACHE_DIR / f"{key}.npy"
    if path.exists():
        return np.load(path)
    samples = speak(text, voice)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, samples)
    partial.replace(path)  # a killed build leaves no truncated turn behind
    return samples


def cast(network: Network, voices: str) -> dict[tuple[str, str], str]:
    """(show slug, speaker) -> the voice that speaks it."""
    voice_of = {}
    for index, show in enumerate(network.shows):
        speakers = list(dict.fromkeys(turn.speaker for episode in show.episodes for turn in episode.turns))
        if voices == "neural":
            voice_of.update({(show.slug, s): v for s, v in neural_cast(index, speakers).items()})
        else:
            voice_of.update({(show.slug, s): network.voice(show, s) for s in speakers})
    return voice_of


def build(network: Network, voices: str = "espeak") -> None:
    speak = neural_speaker() if voices == "neural" else espeak_speaker()
    voice_of = cast(network, voices)
    network.media_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, list[dict]] = {}
    pause = np.zeros(int(network.pause_s * RATE), dtype=np.int16)
    for show, episode in network.episodes():
        parts, spans, length = [], [], 0
        for turn in episode.turns:
            samples = _cached(speak, turn.text, voice_of[(show.slug, turn.speaker)])
            spans.append(
                {
                    "start_s": round(length / RATE, 3),
                    "end_s": round((length + len(samples)) / RATE, 3),
                    "speaker": turn.speaker.replace("_", " ").title(),
                }
            )
            parts += [samples, pause]
            length += len(samples) + len(pause)
        target = network.media_dir / f"{episode.slug}.mp3"
        _encode_mp3(np.concatenate(parts), target, episode.title, show.title)
        manifest[episode.slug] = spans
        print(f"{target}: {length / RATE:.0f} s", flush=True)
    (network.media_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?", default="demo", help="a network folder or a packaged network's name")
    parser.add_argument("--voices", choices=("neural", "espeak"), default="neural")
    args = parser.parse_args()
    build(load_network(args.network, args.voices), args.voices)
