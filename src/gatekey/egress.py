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

from gatekey.errors import DestinationBlocked

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# global by the registry's reading but never a provider: IETF protocol assignments (Oracle
# Cloud's metadata service is 192.0.0.192) and shared address space (Alibaba's is 100.100.100.200)
_ALSO_REFUSED = (
    ipaddress.IPv4Network("192.0.0.0/24"),
    ipaddress.IPv4Network("100.64.0.0/10"),
)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


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
    if ip.is_reserved or any(ip in n for n in _ALSO_REFUSED if n.version == ip.version):
        return "reserved"
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
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        reasons: list[str] = []
        last_error: OSError | None = None
        for ip in addresses:
            reason = self.policy.refusal(host, port, ip)
            if reason is not None:
                reasons.append(reason)
                continue
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
        if last_error is not None:
            raise httpcore2.ConnectError(str(last_error)) from last_error
        kinds = ", ".join(sorted(set(reasons))) or "no"
        raise DestinationBlocked(
            f"{host} resolves only to {kinds} addresses; Gatekey does not connect there "
            "(an operator can allow it with GATEKEY_EGRESS_ALLOW)",
            host=host,
        )


class GuardedTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` whose connection pool connects through ``GuardedBackend``."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = resolve, **options: Any) -> None:
        super().__init__(**options)
        pool = self._pool
        if not isinstance(pool, httpcore2.ConnectionPool):
            raise TypeError("the egress guard needs a direct connection pool, not a proxy")
        # httpx2 takes no backend argument; the tests prove every connect goes through this one
        pool._network_backend = GuardedBackend(policy, resolver)


def parse_allowlist(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [part.strip() for part in value if part.strip()]
