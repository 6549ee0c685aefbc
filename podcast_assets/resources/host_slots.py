"""Per-host politeness: at most N requests in flight to one host at any moment, whatever the thread count.

Why: `episodes` polls feeds and downloads enclosures and transcripts from pools of threads, and many feeds live on
one host (a hosting platform serves thousands of shows, a CDN their audio). Sixteen threads on one host are sixteen
connections at once, which is what hosts rate-limit (429) or block. So every exchange of `HttpClientResource`
takes a slot of its URL's host first (one semaphore per lowercased host name, created on first use) and gives it
back when the response is closed; threads over the limit wait in line, and the wait is not charged to the
exchange's deadline (that starts once the slot is held).

The key is the host of the URL asked for: a redirect hop to another host (a feed moved, an enclosure behind a
tracking redirect or a CDN) is made under the first host's slot and not counted on the other host separately.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def host_key(url: str) -> str:
    """The lowercased host name of `url` (IPv6 without brackets); '' when it has none (the policy refuses it)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed URL: the request refuses it, this only must not fail first
        return ""


class HostSlots:
    """A registry of per-host semaphores, shared by all threads using one `HttpClientResource`."""

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError(f"max_connections_per_host must be at least 1, not {per_host}")
        self.per_host = per_host
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.Semaphore] = {}

    def _semaphore(self, host: str) -> threading.Semaphore:
        with self._lock:
            semaphore = self._semaphores.get(host)
            if semaphore is None:
                semaphore = self._semaphores[host] = threading.Semaphore(self.per_host)
            return semaphore

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the `per_host` slots of `url`'s host for the block (waits while all are taken)."""
        semaphore = self._semaphore(host_key(url))
        with semaphore:
            yield


def interleaved_by_host(items: list[T], url_of: Callable[[T], str]) -> list[T]:
    """`items` reordered round-robin over their hosts (a1, b1, c1, a2, b2, ...), each host's items in their order.

    A pool fed feeds sorted by URL would have every thread waiting on the first host's slots while the other hosts
    sit idle; in this order the threads spread over the hosts and each host's slots stay busy."""
    by_host: dict[str, list[T]] = {}
    for item in items:
        by_host.setdefault(host_key(url_of(item)), []).append(item)
    queues = list(by_host.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
