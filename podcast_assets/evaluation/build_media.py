"""Generate a labeled network's MP3 episodes from its scripts (run once per network, output committed).

Needs Debian's `espeak-ng` and `ffmpeg`; the pipeline itself never calls them. Writes `media/<slug>.mp3` and
`media/manifest.json` with each turn's start/end seconds and speaker (the truth the evaluation scores against,
and the timing of publisher VTT transcripts).

    python -m podcast_assets.evaluation.build_media podcast_assets/evaluation/networks/harbor
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from podcast_assets.evaluation.network import Network, load_network

WORDS_PER_MINUTE = 150


def _speak(text: str, voice: str, wav_path: Path) -> tuple[bytes, int]:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(wav_path), text], check=True)
    with wave.open(str(wav_path), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def _encode_mp3(pcm: bytes, rate: int, target: Path, title: str, artist: str, tmp: Path) -> None:
    raw = tmp / "episode.raw"
    raw.write_bytes(pcm)
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", str(raw),
         "-codec:a", "libmp3lame", "-b:a", "32k", "-ar", "22050",
         "-metadata", f"title={title}", "-metadata", f"artist={artist}", str(target)],
        check=True,
    )  # fmt: skip


def build(network: Network) -> None:
    network.media_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for show, episode in network.episodes():
            pcm, rate, spans = b"", 22050, []
            for index, turn in enumerate(episode.turns):
                frames, rate = _speak(turn.text, network.voice(show, turn.speaker), Path(tmp) / f"{index}.wav")
                start_s = len(pcm) / 2 / rate
                pcm += frames
                spans.append(
                    {
                        "start_s": round(start_s, 3),
                        "end_s": round(len(pcm) / 2 / rate, 3),
                        "speaker": turn.speaker.replace("_", " ").title(),
                    }
                )
                pcm += b"\x00\x00" * int(network.pause_s * rate)
            _encode_mp3(pcm, rate, network.media_dir / f"{episode.slug}.mp3", episode.title, show.title, Path(tmp))
            manifest[episode.slug] = spans
    (network.media_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    build(load_network(sys.argv[1] if len(sys.argv) > 1 else "demo"))
