"""Which URLs the platform may fetch: http(s) to public addresses only, unless an operator allows a private one.

Feeds, enclosures and publisher transcripts come from third parties, so a feed could make the service fetch from
its own network (a database, a cloud metadata endpoint at 169.254.169.254, localhost). The rule is checked on the
*resolved* address, so every numeric spelling of a host (`2130706433`, `0x7f.1`, `017700000001`,
`[::ffff:127.0.0.1]`) is judged by the address it names. Pure logic: the caller passes the allow list in
(`PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS`, read by `podcast_assets.settings`) and does the connecting.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ALLOW_PRIVATE_HOSTS_ENV = "PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS"
ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> getaddrinfo-style rows; injectable so tests can simulate DNS answers.
Resolver = Callable[[str, int], list[tuple]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")


class UrlRefused(ValueError):
    """A URL the policy will not fetch. The message names the URL, the address and how to allow it."""

    def __init__(self, url: str, reason: str, address: str | None = None) -> None:
        self.url = url
        self.reason = reason
        self.address = address
        super().__init__(f"refused {url}: {reason}")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), which is what it reaches."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why an address must not be fetched from by default (None when it is a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner}, as IPv4 {embedded} inside IPv6" if inner else None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _is_numeric_host(host: str) -> bool:
    """An address written as numbers (`127.0.0.1`, `2130706433`, `0x7f.1`, `::1`) rather than a name."""
    if ":" in host:
        return True
    return all(_NUMERIC_LABEL.match(label) for label in host.lower().rstrip(".").split("."))


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")


def system_resolver(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True)
class UrlPolicy:
    """http(s) to public addresses; `allowed_hosts` / `allowed_networks` open private ones an operator trusts."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_allow_list(cls, allow_list: str | Iterable[str] | None, resolver: Resolver | None = None) -> UrlPolicy:
        """Comma-separated host names, IP addresses and CIDR ranges, e.g. `127.0.0.1,10.0.0.0/8,minio.internal`.

        Raises ValueError naming an entry that is none of those.
        """
        entries = allow_list.split(",") if isinstance(allow_list, str) else list(allow_list or [])
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().strip("[]").lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME.match(entry):
                raise ValueError(f"{ALLOW_PRIVATE_HOSTS_ENV}: {raw.strip()!r} is not a host name, IP address or CIDR")
            hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolver or system_resolver)

    def allows(self, host: str, address: IPAddress) -> bool:
        """An operator allowed this host name, or a range holding this address."""
        if host.lower().rstrip(".") in self.allowed_hosts:
            return True
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(address)) is not None:
            candidates.append(embedded)
        return any(candidate in network for candidate in candidates for network in self.allowed_networks)

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why connecting to `address` (resolved from `host`) is refused, or None when it is allowed."""
        reason = address_refusal(address)
        if reason is None or self.allows(host, address):
            return None
        return reason

    def check_scheme(self, url: str) -> tuple[str, int]:
        """(host, port) of an http(s) URL; raises UrlRefused for any other scheme or a URL without a host."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise UrlRefused(url, f"not a valid URL ({error})") from error
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise UrlRefused(url, f"only http and https URLs are fetched, not {scheme or 'a relative URL'!r}")
        if not parts.hostname:
            raise UrlRefused(url, "the URL has no host")
        return parts.hostname, port or (443 if scheme == "https" else 80)

    def allowed_addresses(self, host: str, port: int, url: str | None = None) -> list[IPAddress]:
        """Resolve `host` and keep the addresses the policy allows, in resolver order.

        Raises UrlRefused when it resolves only to refused addresses, OSError (socket.gaierror) when it does not
        resolve at all.
        """
        addresses: list[IPAddress] = []
        for row in self.resolver(host, port):
            address = _parse_address(row[4][0])
            if address not in addresses:
                addresses.append(address)
        allowed = [address for address in addresses if self.refusal(host, address) is None]
        if not allowed:
            if not addresses:
                raise OSError(f"{host} did not resolve to any address")
            refused = addresses[0]
            raise UrlRefused(url or f"{host}:{port}", self._explain(host, refused), str(refused))
        return allowed

    def check_url(self, url: str) -> list[IPAddress]:
        """Scheme and resolved addresses of `url`; raises UrlRefused, or OSError when the host does not resolve."""
        host, port = self.check_scheme(url)
        return self.allowed_addresses(host, port, url)

    def _explain(self, host: str, address: IPAddress) -> str:
        reason = address_refusal(address)
        named = not _is_numeric_host(host)
        where = f"host {host} resolves to {address}, {reason}" if named else f"{address} is {reason}"
        allow = f"{host} or {address}" if named else str(address)
        return (
            f"{where}; private and local addresses are not fetched unless allowed "
            f"(add {allow} to {ALLOW_PRIVATE_HOSTS_ENV}, comma-separated host names, IPs or CIDRs)"
        )
