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


class MediaStoreResource(dg.ConfigurableResource):
    """`url` (or PODCAST_BRIEF_AUDIO_URL, read when used): e.g. `s3://bucket/audio` or `/mnt/shared/audio`.
    Unset, audio stays where it was downloaded, under `$PODCAST_BRIEF_HOME/audio`. With a URL, episodes are
    uploaded there after download and whichever machine transcribes them fetches a local copy once."""

    url: str | None = None

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

    def local_copy(self, location: str) -> Path:
        """A local file for decoding: the path itself, or a cached download of a remote location."""
        if "://" not in location:
            return Path(location)
        cached = (
            home_dir()
            / "cache"
            / "audio"
            / (hashlib.sha256(location.encode()).hexdigest()[:20] + Path(location).suffix)
        )
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
