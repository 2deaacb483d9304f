"""The SSRF guard: a payload list of non-public destinations in every spelling, the allowlist,
and the guard in effect under the transport every outbound request uses."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from gatekey import special_purpose
from gatekey.egress import (
    EgressPolicy,
    GuardedBackend,
    GuardedClient,
    GuardedTransport,
    IPAddress,
    destination,
    preflight,
    refusal,
    resolve,
)
from gatekey.errors import DestinationBlocked, InvalidInput
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY

# loopback, private, link-local and metadata, shared, unspecified, reserved, multicast
BASES = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "169.254.170.2",
    "100.100.100.200",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 (a destination, not a bind address)
    "192.0.0.192",
    "198.18.0.1",
    "224.0.0.251",
]


def _spellings(dotted: str) -> list[str]:
    """The same IPv4 address the ways resolvers accept it, and carried inside IPv6."""
    ip = ipaddress.IPv4Address(dotted)
    value = int(ip)
    high, low = value >> 16, value & 0xFFFF
    return [
        dotted,
        str(value),
        hex(value),
        ".".join(f"0{int(part):o}" for part in dotted.split(".")),
        f"::ffff:{dotted}",
        f"64:ff9b::{dotted}",
        f"2002:{high:x}:{low:x}::1",
    ]


PAYLOADS = [form for base in BASES for form in _spellings(base)] + [
    "127.1",
    "0177.1",
    "0x7f.1",
    "127.000.000.001",
    "0",
    "localhost",
    "LOCALHOST",
    "::1",
    "0:0:0:0:0:0:0:1",
    "::",
    "::127.0.0.1",
    "fe80::1",
    "fe80::1%lo",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "2001:db8::1",
    "64:ff9b:1::a00:1",
    "255.255.255.255",
    "240.0.0.1",
    "fec0::1",  # site-local, deprecated (RFC 3879): Python's ipaddress calls it global
    "fec0:0:0:ffff::1",
    "feff:ffff::1",
    "3fff::1",  # documentation (RFC 9637)
    "3fff:fff:ffff::1",
    "5f00::1",  # SRv6 SIDs (RFC 9602)
    "100:0:0:1::1",  # dummy prefix (RFC 9780)
    "2001:2::1",  # benchmarking
    "192.88.99.2",  # 6a44 relay anycast
    "192.88.99.1",  # deprecated 6to4 relay anycast
    "192.0.0.171",  # NAT64/DNS64 discovery
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "3fff:1000::1",  # just past 3fff::/20
    "2a01:4f8::1",
]


def test_the_payload_list_is_long_enough() -> None:
    assert len(set(PAYLOADS)) >= 130


def _edges(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[IPAddress]:
    return [network.network_address, network.broadcast_address]


@pytest.mark.parametrize(
    "entry", [e for e in (*special_purpose.IPV4, *special_purpose.IPV6) if e.blocked], ids=str
)
def test_every_registry_row_not_globally_reachable_is_refused(
    entry: special_purpose.Entry,
) -> None:
    for ip in _edges(entry.network):
        assert refusal(ip) is not None, (entry.prefix, entry.name, str(ip))
        with pytest.raises(DestinationBlocked):
            GuardedBackend(EgressPolicy()).connect_tcp(str(ip), 443, timeout=1)


def test_the_registry_is_dated_and_well_formed() -> None:
    rows = (*special_purpose.IPV4, *special_purpose.IPV6)
    assert special_purpose.TAKEN >= "2025-04"
    assert len({e.prefix for e in rows}) == len(rows)
    for entry in rows:
        assert str(entry.network) == entry.prefix and entry.rfc.startswith("RFC ")
        assert entry.blocked == (entry.reachable is False or entry.terminated)
    blocked = {e.prefix for e in rows if e.blocked}
    assert {"3fff::/20", "5f00::/16", "100:0:0:1::/64", "192.88.99.2/32"} <= blocked
    # the most specific row decides: PCP anycast is global inside IETF protocol assignments
    pcp = special_purpose.entry_for(ipaddress.ip_address("2001:1::1"))
    assert pcp is not None and pcp.reachable is True
    assert special_purpose.entry_for(ipaddress.ip_address("8.8.8.8")) is None


def test_beyond_the_registry_site_local_and_all_of_192_0_0_0_24_are_refused() -> None:
    assert refusal(ipaddress.ip_address("fec0::1")) == "site-local"
    assert refusal(ipaddress.ip_address("3fff::1")) == "documentation"
    # the registry calls PCP anycast global; 192.0.0.0/24 is refused whole (metadata lives there)
    assert refusal(ipaddress.ip_address("192.0.0.9")) == "reserved"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_is_refused_on_its_resolved_address(payload: str) -> None:
    backend = GuardedBackend(EgressPolicy())
    with pytest.raises(DestinationBlocked) as caught:
        backend.connect_tcp(payload, 443, timeout=1)
    assert "GATEKEY_EGRESS_ALLOW" in caught.value.message
    assert caught.value.details == {"host": payload}


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    assert EgressPolicy().refusal("example.com", 443, ipaddress.ip_address(address)) is None


def test_the_allowlist_by_network_address_host_and_port() -> None:
    loop = ipaddress.ip_address("127.0.0.1")
    private = ipaddress.ip_address("10.1.2.3")
    assert EgressPolicy(["127.0.0.1"]).refusal("x", 80, loop) is None
    assert EgressPolicy(["10.0.0.0/8"]).refusal("crm.lan", 80, private) is None
    assert EgressPolicy(["10.0.0.0/8:8443"]).refusal("crm.lan", 80, private) == "private"
    assert EgressPolicy(["10.0.0.0/8:8443"]).refusal("crm.lan", 8443, private) is None
    assert EgressPolicy(["crm.lan"]).refusal("CRM.lan.", 80, private) is None
    assert EgressPolicy(["*.corp.example"]).refusal("a.corp.example", 80, private) is None
    assert EgressPolicy(["*.corp.example"]).refusal("corp.example", 80, private) == "private"
    assert EgressPolicy(["[::1]:8040"]).refusal("x", 8040, ipaddress.ip_address("::1")) is None
    assert EgressPolicy(["crm.lan"]).refusal("evil.lan", 80, private) == "private"
    for bad in ("http://x", "10.0.0.0/8:port", "a b", "x:70000"):
        with pytest.raises(ValueError, match="egress allowlist entry"):
            EgressPolicy([bad])


def test_a_bad_allowlist_stops_start_up(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, egress_allow="10.0.0.0/8,nope!")
    with pytest.raises(InvalidInput, match="GATEKEY_EGRESS_ALLOW"):
        open_runtime(settings)


class _Hello(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        _Hello.seen.append(f"{self.headers['Host']}{self.path}")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def loopback() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hello.seen = []
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _get(policy: EgressPolicy, url: str, **kwargs: object) -> httpx2.Response:
    with httpx2.Client(transport=GuardedTransport(policy, **kwargs)) as client:  # type: ignore[arg-type]
        return client.get(url)


def test_the_transport_refuses_unless_allowed(loopback: int) -> None:
    with pytest.raises(DestinationBlocked):
        _get(EgressPolicy(), f"http://127.0.0.1:{loopback}/")
    with pytest.raises(DestinationBlocked):
        _get(EgressPolicy(["127.0.0.1:1"]), f"http://127.0.0.1:{loopback}/")
    with pytest.raises(DestinationBlocked):
        _get(EgressPolicy(), f"http://localhost:{loopback}/")
    assert _Hello.seen == []
    assert _get(EgressPolicy(["127.0.0.1"]), f"http://127.0.0.1:{loopback}/").text == "ok"


def test_it_connects_to_the_address_it_checked(loopback: int) -> None:
    """A name is resolved once; the socket goes to the checked address (no second lookup for a
    rebinding DNS server to answer differently)."""
    answers = iter([[ipaddress.ip_address("127.0.0.1")]])

    def once(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return next(answers)

    allowed = EgressPolicy(["crm.test"])
    response = _get(allowed, f"http://crm.test:{loopback}/x", resolver=once)
    assert response.text == "ok" and _Hello.seen == [f"crm.test:{loopback}/x"]
    with pytest.raises(DestinationBlocked):
        _get(
            EgressPolicy(),
            f"http://rebind.test:{loopback}/",
            resolver=lambda host, port: [ipaddress.ip_address("127.0.0.1")],
        )
    assert len(_Hello.seen) == 1


def test_redirects_are_not_followed(loopback: int) -> None:
    response = _get(EgressPolicy(["127.0.0.1"]), f"http://127.0.0.1:{loopback}/redirect")
    assert response.status_code == 302
    assert _Hello.seen == [f"127.0.0.1:{loopback}/redirect"]


def test_resolve_lists_each_address_once() -> None:
    assert resolve("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]


@pytest.fixture
def guarded(tmp_path: Path, database_url: str) -> Iterator[tuple[Service, Actor]]:
    """A runtime with the real transport and no allowlist, as a default install has."""
    runtime = open_runtime(
        Settings(
            home=tmp_path / "home",
            database_url=database_url,
            master_keys=MASTER_KEY,
            egress_allow="",
        )
    )
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


AUTH_SERVER = "https://auth.example.com/token"


def _internal_app(base_url: str, token_url: str = AUTH_SERVER) -> dict[str, Any]:
    return {
        "key": "internal",
        "name": "Internal",
        "docs_url": "https://docs.example.com",
        "base_url": base_url,
        "auth": [
            {
                "kind": "api_key",
                "fields": {
                    "required": ["api_key"],
                    "properties": {"api_key": {"title": "Key", "secret": True}},
                },
                "apply": [{"type": "bearer", "value": "{api_key}"}],
                "test_request": {"path": "/me"},
            },
            {
                "kind": "oauth2_client_credentials",
                "fields": {
                    "required": ["client_id", "client_secret"],
                    "properties": {
                        "client_id": {"title": "Client ID"},
                        "client_secret": {"title": "Client secret", "secret": True},
                    },
                },
                "oauth2": {"token_url": token_url},
            },
        ],
    }


def test_user_influenced_urls_cannot_reach_inside(
    guarded: tuple[Service, Actor], loopback: int
) -> None:
    service, actor = guarded
    service.apps.add(actor, _internal_app(f"http://127.0.0.1:{loopback}"))

    with pytest.raises(DestinationBlocked):
        service.connections.create(actor, app="internal", name="I", fields={"api_key": "k"})
    assert service.connections.list(actor).items == []

    stored = service.connections.create(
        actor, app="internal", name="I", fields={"api_key": "k"}, validate=False
    )
    with pytest.raises(DestinationBlocked):
        service.proxy.send(actor, stored.id, "GET", "/latest/meta-data")
    assert _Hello.seen == []


def test_a_token_url_pointing_at_metadata_is_refused(
    guarded: tuple[Service, Actor],
) -> None:
    service, actor = guarded
    service.apps.add(
        actor,
        _internal_app("https://api.example.com", token_url="http://169.254.169.254/token"),
    )
    with pytest.raises(DestinationBlocked):
        service.connections.create(
            actor,
            app="internal",
            name="I",
            auth_kind="oauth2_client_credentials",
            fields={"client_id": "a", "client_secret": "b"},
        )
    assert service.connections.list(actor).items == []


UNUSABLE = [
    "http://0177.0.0.1/x",
    "http://[::1",
    "http://[::1]x/",
    "http://a b/",
    "http://%zz/",
    "http://x.test:99999/",
    "http://x.test:0/",
    "http://\x01.test/",
    "http:///x",
    "ftp://x.test/",
    "file:///etc/passwd",
    "/relative",
]


@pytest.mark.parametrize("url", UNUSABLE)
def test_a_url_the_client_cannot_send_is_invalid_input_never_an_httpx_error(
    url: str, loopback: int
) -> None:
    with pytest.raises(InvalidInput) as parsed:
        destination(url)
    assert parsed.value.code == "invalid_input" and url not in parsed.value.message
    with GuardedClient(transport=GuardedTransport(EgressPolicy(["127.0.0.1"]))) as client:
        with pytest.raises(InvalidInput) as sent:
            client.post(url, content=b"x")
        assert sent.value.code == "invalid_input"
        with pytest.raises(InvalidInput):
            preflight(client, url)
    assert _Hello.seen == []


def test_preflight_applies_the_policy_to_the_resolved_host(loopback: int) -> None:
    client = GuardedClient(transport=GuardedTransport(EgressPolicy(["127.0.0.1"])))
    with client:
        assert str(preflight(client, f"http://127.0.0.1:{loopback}/x")).endswith("/x")
        for blocked in ("http://169.254.169.254/", "http://[fec0::1]/", "http://[3fff::1]/"):
            with pytest.raises(DestinationBlocked):
                preflight(client, blocked)
        assert str(preflight(client, "https://not-registered-yet.invalid/")).startswith("https")
    plain = httpx2.Client()  # an injected transport owns its egress: the parse only
    with plain:
        assert preflight(plain, "http://169.254.169.254/").host == "169.254.169.254"
        with pytest.raises(InvalidInput):
            preflight(plain, "http://0177.0.0.1/")
    assert _Hello.seen == []
