"""Insight quality and ASR on every labeled network: `python -m benchmarks.quality [--asr]`.

Runs `podcast-brief eval` for the demo, dockside, riverbend, harbor, lakeshore, quayside, saltmarsh and estuary
(tuning), tidewater and sandbar (held out in round 4), lagoon and boardwalk (round 5), with the default transcriber,
and with `--asr` also without the feed prompt and with whisper base. `--voices neural` uses the networks rendered
with neural voices (media-neural/); `--second-pass base` re-transcribes the shown spans (shown_wer).
Prints Markdown tables for QUALITY.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from podcast_assets.evaluation.network import VOICE_CONDITIONS
from podcast_assets.evaluation.run import evaluate

NETWORKS_DIR = Path(__file__).resolve().parents[1] / "podcast_assets" / "evaluation" / "networks"
NETWORKS = [
    ("demo", "demo", "tuned on"),
    ("dockside", str(NETWORKS_DIR / "dockside"), "tuned on"),
    ("riverbend", str(NETWORKS_DIR / "riverbend"), "tuned on"),
    ("harbor", str(NETWORKS_DIR / "harbor"), "held out for 5 runs, then tuned on"),
    ("lakeshore", str(NETWORKS_DIR / "lakeshore"), "held out for 1 run, then tuned on"),
    ("quayside", str(NETWORKS_DIR / "quayside"), "held out for 2 runs, then tuned on"),
    ("saltmarsh", str(NETWORKS_DIR / "saltmarsh"), "held out for 3 runs, then tuned on"),
    ("estuary", str(NETWORKS_DIR / "estuary"), "held out for 2 runs, then read"),
    ("tidewater", str(NETWORKS_DIR / "tidewater"), "held out for 1 run (round 4), then read"),
    ("sandbar", str(NETWORKS_DIR / "sandbar"), "held out (round 4)"),
    ("lagoon", str(NETWORKS_DIR / "lagoon"), "held out for 1 run (round 5), then tuned on"),
    ("boardwalk", str(NETWORKS_DIR / "boardwalk"), "held out (round 5)"),
]
QUALITY_COLUMNS = (
    "brief_precision",
    "baseline_top5_cosine_precision",
    "on_theme_rate",
    "off_topic_picks",
    "framing_or_ad_picks",
    "planted_recall",
    "planted_complete",
    "insight_rows_precision",
    "paraphrase_pairs_clustered",
    "paraphrase_pairs_both_in_a_brief",
    "related_repeated_in_a_brief",
    "brief_picks",
    "shown_wer_first_pass",
    "shown_wer",
)
ASR_CONFIGS = [
    ("tiny.en, feed prompt", {"model": "tiny.en", "feed_prompt": True}),
    ("tiny.en, no prompt", {"model": "tiny.en", "feed_prompt": False}),
    ("base, feed prompt", {"model": "base", "feed_prompt": True}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--asr", action="store_true", help="also compare prompts and models (3 runs per network)")
    parser.add_argument("--voices", choices=sorted(VOICE_CONDITIONS), default="espeak", help="which rendering")
    parser.add_argument("--second-pass", default="off", help="second-pass model for the shown spans (e.g. base)")
    args = parser.parse_args()
    media = VOICE_CONDITIONS[args.voices]
    networks = [n for n in NETWORKS if n[1] == "demo" or Path(n[1], media).is_dir()]
    configs = ASR_CONFIGS if args.asr else ASR_CONFIGS[:1]
    results = {(name, label): evaluate(folder, transcriber={**config, "second_pass_model": args.second_pass},
                                       voices=args.voices).summary()
               for name, folder, _ in networks for label, config in configs}  # fmt: skip
    print("| network | role | " + " | ".join(QUALITY_COLUMNS) + " |")
    print("|---" * (len(QUALITY_COLUMNS) + 2) + "|")
    for name, _, role in networks:
        row = results[(name, configs[0][0])]
        print(f"| {name} | {role} | " + " | ".join(str(row[c]) for c in QUALITY_COLUMNS) + " |")
    print("\n| network | transcriber | mean WER | real-time factor | brief precision |\n|---|---|---|---|---|")
    for name, _, _ in networks:
        for label, _ in configs:
            row = results[(name, label)]
            print(
                f"| {name} | {label} | {row['mean_wer']} | {row['asr_real_time_factor']}x | {row['brief_precision']} |"
            )


if __name__ == "__main__":
    main()
