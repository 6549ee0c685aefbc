"""Cost of an audio brief: `python -m benchmarks.audio_brief`.

On the demo's MP3s: decoding an episode (once per day, shared), cutting and normalizing a 10 s clip (once per
picked insight, shared), speaking an intro with espeak-ng (once per episode line, shared) and assembling + encoding
one subscriber's 5-clip MP3 (per subscriber). Prints a Markdown table of medians.
"""

from __future__ import annotations

import statistics
import time
from importlib import resources

import numpy as np

from podcast_assets.core.audio_brief import GAP_S, RATE, clip_span, cut, decode, encode_mp3, silence, speak


def _median_ms(work, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def main() -> None:
    media = sorted((resources.files("podcast_assets") / "evaluation" / "networks" / "demo" / "media").glob("*.mp3"))[:5]
    decode_ms, _ = _median_ms(lambda: decode(media[0]))
    episodes = [decode(path) for path in media]
    cut_ms, _ = _median_ms(lambda: cut(episodes[0], clip_span(5.0, 15.0, len(episodes[0]) / RATE)))
    clips = [cut(samples, clip_span(5.0, 15.0, len(samples) / RATE)) for samples in episodes]
    speak_ms, intro = _median_ms(lambda: speak("From The Grid Report, Sodium steps up.", "en-us"))
    parts = [p for clip in clips for p in (intro, silence(GAP_S), clip, silence(GAP_S))]
    encode_ms, mp3 = _median_ms(lambda: encode_mp3(np.concatenate(parts)))
    seconds = sum(len(p) for p in parts) / RATE
    size = f"{len(mp3) / 1024:.0f} KiB"
    print(f"demo MP3s, {RATE} Hz mono, 5 clips of ~10.5 s with intros: a {seconds:.0f} s brief, {size}\n")
    print("| step | how often | median |")
    print("|---|---|---|")
    print(f"| decode an episode ({len(episodes[0]) / RATE:.0f} s) | once per episode and day | {decode_ms:.0f} ms |")
    print(f"| cut + loudness + fades, one clip | once per picked insight | {cut_ms:.1f} ms |")
    print(f"| espeak-ng intro | once per episode line | {speak_ms:.0f} ms |")
    print(f"| assemble + encode one brief (64 kbit/s MP3) | once per subscriber | {encode_ms:.0f} ms |")


if __name__ == "__main__":
    main()
