"""JSON Web Tokens Gatekey signs from a recipe's ``JwtSpec`` (``catalog.jwt``), with joserfc.

One function, ``sign``, serves every recipe that signs one: ``signed_jwt`` (the JWT is the
token), ``jwt_bearer`` (the RFC 7523 assertion), ``github_app`` (the app's JWT) and
``private_key_jwt`` client authentication. Keys are read and checked with ``domain.keys``
(``cryptography``); a key that is not one, or of the wrong type or curve for the algorithm,
is ``InvalidFields`` naming the field and never any part of the key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from gatekey.catalog.jwt import JwtSpec, key_type
from gatekey.domain import keys
from gatekey.domain.templates import can_render, render
from gatekey.errors import InvalidFields

AnyKey = RSAKey | ECKey | OKPKey | OctKey


def sign(
    spec: JwtSpec,
    values: Mapping[str, str],
    *,
    now: datetime,
    scopes: Sequence[str] = (),
    scope_separator: str = " ",
    field_of: Mapping[str, str] | None = None,
) -> str:
    """Sign the JWT ``spec`` describes over ``values`` (the connection's template values).

    ``iat`` is ``now`` less the spec's leeway, ``exp`` is ``now`` plus its lifetime; a header
    or claim whose placeholders have no value is left out. ``field_of`` maps a value name to
    the field it came from (a key unpacked from a service-account file), for error messages.
    """
    name = spec.key
    field = (field_of or {}).get(name, name)
    material = values.get(name)
    if not material:
        raise InvalidFields(
            f"{field} is required to sign the JWT",
            errors=[{"field": field, "message": "is required"}],
        )
    passphrase = values.get(spec.key_passphrase) if spec.key_passphrase else None
    key, computed = _key(spec, material, field, passphrase or None)
    if spec.certificate is not None and values.get(spec.certificate):
        cert_field = (field_of or {}).get(spec.certificate, spec.certificate)
        try:
            cert = keys.certificate(values[spec.certificate])
        except keys.KeyProblem as exc:
            raise _unfit(cert_field, str(exc)) from None
        computed["certificate_thumbprint"] = keys.thumbprint_s256(cert)
    filled = {
        **{k: (v.upper() if k in spec.uppercase else v) for k, v in values.items()},
        **computed,
    }
    if scopes:
        filled["scopes"] = scope_separator.join(scopes)
    header: dict[str, object] = {"alg": spec.algorithm, "typ": "JWT"}
    header.update(_rendered(spec.headers, filled))
    issued = now - timedelta(seconds=spec.issued_at_leeway_seconds)
    claims: dict[str, object] = dict(_rendered(spec.claims, filled))
    claims["iat"] = int(issued.timestamp())
    claims["exp"] = int((now + timedelta(seconds=spec.lifetime_seconds)).timestamp())
    if spec.jti:
        claims["jti"] = secrets.token_urlsafe(18)
    with warnings.catch_warnings():
        # joserfc warns that RFC 9864 deprecates "EdDSA" for "Ed25519"; the providers that
        # take Ed25519 keys still ask for "EdDSA" in the header.
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(header, claims, key, algorithms=[spec.algorithm])


def _rendered(templates: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    return {k: render(t, values) for k, t in templates.items() if can_render(t, values)}


def _key(
    spec: JwtSpec, material: str, field: str, passphrase: str | None = None
) -> tuple[AnyKey, dict[str, str]]:
    """The joserfc key for the spec's algorithm and what Gatekey computes from it."""
    kind = key_type(spec.algorithm)
    if kind == "secret":
        return OctKey.import_key(_secret(spec.key_encoding, material, field)), {}
    try:
        imported, fingerprint = _imported(kind, spec.algorithm, material, passphrase)
    except keys.KeyProblem as exc:
        raise _unfit(field, str(exc)) from None
    return imported, {"key_fingerprint": fingerprint}


@functools.lru_cache(maxsize=32)
def _imported(
    kind: str, algorithm: str, material: str, passphrase: str | None
) -> tuple[AnyKey, str]:
    """The joserfc key of a PEM private key (decrypted with ``passphrase`` when it is
    encrypted) and its public key's fingerprint, loaded once per key: ``cryptography`` checks
    an RSA key as it loads it (tens of ms), and a minter signs with the same key on every
    mint. A key that does not load or fit raises ``KeyProblem`` (not cached)."""
    private = keys.private_key(material, passphrase)
    keys.check_fits(private, algorithm)
    # joserfc's key wraps the key cryptography loaded (as its import_key does once it has
    # loaded one): importing the PEM again would check an RSA key a second time.
    imported: AnyKey
    if kind == "rsa":
        assert isinstance(private, rsa.RSAPrivateKey)  # check_fits
        imported = RSAKey(private, material)
    elif kind == "ec":
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        imported = ECKey(private, material)
    else:
        assert isinstance(private, ed25519.Ed25519PrivateKey)
        imported = OKPKey(private, material)
    return imported, keys.public_key_fingerprint(private)


def _secret(encoding: str, material: str, field: str) -> bytes:
    """An HS* shared secret as written: text, hex (Ghost Admin's ``id:secret`` keys give the
    hex half) or base64."""
    try:
        if encoding == "hex":
            return bytes.fromhex(material.strip())
        if encoding == "base64":
            return base64.b64decode(material.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise _unfit(field, f"is not {encoding}") from None
    return material.encode()


def _unfit(field: str, problem: str) -> InvalidFields:
    return InvalidFields(f"{field} {problem}", errors=[{"field": field, "message": problem}])
