"""What a request-signing kind hands an execution: the values it signs each request with.

OAuth 1.0a (RFC 5849) and AWS Signature Version 4 cannot be applied once as a header: every
request is signed over its method, URL, and (SigV4) body. Resolution hands out one of these
instead of a token; ``gatekey.signers`` turns it into an ``httpx`` or ``requests`` auth object,
and the proxy signs with the same code. For an AssumeRole connection only the temporary
credentials are here, never the keys Gatekey called STS with. ``repr`` hides every secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Signing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={getattr(self, 'kind', '?')!r})"

    __str__ = __repr__


class OAuth1Signing(_Signing):
    """Sign with OAuth 1.0a: consumer and token credentials, the method, the realm."""

    kind: Literal["oauth1"] = "oauth1"
    consumer_key: str
    consumer_secret: str = Field(default="", description="empty for RSA-SHA1")
    token: str
    token_secret: str
    signature_method: Literal["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1"] = "HMAC-SHA1"
    rsa_key: str | None = Field(default=None, description="RSA-SHA1: the PEM private key")
    realm: str | None = None


class AwsSigning(_Signing):
    """Sign with AWS SigV4 for one service and region."""

    kind: Literal["aws_sigv4"] = "aws_sigv4"
    access_key_id: str
    secret_access_key: str
    session_token: str | None = Field(default=None, description="temporary credentials")
    service: str
    region: str
    unsigned_payload: bool = Field(default=False, description="S3: `UNSIGNED-PAYLOAD`")
    expires_at: datetime | None = Field(
        default=None, description="when temporary credentials expire"
    )


Signing = Annotated[OAuth1Signing | AwsSigning, Field(discriminator="kind")]


class ClientTls(BaseModel):
    """A client certificate to present on TLS connections to the app (mutual TLS): the PEM
    certificate (chain) and its PEM private key. ``repr`` shows neither."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate: str
    private_key: str

    def __repr__(self) -> str:
        return "ClientTls(certificate=..., private_key=...)"

    __str__ = __repr__


def signing_from(values: dict[str, Any]) -> OAuth1Signing | AwsSigning:
    """The ``Signing`` of ``domain.signing.signing_of``'s values."""
    if values["kind"] == "oauth1":
        return OAuth1Signing.model_validate(values)
    return AwsSigning.model_validate(values)
