"""The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, updated by RFC 8190).

Data, not policy: each entry is a row of the registries as IANA publishes them
(https://www.iana.org/assignments/iana-ipv4-special-registry/ and
.../iana-ipv6-special-registry/), with its prefix, name, RFC and the "Globally Reachable" column.
``reachable`` is True or False as the registry says, None where it says N/A (Teredo, 6to4: the
answer depends on the IPv4 address inside) or nothing (``terminated`` blocks).

Taken on ``TAKEN``; the newest entry then was 100:0:0:1::/64 (RFC 9780, allocated 2025-04). To
update: compare both registries' CSV with the rows below, add or change rows, move ``TAKEN``; the
egress tests check every row that is not globally reachable against the guard.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

TAKEN = "2026-12-01"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Entry:
    """One registry row."""

    prefix: str
    name: str
    rfc: str
    reachable: bool | None
    terminated: bool = False

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.prefix)

    @property
    def blocked(self) -> bool:
        """Not globally reachable, or terminated (nothing legitimate lives there any more)."""
        return self.reachable is False or self.terminated


_N_A = None  # the registry's "N/A": it depends on the IPv4 address carried inside

IPV4: tuple[Entry, ...] = (
    Entry("0.0.0.0/8", '"This network"', "RFC 791", False),
    Entry("0.0.0.0/32", '"This host on this network"', "RFC 1122", False),
    Entry("10.0.0.0/8", "Private-Use", "RFC 1918", False),
    Entry("100.64.0.0/10", "Shared Address Space", "RFC 6598", False),
    Entry("127.0.0.0/8", "Loopback", "RFC 1122", False),
    Entry("169.254.0.0/16", "Link Local", "RFC 3927", False),
    Entry("172.16.0.0/12", "Private-Use", "RFC 1918", False),
    Entry("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890", False),
    Entry("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False),
    Entry("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False),
    Entry("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True),
    Entry("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    Entry("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880", False),
    Entry("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880", False),
    Entry("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False),
    Entry("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    Entry("192.52.193.0/24", "AMT", "RFC 7450", True),
    Entry("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", None, terminated=True),
    Entry("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751", False),
    Entry("192.168.0.0/16", "Private-Use", "RFC 1918", False),
    Entry("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True),
    Entry("198.18.0.0/15", "Benchmarking", "RFC 2544", False),
    Entry("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False),
    Entry("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False),
    Entry("240.0.0.0/4", "Reserved", "RFC 1112", False),
    Entry("255.255.255.255/32", "Limited Broadcast", "RFC 8190", False),
)

IPV6: tuple[Entry, ...] = (
    Entry("::1/128", "Loopback Address", "RFC 4291", False),
    Entry("::/128", "Unspecified Address", "RFC 4291", False),
    Entry("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False),
    Entry("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True),
    Entry("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", False),
    Entry("100::/64", "Discard-Only Address Block", "RFC 6666", False),
    Entry("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", False),
    Entry("2001::/23", "IETF Protocol Assignments", "RFC 2928", False),
    Entry("2001::/32", "TEREDO", "RFC 4380", _N_A),
    Entry("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True),
    Entry("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    Entry("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", True),
    Entry("2001:2::/48", "Benchmarking", "RFC 5180", False),
    Entry("2001:3::/32", "AMT", "RFC 7450", True),
    Entry("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    Entry("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", None, terminated=True),
    Entry("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    Entry("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True),
    Entry("2001:db8::/32", "Documentation", "RFC 3849", False),
    Entry("2002::/16", "6to4", "RFC 3056", _N_A),
    Entry("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True),
    Entry("3fff::/20", "Documentation", "RFC 9637", False),
    Entry("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False),
    Entry("fc00::/7", "Unique-Local", "RFC 4193", False),
    Entry("fe80::/10", "Link-Local Unicast", "RFC 4291", False),
)


@lru_cache(maxsize=1)
def _by_length() -> tuple[tuple[Entry, IPNetwork], ...]:
    pairs = [(e, e.network) for e in (*IPV4, *IPV6)]
    return tuple(sorted(pairs, key=lambda pair: -pair[1].prefixlen))


def entry_for(ip: IPAddress) -> Entry | None:
    """The most specific registry row holding ``ip``, or None if no row does."""
    for entry, network in _by_length():
        if network.version == ip.version and ip in network:
            return entry
    return None
