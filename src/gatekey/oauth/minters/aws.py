"""AWS temporary credentials from STS ``AssumeRole`` (``aws_sigv4`` with a role ARN).

botocore's STS client signs and parses; its bytes go out through Gatekey's own HTTP client
(a ``before-send`` handler), so the STS endpoint, which a recipe may template, passes the same
egress guard as every other request and the provider timeout holds. Nothing is retried here:
the refresher owns retries and backoff.

The answer carries the temporary credentials under the names ``domain.signing`` reads them
back from (``TEMPORARY``), the session token also as ``access_token`` (the token that expires,
as every minted kind has one), and, from the answer's ``AssumedRoleUser`` ARN (which STS
always sends: ``arn:aws:sts::<account>:assumed-role/<role>/<session>``), ``aws_account_id``,
``aws_arn`` and ``aws_identity`` (``role/name``) for an ``account_label`` template such as
``{aws_account_id} as {aws_identity}``: one STS call per mint, no ``GetCallerIdentity``. The
user's long-lived keys never leave the secret they are sealed in.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import botocore.session
import httpx2
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from gatekey.catalog.aws import ROLE_ARN, AssumeRole, AwsSpec
from gatekey.domain.masking import Masker, secret_values
from gatekey.domain.templates import render
from gatekey.errors import (
    CredentialsRejected,
    GrantRevoked,
    InvalidFields,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.oauth.minting import Mint
from gatekey.oauth.token_answers import MAX_MESSAGE, TokenResponse
from gatekey.unreachable import unreachable

#: STS codes meaning the keys themselves were refused (unknown, wrong secret, expired).
REFUSED_KEYS = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "ExpiredToken",
        "AuthFailure",
    }
)
#: STS codes meaning "not now": retried by the refresher, never Inactive.
BUSY = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}
)


class _Body:
    """What ``AWSResponse`` reads a body through: the bytes already received."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


