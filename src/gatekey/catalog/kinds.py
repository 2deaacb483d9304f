"""The auth kinds an app's method may be, the recipe section each needs, and the groups the
engine acts on (connected through a consent screen, signed per request, minted unattended)."""

from __future__ import annotations

from enum import StrEnum


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    API_KEY = "api_key"
    BASIC = "basic"
    CUSTOM = "custom"
    NONE = "none"
    OAUTH1 = "oauth1"
    JWT_BEARER = "jwt_bearer"
    SIGNED_JWT = "signed_jwt"
    GITHUB_APP = "github_app"
    AWS_SIGV4 = "aws_sigv4"
    TWO_STEP = "two_step"


#: The section each recipe kind needs besides ``fields`` (``oauth2`` kinds: ``oauth2``).
SECTION = {
    AuthKind.OAUTH2: "oauth2",
    AuthKind.OAUTH2_CLIENT_CREDENTIALS: "oauth2",
    AuthKind.OAUTH1: "oauth1",
    AuthKind.JWT_BEARER: "assertion",
    AuthKind.SIGNED_JWT: "signed_jwt",
    AuthKind.GITHUB_APP: "github_app",
    AuthKind.AWS_SIGV4: "aws",
    AuthKind.TWO_STEP: "two_step",
}
#: Kinds whose method holds an ``oauth2`` section (its token endpoint and scopes).
OAUTH2_SECTION_KINDS = frozenset(
    {AuthKind.OAUTH2, AuthKind.OAUTH2_CLIENT_CREDENTIALS, AuthKind.JWT_BEARER}
)
#: Kinds whose connections are made through a consent or install screen in the popup.
CONSENT = frozenset({AuthKind.OAUTH2, AuthKind.GITHUB_APP})
#: Kinds whose every request is signed (by the proxy, or by the SDK's signers).
SIGNED = frozenset({AuthKind.OAUTH1, AuthKind.AWS_SIGV4})
#: Kinds whose token Gatekey obtains unattended and renews before it expires.
MINTED = frozenset(
    {
        AuthKind.OAUTH2_CLIENT_CREDENTIALS,
        AuthKind.JWT_BEARER,
        AuthKind.SIGNED_JWT,
        AuthKind.GITHUB_APP,
        AuthKind.AWS_SIGV4,
        AuthKind.TWO_STEP,
    }
)
