"""Hostile input: private addresses (SSRF), redirect tricks, compression bombs, slow servers, XML bombs, broken
feeds, oversized and control-character text, header injection. Real HTTP servers on 127.0.0.1 (allowed by the
test allow list, see conftest) and a listener on 127.0.0.2 (not allowed) that must never see a connection."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from podcast_assets.assets.episodes import episodes
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed, list_feeds
from podcast_assets.commands.cli import main as cli_main
from podcast_assets.core.links import safe_link
from podcast_assets.core.rss import parse_feed
from podcast_assets.core.untrusted_text import TITLE_MAX_CHARS, header_text, one_line
from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV, UrlPolicy, UrlRefused, system_resolver
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.evaluation.server import Resource
from podcast_assets.orchestration.sensors import AlertWebhookResource
from podcast_assets.resources.http_client import DownloadError, HttpClientResource
from podcast_assets.resources.mailer import MailerResource, OutgoingBrief, build_message
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.policy_http import open_url, policy_client
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.conftest import patched_env, smtp_server

DAY = dt.date(2026, 11, 24)
MP3 = media_bytes("deep-rest-8.mp3")
PUB_DATE = f"{DAY:%a, %d %b %Y} 10:00:00 GMT"

BILLION_LAUGHS_DTD = (
    "<!DOCTYPE rss [\n<!ENTITY lol0 'lol'>\n"
    + "".join(f"<!ENTITY lol{n} '{f'&lol{n - 1};' * 10}'>\n" for n in range(1, 10))
    + "]>"
)


# ---------------------------------------------------------------------------------------------------------------
# Servers


@contextmanager
def listener_on_127_0_0_2() -> Iterator[socket.socket]:
    """A TCP listener on another loopback address, which the test allow list (127.0.0.1 only) does not cover.
    It is never accepted from: a connection attempt would sit in its backlog, and the test checks there is none."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def assert_never_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        connection, _ = sock.accept()
        connection.close()


