"""Keys and certificates made for the tests with ``cryptography``: PEM private keys of each
type the recipes sign with, their public keys, and a small CA issuing server and client
certificates (the mTLS peer). Made once per process."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(private: str) -> str:
    """The PEM SubjectPublicKeyInfo of a PEM private key (what a verifier is given)."""
    key = serialization.load_pem_private_key(private.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_key_fingerprint(private: str) -> str:
    """What Snowflake's docs compute for a user's key (``openssl rsa -pubout -outform DER |
    openssl dgst -sha256 -binary | openssl enc -base64``), with ``SHA256:`` before it."""
    key = serialization.load_pem_private_key(private.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return "SHA256:" + base64.b64encode(digest.finalize()).decode()


@functools.cache
def rsa_pem(tag: str = "a", bits: int = 2048) -> str:
    """An RSA private key; ``tag`` tells keys of the same size apart."""
    del tag
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


@functools.cache
def ec_pem(curve: str = "secp256r1", tag: str = "a") -> str:
    del tag
    curves = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}
    return _pem(ec.generate_private_key(curves[curve]))


@functools.cache
def ed25519_pem(tag: str = "a") -> str:
    del tag
    return _pem(ed25519.Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, both PEM."""

    cert: str
    key: str


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def authority(tag: str = "gatekey-test-ca") -> Issued:
    """A self-signed CA (the same one for the same tag, however it is asked for)."""
    return _authority(tag)


@functools.cache
def _authority(tag: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(tag))
        .issuer_name(_name(tag))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


@functools.cache
def issued(common: str, *, server: bool, ca: str = "gatekey-test-ca") -> Issued:
    """A certificate for ``common`` from the CA ``ca``: for a server on 127.0.0.1 and
    localhost, or for a client."""
    root = authority(ca)
    root_key = serialization.load_pem_private_key(root.key.encode(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root_cert = x509.load_pem_x509_certificate(root.cert.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(root_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def self_signed(key_pem: str, common: str = "gatekey-client") -> str:
    """A self-signed certificate for a PEM key (Microsoft's certificate credentials)."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()
