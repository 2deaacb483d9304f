"""A TCP peer on 127.0.0.1 that accepts connections and never answers (a stalled Redis), or,
once told, relays them to a real server; it counts the connections it was asked for."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class StallingPeer:
    """``with StallingPeer() as peer``: ``peer.url`` for clients, ``peer.connections()``."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.forward_to: tuple[str, int] | None = None
        self._peers: list[tuple[str, int]] = []
        self._held: list[socket.socket] = []
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> StallingPeer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        self._listener.close()
        for held in self._held:
            held.close()
        self._thread.join(timeout=10)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._seen:
                self._peers.append(sock.getpeername())
                self._seen.notify_all()
            if self.forward_to is None:
                self._held.append(sock)  # read nothing, answer nothing
            else:
                _relay(sock, self.forward_to)

    def connections(self) -> int:
        """Connections clients made so far (ours excluded), once every one was accepted.

        The kernel hands connections to ``accept`` in order: when a marker connection made now
        has been accepted, so has every earlier one. No sleeping, no timing.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as marker:
            address = marker.getsockname()
            with self._seen:
                if not self._seen.wait_for(lambda: address in self._peers, timeout=10):
                    raise TimeoutError("the stalling peer stopped accepting")
                self._peers.remove(address)
                return len(self._peers)


def _relay(client: socket.socket, target: tuple[str, int]) -> None:
    upstream = socket.create_connection(target, timeout=10)

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            source.close()
            sink.close()

    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
