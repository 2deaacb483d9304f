"""OAuth 1.0a (RFC 5849) as data: three-legged consent (Trello, X) or tokens made in the
provider's console (NetSuite token-based authentication); every request signed.

Three-legged: the project's OAuth client holds the consumer key and secret (for RSA-SHA1 the
secret is the PEM private key); Gatekey asks ``request_token_url`` for a temporary credential
with its callback, sends the person to ``authorization_url`` in the same popup as OAuth2, and
trades the verifier at ``access_token_url`` for the token and token secret it seals.

``flow: token``: the person pastes all four values; ``fields`` names which field is which.
Either way the proxy and the SDK signers sign each request (Authlib's ``OAuth1Auth``), with
``realm`` when the recipe gives one (NetSuite: the account id).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gatekey.catalog.text import Params, PlainText

SignatureMethod = Literal["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenFields(_Strict):
    """Which of the method's fields hold the four values (``flow: token``)."""

    consumer_key: str = "consumer_key"
    consumer_secret: str = "consumer_secret"  # noqa: S105 (a field's name)
    token: str = "token"  # noqa: S105
    token_secret: str = "token_secret"  # noqa: S105

    def names(self) -> list[str]:
        return [self.consumer_key, self.consumer_secret, self.token, self.token_secret]


class OAuth1Spec(_Strict):
    """How to obtain OAuth 1.0a tokens and sign requests with them."""

    flow: Literal["three_legged", "token"] = "three_legged"
    request_token_url: PlainText | None = None
    authorization_url: PlainText | None = None
    access_token_url: PlainText | None = None
    signature_method: SignatureMethod = "HMAC-SHA1"
    realm: PlainText | None = Field(
        default=None, description="the `realm` of the Authorization header (NetSuite: account)"
    )
    fields: TokenFields = Field(default_factory=TokenFields)
    extra_authorize_params: Params = Field(
        default_factory=dict, description="Trello: `name`, `scope`, `expiration`"
    )
    callback_config: list[str] = Field(
        default_factory=list, description="access-token answer values kept as config"
    )
    token_response_config: list[str] = Field(
        default_factory=list,
        description="access-token response values kept as config (X: `screen_name`, `user_id`)",
    )
    account_label: list[str] = Field(
        default_factory=list, description="access-token response values naming the account"
    )
    expired_token_status: list[int] = Field(default_factory=lambda: [401])

    @model_validator(mode="after")
    def _complete(self) -> OAuth1Spec:
        urls = (self.request_token_url, self.authorization_url, self.access_token_url)
        if self.flow == "three_legged" and not all(urls):
            raise ValueError(
                "three_legged needs request_token_url, authorization_url and access_token_url"
            )
        if self.flow == "token" and any(urls):
            raise ValueError("flow token: the person pastes the tokens, no URLs to give")
        if self.signature_method == "PLAINTEXT":
            raise ValueError("PLAINTEXT sends the secrets in clear; Gatekey does not sign so")
        return self

    def templates(self) -> list[str]:
        return [
            u
            for u in (
                self.request_token_url,
                self.authorization_url,
                self.access_token_url,
                self.realm,
            )
            if u
        ]
