"""HTTP for feeds, enclosures and publisher transcripts: URL policy, timeouts, redirects, conditional GET, size caps.

Every URL here comes from a third-party feed, so every request goes through `policy_http`: public http(s)
addresses only (unless allowed by PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS), checked on each redirect hop and on the
address connected to, with a total deadline and a cap on decoded bytes. What is refused or cut off is a
DownloadError whose message is the recorded error.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dagster as dg
import httpx
from pydantic import PrivateAttr

from podcast_assets.core.audio import looks_like_audio
from podcast_assets.core.url_policy import UrlPolicy, UrlRefused
from podcast_assets.resources.host_slots import HostSlots
from podcast_assets.resources.policy_http import (
    BadEncoding,
    DeadlineExceeded,
    RedirectRefused,
    ResponseTooLarge,
    iter_decoded,
    open_url,
    policy_client,
)
from podcast_assets.settings import url_policy

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
    content_type: str | None = None  # the response's Content-Type (its charset decides how the feed decodes)


@dataclass(frozen=True)
class Download:
    path: Path
    n_bytes: int
    sha256: str
    content_type: str | None


class HttpClientResource(dg.ConfigurableResource):
    """Shared HTTP settings. One client per exchange, so each has its own total deadline. Safe to share between
    threads: at most `max_connections_per_host` exchanges of one instance are in flight to one host at a time."""

    timeout_s: float = 30.0  # connect and per-read timeout
    # Whole-exchange limits (redirects, headers and body): a server that drips one byte at a time is cut off.
    feed_total_timeout_s: float = 120.0
    download_total_timeout_s: float = 1800.0
    max_audio_bytes: int = 500 * 1024 * 1024
    max_feed_bytes: int = 20 * 1024 * 1024  # also caps publisher transcripts; counted after decompression
    max_redirects: int = 5
    # Comma-separated host names, IPs or CIDRs whose private addresses may be fetched; None falls back to
    # PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS (read when a request is made). Default: every private address refused.
    allow_private_hosts: str | None = None
    user_agent: str = "podcast-brief/0.1 (+https://github.com/podcast-brief)"
    download_workers: int = 4
    feed_workers: int = 16  # feeds polled at once by `episodes` (1: one after another)
    # Politeness: requests in flight to one host at any moment, over all threads of this resource (host_slots.py).
    max_connections_per_host: int = 2
    # Transient failures (429/5xx, timeouts, resets) are retried in place with exponential backoff and jitter,
    # so one flaky answer does not cost a feed its day; what still fails is recorded per feed / per episode.
    retries: int = 2
    backoff_s: float = 0.5

    _host_slots: HostSlots | None = PrivateAttr(default=None)
    _host_slots_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def host_slots(self) -> HostSlots:
        """The per-host semaphores of this resource instance (made on first use, then shared by every thread)."""
        with self._host_slots_lock:
            if self._host_slots is None:
                self._host_slots = HostSlots(self.max_connections_per_host)
            return self._host_slots

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        for retry in range(self.retries + 1):
            try:
                return attempt()
            except DownloadError as error:
                if not error.transient or retry == self.retries:
                    raise
                time.sleep(self.backoff_s * (2**retry) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def policy(self) -> UrlPolicy:
        return url_policy(self.allow_private_hosts)

    @contextmanager
    def _get(self, url: str, what: str, total_s: float, headers: dict | None = None) -> Iterator[httpx.Response]:
        """GET through the policy; every way it can fail becomes a DownloadError naming `what` failed. The host's
        slot is held from before connecting until the response is closed (body read), not during retry backoff."""
        try:
            policy = self.policy()
            with (
                self.host_slots().slot(url),
                policy_client(
                    policy, timeout_s=self.timeout_s, total_timeout_s=total_s, user_agent=self.user_agent
                ) as client,
                open_url(client, policy, url, headers=headers, max_redirects=self.max_redirects) as response,
            ):
                yield response
        except UrlRefused as error:
            raise DownloadError(str(error)) from error
        except httpx.InvalidURL as error:
            raise DownloadError(f"invalid URL {url[:200]!r} ({what}): {error}") from error
        except (RedirectRefused, BadEncoding) as error:
            raise DownloadError(f"{error} ({what})") from error
        except DeadlineExceeded as error:
            raise DownloadError(f"too slow: {what} {error}") from error
        except httpx.TimeoutException as error:
            raise DownloadError(f"timeout {what} after {self.timeout_s:.0f}s", transient=True) from error
        except httpx.HTTPError as error:
            raise DownloadError(f"network error {what}: {error}", transient=True) from error

    def fetch_feed(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FeedResponse:
        """Conditional GET. Raises DownloadError for refused URLs, network and HTTP errors, oversized feeds."""
        return self._with_retries(lambda: self._fetch_feed_once(url, etag, last_modified))

    def _fetch_feed_once(self, url: str, etag: str | None, last_modified: str | None) -> FeedResponse:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        with self._get(url, "fetching feed", self.feed_total_timeout_s, headers) as response:
            if response.status_code == 304:
                return FeedResponse(304, None, etag, last_modified)
            if not 200 <= response.status_code < 300:
                raise _http_error(response.status_code, "fetching feed")
            body = bytearray()
            try:
                for chunk in iter_decoded(response, self.max_feed_bytes):
                    body.extend(chunk)
            except ResponseTooLarge as error:
                raise DownloadError(f"feed larger than {self.max_feed_bytes} bytes: {error}") from error
            return FeedResponse(
                response.status_code,
                bytes(body),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                response.headers.get("Content-Type"),
            )

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
            with (
                os.fdopen(handle, "wb") as out,
                self._get(url, f"downloading {url}", self.download_total_timeout_s) as response,
            ):
                if not 200 <= response.status_code < 300:
                    raise _http_error(response.status_code, f"downloading {url}")
                content_type = response.headers.get("Content-Type")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise DownloadError(f"file too large: {int(declared)} bytes > cap of {max_bytes}")
                checked = not require_audio
                try:
                    for chunk in iter_decoded(response, max_bytes):
                        if not checked:
                            if not looks_like_audio(content_type, chunk):
                                raise DownloadError(f"not audio: server sent {content_type or 'unknown type'}")
                            checked = True
                        n_bytes += len(chunk)
                        digest.update(chunk)
                        out.write(chunk)
                except ResponseTooLarge as error:
                    raise DownloadError(f"file too large: {error}") from error
            if n_bytes == 0:
                raise DownloadError("empty file")
            os.replace(temp_name, destination)
            return Download(destination, n_bytes, digest.hexdigest(), content_type)
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
