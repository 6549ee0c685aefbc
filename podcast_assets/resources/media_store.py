"""Where episode audio is kept: the home folder (default) or an fsspec URL for shared/object storage."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import dagster as dg
import fsspec

from podcast_assets.settings import home_dir

AUDIO_URL_ENV = "PODCAST_BRIEF_AUDIO_URL"
RETENTION_DAYS_ENV = "PODCAST_BRIEF_AUDIO_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30


class MediaStoreResource(dg.ConfigurableResource):
    """`url` (or PODCAST_BRIEF_AUDIO_URL, read when used): e.g. `s3://bucket/audio` or `/mnt/shared/audio`.
    Unset, audio stays where it was downloaded, under `$PODCAST_BRIEF_HOME/audio`. With a URL, episodes are
    uploaded there after download and whichever machine transcribes them fetches a local copy once."""

    url: str | None = None
    # Audio of publication days older than this is deleted by the `audio_retention` job (PODCAST_BRIEF_AUDIO_
    # RETENTION_DAYS, read when used, overrides the default of 30; this field overrides both).
    retention_days: int | None = None

    def audio_retention_days(self) -> int:
        if self.retention_days is not None:
            return self.retention_days
        value = os.environ.get(RETENTION_DAYS_ENV)
        days = int(value) if value else DEFAULT_RETENTION_DAYS
        if days < 1:
            raise ValueError(f"{RETENTION_DAYS_ENV} must be at least 1 day, got {value!r}")
        return days

    def _target(self) -> tuple[fsspec.AbstractFileSystem, str, str] | None:
        url = self.url or os.environ.get(AUDIO_URL_ENV)
        if not url:
            return None
        fs, root = fsspec.core.url_to_fs(url.rstrip("/"))
        protocol = fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol
        return fs, root, protocol

    def store(self, local_path: Path, key: str) -> str:
        """Keep `local_path` under `key`; returns the location to record (a local path or protocol://...)."""
        target = self._target()
        if target is None:
            return str(local_path)
        fs, root, protocol = target
        destination = f"{root}/{key}"
        folder = destination.rsplit("/", 1)[0]
        fs.makedirs(folder, exist_ok=True)
        # Uploaded aside and moved into place: a process killed mid-upload leaves no truncated audio under `key`
        # (object stores write an object whole anyway; shared folders need the rename).
        staging = f"{folder}/.tmp-{uuid.uuid4().hex}"
        fs.put_file(str(local_path), staging)
        fs.mv(staging, destination)
        return f"{protocol}://{destination}"

    def exists(self, location: str) -> bool:
        fs, path = fsspec.core.url_to_fs(location)
        return fs.exists(path)

    def delete(self, location: str) -> int:
        """Remove the audio at `location` (and a cached local copy of a remote one); returns the bytes freed.
        Already gone counts as 0: retention can be re-run."""
        freed = 0
        if "://" in location:
            cached = self._cache_path(location)
            if cached.exists():
                freed += cached.stat().st_size
                cached.unlink(missing_ok=True)
        fs, path = fsspec.core.url_to_fs(location)
        if fs.exists(path):
            freed += int(fs.size(path) or 0)
            fs.rm_file(path)
        return freed

    @staticmethod
    def _cache_path(location: str) -> Path:
        return (
            home_dir()
            / "cache"
            / "audio"
            / (hashlib.sha256(location.encode()).hexdigest()[:20] + Path(location).suffix)
        )

    def local_copy(self, location: str) -> Path:
        """A local file for decoding: the path itself, or a cached download of a remote location."""
        if "://" not in location:
            return Path(location)
        cached = self._cache_path(location)
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            fs, path = fsspec.core.url_to_fs(location)
            partial = cached.with_name(f".tmp-{uuid.uuid4().hex}-{cached.name}")  # one per process: no clash
            try:
                fs.get_file(path, str(partial))
                os.replace(partial, cached)
            finally:
                partial.unlink(missing_ok=True)
        return cached
