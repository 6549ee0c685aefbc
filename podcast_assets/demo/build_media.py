"""Generate the demo network's MP3 episodes from the scripts in `network.py` (run once, output committed).

Needs Debian's `espeak-ng` and `ffmpeg`; the package itself never calls them. Writes `media/<slug>.mp3`
and `media/manifest.json` with each paragraph's start/end seconds (used for the publisher VTT transcript
and to score ASR in tests).

    python -m podcast_assets.demo.build_media
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

from podcast_assets.demo.network import VOICES, all_episodes

MEDIA_DIR = Path(__file__).parent / "media"
# Long pauses between paragraphs let the VAD cut there, so ASR segments end where sentences end.
PAUSE_S = 1.2
WORDS_PER_MINUTE = 150


def _speak(text: str, voice: str, wav_path: Path) -> tuple[bytes, int]:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(wav_path), text],
        check=True,
    )
    with wave.open(str(wav_path), "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def build() -> None:
    MEDIA_DIR.mkdir(exist_ok=True)
    manifest: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for show, episode in all_episodes():
            pcm = b""
            rate = 22050
            spans = []
            for index, paragraph in enumerate(episode.paragraphs):
                voice_key = show.host_voice if paragraph.voice == "host" else show.guest_voice
                frames, rate = _speak(paragraph.text, VOICES[voice_key], Path(tmp) / f"{index}.wav")
                start_s = len(pcm) / 2 / rate
                pcm += frames
                spans.append(
                    {
                        "start_s": round(start_s, 3),
                        "end_s": round(len(pcm) / 2 / rate, 3),
                        "speaker": "Host" if paragraph.voice == "host" else "Guest",
                    }
                )
                pcm += b"\x00\x00" * int(PAUSE_S * rate)
            raw = Path(tmp) / "episode.raw"
            raw.write_bytes(pcm)
            subprocess.run(
                [
                    "ffmpeg",
                    "-y",
                    "-loglevel",
                    "error",
                    "-f",
                    "s16le",
                    "-ar",
                    str(rate),
                    "-ac",
                    "1",
                    "-i",
                    str(raw),
                    "-codec:a",
                    "libmp3lame",
                    "-b:a",
                    "32k",
                    "-ar",
                    "22050",
                    "-metadata",
                    f"title={episode.title}",
                    "-metadata",
                    f"artist={show.title}",
                    str(MEDIA_DIR / f"{episode.slug}.mp3"),
                ],
                check=True,
            )
            manifest[episode.slug] = spans
    (MEDIA_DIR / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    build()
