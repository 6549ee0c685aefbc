"""Cost of telling speakers apart by voice: `python -m benchmarks.voices [NETWORK] [EPISODE_SLUG]`.

On one neural-voice episode of a labeled network (default lagoon, proving-drawer-42), its scripted turns cut into
sentences as whisper would give them: the project's batched embedding (`resources/voices.voice_embeddings`, one mel
spectrogram per episode, every 1.6 s window of every sentence in batches of 256) against Resemblyzer's own API
(`VoiceEncoder.embed_utterance` per sentence) on the same sentences in the same run, then the clustering. Prints a
Markdown table: seconds, times real time, and how alike the two embeddings are.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from podcast_assets.core.audio import decode_16k_mono
from podcast_assets.core.speakers import sentence_segments, voices_of
from podcast_assets.core.transcript_formats import Segment
from podcast_assets.evaluation.network import load_network
from podcast_assets.resources.voices import SAMPLE_RATE, voice_embeddings


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "lagoon"
    slug = sys.argv[2] if len(sys.argv) > 2 else "proving-drawer-42"
    network = load_network(name, "neural")
    episode = next(e for _, e in network.episodes() if e.slug == slug)
    spans = network.spans()[slug]
    audio = decode_16k_mono(network.media_dir / f"{slug}.mp3")
    turns = [Segment(s["start_s"], s["end_s"], t.text) for s, t in zip(spans, episode.turns, strict=True)]
    sentences = sentence_segments(turns)
    windows = [(s.start_s, s.end_s) for s in sentences]
    audio_s = len(audio) / SAMPLE_RATE
    from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder("cpu", verbose=False)  # the raw engine, loaded on its own
    voice_embeddings(audio, windows[:2])  # load and warm up the project's copy
    encoder.embed_utterance(audio[:SAMPLE_RATE])

    started = time.perf_counter()
    ours = voice_embeddings(audio, windows)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    raw = []
    for start_s, end_s in windows:
        piece = audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
        if len(piece) < SAMPLE_RATE:  # Resemblyzer needs a little speech; centre one second on a short sentence
            middle = int((start_s + end_s) / 2 * SAMPLE_RATE)
            piece = audio[max(0, middle - SAMPLE_RATE // 2) : middle + SAMPLE_RATE // 2]
        raw.append(encoder.embed_utterance(piece))
    raw_s = time.perf_counter() - started
    started = time.perf_counter()
    labels = voices_of(ours)
    cluster_s = time.perf_counter() - started
    agreement = np.sum(ours * np.asarray(raw), axis=1)
    print(f"{name}/{slug}: {audio_s:.0f} s of audio, {len(sentences)} sentences, {len(set(labels) - {None})} voices\n")
    print("| step | seconds | x real time |")
    print("|---|---|---|")
    print(f"| Resemblyzer `embed_utterance`, one call per sentence | {raw_s:.2f} | {audio_s / raw_s:.0f} |")
    print(f"| `voice_embeddings`, one mel, batched windows | {ours_s:.2f} | {audio_s / ours_s:.0f} |")
    print(f"| clustering (`voices_of`) | {cluster_s:.3f} | |")
    print(
        f"\ncosine between the two embeddings of a sentence: median {np.median(agreement):.3f}, "
        f"min {agreement.min():.3f}"
    )


if __name__ == "__main__":
    main()
