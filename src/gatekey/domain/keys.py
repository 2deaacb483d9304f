"""Keys and certificates a person pastes or uploads: parsed with ``cryptography``, checked
against what a recipe's algorithm signs with, fingerprinted. Pure (no I/O).

Messages name what is wrong, never any part of the key.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

KeyType = Literal["rsa", "ec", "okp", "secret"]
#: The curve each ES algorithm signs on (RFC 7518 section 3.4).
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}


class KeyProblem(ValueError):
    """What is wrong with a key or certificate, in words fit for a field error."""


def private_key(pem: str, passphrase: str | None = None) -> PrivateKeyTypes:
    """Load a PEM private key (PKCS#8 or the traditional forms), unencrypted unless a
    ``passphrase`` is given."""
    text = pem.strip().replace("\\n", "\n")  # keys pasted from a JSON string keep \n escapes
    if "PRIVATE KEY-----" not in text:
        if "CERTIFICATE-----" in text or "PUBLIC KEY-----" in text:
            raise KeyProblem("is a certificate or public key, not a private key")
        raise KeyProblem("is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    password = passphrase.encode() if passphrase else None
    try:
        return serialization.load_pem_private_key(text.encode(), password=password)
    except TypeError:
        if password is None:
            raise KeyProblem("is encrypted: give the key without a passphrase") from None
        raise KeyProblem("is not encrypted, yet a passphrase was given") from None
    except (ValueError, UnsupportedAlgorithm):
        if password is not None and "ENCRYPTED" in text:
            raise KeyProblem("could not be decrypted with its passphrase") from None
        raise KeyProblem("is not a readable PEM private key") from None


def certificate(pem: str) -> x509.Certificate:
    """Load a PEM X.509 certificate."""
    try:
        return x509.load_pem_x509_certificate(pem.strip().encode())
    except ValueError:
        raise KeyProblem("is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None


def check_fits(key: PrivateKeyTypes, algorithm: str) -> None:
    """Refuse a key that cannot sign with ``algorithm`` (an EC key for RS256, a P-384 key for
    ES256), naming both."""
    if algorithm.startswith(("RS", "PS")):
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyProblem(f"is not an RSA key, which {algorithm} needs")
        if key.key_size < 2048:
            raise KeyProblem(f"is an RSA key of {key.key_size} bits; {algorithm} needs 2048+")
    elif algorithm.startswith("ES"):
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyProblem(f"is not an elliptic-curve key, which {algorithm} needs")
        if key.curve.name != _CURVES[algorithm]:
            raise KeyProblem(
                f"is on curve {key.curve.name}; {algorithm} needs {_CURVES[algorithm]}"
            )
    elif algorithm == "EdDSA" and not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyProblem("is not an Ed25519 key, which EdDSA needs")


def public_key_fingerprint(key: PrivateKeyTypes) -> str:
    """``SHA256:`` and the base64 SHA-256 of the public key's DER SubjectPublicKeyInfo (the
    fingerprint Snowflake registers for a user's key)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def thumbprint_s256(cert: x509.Certificate) -> str:
    """The ``x5t#S256`` header of RFC 7515 section 4.1.8: base64url SHA-256 of the DER."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
