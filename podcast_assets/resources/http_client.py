"""HTTP for feeds, enclosures and publisher transcripts: timeouts, redirects, conditional GET, size caps."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dagster as dg
import httpx

from podcast_assets.core.audio import looks_like_audio

T = TypeVar("T")


class DownloadError(Exception):
    """A download that failed for a reason worth recording (the message is the recorded error)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # worth another try: 429/5xx, timeouts, dropped connections


_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def _http_error(status_code: int, what: str) -> DownloadError:
    return DownloadError(f"HTTP {status_code} {what}", transient=status_code in _TRANSIENT_STATUS)


@dataclass(frozen=True)
class FeedResponse:
    status_code: int
    body: bytes | None  # None on 304 Not Modified
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Download:
    path: Path
    n_bytes: int
    sha256: str
    content_type: str | None


class HttpClientResource(dg.ConfigurableResource):
    """Shared HTTP settings. One client per call site; httpx follows redirects and enforces timeouts."""

    timeout_s: float = 30.0
    max_audio_bytes: int = 500 * 1024 * 1024
    max_feed_bytes: int = 20 * 1024 * 1024
    user_agent: str = "podcast-brief/0.1 (+https://github.com/podcast-brief)"
    download_workers: int = 4
    # Transient failures (429/5xx, timeouts, resets) are retried in place with exponential backoff and jitter,
    # so one flaky answer does not cost a feed its day; what still fails is recorded per feed / per episode.
    retries: int = 2
    backoff_s: float = 0.5

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        for retry in range(self.retries + 1):
            try:
                return attempt()
            except DownloadError as error:
                if not error.transient or retry == self.retries:
                    raise
                time.sleep(self.backoff_s * (2**retry) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=True,
            headers={"User-Agent": self.user_agent},
        )

    def fetch_feed(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FeedResponse:
        """Conditional GET. Raises DownloadError for network errors, HTTP errors and oversized feeds."""
        return self._with_retries(lambda: self._fetch_feed_once(url, etag, last_modified))

    def _fetch_feed_once(self, url: str, etag: str | None, last_modified: str | None) -> FeedResponse:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self.client() as client, client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return FeedResponse(304, None, etag, last_modified)
                if response.status_code >= 400:
                    raise _http_error(response.status_code, "fetching feed")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_feed_bytes:
                        raise DownloadError(f"feed larger than {self.max_feed_bytes} bytes")
                return FeedResponse(
                    response.status_code,
                    bytes(body),
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except httpx.TimeoutException as error:
            raise DownloadError(f"timeout fetching feed after {self.timeout_s:.0f}s", transient=True) from error
        except httpx.HTTPError as error:
            raise DownloadError(f"network error fetching feed: {error}", transient=True) from error

    def download_audio(self, url: str, destination: Path) -> Download:
        """Stream an enclosure to `destination` (atomically), hashing as it goes and enforcing the size cap."""
        return self._download(url, destination, self.max_audio_bytes, require_audio=True)

    def download_text(self, url: str, destination: Path) -> Download:
        return self._download(url, destination, self.max_feed_bytes, require_audio=False)

    def _download(self, url: str, destination: Path, max_bytes: int, require_audio: bool) -> Download:
        return self._with_retries(lambda: self._download_once(url, destination, max_bytes, require_audio))

    def _download_once(self, url: str, destination: Path, max_bytes: int, require_audio: bool) -> Download:
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        n_bytes = 0
        handle, temp_name = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out, self.client() as client, client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise _http_error(response.status_code, f"downloading {url}")
                content_type = response.headers.get("Content-Type")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise DownloadError(f"file too large: {int(declared)} bytes > cap of {max_bytes}")
                checked = not require_audio
                for chunk in response.iter_bytes():
                    if not checked:
                        if not looks_like_audio(content_type, chunk):
                            raise DownloadError(f"not audio: server sent {content_type or 'unknown type'}")
                        checked = True
                    n_bytes += len(chunk)
                    if n_bytes > max_bytes:
                        raise DownloadError(f"file too large: more than the cap of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if n_bytes == 0:
                raise DownloadError("empty file")
            os.replace(temp_name, destination)
            return Download(destination, n_bytes, digest.hexdigest(), content_type)
        except httpx.TimeoutException as error:
            raise DownloadError(f"timeout after {self.timeout_s:.0f}s downloading {url}", transient=True) from error
        except httpx.HTTPError as error:
            raise DownloadError(f"network error downloading {url}: {error}", transient=True) from error
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
