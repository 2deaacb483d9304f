"""Where Gatekey connects to: the SSRF guard under every outbound request.

Users influence URLs (templated subdomains and base URLs, project apps with their own token
URLs, the proxy's paths), so the check sits at the one place every request passes: the TCP
connect of the shared transport. The host is resolved once, every address it resolves to is
checked, and the socket is opened to the checked address, so a DNS answer that changes between
check and connect (rebinding) cannot slip through; TLS still verifies the certificate against
the host name. Refused: loopback, private, link-local (cloud metadata), carrier-grade NAT,
multicast, reserved, unspecified and every other non-global address, including IPv4 written in
decimal, octal or hex and IPv4 carried inside IPv6 (mapped, 6to4, Teredo, NAT64). Redirects are
never followed by Gatekey's clients. ``GATEKEY_EGRESS_ALLOW`` (networks, addresses or host
names, each optionally with ``:port``) is the only way around it.

What is refused comes from two sources: Python's ``ipaddress`` (loopback, private, link-local,
multicast, reserved) and the IANA Special-Purpose Address Registries shipped as data in
``gatekey.special_purpose`` (every row not globally reachable), plus deprecated site-local
``fec0::/10`` (RFC 3879) and the whole of ``192.0.0.0/24`` (cloud metadata lives there).

A URL the HTTP client cannot use (it cannot parse it, the scheme is not http(s), the port is out
of range, the host is no name or address) is refused before anything is sent, with
``InvalidInput``; ``GuardedClient`` does that for every request, so no ``httpx2.InvalidURL``
reaches a caller. ``preflight`` applies the same parse and the policy, resolving the host when it
can, for URLs people register (webhooks) so a refusal is seen then and not at delivery.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore2
import httpx2
from httpcore2._backends.sync import SyncStream

from gatekey import special_purpose
from gatekey.errors import DestinationBlocked, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Refused beyond the registry: all of 192.0.0.0/24, whose anycast rows the registry calls global
# but where Oracle Cloud's metadata service is (192.0.0.192); shared address space (Alibaba's
# metadata is 100.100.100.200); site-local, deprecated by RFC 3879 and absent from the registry,
# which Python's ipaddress calls global; documentation (RFC 9637), for Pythons that predate it.
_ALSO_REFUSED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.IPv4Network("192.0.0.0/24"), "reserved"),
    (ipaddress.IPv4Network("100.64.0.0/10"), "reserved"),
    (ipaddress.IPv6Network("fec0::/10"), "site-local"),
    (ipaddress.IPv6Network("3fff::/20"), "documentation"),
)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
# a host the resolver could look up: DNS labels (underscores occur in real names), a final dot
_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?", re.IGNORECASE)


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo client, NAT64)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    # IPv4-compatible (deprecated ::a.b.c.d) addresses still route to IPv4 on some stacks
    if int(ip) >> 32 == 0 and int(ip) > 1:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(ip: IPAddress) -> str | None:
    """Why Gatekey will not connect to ``ip`` by default, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip in _NAT64_LOCAL:
            return "private"
        for inner in _embedded_v4(ip):
            reason = refusal(inner)
            if reason is not None:
                return reason
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    for network, reason in _ALSO_REFUSED:
        if network.version == ip.version and ip in network:
            return reason
    if ip.is_reserved:
        return "reserved"
    entry = special_purpose.entry_for(ip)
    if entry is not None and entry.blocked:
        return f"special-purpose ({entry.name}, {entry.rfc})"
    if not ip.is_global:
        return "non-public"
    return None


@dataclass(frozen=True, slots=True)
class _Rule:
    network: IPNetwork | None
    host: str | None
    port: int | None

    def matches(self, host: str, port: int, ip: IPAddress) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip in self.network
        assert self.host is not None
        name = host.lower().rstrip(".")
        if self.host.startswith("*."):
            return name.endswith(self.host[1:])
        return name == self.host


def _rule(entry: str) -> _Rule:
    text = entry.strip().lower()
    port: int | None = None
    bracketed = re.fullmatch(r"\[([0-9a-f:.%]+)\](?::(\d+))?", text)
    if bracketed:
        text, port = bracketed.group(1), int(bracketed.group(2)) if bracketed.group(2) else None
    elif text.count(":") == 1:
        text, _, digits = text.partition(":")
        if not digits.isdigit():
            raise ValueError(f"egress allowlist entry {entry!r}: the port must be a number")
        port = int(digits)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"egress allowlist entry {entry!r}: port out of range")
    try:
        return _Rule(ipaddress.ip_network(text, strict=False), None, port)
    except ValueError:
        pass
    if not _HOST.fullmatch(text):
        raise ValueError(
            f"egress allowlist entry {entry!r} is not a network, an address or a host name"
        )
    return _Rule(None, text, port)


