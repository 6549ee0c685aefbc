"""`parse_feed` (decode, hardened XML, recovery of broken XML, feedparser, Podcasting 2.0 tags, enclosure choice)
against plain `feedparser.parse` on the same bytes, over the third-party feed corpus (../shared/fixtures/feeds).

    python -m benchmarks.feed_parsing [--corpus PATH] [--repeat 3]

Prints a Markdown table (best of --repeat passes); BENCHMARKS.md records a run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import feedparser

from podcast_assets.core.rss import FeedParseError, parse_feed

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "feeds"


def _best_of(repeat: int, documents: list[bytes], parse) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for document in documents:
            parse(document)
        best = min(best, time.perf_counter() - started)
    return best


def _ours(document: bytes) -> None:
    try:
        parse_feed(document, "https://feeds.example/feed.xml")
    except FeedParseError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.suffix in (".xml", ".rss", ".atom"))
    documents = [p.read_bytes() for p in files]
    broken = [d for d in documents if _is_broken(d)]
    print(f"{len(documents)} files, {sum(map(len, documents)) / 1e6:.1f} MB, {len(broken)} not well-formed")
    print("| input | feedparser.parse | parse_feed | ratio |")
    print("|---|---|---|---|")
    for label, subset in (("whole corpus", documents), ("not well-formed only", broken)):
        raw = _best_of(args.repeat, subset, feedparser.parse)
        ours = _best_of(args.repeat, subset, _ours)
        print(f"| {label} ({len(subset)} files) | {raw:.2f} s | {ours:.2f} s | {ours / raw:.2f}x |")


def _is_broken(document: bytes) -> bool:
    import defusedxml.ElementTree as safe_xml

    try:
        safe_xml.fromstring(document)
    except Exception:  # noqa: BLE001 (any refusal counts as broken here)
        return True
    return False


if __name__ == "__main__":
    main()
