"""A JSON Web Token (RFC 7519) Gatekey signs with a connection's key, as data.

Three recipes sign one: ``signed_jwt`` hands it out as the token itself (Snowflake key-pair
auth, Apple App Store Connect, Ghost Admin), ``jwt_bearer`` trades it for an access token
(RFC 7523 section 2.1: Google service accounts, Salesforce, ServiceNow) and ``github_app``
authenticates as the app with it. ``private_key_jwt`` client authentication (RFC 7523 section
2.2) signs one per token request from the OAuth client's key.

Claims and headers are ``{placeholder}`` templates over the connection's fields and config,
plus what Gatekey computes: ``{scopes}`` (the requested scopes, joined by the method's
separator), ``{key_fingerprint}`` (``SHA256:`` and the base64 SHA-256 of the public key's DER
form: Snowflake's issuer) and ``{certificate_thumbprint}`` (base64url SHA-256 of the
certificate: ``x5t#S256``). A claim whose placeholders have no value is left out (``sub``
without a delegated user). ``iat``, ``exp`` and, when asked, ``jti`` are set at signing time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gatekey.catalog.minted import Minted
from gatekey.catalog.text import PlainText

JwtAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
]  # fmt: skip
#: Names Gatekey fills in claim and header templates besides the connection's own values.
COMPUTED = frozenset({"scopes", "key_fingerprint", "certificate_thumbprint"})
#: Claims set at signing time, never from a template.
TIMED = frozenset({"iat", "exp", "nbf", "jti"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def key_type(algorithm: str) -> Literal["rsa", "ec", "okp", "secret"]:
    """What kind of key an algorithm signs with."""
    if algorithm.startswith(("RS", "PS")):
        return "rsa"
    if algorithm.startswith("ES"):
        return "ec"
    if algorithm == "EdDSA":
        return "okp"
    return "secret"


class JwtSpec(_Strict):
    """How to sign the JWT: algorithm, the field holding the key, headers and claims."""

    algorithm: JwtAlgorithm
    key: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the field (or a value unpacked from a JSON key file) holding the key: a "
        "PEM private key, or for HS* the shared secret",
    )
    key_encoding: Literal["pem", "text", "hex", "base64"] = Field(
        default="pem",
        description="how the key is written: PEM for RS/PS/ES/EdDSA; for HS* the secret as "
        "text, hex (Ghost Admin keys) or base64",
    )
    headers: dict[str, PlainText] = Field(
        default_factory=dict, description="extra JOSE header templates (`kid: '{key_id}'`)"
    )
    claims: dict[str, PlainText] = Field(default_factory=dict)
    lifetime_seconds: int = Field(
        default=3600,
        ge=30,
        le=86400,
        description="`exp` is this long after `iat` (Apple App Store Connect: at most 1200)",
    )
    issued_at_leeway_seconds: int = Field(
        default=0,
        ge=0,
        le=300,
        description="`iat` is set this far in the past against clock drift (GitHub: 60)",
    )
    jti: bool = Field(default=False, description="a fresh random `jti` claim per JWT")
    uppercase: list[str] = Field(
        default_factory=list,
        description="values upper-cased before they fill a template (Snowflake's account and "
        "user in the issuer)",
    )
    certificate: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the field holding the PEM certificate of the key, for `x5t#S256` "
        "(Microsoft certificate credentials)",
    )
    key_passphrase: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the field (or unpacked value) holding the passphrase of an encrypted PEM "
        "key (Box's app config file)",
    )

    @field_validator("headers")
    @classmethod
    def _headers_not_reserved(cls, headers: dict[str, str]) -> dict[str, str]:
        reserved = sorted(set(headers) & {"alg", "crit", "jku", "jwk", "x5u"})
        if reserved:
            raise ValueError(f"headers: {reserved} are set by Gatekey or not allowed")
        return headers

    @field_validator("claims")
    @classmethod
    def _claims_not_timed(cls, claims: dict[str, str]) -> dict[str, str]:
        timed = sorted(set(claims) & TIMED)
        if timed:
            raise ValueError(f"claims: {timed} are set when the JWT is signed")
        return claims

    @model_validator(mode="after")
    def _encoding_fits(self) -> JwtSpec:
        secret_key = key_type(self.algorithm) == "secret"
        if secret_key == (self.key_encoding == "pem"):
            raise ValueError(
                f"key_encoding {self.key_encoding!r} does not fit {self.algorithm}: PEM for "
                "RS/PS/ES/EdDSA keys, text, hex or base64 for HS* secrets"
            )
        if self.certificate is not None and secret_key:
            raise ValueError("certificate: an HS* secret has no certificate")
        if self.key_passphrase is not None and secret_key:
            raise ValueError("key_passphrase: an HS* secret has no passphrase")
        return self

    def templates(self) -> list[str]:
        return [*self.headers.values(), *self.claims.values()]

    def names(self) -> set[str]:
        """The value names this spec reads besides its templates."""
        optional = [name for name in (self.certificate, self.key_passphrase) if name]
        return {self.key, *self.uppercase, *optional}


class SignedJwt(Minted):
    """``signed_jwt``: a JWT signed with the connection's key is the token itself."""

    jwt: JwtSpec


class BearerAssertion(JwtSpec):
    """A ``jwt_bearer`` recipe's assertion (RFC 7523 section 2.1), and how to name the account
    it acts as: its token answer says nothing of who it is."""

    account_label: PlainText | None = Field(
        default=None,
        description="a template naming the account from the connection's values "
        "(`{client_email} as {subject}`), used when no test request names it",
    )
