"""The last copy of each feed, kept for conditional GET: a 304 re-reads it, so a re-run of a day sees the same
items. The body is kept as served, with the Content-Type beside it (its charset can decide how it decodes)."""

from __future__ import annotations

import json
from pathlib import Path

from podcast_assets.core.atomic_files import atomic_write_bytes


def _headers_path(cache_path: Path) -> Path:
    return cache_path.with_suffix(".headers.json")


def write_cached_feed(cache_path: Path, body: bytes, content_type: str | None) -> None:
    """Both files atomic; the headers first, so a body is never read beside headers older than itself."""
    atomic_write_bytes(_headers_path(cache_path), json.dumps({"content_type": content_type}).encode())
    atomic_write_bytes(cache_path, body)


def read_cached_feed(cache_path: Path) -> tuple[bytes, str | None]:
    """(body, Content-Type); a copy cached before headers were kept reads with no Content-Type."""
    headers = _headers_path(cache_path)
    try:
        content_type = json.loads(headers.read_text()).get("content_type") if headers.exists() else None
    except (ValueError, AttributeError):
        content_type = None
    return cache_path.read_bytes(), content_type if isinstance(content_type, str) else None
