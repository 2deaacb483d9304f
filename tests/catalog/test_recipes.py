"""The recipe sections of the schema (issue 18): each kind takes its own section and only
it, names only fields it has, and says where its token goes; refusals name what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gatekey.catalog.schema import App, AuthKind

KEY = {"type": "string", "title": "Private key", "secret": True, "format": "private_key"}


def _app(method: dict[str, Any]) -> App:
    return App.model_validate(
        {
            "key": "recipe",
            "name": "Recipe",
            "docs_url": "https://docs.example.test",
            "base_url": "https://api.example.test",
            "auth": [method],
        }
    )


SIGNED_JWT = {
    "kind": "signed_jwt",
    "fields": {"properties": {"private_key": KEY, "key_id": {"title": "Key id"}}},
    "signed_jwt": {
        "jwt": {
            "algorithm": "ES256",
            "key": "private_key",
            "headers": {"kid": "{key_id}"},
            "claims": {"aud": "appstoreconnect-v1"},
            "lifetime_seconds": 1200,
        }
    },
    "apply": [{"type": "bearer", "value": "{access_token}"}],
}


def test_each_recipe_kind_validates_with_its_section() -> None:
    methods = [
        SIGNED_JWT,
        {
            "kind": "jwt_bearer",
            "fields": {"properties": {"private_key": KEY, "issuer": {"title": "Client id"}}},
            "oauth2": {"token_url": "https://login.example.test/token"},
            "assertion": {
                "algorithm": "RS256",
                "key": "private_key",
                "claims": {"iss": "{issuer}", "aud": "https://login.example.test"},
            },
        },
        {
            "kind": "aws_sigv4",
            "fields": {
                "properties": {
                    "access_key_id": {"title": "Access key id"},
                    "secret_access_key": {"title": "Secret", "secret": True},
                }
            },
            "config": {
                "properties": {
                    "region": {"title": "Region"},
                    "role_arn": {"title": "Role"},
                    "external_id": {"title": "External id"},
                }
            },
            "aws": {"service": "s3", "assume_role": {}},
        },
        {
            "kind": "oauth1",
            "oauth1": {
                "request_token_url": "https://x.test/request",
                "authorization_url": "https://x.test/authorize",
                "access_token_url": "https://x.test/access",
            },
        },
        {
            "kind": "two_step",
            "fields": {"properties": {"password": {"title": "Password", "secret": True}}},
            "two_step": {"token_url": "https://x.test/login", "params": {"p": "{password}"}},
            "apply": [{"type": "bearer", "value": "{access_token}"}],
        },
    ]
    kinds = [_app(m).auth[0].kind for m in methods]
    assert kinds == ["signed_jwt", "jwt_bearer", "aws_sigv4", "oauth1", "two_step"]
    assert _app(methods[0]).auth[0].lifecycle is not None
    assert _app(methods[3]).auth[0].lifecycle is None  # OAuth 1.0a tokens do not expire


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"kind": "api_key"}, "auth kind api_key takes no signed_jwt section"),
        ({"signed_jwt": None}, "needs a signed_jwt section"),
        ({"apply": []}, "must say how its token is applied"),
        (
            {"signed_jwt": {"jwt": {"algorithm": "ES256", "key": "nope"}}},
            "names unknown fields ['nope']",
        ),
        (
            {"signed_jwt": {"jwt": {"algorithm": "HS256", "key": "private_key"}}},
            "key_encoding 'pem' does not fit HS256",
        ),
        (
            {
                "signed_jwt": {
                    "jwt": {"algorithm": "ES256", "key": "private_key", "claims": {"exp": "1"}}
                }
            },
            "set when the JWT is signed",
        ),
    ],
)
def test_a_recipe_that_does_not_hold_together_is_refused(change: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError, match=said.replace("[", r"\[").replace("]", r"\]")):
        _app({**SIGNED_JWT, **change})


def test_private_key_jwt_needs_its_assertion_and_its_key_field() -> None:
    method = {
        "kind": "oauth2_client_credentials",
        "fields": {"properties": {"client_id": {"title": "Client id"}, "private_key": KEY}},
        "oauth2": {
            "token_url": "https://login.test/token",
            "client_auth_method": "private_key_jwt",
        },
    }
    with pytest.raises(ValidationError, match="private_key_jwt and client_assertion go together"):
        _app(method)
    spec = {**method["oauth2"], "client_assertion": {"certificate": "certificate"}}  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match=r"unknown fields \['certificate'\]"):
        _app({**method, "oauth2": spec})


def test_values_unpacked_from_a_json_key_file_are_known_and_secret() -> None:
    method = {
        "kind": "jwt_bearer",
        "fields": {
            "properties": {
                "service_account_key": {
                    "title": "Service account key (JSON)",
                    "secret": True,
                    "format": "json",
                    "json_values": {"client_email": "client_email", "private_key": "private_key"},
                },
                "subject": {"title": "Act as"},
            }
        },
        "oauth2": {"token_url": "https://oauth2.googleapis.com/token"},
        "assertion": {
            "algorithm": "RS256",
            "key": "private_key",
            "claims": {"iss": "{client_email}", "sub": "{subject}", "scope": "{scopes}"},
        },
    }
    found = _app(method).auth[0]
    assert found.kind is AuthKind.JWT_BEARER
    assert {"client_email", "private_key"} <= found.fields.secret_names
