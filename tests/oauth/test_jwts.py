"""JWTs signed from a recipe's spec, verified with PyJWT (a library nobody here wrote): each
algorithm family, templates left out without values, the computed values, and keys refused
by field without any part of them in the message."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gatekey.catalog.jwt import JwtSpec
from gatekey.errors import InvalidFields
from gatekey.oauth.jwts import sign
from tests.fakes import pki


def _now() -> dt.datetime:
    """Now, read when a test signs (the verifiers check ``exp`` against the real clock)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _spec(**kw: object) -> JwtSpec:
    return JwtSpec.model_validate({"key": "private_key", **kw})


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("RS256", pki.rsa_pem()),
        ("PS256", pki.rsa_pem()),
        ("ES256", pki.ec_pem()),
        ("ES384", pki.ec_pem("secp384r1")),
        ("EdDSA", pki.ed25519_pem()),
    ],
)
def test_each_key_type_signs_what_pyjwt_verifies(algorithm: str, key: str) -> None:
    spec = _spec(algorithm=algorithm, claims={"iss": "{issuer}", "aud": "https://as.test"})
    token = sign(spec, {"private_key": key, "issuer": "svc@example.test"}, now=_now())
    claims = pyjwt.decode(
        token, pki.public_pem(key), algorithms=[algorithm], audience="https://as.test"
    )
    assert claims["iss"] == "svc@example.test"
    assert claims["exp"] - claims["iat"] == 3600


def test_ghost_admin_hex_secret_with_kid_and_leeway() -> None:
    secret = "a1" * 32
    spec = _spec(
        algorithm="HS256",
        key_encoding="hex",
        headers={"kid": "{key_id}"},
        claims={"aud": "/admin/"},
        lifetime_seconds=300,
        issued_at_leeway_seconds=30,
    )
    now = _now()
    token = sign(spec, {"private_key": secret, "key_id": "6489"}, now=now)
    assert pyjwt.get_unverified_header(token)["kid"] == "6489"
    claims = pyjwt.decode(token, bytes.fromhex(secret), algorithms=["HS256"], audience="/admin/")
    assert claims["iat"] == int(now.timestamp()) - 30
    assert claims["exp"] == int(now.timestamp()) + 300


def test_snowflake_issuer_uppercases_and_fingerprints_the_public_key() -> None:
    key = pki.rsa_pem()
    spec = _spec(
        algorithm="RS256",
        claims={"iss": "{account}.{user}.{key_fingerprint}", "sub": "{account}.{user}"},
        uppercase=["account", "user"],
    )
    token = sign(spec, {"private_key": key, "account": "xy123", "user": "jo"}, now=_now())
    claims = pyjwt.decode(token, pki.public_pem(key), algorithms=["RS256"])
    der = serialization.load_pem_public_key(pki.public_pem(key).encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert claims["iss"] == f"XY123.JO.{fingerprint}"
    assert claims["sub"] == "XY123.JO"


def test_a_claim_without_its_value_is_left_out_and_scopes_and_jti_are_filled() -> None:
    key = pki.rsa_pem()
    spec = _spec(algorithm="RS256", claims={"sub": "{subject}", "scope": "{scopes}"}, jti=True)
    one = sign(spec, {"private_key": key}, now=_now(), scopes=["a", "b"])
    two = sign(spec, {"private_key": key}, now=_now(), scopes=["a", "b"])
    claims = pyjwt.decode(one, pki.public_pem(key), algorithms=["RS256"])
    assert "sub" not in claims
    assert claims["scope"] == "a b"
    assert claims["jti"] != pyjwt.decode(two, pki.public_pem(key), algorithms=["RS256"])["jti"]


def test_certificate_thumbprint_fills_x5t_s256() -> None:
    key = pki.rsa_pem()
    cert = pki.self_signed(key)
    spec = _spec(
        algorithm="RS256",
        certificate="certificate",
        headers={"x5t#S256": "{certificate_thumbprint}"},
    )
    token = sign(spec, {"private_key": key, "certificate": cert}, now=_now())
    der = x509.load_pem_x509_certificate(cert.encode()).public_bytes(serialization.Encoding.DER)
    want = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert pyjwt.get_unverified_header(token)["x5t#S256"] == want


@pytest.mark.parametrize(
    ("algorithm", "key", "said"),
    [
        ("RS256", pki.ec_pem(), "is not an RSA key"),
        ("ES256", pki.ec_pem("secp384r1"), "curve"),
        ("RS256", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "certificate"),
        ("RS256", "not a key at all", "PEM private key"),
    ],
)
def test_a_key_that_does_not_fit_names_the_field_not_the_key(
    algorithm: str, key: str, said: str
) -> None:
    with pytest.raises(InvalidFields) as caught:
        sign(
            _spec(algorithm=algorithm),
            {"private_key": key},
            now=_now(),
            field_of={"private_key": "service_account_json"},
        )
    assert caught.value.details["errors"][0]["field"] == "service_account_json"
    assert said in caught.value.message
    assert "MII" not in str(caught.value.details) and "MII" not in caught.value.message


def test_an_hs_secret_that_is_not_hex_is_refused() -> None:
    spec = _spec(algorithm="HS256", key_encoding="hex")
    with pytest.raises(InvalidFields, match="is not hex"):
        sign(spec, {"private_key": "zz-not-hex"}, now=_now())


def _encrypted(pem: str, passphrase: str) -> str:
    """The key as Box's app config file holds it: encrypted PKCS#8 PEM."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def test_an_encrypted_key_is_decrypted_with_its_passphrase() -> None:
    plain = pki.rsa_pem("box")
    spec = _spec(algorithm="RS256", key_passphrase="passphrase", claims={"iss": "box-app"})
    values = {"private_key": _encrypted(plain, "CANARY-passphrase-5e"), "passphrase": ""}
    token = sign(spec, {**values, "passphrase": "CANARY-passphrase-5e"}, now=_now())
    assert pyjwt.decode(token, pki.public_pem(plain), algorithms=["RS256"])["iss"] == "box-app"

    for passphrase, said in (("wrong", "could not be decrypted"), ("", "is encrypted")):
        with pytest.raises(InvalidFields, match=said) as caught:
            sign(spec, {**values, "passphrase": passphrase}, now=_now())
        assert "CANARY" not in str(caught.value) + str(caught.value.details)
    with pytest.raises(InvalidFields, match="is not encrypted, yet a passphrase"):
        sign(spec, {"private_key": plain, "passphrase": "extra"}, now=_now())
