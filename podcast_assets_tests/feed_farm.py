"""Many feeds on many hosts, for the concurrent-polling test and `benchmarks/feed_polling.py`.

One threaded HTTP server per loopback address (127.0.0.1, 127.0.0.2, ...: on Linux all of 127.0.0.0/8 reaches `lo`
with no setup), each answer held back `latency_s` like a network would, ETag / Last-Modified / 304 like a podcast
host, and, per host, the most requests it had in flight at once.

A request counts as in flight from when its request line is read until just before its answer is sent. The client
holds its host slot from before connecting until it has read the answer, so this window lies inside the client's
and the maximum seen here can never exceed the client's limit by a race. A request the client gave up on (a
timeout) is the exception: the server only learns of it later. Serve such a document from a host you do not check.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import random
import socketserver
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 23 Nov 2026 00:00:00 GMT"

_WORDS = (
    "energy grid storage battery market policy climate science research interview guest story history future city "
    "housing transit sleep health brain music culture economy labor trade chip software model data privacy ocean "
    "soil farm food water drought fire insurance rates budget election court law startup funding design craft"
).split()


@dataclass
class Document:
    body: bytes
    content_type: str = "application/rss+xml"
    status: int = 200
    delay_s: float | None = None  # instead of the farm's latency (e.g. longer than the client's timeout)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class FarmStats:
    """Counts since the last reset. `max_in_flight` is per host; `max_in_flight_total` over all hosts at once."""

    requests: Counter = field(default_factory=Counter)  # by host
    statuses: Counter = field(default_factory=Counter)  # by status code
    paths: Counter = field(default_factory=Counter)  # by (host, path)
    max_in_flight: Counter = field(default_factory=Counter)  # by host
    max_in_flight_total: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _HostServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        farm, host = self.server.farm, self.server.host
        path = self.path.split("?")[0]
        document = farm.documents.get((host, path))
        farm._enter(host, path)
        try:
            delay_s = farm.latency_s if document is None or document.delay_s is None else document.delay_s
            if delay_s:
                time.sleep(delay_s)
            status, headers, body = _answer(document, self.headers)
        finally:
            farm._leave(host)  # before answering: see the module docstring
        farm._count_status(status)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Date", email.utils.formatdate(usegmt=True))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)


def _answer(document: Document | None, request_headers) -> tuple[int, dict[str, str], bytes]:
    if document is None:
        return 404, {"Content-Type": "text/plain"}, b"not found"
    if document.status != 200:
        return document.status, {"Content-Type": "text/plain"}, b"server error"
    validators = {"ETag": document.etag, "Last-Modified": LAST_MODIFIED}
    if_none_match = request_headers.get("If-None-Match")
    if_modified_since = request_headers.get("If-Modified-Since")
    if if_none_match == document.etag or (not if_none_match and if_modified_since == LAST_MODIFIED):
        return 304, validators, b""
    return 200, {"Content-Type": document.content_type, **validators}, document.body


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of connections must not overflow the listen backlog (a 1 s SYN retry)

    def __init__(self, farm: FeedFarm, host: str) -> None:
        self.farm = farm
        self.host = host
        super().__init__((host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the address up in DNS (getfqdn): slow or stuck offline, and not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FeedFarm:
    """`with FeedFarm(n_hosts=3) as farm:` serves `farm.documents[(host, path)]` on 127.0.0.1 ... 127.0.0.n."""

    def __init__(self, n_hosts: int, latency_s: float = 0.05) -> None:
        if not 1 <= n_hosts <= 250:
            raise ValueError("n_hosts must be 1-250 (127.0.0.1 ... 127.0.0.250)")
        self.latency_s = latency_s
        self.hosts = [f"127.0.0.{i}" for i in range(1, n_hosts + 1)]
        self.documents: dict[tuple[str, str], Document] = {}
        self._servers = [_HostServer(self, host) for host in self.hosts]
        self._lock = threading.Lock()
        self._in_flight: Counter = Counter()
        self.stats = FarmStats()

    def url(self, host: str, path: str) -> str:
        port = self._servers[self.hosts.index(host)].server_address[1]
        return f"http://{host}:{port}{path}"

    def add(self, host: str, path: str, document: Document) -> str:
        self.documents[(host, path)] = document
        return self.url(host, path)

    def _enter(self, host: str, path: str) -> None:
        with self._lock:
            self._in_flight[host] += 1
            stats = self.stats
            stats.requests[host] += 1
            stats.paths[(host, path)] += 1
            stats.max_in_flight[host] = max(stats.max_in_flight[host], self._in_flight[host])
            stats.max_in_flight_total = max(stats.max_in_flight_total, sum(self._in_flight.values()))

    def _leave(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] -= 1

    def _count_status(self, status: int) -> None:
        with self._lock:
            self.stats.statuses[status] += 1

    def reset_stats(self) -> FarmStats:
        """The counts so far, and start new ones."""
        with self._lock:
            stats, self.stats = self.stats, FarmStats()
            return stats

    def start(self) -> FeedFarm:
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        # In parallel: each shutdown waits for its server's poll interval.
        stopping = [threading.Thread(target=server.shutdown) for server in self._servers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        for server in self._servers:
            server.server_close()

    def __enter__(self) -> FeedFarm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def generated_feed(
    index: int,
    items_before: list[dt.date],
    day_item_audio_url: str | None = None,
    day: dt.date | None = None,
    notes_words: int = 600,
    seed: int = 13,
) -> bytes:
    """An RSS feed like a real show's: channel metadata, one item per date of `items_before` with ~`notes_words`
    words of show notes (HTML, in CDATA) and an enclosure, plus, if `day_item_audio_url` is given, one item
    published on `day` whose enclosure is that URL."""
    rng = random.Random(seed * 1_000_003 + index)

    def words(n: int) -> str:
        return " ".join(rng.choices(_WORDS, k=n))

    def item(number: int, date: dt.date, audio_url: str) -> str:
        paragraphs = "".join(f"<p>{words(60)}.</p>" for _ in range(max(1, notes_words // 60)))
        return (
            f"<item><title>Show {index} episode {number}: {words(6)}</title>"
            f'<guid isPermaLink="false">show-{index}-ep-{number}</guid>'
            f"<link>https://shows.example.com/{index}/{number}</link>"
            f"<pubDate>{date:%a, %d %b %Y} 06:00:00 GMT</pubDate>"
            f"<description><![CDATA[{paragraphs}]]></description>"
            f'<enclosure url="{audio_url}" type="audio/mpeg" length="78141"/>'
            f"<itunes:duration>00:{rng.randrange(20, 59)}:00</itunes:duration></item>"
        )

    items = []
    if day_item_audio_url is not None:
        assert day is not None
        items.append(item(len(items_before) + 1, day, day_item_audio_url))
    for number, date in enumerate(items_before, start=1):
        items.append(item(number, date, f"https://media.example.com/{index}/{number}.mp3"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>Show {index}</title><link>https://shows.example.com/{index}</link>"
        f"<description>{words(80)}</description><language>en</language>"
        f"<itunes:author>Host {index}</itunes:author>{''.join(items)}</channel></rss>"
    ).encode()
