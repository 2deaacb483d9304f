"""What a request-signing connection hands out to sign with (``gatekey.signing``). Pure.

OAuth 1.0a: the consumer and token credentials (three-legged connections keep the consumer's
with the token when they are made), the signature method and the realm. AWS SigV4: the
temporary credentials of an AssumeRole connection, or the access keys of one without a role,
and the service and region filled in from the connection's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gatekey.catalog.schema import AuthKind, AuthMethod
from gatekey.domain.templates import render

#: Where an AssumeRole connection keeps its temporary credentials in its secret.
TEMPORARY = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def signing_of(
    method: AuthMethod,
    secret: Mapping[str, Any],
    values: Mapping[str, str],
    expires_at: datetime | None,
) -> dict[str, Any] | None:
    """The ``Signing`` values for a connection of a signing kind, or None for other kinds.

    ``values`` are the connection's template values (``domain.apply.template_values``).
    """
    if method.kind is AuthKind.OAUTH1 and method.oauth1 is not None:
        spec = method.oauth1
        names = spec.fields
        rsa = spec.signature_method == "RSA-SHA1"
        consumer_secret = str(secret.get(names.consumer_secret, ""))
        return {
            "kind": "oauth1",
            "consumer_key": str(secret.get(names.consumer_key) or values.get(names.consumer_key)),
            "consumer_secret": "" if rsa else consumer_secret,
            "token": str(secret.get(names.token) or values.get(names.token, "")),
            "token_secret": str(secret.get(names.token_secret, "")),
            "signature_method": spec.signature_method,
            "rsa_key": consumer_secret if rsa else None,
            "realm": render(spec.realm, values) if spec.realm else None,
        }
    if method.kind is AuthKind.AWS_SIGV4 and method.aws is not None:
        spec_aws = method.aws
        temporary = all(secret.get(name) for name in TEMPORARY)
        if temporary:
            key_id, key, token = (str(secret[name]) for name in TEMPORARY)
        else:
            key_id = str(secret.get(spec_aws.access_key_id) or values[spec_aws.access_key_id])
            key, token = str(secret[spec_aws.secret_access_key]), None
        return {
            "kind": "aws_sigv4",
            "access_key_id": key_id,
            "secret_access_key": key,
            "session_token": token,
            "service": render(spec_aws.service, values),
            "region": render(spec_aws.region, values),
            "unsigned_payload": spec_aws.unsigned_payload,
            "expires_at": expires_at if temporary else None,
        }
    return None


def client_tls_of(
    method: AuthMethod, secret: Mapping[str, Any], *, token_requests: bool = False
) -> tuple[str, str] | None:
    """The client certificate and key to present on API calls (mutual TLS), or with
    ``token_requests`` on token requests (RFC 8705): the method's ``client_certificate``
    fields, when it has them, presents them there, and they are filled."""
    spec = method.client_certificate
    if spec is None or not (spec.token_requests if token_requests else spec.api_calls):
        return None
    certificate, key = secret.get(spec.certificate), secret.get(spec.private_key)
    if not certificate or not key:
        return None
    return str(certificate), str(key)
