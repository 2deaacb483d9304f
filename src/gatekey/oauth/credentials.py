"""An OAuth client's credentials as a token request uses them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth client's id and secret (for ``private_key_jwt``, the secret is its PEM private
    key and ``certificate`` the PEM certificate of that key); ``repr`` shows the id only."""

    client_id: str
    client_secret: str = field(repr=False)
    certificate: str | None = field(default=None, repr=False)