Route = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def hostile_server(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """A server on 127.0.0.1 whose routes write raw responses (compression bombs, slow drips); https with `tls`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            route = routes.get(self.path.split("?")[0])
            try:
                if route is None:
                    self.send_error(404)
                else:
                    route(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _gzip_bomb(decoded_bytes: int) -> bytes:
    return gzip.compress(b"<rss>" + b" " * decoded_bytes, compresslevel=9)


def serve_gzip(body: bytes, content_type: str = "application/rss+xml") -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def drip_body(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 0.1 s for up to 30 s: every single read is quick."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()
    handler.wfile.flush()
    for _ in range(300):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.1)


def drip_headers(handler: BaseHTTPRequestHandler) -> None:
    """The status line and headers themselves, one byte every 0.1 s."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n" + b"X-Padding: " + b"a" * 300:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------------------------
# The URL policy (unit)


def _fake_dns(answers: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[tuple]:
        if host not in answers:  # IP literals and unknown names: the real resolver
            return system_resolver(host, port)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return resolve


PRIVATE_URLS = [
    "http://127.0.0.1/feed.xml",
    "http://127.0.0.2:8080/feed.xml",
    "http://2130706433/feed.xml",  # 127.0.0.1 as one decimal number
    "http://0x7f.1/feed.xml",  # hex and short form
    "http://017700000001/feed.xml",  # octal
    "http://0177.0.0.1/feed.xml",
    "http://127.1/feed.xml",
    "http://localhost:8000/feed.xml",
    "http://[::1]/feed.xml",
    "http://[::ffff:127.0.0.1]/feed.xml",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",  # 169.254.169.254, mapped
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.100.100.200/latest/meta-data/",  # Alibaba metadata, shared address space
    "http://10.0.0.1/feed.xml",
    "http://172.16.5.4/feed.xml",
    "https://192.168.1.1/feed.xml",
    "http://0.0.0.0:8080/feed.xml",
    "http://0/feed.xml",
    "http://[::]/feed.xml",
    "http://224.0.0.1/feed.xml",  # multicast
    "http://240.0.0.1/feed.xml",  # reserved
    "http://[fe80::1]/feed.xml",  # link-local
    "http://[fd12:3456::1]/feed.xml",  # unique local
    "http://[2002:7f00:1::]/feed.xml",  # 6to4 wrapping 127.0.0.1
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_and_numeric_ip_forms_are_refused_by_default(url):
    with pytest.raises(UrlRefused) as refused:
        UrlPolicy.from_allow_list("").check_url(url)
    message = str(refused.value)
    assert message.startswith(f"refused {url}: ") and ALLOW_PRIVATE_HOSTS_ENV in message
    assert refused.value.address and refused.value.address in message


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://x/", "javascript:alert(1)", "data:,x", "/feed"]
)
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(UrlRefused, match="only http and https"):
        UrlPolicy.from_allow_list("127.0.0.1").check_url(url)


def test_host_names_are_judged_by_what_they_resolve_to():
    dns = _fake_dns(
        {
            "feeds.example.com": ["93.184.216.34"],
            "sneaky.example.com": ["10.1.2.3"],
            "both.example": ["10.0.0.9", "93.184.216.34"],
        }
    )
    policy = UrlPolicy.from_allow_list("", resolver=dns)
    assert [str(a) for a in policy.check_url("https://feeds.example.com/rss")] == ["93.184.216.34"]
    with pytest.raises(UrlRefused, match=r"host sneaky.example.com resolves to 10.1.2.3, a private address") as refused:
        policy.check_url("http://sneaky.example.com/rss")
    assert "add sneaky.example.com or 10.1.2.3 to PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS" in str(refused.value)
    # Only checked addresses are ever connected to: the private answer is dropped, the public one kept.
    assert [str(a) for a in policy.check_url("http://both.example/rss")] == ["93.184.216.34"]
    with pytest.raises(OSError):
        policy.check_url("http://does-not-resolve.invalid/rss")


def test_allow_list_takes_host_names_ips_and_cidrs():
    dns = _fake_dns({"minio.internal": ["10.20.0.5"], "other.internal": ["10.20.0.6"]})
    policy = UrlPolicy.from_allow_list(" 127.0.0.1, 192.168.0.0/16 ,minio.internal,[::1]", resolver=dns)
    policy.check_url("http://minio.internal:9000/bucket/feed.xml")  # allowed by name
    policy.check_url("http://192.168.7.7/feed.xml")  # allowed by range
    policy.check_url("http://[::1]/feed.xml")
    policy.check_url("http://[::ffff:127.0.0.1]/feed.xml")  # the same address, mapped
    with pytest.raises(UrlRefused):
        policy.check_url("http://other.internal/feed.xml")
    with pytest.raises(UrlRefused, match="127.0.0.2"):
        policy.check_url("http://127.0.0.2/feed.xml")
    with pytest.raises(ValueError, match="not a host name, IP address or CIDR"):
        UrlPolicy.from_allow_list("127.0.0.1, not a host!")


def test_dns_rebinding_is_checked_on_the_address_actually_connected_to(site):
    """The name passes the first look-up (public) and resolves to loopback when the connection is made."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = UrlPolicy.from_allow_list("", resolver=lambda host, port: _fake_dns({host: next(answers)})(host, port))
    site.site.resources["/feed.xml"] = Resource(b"<rss/>", "application/rss+xml")
    port = site.base_url.rsplit(":", 1)[1]
    with policy_client(policy, timeout_s=5, total_timeout_s=10, user_agent="test") as client:
        with pytest.raises(UrlRefused, match="127.0.0.1, a loopback address"):
            with open_url(client, policy, f"http://rebind.example:{port}/feed.xml"):
                pass
    assert site.site.requests["/feed.xml"] == 0


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header():
    hosts: list[str | None] = []

    def record_host(handler: BaseHTTPRequestHandler) -> None:
        hosts.append(handler.headers.get("Host"))
        handler.send_response(200)
        handler.send_header("Content-Length", "6")
        handler.end_headers()
        handler.wfile.write(b"<rss/>")

    with hostile_server({"/feed.xml": record_host}) as base:
        port = base.rsplit(":", 1)[1]
        policy = UrlPolicy.from_allow_list("127.0.0.1", resolver=_fake_dns({"feeds.example.test": ["127.0.0.1"]}))
        with (
            policy_client(policy, timeout_s=5, total_timeout_s=10, user_agent="test") as client,
            open_url(client, policy, f"http://feeds.example.test:{port}/feed.xml") as response,
        ):
            assert response.status_code == 200 and response.read() == b"<rss/>"
    assert hosts == [f"feeds.example.test:{port}"]


def _self_signed_certificate(folder: Path, host: str) -> tuple[Path, Path]:
    """A one-day certificate for `host` (subjectAltName DNS), made in-process: no openssl CLI needed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    return cert, key


def test_tls_keeps_the_host_name_for_sni_and_certificate_checks_while_connecting_to_the_checked_ip(tmp_path):
    cert, key = _self_signed_certificate(tmp_path, "feeds.example.test")
    server_names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, context: server_names.append(name)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "6")
        handler.end_headers()
        handler.wfile.write(b"<rss/>")

    with hostile_server({"/feed.xml": answer}, server_context) as base:
        port = base.rsplit(":", 1)[1]
        policy = UrlPolicy.from_allow_list("127.0.0.1", resolver=_fake_dns({"feeds.example.test": ["127.0.0.1"]}))
        client_context = ssl.create_default_context(cafile=str(cert))
        with (
            policy_client(policy, timeout_s=5, total_timeout_s=10, user_agent="t", ssl_context=client_context) as c,
            open_url(c, policy, f"https://feeds.example.test:{port}/feed.xml") as response,
        ):
            assert response.read() == b"<rss/>"
    assert server_names == ["feeds.example.test"]


# ---------------------------------------------------------------------------------------------------------------
# The HTTP client against real servers


def test_redirect_from_an_allowed_host_to_a_private_one_is_refused_before_connecting(site, tmp_path):
    http = HttpClientResource(timeout_s=5)
    with listener_on_127_0_0_2() as other:
        private = f"http://127.0.0.2:{other.getsockname()[1]}/feed.xml"
        site.site.redirects.update(
            {
                "/to-private": private,
                "/to-numeric-private": f"http://0x7f.0.0.2:{other.getsockname()[1]}/feed.xml",
                "/to-metadata": "http://169.254.169.254/latest/meta-data/iam/",
                "/to-file": "file:///etc/passwd",
                "/hop": "/to-private",
            }
        )
        for path, refused_url in [
            ("/to-private", private),
            ("/hop", private),
            ("/to-numeric-private", f"http://0x7f.0.0.2:{other.getsockname()[1]}/feed.xml"),
            ("/to-metadata", "http://169.254.169.254/latest/meta-data/iam/"),
        ]:
            with pytest.raises(DownloadError, match=f"^refused {refused_url}: ") as error:
                http.fetch_feed(site.url(path))
            assert ALLOW_PRIVATE_HOSTS_ENV in str(error.value) and not error.value.transient
        with pytest.raises(DownloadError, match="only http and https"):
            http.download_audio(site.url("/to-file"), tmp_path / "a.mp3")
        assert_never_connected(other)


def test_redirect_loops_and_long_chains_are_cut(site):
    site.site.redirects.update({"/a": "/b", "/b": "/c", "/c": "/a"})
    site.site.redirects.update({f"/chain{n}": f"/chain{n + 1}" for n in range(10)})
    http = HttpClientResource(timeout_s=5)
    with pytest.raises(DownloadError, match=r"redirect loop: .*/a -> .*/b -> .*/c -> .*/a"):
        http.fetch_feed(site.url("/a"))
    with pytest.raises(DownloadError, match=r"too many redirects \(more than 5\)"):
        http.fetch_feed(site.url("/chain0"))
    assert site.site.requests["/a"] == 1  # one request per hop, no retries of a refusal


def test_gzip_bomb_stops_at_the_size_cap_counting_decoded_bytes(tmp_path):
    bomb = _gzip_bomb(200 * 1024 * 1024)  # ~200 KB on the wire, 200 MB decoded
    good = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Zipped</title></channel></rss>'
    routes = {
        "/bomb.xml": serve_gzip(bomb),
        "/bomb.mp3": serve_gzip(bomb, "audio/mpeg"),
        "/ok.xml": serve_gzip(gzip.compress(good)),
    }
    with hostile_server(routes) as base:
        http = HttpClientResource(timeout_s=5, max_feed_bytes=1024 * 1024, max_audio_bytes=2 * 1024 * 1024)
        assert http.fetch_feed(base + "/ok.xml").body == good  # compressed responses still work
        started = time.monotonic()
        with pytest.raises(DownloadError, match=r"feed larger than 1048576 bytes: .*after decompression"):
            http.fetch_feed(base + "/bomb.xml")
        with pytest.raises(DownloadError, match="file too large: .*after decompression"):
            http.download_audio(base + "/bomb.mp3", tmp_path / "bomb.mp3")
        assert time.monotonic() - started < 10
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


@pytest.mark.parametrize("route", [drip_body, drip_headers], ids=["body", "headers"])
def test_a_server_that_drips_bytes_is_cut_off_by_the_total_deadline(route, tmp_path):
    with hostile_server({"/drip": route}) as base:
        http = HttpClientResource(timeout_s=5, feed_total_timeout_s=1.5, download_total_timeout_s=1.5)
        started = time.monotonic()
        with pytest.raises(DownloadError, match=r"too slow: fetching feed not complete within the total limit of 1.5s"):
            http.fetch_feed(base + "/drip")
        with pytest.raises(DownloadError, match="too slow"):
            http.download_text(base + "/drip", tmp_path / "t.txt")
        assert time.monotonic() - started < 8  # each per-read timeout (5 s) alone would never fire


def test_webhook_to_a_private_address_is_refused():
    with patched_env({ALLOW_PRIVATE_HOSTS_ENV: ""}):
        with pytest.raises(UrlRefused, match="169.254.169.254"):
            AlertWebhookResource(url="http://169.254.169.254/hook").send({"text": "x"})


# ---------------------------------------------------------------------------------------------------------------
# Registering feeds


def test_feeds_add_refuses_private_urls_with_a_clear_message(home, capsys):
    with patched_env({ALLOW_PRIVATE_HOSTS_ENV: None}):
        for url in ["http://169.254.169.254/latest/meta-data/", "http://2130706433/feed.xml", "http://[::1]/feed"]:
            assert cli_main(["feeds", "add", url]) == 2
            message = capsys.readouterr().err
            assert f"refused {url}" in message and ALLOW_PRIVATE_HOSTS_ENV in message
        with patched_env({ALLOW_PRIVATE_HOSTS_ENV: "127.0.0.1"}):
            assert cli_main(["feeds", "add", "http://127.0.0.1:8751/feed.xml"]) == 0
            assert cli_main(["feeds", "add", "http://127.0.0.2:8751/feed.xml"]) == 2
        assert cli_main(["feeds", "add", "https://feeds.invalid/rss"]) == 0  # does not resolve now: checked on fetch
    feeds = sorted(list_feeds(CatalogResource())["feed_url"].to_list())
    assert feeds == ["http://127.0.0.1:8751/feed.xml", "https://feeds.invalid/rss"]


# ---------------------------------------------------------------------------------------------------------------
# Feed documents (unit)


def _rss(items: str, dtd: str = "", title: str = "Test show") -> bytes:
    return (
        f'<?xml version="1.0"?>{dtd}<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>{title}</title>{items}</channel></rss>"
    ).encode()


def _item(title: str, guid: str | None, enclosure: str | None, extra: str = "") -> str:
    guid_xml = f"<guid>{guid}</guid>" if guid else ""
    enclosure_xml = f'<enclosure url="{enclosure}" type="audio/mpeg" length="100"/>' if enclosure else ""
    return f"<item><title>{title}</title>{guid_xml}<pubDate>{PUB_DATE}</pubDate>{enclosure_xml}{extra}</item>"


def test_entity_bombs_and_external_entities_are_never_expanded():
    laughs = _rss(_item("Laughing &lol9;", "g1", "http://x/a.mp3"), BILLION_LAUGHS_DTD, title="&lol9;")
    xxe = _rss(
        _item("Secret &xxe;", "g1", "http://x/a.mp3"), '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    )
    quadratic = _rss(
        _item("Q " + "&big;" * 2000, "g1", "http://x/a.mp3"), f'<!DOCTYPE rss [<!ENTITY big "{"x" * 50_000}">]>'
    )
    for document in (laughs, xxe, quadratic):
        started = time.monotonic()
        feed = parse_feed(document)
        assert time.monotonic() - started < 2
        assert feed.problem.startswith("unsafe XML: the feed declares XML entities")
        assert [item.guid for item in feed.items] == ["g1"]  # the item is salvaged
        title = feed.items[0].title
        assert "lollol" not in title and "xxxx" not in title and "root:" not in title  # left unexpanded


def test_truncated_feed_is_a_feed_level_problem_with_items_salvaged():
    document = _rss(_item("Whole", "g1", "http://x/a.mp3") + _item("Cut", None, "http://x/b.mp3"))
    feed = parse_feed(document[: document.index(b"<pubDate>", document.index(b"Cut"))] + b"<pubDa")
    assert feed.problem.startswith("not well-formed XML")
    assert [(item.title, item.guid) for item in feed.items] == [("Whole", "g1"), ("Cut", None)]
    assert feed.items[1].problem == "malformed item: no parseable publication date"


def test_titles_are_one_bounded_line_and_links_http_only():
    huge = "A" * (5 * 1024 * 1024)
    document = _rss(
        _item(
            f"Hi&#13;&#10;Bcc: evil@example.com\x1b[31m {huge}",
            "g1",
            "http://x/a.mp3",
            "<link>javascript:alert(1)</link>",
        ),
        title="Show\u202e name",
    )
    feed = parse_feed(document)
    title = feed.items[0].title
    assert len(title) == TITLE_MAX_CHARS and title.startswith("Hi Bcc: evil@example.com") and title.endswith("…")
    assert "\r" not in title and "\n" not in title and "\x1b" not in title
    assert feed.items[0].link is None and feed.title == "Show name"
    assert feed.problem.startswith("not well-formed XML")  # a raw ESC byte is not allowed in XML
    assert one_line("a\u2028b\x00c\td") == "a b c d"


def test_safe_link_keeps_only_http_and_https():
    assert safe_link(" https://example.com/ep?t=30#x ") == "https://example.com/ep?t=30#x"
    assert safe_link("HTTP://Example.com/a") == "http://Example.com/a"
    for bad in [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:x",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative",
        'https://example.com/"onmouseover="x',
        "https://example.com/<script>",
        "http:\\\\evil.example",
        "https://",
        "https://example.com/" + "a" * 3000,
        None,
        "",
    ]:
        assert safe_link(bad) is None, bad


# ---------------------------------------------------------------------------------------------------------------
# Email headers


def test_a_header_injection_title_never_produces_an_extra_header_line():
    hostile = "Top 5: Hi\r\nBcc: everyone@example.com\r\n\r\n<script>x</script>"
    brief = OutgoingBrief(
        to_address="ada@example.com",
        to_name='Ada\r\nCc: boss@example.com, "x"',
        subject=hostile,
        text="body",
        html="<p>body</p>",
        message_id="<brief-1@podcast-brief>",
        outbox_name="ada",
    )
    raw = bytes(build_message("Podcast Brief\r\nBcc: x@example.com <brief@localhost>", brief))
    head = raw.split(b"\n\n", 1)[0].decode()
    names = [line.split(":", 1)[0] for line in head.splitlines() if line and not line[0].isspace()]
    assert "Bcc" not in names and "Cc" not in names
    assert sorted(names) == sorted(["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == header_text(hostile, 300) == "Top 5: Hi Bcc: everyone@example.com <script>x</script>"
    assert parsed["To"].addresses[0].addr_spec == "ada@example.com"

    # And over real SMTP: the message reaches its one recipient and nobody else.
    with smtp_server() as (controller, inbox):
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=controller.port)
        assert mailer.deliver(brief, DAY.isoformat()) == "sent"
    assert [rcpt for rcpt, _ in inbox.messages] == [["ada@example.com"]]
    received = email.message_from_bytes(inbox.messages[0][1], policy=email.policy.default)
    assert received["Bcc"] is None and received["Cc"] is None


# ---------------------------------------------------------------------------------------------------------------
# The episodes asset: a hostile corpus does not take the day down


@pytest.fixture
def hostile_world(home, site):
    base = site.base_url
    port = base.rsplit(":", 1)[1]
    for path in ("/t.mp3", "/l.mp3", "/p.mp3", "/noguid.mp3", "/h.mp3", "/good.mp3"):
        site.site.resources[path] = Resource(MP3, "audio/mpeg")
    site.site.resources["/t.vtt"] = Resource(b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello.\n", "text/vtt")
    site.site.redirects["/to-metadata.mp3"] = "http://169.254.169.254/latest/meta-data/a.mp3"

    truncated = _rss(_item("Whole", "t-1", f"{base}/t.mp3") + _item("Cut", None, f"{base}/cut.mp3"))
    truncated = truncated[: truncated.index(b"<pubDate>", truncated.index(b"Cut"))]
    laughs = _rss(_item("Laughs &lol9;", "l-1", f"{base}/l.mp3"), BILLION_LAUGHS_DTD)
    private = _rss(
        _item("Metadata", "p-1", "http://169.254.169.254/latest/meta-data/a.mp3")
        + _item("Other loopback", "p-2", f"http://127.0.0.2:{port}/a.mp3")
        + _item("Numeric loopback", "p-3", f"http://0x7f.0.0.2:{port}/a.mp3")
        + _item("Redirected to metadata", "p-4", f"{base}/to-metadata.mp3")
        + _item("File", "p-5", "file:///etc/passwd")
        + _item(
            "Private transcript",
            "p-6",
            f"{base}/p.mp3",
            f'<podcast:transcript url="http://127.0.0.2:{port}/t.vtt" type="text/vtt"/>',
        )
        + _item(
            "Public transcript", "p-7", f"{base}/good.mp3", f'<podcast:transcript url="{base}/t.vtt" type="text/vtt"/>'
        )
        + _item("No guid", None, f"{base}/noguid.mp3")
    )
    hostile_text = _rss(
        _item(
            "Hi&#13;&#10;Bcc: evil@example.com\x01 " + "B" * 3_000_000,
            "h-1",
            f"{base}/h.mp3",
            "<link>javascript:alert(1)</link>",
        )
    )
    feeds = {
        "/truncated.xml": truncated,
        "/laughs.xml": laughs,
        "/private.xml": private,
        "/hostile-text.xml": hostile_text,
        "/fifty-mb-title.xml": _rss(_item("A" * (50 * 1024 * 1024), "f-1", f"{base}/good.mp3")),
    }
    for path, body in feeds.items():
        site.site.resources[path] = Resource(body, "application/rss+xml")
    site.site.redirects["/moved.xml"] = f"http://127.0.0.2:{port}/feed.xml"
    warehouse = WarehouseResource()
    for path in [*feeds, "/moved.xml"]:
        add_feed(CatalogResource(), site.url(path))
    return warehouse


def test_hostile_feeds_are_recorded_and_the_good_items_go_on(hostile_world, site):
    bomb = _gzip_bomb(100 * 1024 * 1024)
    with hostile_server({"/bomb.xml": serve_gzip(bomb), "/drip.xml": drip_body}) as hostile_base:
        add_feed(CatalogResource(), hostile_base + "/bomb.xml")
        add_feed(CatalogResource(), hostile_base + "/drip.xml")
        started = time.monotonic()
        result = dg.materialize(
            [episodes],
            partition_key=DAY.isoformat(),
            resources={
                "warehouse": WarehouseResource(),
                "catalog": CatalogResource(),
                "http": HttpClientResource(timeout_s=5, feed_total_timeout_s=2),
                "media": MediaStoreResource(),
            },
        )
        assert result.success and time.monotonic() - started < 60

    feeds = {r["feed_url"]: r["last_error"] for r in hostile_world.query("SELECT * FROM feeds").to_dicts()}
    assert feeds[site.url("/truncated.xml")].startswith("not well-formed XML")
    assert feeds[site.url("/laughs.xml")].startswith("unsafe XML: the feed declares XML entities")
    assert feeds[site.url("/private.xml")] is None
    assert feeds[site.url("/moved.xml")].startswith(f"refused http://127.0.0.2:{site.base_url.rsplit(':', 1)[1]}/")
    assert "feed larger than" in feeds[site.url("/fifty-mb-title.xml")]
    assert "after decompression" in feeds[hostile_base + "/bomb.xml"]
    assert feeds[hostile_base + "/drip.xml"].startswith("too slow: fetching feed")

    rows = {
        r["title"]: r for r in hostile_world.query("SELECT * FROM episodes WHERE partition_date = ?", [DAY]).to_dicts()
    }
    for good in ("Whole", "Laughs &lol9;", "Private transcript", "Public transcript", "No guid"):
        assert rows[good]["status"] == "ok", (good, rows[good]["error"])
        assert Path(rows[good]["audio_path"]).read_bytes() == MP3
    for refused in ("Metadata", "Other loopback", "Numeric loopback", "Redirected to metadata"):
        assert rows[refused]["status"] == "failed" and rows[refused]["error"].startswith("refused http"), refused
        assert ALLOW_PRIVATE_HOSTS_ENV in rows[refused]["error"]
    assert "169.254.169.254" in rows["Redirected to metadata"]["error"]
    assert "only http and https" in rows["File"]["error"]
    assert "refused http://127.0.0.2" in rows["Private transcript"]["transcript_error"]
    assert rows["Private transcript"]["transcript_path"] is None
    assert Path(rows["Public transcript"]["transcript_path"]).read_text().startswith("WEBVTT")

    # Items without guid (or date) get a stable id and say why, and which feed they came from.
    assert rows["No guid"]["guid"] is None and rows["No guid"]["feed_url"] == site.url("/private.xml")
    assert rows["No guid"]["id_note"] == "no guid in the feed: id derived from the feed URL and the enclosure URL"
    assert rows["Cut"]["status"] == "failed" and rows["Cut"]["feed_url"] == site.url("/truncated.xml")
    assert rows["Cut"]["error"] == "malformed item: no parseable publication date"
    assert rows["Cut"]["id_note"].endswith("; no publication date either")
    assert rows["Whole"]["id_note"] is None

    hostile = next(r for r in rows.values() if r["title"].startswith("Hi Bcc"))
    assert hostile["status"] == "ok" and len(hostile["title"]) == TITLE_MAX_CHARS and hostile["link"] is None
    assert not any(ch in hostile["title"] for ch in "\r\n\x01")

    # Re-running the day gives the same ids (the derived ones are stable).
    ids = sorted(r["episode_id"] for r in rows.values())
    again = dg.materialize(
        [episodes],
        partition_key=DAY.isoformat(),
        resources={
            "warehouse": WarehouseResource(),
            "catalog": CatalogResource(),
            "http": HttpClientResource(timeout_s=5),
            "media": MediaStoreResource(),
        },
    )
    assert again.success
    after = hostile_world.query("SELECT episode_id FROM episodes WHERE partition_date = ? ORDER BY 1", [DAY])
    assert after["episode_id"].to_list() == ids
