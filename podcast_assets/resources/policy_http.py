"""httpx plumbing that keeps every request to the URL policy (`core/url_policy.py`) and to hard bounds.

- The policy is checked on the address actually connected to: the transport resolves the host, drops refused
  addresses and connects to a checked IP (no second DNS lookup an attacker could answer differently). The URL,
  and so the Host header and the TLS server name, stay the original host name.
- Redirects are followed here, one hop at a time, each hop checked before it is requested, with a hop cap and
  loop detection.
- A total deadline per client bounds the whole exchange: a server that sends one byte a minute passes every
  per-read timeout, never this one.
- Bodies are decoded here (gzip / deflate only) in bounded steps, so a compressed response that expands past the
  size cap stops at the cap instead of inflating in memory first.
"""

from __future__ import annotations

import functools
import ssl
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx

from podcast_assets.core.url_policy import UrlPolicy, UrlRefused

_DECODE_STEP_BYTES = 1024 * 1024  # the most one decompression step may produce


class RedirectRefused(Exception):
    """A redirect loop, too many hops, or a redirect without a usable Location."""


class DeadlineExceeded(Exception):
    """The exchange took longer than the client's total time limit."""


class ResponseTooLarge(Exception):
    """The (decoded) body grew past the size cap."""


class BadEncoding(Exception):
    """A Content-Encoding this client does not decode, or a corrupt compressed body."""


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and handshake gets at most the time left before the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float, total_s: float) -> None:
        self._inner = inner
        self._deadline = deadline
        self._total_s = total_s

    def _time_left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"not complete within the total limit of {self._total_s:g}s")
        return left if timeout is None else min(timeout, left)

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, self._time_left(timeout))
        except httpcore.ReadTimeout:
            if self._past_deadline():
                raise DeadlineExceeded(f"not complete within the total limit of {self._total_s:g}s") from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, self._time_left(timeout))
        except httpcore.WriteTimeout:
            if self._past_deadline():
                raise DeadlineExceeded(f"not complete within the total limit of {self._total_s:g}s") from None
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._time_left(timeout))
        return _DeadlineStream(inner, self._deadline, self._total_s)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _PolicyBackend(httpcore.NetworkBackend):
    """Resolves, checks against the policy, then connects to a checked address."""

    def __init__(self, policy: UrlPolicy, deadline: float, total_s: float) -> None:
        self._policy = policy
        self._deadline = deadline
        self._total_s = total_s
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self._policy.allowed_addresses(host, port)
        except OSError as error:  # DNS failure: a network error like any other
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        last_error: Exception | None = None
        for address in addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"not complete within the total limit of {self._total_s:g}s")
            try:
                stream = self._inner.connect_tcp(
                    str(address), port, left if timeout is None else min(timeout, left), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
                continue
            return _DeadlineStream(stream, self._deadline, self._total_s)
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise UrlRefused(f"unix:{path}", "unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """certifi verification, made once per process: building a context loads the CA bundle (~13 ms of CPU here,
    most of what a feed poll cost), and a client is made per exchange. A context is safe to share between
    connections and threads; nothing changes it after this."""
    return httpx.create_ssl_context(trust_env=False)


class PolicyTransport(httpx.HTTPTransport):
    """httpx's own transport, with its connection pool built on the policy-checking network backend."""

    def __init__(
        self, policy: UrlPolicy, deadline: float, total_s: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        # httpx 0.28's constructor takes no network backend, so the pool is built here (no proxy from the
        # environment either: the policy must see the real peer). The other methods use only `_pool`.
        # TLS is verified against the URL's host name (sent as SNI), not the checked IP connected to.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or _default_ssl_context(),
            network_backend=_PolicyBackend(policy, deadline, total_s),
        )


def policy_client(
    policy: UrlPolicy,
    *,
    timeout_s: float,
    total_timeout_s: float,
    user_agent: str,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.Client:
    """A client for one exchange (its deadline starts now). Follows no redirects itself: use `open_url`.
    `ssl_context` replaces the default (certifi) verification, e.g. for a private CA."""
    deadline = time.monotonic() + total_timeout_s
    return httpx.Client(
        transport=PolicyTransport(policy, deadline, total_timeout_s, ssl_context),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        # Only the encodings `iter_decoded` can bound.
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def _checked(policy: UrlPolicy, url: str) -> None:
    """Refuse a URL by scheme or resolved address before any connection (the transport checks again on connect)."""
    try:
        policy.check_url(url)
    except OSError:
        pass  # does not resolve now: the connect attempt reports it as a network error


@contextmanager
def open_url(
    client: httpx.Client,
    policy: UrlPolicy,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    max_redirects: int = 5,
) -> Iterator[httpx.Response]:
    """GET `url`, following up to `max_redirects` redirects, each checked by the policy. Yields the final
    response, streaming (read it with `iter_decoded`). Raises UrlRefused, RedirectRefused, DeadlineExceeded or
    httpx errors."""
    chain = [url]
    current = url
    while True:
        _checked(policy, current)
        try:
            response = client.send(client.build_request("GET", current, headers=headers), stream=True)
        except UrlRefused as refused:  # refused at connect time (the name now resolves elsewhere)
            raise UrlRefused(current, refused.reason, refused.address) from None
        if not response.has_redirect_location:
            break
        location = response.headers.get("Location", "")
        response.close()
        try:
            target = str(response.url.join(location.strip()))
        except httpx.InvalidURL as error:
            raise RedirectRefused(f"redirect to an invalid URL {location[:200]!r} from {current}") from error
        if target in chain:
            raise RedirectRefused("redirect loop: " + " -> ".join(chain + [target]))
        if len(chain) > max_redirects:
            raise RedirectRefused(f"too many redirects (more than {max_redirects}) from {url}")
        chain.append(target)
        current = target
    try:
        yield response
    finally:
        response.close()


class _Inflater:
    """gzip / deflate in steps of at most `_DECODE_STEP_BYTES` output."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._inflater: zlib._Decompress | None = None

    def _start(self, first: bytes) -> zlib._Decompress:
        if self._encoding == "deflate":
            # "deflate" is zlib-wrapped by the standard, raw by some servers: the header tells which.
            zlib_wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and ((first[0] << 8) | first[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            self._inflater = self._start(data)
        try:
            while True:
                out = self._inflater.decompress(data, _DECODE_STEP_BYTES)
                if out:
                    yield out
                data = self._inflater.unconsumed_tail
                if not data and len(out) < _DECODE_STEP_BYTES:
                    return
        except zlib.error as error:
            raise BadEncoding(f"corrupt {self._encoding} body: {error}") from error

    def finish(self) -> bytes:
        try:
            return self._inflater.flush() if self._inflater is not None else b""
        except zlib.error as error:
            raise BadEncoding(f"corrupt {self._encoding} body: {error}") from error


def iter_decoded(response: httpx.Response, max_bytes: int) -> Iterator[bytes]:
    """The response body, decoded, in chunks; raises ResponseTooLarge once more than `max_bytes` decoded bytes
    arrived (counted as they are produced, so a compression bomb stops at the cap)."""
    encodings = [
        e.strip().lower() for e in response.headers.get("Content-Encoding", "").split(",") if e.strip().lower()
    ]
    encodings = [e for e in encodings if e != "identity"]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        raise BadEncoding(f"unsupported Content-Encoding {response.headers.get('Content-Encoding')!r}")
    inflater = _Inflater("deflate" if encodings == ["deflate"] else "gzip") if encodings else None
    decoded = 0

    def counted(piece: bytes) -> bytes:
        nonlocal decoded
        decoded += len(piece)
        if decoded > max_bytes:
            expanded = " after decompression" if inflater is not None else ""
            raise ResponseTooLarge(f"more than the cap of {max_bytes} bytes{expanded}")
        return piece

    for raw in response.iter_raw():
        if inflater is None:
            yield counted(raw)
            continue
        for piece in inflater.feed(raw):
            yield counted(piece)
    if inflater is not None and (tail := inflater.finish()):
        yield counted(tail)
