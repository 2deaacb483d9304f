"""The ``signed_jwt`` minter: a JWT signed with the connection's key is the token itself
(Snowflake key-pair auth, Apple App Store Connect, Ghost Admin).

Nothing is sent anywhere: the JWT is signed locally (``oauth.jwts``) and lasts the spec's
``lifetime_seconds``, so the refresher signs a fresh one before it runs out, once across
processes, like any other token. A key that is not one, or does not fit the algorithm, is
``InvalidFields`` naming the field the person filled (the key file, not the value inside it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gatekey.oauth.jwts import sign
from gatekey.oauth.minting import Mint
from gatekey.oauth.token_answers import TokenResponse


class SignedJwtMinter:
    """Signs the recipe's JWT at ``clock()``."""

    def __init__(self, *, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def mint(self, request: Mint) -> TokenResponse:
        recipe = request.method.signed_jwt
        assert recipe is not None  # the schema requires the section for this kind
        now = self._clock()
        token = sign(
            recipe.jwt,
            request.values(),
            now=now,
            scopes=request.scopes,
            field_of=request.field_of(),
        )
        return TokenResponse(
            body={"access_token": token, "expires_in": recipe.jwt.lifetime_seconds},
            sent_at=now,
        )
