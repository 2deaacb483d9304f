"""What signing one request costs in the SDK signers, as a ratio to building it unsigned.

Each figure is the time to build an ``httpx2.Request`` (a PUT with a 1 KiB body, as an S3 put
would send) and pass it through an auth flow: none, a bearer header (what an OAuth2 or minted
token costs), AWS SigV4 (botocore), SigV4 with ``UNSIGNED-PAYLOAD`` (S3), OAuth 1.0a
HMAC-SHA1 and RSA-SHA1 (Authlib), and the ``requests`` signer for SigV4. The variants run
interleaved in rounds, so a busy machine slows them alike; the table gives each median and its
ratio to the unsigned build.

    python bench/sign_request.py [--rounds 7] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Generator

import httpx2
import requests
from bench.report import write_table
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gatekey import signers
from gatekey.signing import AwsSigning, OAuth1Signing

URL = "https://gatekey-bench.s3.us-east-1.amazonaws.com/reports/2026/12/summary.json"
BODY = b"x" * 1024

AWS = AwsSigning(
    access_key_id="AKIAIOSFODNN7EXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token="FwoGZXIvYXdzEBYaDbench",
    service="s3",
    region="us-east-1",
)
OAUTH1 = OAuth1Signing(
    consumer_key="benchconsumerkey", consumer_secret="benchconsumersecret",
    token="benchtoken", token_secret="benchtokensecret",
)  # fmt: skip


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _through(auth: httpx2.Auth | None) -> Callable[[], object]:
    def build() -> object:
        request = httpx2.Request("PUT", URL, content=BODY)
        if auth is None:
            return request
        return next(auth.auth_flow(request))

    return build


class _Bearer(httpx2.Auth):
    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, object, None]:
        request.headers["Authorization"] = "Bearer ya29.bench-token"
        yield request


def _requests_signed(auth: object) -> Callable[[], object]:
    def build() -> object:
        return requests.Request("PUT", URL, data=BODY, auth=auth).prepare()  # type: ignore[arg-type]

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    rsa_signing = OAUTH1.model_copy(
        update={"signature_method": "RSA-SHA1", "consumer_secret": "", "rsa_key": _rsa_pem()}
    )
    from gatekey.signers import aws as aws_signer

    variants: dict[str, Callable[[], object]] = {
        "unsigned": _through(None),
        "bearer header": _through(_Bearer()),
        "SigV4 (botocore)": _through(aws_signer.httpx_signer(AWS)),
        "SigV4 UNSIGNED-PAYLOAD": _through(
            aws_signer.httpx_signer(AWS.model_copy(update={"unsigned_payload": True}))
        ),
        "OAuth 1.0a HMAC-SHA1": _through(signers.signature(OAUTH1)),
        "OAuth 1.0a RSA-SHA1": _through(signers.signature(rsa_signing)),
        "requests: unsigned": _requests_signed(None),
        "requests: SigV4": _requests_signed(aws_signer.requests_signer(AWS)),
    }
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        figures: dict[str, float] = {}
        for name, build in variants.items():
            start = time.perf_counter()
            for _ in range(args.calls):
                build()
            figures[name] = (time.perf_counter() - start) / args.calls * 1e6
        rounds.append(figures)
    medians = {name: statistics.median(r[name] for r in rounds) for name in variants}
    rows = []
    for name, micros in medians.items():
        base = medians["requests: unsigned" if name.startswith("requests") else "unsigned"]
        rows.append((name, f"{micros:.1f}", f"{micros / base:.2f}x"))
        print(f"{name:28} {micros:9.1f} us  {micros / base:6.2f}x")
    write_table(
        "sign_request",
        "Signing one request in the SDK signers (median of interleaved rounds)",
        ["request", "µs per request", "ratio to unsigned"],
        rows,
    )


if __name__ == "__main__":
    main()
