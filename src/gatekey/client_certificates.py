"""What presents a connection's client certificate (mutual TLS) to its app: an HTTP client for
API calls (``Prober``), a transport for token requests (``ProviderClient``, RFC 8705). One is
made per certificate, connecting through the egress guard like the shared one, and kept for
reuse (the TLS context and the connection pool are what make the second call cheap).

``get(None)`` is the shared one. A certificate's is keyed by a SHA-256 of the certificate and
key (never the texts themselves); the least recently used is closed when more than ``size``
are kept.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import httpx2

from gatekey.signers import tls
from gatekey.signing import ClientTls


class _Closable(Protocol):
    def close(self) -> None: ...


Kept = TypeVar("Kept", bound=_Closable)

#: Builds a client like the shared one whose TLS connections use this context.
ClientFactory = Callable[[ssl.SSLContext], httpx2.Client]
#: Builds a transport like the shared one whose TLS connections use this context.
TransportFactory = Callable[[ssl.SSLContext], httpx2.BaseTransport]


class PerCertificate(Generic[Kept]):
    """The shared client or transport, and one kept per client certificate, made by
    ``factory``."""

    def __init__(
        self,
        shared: Kept,
        factory: Callable[[ssl.SSLContext], Kept] | None,
        *,
        size: int = 32,
    ) -> None:
        self._shared = shared
        self._factory = factory
        self._size = size
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identity: ClientTls | None) -> Kept:
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
        for closing in [*evicted, *([made] if kept is not made else [])]:
            closing.close()
        return kept

    def close(self) -> None:
        """Close what is kept per certificate (the shared one is its owner's to close)."""
        with self._lock:
            kept, self._kept = list(self._kept.values()), OrderedDict()
        for closing in kept:
            closing.close()