class EgressPolicy:
    """Public addresses only, unless the operator's allowlist names the destination."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.rules = [_rule(e) for e in allow if e.strip()]

    def refusal(self, host: str, port: int, ip: IPAddress) -> str | None:
        reason = refusal(ip)
        if reason is None or any(r.matches(host, port, ip) for r in self.rules):
            return None
        return reason


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (numeric forms included), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


class GuardedBackend(httpcore2.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver

    def allowed(self, host: str, port: int, found: Sequence[IPAddress]) -> list[IPAddress]:
        """The addresses of ``found`` the policy allows; refuse when there is none."""
        permitted = [ip for ip in found if self.policy.refusal(host, port, ip) is None]
        if not permitted:
            reasons = {self.policy.refusal(host, port, ip) or "" for ip in found}
            kinds = ", ".join(sorted(reasons)) or "no"
            raise DestinationBlocked(
                f"{host} resolves only to {kinds} addresses; Gatekey does not connect there "
                "(an operator can allow it with GATEKEY_EGRESS_ALLOW)",
                host=host,
            )
        return permitted

    def check(self, host: str, port: int) -> None:
        """Refuse ``host`` now if it resolves only to refused addresses. A name that does not
        resolve (yet) passes: every connect resolves and checks again."""
        try:
            found = self.resolver(host, port)
        except (OSError, UnicodeError, ValueError):
            return
        self.allowed(host, port, found)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last_error: OSError | None = None
        for ip in self.allowed(host, port, addresses):
            try:
                sock = socket.create_connection(
                    (str(ip), port),
                    timeout,
                    source_address=None if local_address is None else (local_address, 0),
                )
            except TimeoutError as exc:
                raise httpcore2.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                last_error = exc
                continue
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SyncStream(sock)
        raise httpcore2.ConnectError(str(last_error)) from last_error


class GuardedTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` whose connection pool connects through ``GuardedBackend``."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = resolve, **options: Any) -> None:
        super().__init__(**options)
        pool = self._pool
        if not isinstance(pool, httpcore2.ConnectionPool):
            raise TypeError("the egress guard needs a direct connection pool, not a proxy")
        self.backend = GuardedBackend(policy, resolver)
        # httpx2 takes no backend argument; the tests prove every connect goes through this one
        pool._network_backend = self.backend


def _unusable(why: str) -> InvalidInput:
    # never the URL itself: its query may carry a credential
    return InvalidInput(f"the destination URL cannot be used: {why}", field="url")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def usable(url: httpx2.URL) -> httpx2.URL:
    """Refuse (``InvalidInput``) a parsed URL the transport could not send anywhere."""
    if url.scheme not in ("http", "https"):
        raise _unusable("only http and https URLs are sent")
    host = url.raw_host.decode("ascii", "replace")
    if not host:
        raise _unusable("it has no host")
    if url.port is not None and not 0 < url.port < 65536:
        raise _unusable("the port is out of range")
    if not (_is_address(host) or (len(host) <= 254 and _NAME.fullmatch(host))):
        raise _unusable("the host is neither a host name nor an IP address")
    return url


def destination(url: Any) -> httpx2.URL:
    """Parse ``url`` as the HTTP client will; refuse (``InvalidInput``) what it could not send."""
    try:
        parsed = url if isinstance(url, httpx2.URL) else httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError, TypeError):
        raise _unusable("the HTTP client cannot parse it") from None
    return usable(parsed)


def usable_request(
    build: Callable[..., httpx2.Request], method: str, url: httpx2.URL | str, **options: Any
) -> httpx2.Request:
    """``build(method, url, ...)`` (a client's ``build_request``), with a URL the client cannot
    send refused as ``InvalidInput`` before anything is sent, never ``httpx2.InvalidURL``.
    Every client Gatekey sends through calls it from its ``build_request``."""
    try:
        request = build(method, url, **options)
    except httpx2.InvalidURL:
        raise _unusable("the HTTP client cannot parse it") from None
    usable(request.url)
    return request


class GuardedClient(httpx2.Client):
    """The client of every outbound request: refuses URLs it cannot send (``usable_request``)
    and checks a destination ahead of time (``preflight``) against its transport's policy."""

    def __init__(self, *, transport: httpx2.BaseTransport | None = None, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self._guard = transport.backend if isinstance(transport, GuardedTransport) else None

    def build_request(self, method: str, url: httpx2.URL | str, **options: Any) -> httpx2.Request:
        return usable_request(super().build_request, method, url, **options)

    def preflight(self, url: Any) -> httpx2.URL:
        """Parse ``url`` and apply the egress policy to its host now (when it resolves)."""
        parsed = destination(url)
        if self._guard is not None:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            self._guard.check(parsed.raw_host.decode("ascii"), port)
        return parsed


def preflight(client: httpx2.Client, url: Any) -> httpx2.URL:
    """``GuardedClient.preflight``; for any other client (an injected transport owns its own
    egress) the parse only."""
    if isinstance(client, GuardedClient):
        return client.preflight(url)
    return destination(url)


def parse_allowlist(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [part.strip() for part in value if part.strip()]
