"""The HTTP clients that present a connection's client certificate (mutual TLS) to its app:
one per certificate, each connecting through the egress guard like the shared client, kept
for reuse (the TLS context and the connection pool are what make the second call cheap).

``client_for(None)`` is the shared client. A certificate's client is keyed by a SHA-256 of
the certificate and key (never the texts themselves); the least recently used is closed when
more than ``size`` are kept.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable

import httpx2

from gatekey.signers import tls
from gatekey.signing import ClientTls

#: Builds a client like the shared one whose TLS connections use this context.
ClientFactory = Callable[[ssl.SSLContext], httpx2.Client]


class CertificateClients:
    """The shared client, and a kept client per client certificate made by ``factory``."""

    def __init__(
        self, shared: httpx2.Client, factory: ClientFactory | None, *, size: int = 32
    ) -> None:
        self._shared = shared
        self._factory = factory
        self._size = size
        self._kept: OrderedDict[str, httpx2.Client] = OrderedDict()
        self._lock = threading.Lock()

    def client_for(self, identity: ClientTls | None) -> httpx2.Client:
        if identity is None:
            return self._shared
        if self._factory is None:
            raise RuntimeError("this runtime's transport cannot present client certificates")
        digest = hashlib.sha256(
            f"{identity.certificate}\0{identity.private_key}".encode()
        ).hexdigest()
        with self._lock:
            kept = self._kept.get(digest)
            if kept is not None:
                self._kept.move_to_end(digest)
                return kept
        made = self._factory(tls.context(identity))
        with self._lock:
            kept = self._kept.setdefault(digest, made)
            self._kept.move_to_end(digest)
            evicted = [
                self._kept.popitem(last=False)[1] for _ in range(len(self._kept) - self._size)
            ]
        for client in [*evicted, *([made] if kept is not made else [])]:
            client.close()
        return kept

    def close(self) -> None:
        with self._lock:
            kept, self._kept = list(self._kept.values()), OrderedDict()
        for client in kept:
            client.close()
