"""Where webhooks may go, and an HTTP transport that goes only there.

A target URL must be plain http(s) without a user name or password. Its host is
resolved once, and unless the host is allow-listed every address returned must
be a globally routable unicast address — IPv6 forms that embed an IPv4 address
(mapped, compatible, NAT64, 6to4, Teredo) are judged by that address as well.
`PinnedTransport` does this on every request and then connects to one of the
addresses it checked, never to the result of a second lookup: a name that
answers a public address to the check and 127.0.0.1 to the connection (DNS
rebinding) cannot steer a request inside. The request still carries the URL's
host name in `Host`, in TLS SNI and for certificate verification.
"""

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from workflow.errors import InvalidValue

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""`(host, port) -> addresses` as text, in the order to try them; raises OSError if none."""

ALLOW_HINT = "allow it with RATIFY_WEBHOOK_ALLOWED_HOSTS"


class TargetRefused(InvalidValue):
    """A webhook URL that may not be called (its form, its resolution or its addresses)."""


def _table(rows: Iterable[tuple[str, str]]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in rows)


# IANA's special-purpose registries, most specific first; what is not listed
# and lies in 0.0.0.0/0 (IPv4) or 2000::/3 (IPv6) is globally routable unicast.
_IPV4_REFUSED = _table(
    [
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    ]
)
_IPV6_REFUSED = _table(
    [
        ("::/128", "the unspecified address"),
        ("::1/128", "the loopback address"),
        ("::ffff:0:0/96", "an IPv4-mapped address"),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001::/32", "a Teredo tunnel address"),
        ("2001:db8::/32", "a documentation address"),
        ("2001::/23", "an IETF protocol assignment"),
        ("2002::/16", "a 6to4 tunnel address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment routing (SRv6) address"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address (deprecated)"),
        ("ff00::/8", "a multicast address"),
    ]
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _listed(address: Address, table: Sequence[tuple[Network, str]]) -> str | None:
    for network, why in table:
        if address in network:
            return why
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the form that carries it."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(("an IPv4-mapped address", address.ipv4_mapped))
    elif address in _COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        found.append(("an IPv4-compatible address", low32))
    if address in _NAT64:
        found.append(("a NAT64 address", low32))
    if address.sixtofour is not None:
        found.append(("a 6to4 address", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo  # bits 32-63; the last 32 bits XOR 0xffffffff
        found += [("a Teredo address", server), ("a Teredo address", client)]
    return found


def refusal(address: Address) -> str | None:
    """Why a webhook may not connect to this address, or None if it is global unicast."""
    if isinstance(address, ipaddress.IPv4Address):
        why = _listed(address, _IPV4_REFUSED)
    else:
        for form, inner in embedded_ipv4(address):
            inner_why = refusal(inner)
            if inner_why is not None:
                return f"{form} embedding {inner}, {inner_why}"
        if address in _NAT64:
            return None  # DNS64 answers these for IPv4-only hosts: judged by the IPv4 above
        why = _listed(address, _IPV6_REFUSED)
        if why is None and address not in _GLOBAL_UNICAST:
            why = "outside the global unicast range 2000::/3"
    # The standard library's view as well, in case IANA adds a range before we do.
    if why is None and not address.is_global:
        why = "not a globally routable address"
    return why


def is_allowed(address: Address) -> bool:
    """Whether a webhook may connect to this address without an allow-list entry."""
    return refusal(address) is None


def normal_host(host: str) -> str:
    """A host name as the allow-list compares it: lower case, no trailing dot, no brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def is_allow_listed(url: httpx.URL, allowed_hosts: Iterable[str]) -> bool:
    """Whether the URL's host (as written or in its IDNA form) is on the allow-list."""
    names = {normal_host(url.host), normal_host(url.raw_host.decode("ascii"))}
    return not names.isdisjoint(normal_host(h) for h in allowed_hosts)


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for a host, as `socket.create_connection` would get it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """The URL parsed as httpx will send it; refused unless absolute http(s) without userinfo."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise TargetRefused("url must be an absolute http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TargetRefused("url must be an absolute http(s) URL")
    if parsed.userinfo:
        raise TargetRefused("url must not contain a user name or password")
    return parsed


@dataclass(frozen=True)
class Target:
    """A checked URL: its host as sent and the checked addresses, the first to connect to."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[Address, ...]

    @property
    def address(self) -> Address:
        """The one address the connection goes to."""
        return self.addresses[0]


def resolve(
    url: str | httpx.URL, allowed_hosts: Iterable[str], resolver: Resolver = system_resolver
) -> Target:
    """Resolve the URL's host once and check every address (unless allow-listed)."""
    parsed = parse_url(url)
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as httpx would look it up
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses: tuple[Address, ...] = (ipaddress.ip_address(host),)
        literal = True
    except ValueError:
        literal = False
        try:
            answer = resolver(host, port)
            addresses = tuple(dict.fromkeys(ipaddress.ip_address(a) for a in answer))
        except (OSError, UnicodeError, ValueError):
            addresses = ()
        if not addresses:
            raise TargetRefused(f"url host {parsed.host} does not resolve") from None
    if not is_allow_listed(parsed, allowed_hosts):
        for address in addresses:
            why = refusal(address)
            if why is not None:
                what = "is" if literal else f"resolves to {address},"
                raise TargetRefused(f"url host {parsed.host} {what} {why}; {ALLOW_HINT}")
    return Target(parsed, host, port, addresses)


def check_url(url: str, allowed_hosts: Iterable[str], resolver: Resolver = system_resolver) -> None:
    """Subscription-time check: the URL's form, and its addresses unless allow-listed."""
    parsed = parse_url(url)
    if not is_allow_listed(parsed, allowed_hosts):
        resolve(parsed, allowed_hosts, resolver)


class PinnedTransport(httpx.BaseTransport):
    """Checks every request's target afresh and connects to exactly one checked address.

    The request is handed to an ordinary `httpx.HTTPTransport` with the URL's
    host replaced by the address, the original `Host` header kept, and the
    host name passed as httpcore's `sni_hostname` extension, which httpcore
    (1.0) uses both for SNI and as the name the certificate must match.
    """

    def __init__(
        self,
        allowed_hosts: Iterable[str] = frozenset(),
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allowed_hosts = frozenset(allowed_hosts)
        self.resolver = resolver
        # No kept-alive connections: the pool is keyed by address, so a kept
        # connection could carry a request for another host name on the same
        # address over a TLS session verified for the first name.
        self._inner = httpx.HTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request to an address checked for it just now; refuse if none is allowed."""
        target = resolve(request.url, self.allowed_hosts, self.resolver)
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(target.address)),
            headers=request.headers,  # already holds the original Host
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": target.host},
        )
        return self._inner.handle_request(pinned)

    def close(self) -> None:
        """Close the connections of the underlying transport."""
        self._inner.close()


class PinnedClient(httpx.Client):
    """An httpx client for untrusted URLs: pinned transport, no redirects, no proxies from env."""

    def __init__(
        self,
        allowed_hosts: Iterable[str] = frozenset(),
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        # A redirect would be followed through the same transport (so checked
        # too), but a webhook answer is the receiver's, not a pointer onwards.
        # An explicit transport also keeps httpx from mounting proxies from the
        # environment, which would resolve the name themselves.
        super().__init__(
            transport=PinnedTransport(allowed_hosts, resolver, verify),
            follow_redirects=False,
            trust_env=False,
        )
