"""A real HTTP server on 127.0.0.1 for the demo network (and the tests): feeds, MP3s, publisher transcripts.

Supports conditional GET (ETag / Last-Modified -> 304) like a real podcast host, and counts requests so tests
can see what the platform fetched.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    body: bytes
    content_type: str
    status: int = 200
    last_modified: str = "Mon, 23 Nov 2026 00:00:00 GMT"
    delay_s: float = 0.0  # for timeout tests
    fail_times: int = 0  # answer 503 this many times before serving (retry tests)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class Site:
    """Routes of a running server; tests add and replace resources while it runs."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    redirects: dict[str, str] = field(default_factory=dict)
    posted: list[tuple[str, bytes]] = field(default_factory=list)  # (path, body) of each POST


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        self.site.requests[path] += 1
        if path in self.site.redirects:
            self.send_response(302)
            self.send_header("Location", self.site.redirects[path])
            self.end_headers()
            return
        resource = self.site.resources.get(path)
        if resource is None:
            self._send(404, b"not found", "text/plain")
            return
        if resource.delay_s:
            threading.Event().wait(resource.delay_s)
        if resource.fail_times > 0:
            resource.fail_times -= 1
            self._send(503, b"try again", "text/plain")
            return
        if resource.status == 200 and (
            self.headers.get("If-None-Match") == resource.etag
            or (
                self.headers.get("If-Modified-Since") == resource.last_modified
                and not self.headers.get("If-None-Match")
            )
        ):
            self.send_response(304)
            self.send_header("ETag", resource.etag)
            self.end_headers()
            return
        self._send(resource.status, resource.body, resource.content_type, resource)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        """POST answers like GET (e.g. a stand-in JSON API) and keeps the request body for inspection."""
        length = int(self.headers.get("Content-Length") or 0)
        self.site.posted.append((self.path.split("?")[0], self.rfile.read(length)))
        self.do_GET()

    def _send(self, status: int, body: bytes, content_type: str, resource: Resource | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if resource is not None and status == 200:
            self.send_header("ETag", resource.etag)
            self.send_header("Last-Modified", resource.last_modified)
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class SiteServer:
    """`with SiteServer() as server:` serves `server.site` at `server.base_url` from a background thread."""

    def __init__(self, port: int = 0) -> None:
        self.site = Site()
        handler = type("Handler", (_Handler,), {"site": self.site})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