class AwsAssumeRole:
    """The ``aws_sigv4`` minter: STS AssumeRole with the connection's stored keys."""

    def __init__(
        self,
        http: httpx2.Client,
        *,
        clock: Callable[[], datetime],
        timeout: Callable[[], float] | float = 10.0,
    ) -> None:
        self._http = http
        self._clock = clock
        self._timeout = timeout
        self._session = botocore.session.Session()
        self._lock = threading.Lock()  # botocore sessions are not thread-safe; clients are

    def mint(self, request: Mint) -> TokenResponse:
        spec = request.method.aws
        role = spec.assume_role if spec is not None else None
        if spec is None or role is None:
            raise TokenRequestRefused(f"{request.app.name}: this method assumes no role")
        values = request.values()
        role_arn = str(values.get(role.role_arn) or "")
        if not re.fullmatch(ROLE_ARN, role_arn):
            problem = "is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            raise InvalidFields(
                f"{role.role_arn} {problem}",
                errors=[{"field": role.role_arn, "message": problem}],
            )
        key_id = str(request.secret.get(spec.access_key_id) or values[spec.access_key_id])
        secret_key = str(request.secret.get(spec.secret_access_key, ""))
        secrets = [secret_key, *secret_values(request.secret, request.method.fields.secret_names)]
        masked = Masker(secrets)
        sts = self._client(spec, role, values, key_id, secret_key)
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": render(role.session_name, values)[:64],
            "DurationSeconds": role.duration_seconds,
        }
        external_id = values.get(role.external_id) if role.external_id else None
        if external_id:
            params["ExternalId"] = str(external_id)
        now = self._clock()
        answer = self._call(request.app.name, masked, role, lambda: sts.assume_role(**params))
        creds = answer["Credentials"]
        arn = str(answer.get("AssumedRoleUser", {}).get("Arn", ""))
        body = {
            "access_token": creds["SessionToken"],
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
            "expires_in": lifetime(answer, creds["Expiration"], role.duration_seconds),
            "aws_account_id": account_of(arn),
            "aws_arn": arn,
            "aws_identity": identity(arn),
        }
        return TokenResponse(body, now)

    def _client(
        self,
        spec: AwsSpec,
        role: AssumeRole,
        values: Mapping[str, str],
        key_id: str,
        secret_key: str,
    ) -> Any:
        region = render(spec.region, values)
        url = (
            render(role.sts_url, values) if role.sts_url else f"https://sts.{region}.amazonaws.com"
        )
        seconds = self._timeout() if callable(self._timeout) else self._timeout
        options: dict[str, Any] = {
            "retries": {"total_max_attempts": 1},
            "connect_timeout": seconds,
            "read_timeout": seconds,
            # AWS_ENDPOINT_URL_STS in Gatekey's environment must not redirect a connection
            "ignore_configured_endpoint_urls": True,
        }
        config = Config(**options)
        with self._lock:
            client = self._session.create_client(
                "sts",
                region_name=region,
                endpoint_url=url,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret_key,
                config=config,
            )
        client.meta.events.register("before-send.sts", cast(Any, self._send))
        return client

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """Send botocore's signed request through Gatekey's guarded client."""
        raw = request.body
        body: bytes | str | None
        if raw is None or isinstance(raw, bytes | str):
            body = raw
        elif isinstance(raw, bytearray):
            body = bytes(raw)
        else:
            read = raw.read()
            body = read.encode() if isinstance(read, str) else read
        headers = {
            k: v.decode("latin-1") if isinstance(v, bytes) else str(v)
            for k, v in request.headers.items()
        }
        seconds = self._timeout() if callable(self._timeout) else self._timeout
        answer = self._http.request(
            request.method, request.url, headers=headers, content=body, timeout=seconds
        )
        return AWSResponse(
            request.url, answer.status_code, cast(Any, dict(answer.headers)), _Body(answer.content)
        )

    @staticmethod
    def _call(app: str, masked: Masker, role: AssumeRole, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as exc:
            raise classify(app, exc, masked) from None
        except ParamValidationError as exc:
            name = role.external_id if "ExternalId" in str(exc) and role.external_id else None
            words = masked.text(str(exc))[:MAX_MESSAGE]
            if name is not None:
                raise InvalidFields(
                    f"{name}: {words}", errors=[{"field": name, "message": words}]
                ) from None
            raise TokenRequestRefused(f"{app} STS refused the request: {words}") from None
        except httpx2.HTTPError as exc:
            raise unreachable(exc, app=app, what=f"{app}'s STS endpoint") from None
        except BotoCoreError as exc:  # botocore's own transport and parsing errors
            raise ProviderUnavailable(
                f"{app}'s STS endpoint: {masked.text(str(exc))[:MAX_MESSAGE]}; try again later",
                app=app,
            ) from None


def classify(app: str, exc: ClientError, masked: Masker) -> Exception:
    """STS's refusal as the class the refresher acts on, in AWS's words, masked."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    words = masked.text(f"{code}: {error.get('Message', '')}")[:MAX_MESSAGE]
    if status == 429 or status >= 500 or code in BUSY:
        return ProviderUnavailable(
            f"{app}'s STS endpoint answered {status} ({words}); try again later",
            app=app,
            provider_status=status,
        )
    if code in REFUSED_KEYS:
        return CredentialsRejected(f"AWS refused the access key: {words}", app=app)
    if code == "AccessDenied":
        return GrantRevoked(f"the role can no longer be assumed: {words}", app=app)
    return TokenRequestRefused(f"AWS STS refused to assume the role: {words}", app=app)


def lifetime(answer: Mapping[str, Any], expiration: datetime, duration: int) -> int:
    """Seconds the credentials last, counted on STS's own clock (its ``Date`` header), so a
    skew between AWS and Gatekey neither shortens nor stretches them."""
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        said = parsedate_to_datetime(str(headers["date"]))
    except (KeyError, TypeError, ValueError):
        return duration
    return max(1, min(duration, int((expiration - said).total_seconds())))


def account_of(arn: str) -> str:
    """The account id in an ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def identity(arn: str) -> str:
    """``role/name`` for an assumed role's ARN, else what follows the account in the ARN."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn
    parts = resource.split("/")
    if parts[0] == "assumed-role" and len(parts) >= 2:
        return f"role/{parts[1]}"
    return resource
