"""Which shard of a day an episode belongs to: a stable hash of its id, so a re-run puts it in the same shard."""

from __future__ import annotations

import hashlib
import re

_SHARD_KEY = re.compile(r"^shard_(\d{3})_of_(\d{3})$")
MAX_SHARDS = 999  # three digits in the mapping key


def shard_of(episode_id: str, shard_count: int) -> int:
    """0..shard_count-1 from the id's sha1 (Python's hash() is salted per process: not stable across workers)."""
    if not 1 <= shard_count <= MAX_SHARDS:
        raise ValueError(f"shard count must be 1..{MAX_SHARDS}, not {shard_count}")
    digest = hashlib.sha1(episode_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard_count


def shard_key(index: int, shard_count: int) -> str:
    """The dynamic mapping key (step `transcripts.transcribe_shard[shard_001_of_004]` in the UI)."""
    return f"shard_{index:03d}_of_{shard_count:03d}"


def parse_shard_key(key: str) -> tuple[int, int]:
    """(index, shard_count) back from `shard_key`."""
    match = _SHARD_KEY.match(key or "")
    if not match:
        raise ValueError(f"not a shard key: {key!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 0 <= index < count:
        raise ValueError(f"shard index out of range: {key!r}")
    return index, count
