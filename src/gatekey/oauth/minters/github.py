"""The ``github_app`` minter: an installation access token, obtained as the app.

The project's OAuth client for the app holds the app's client id (or app id), the JWT's
``iss``, and its PEM private key (``client_secret``); the connection's config holds the
installation's id, captured from the install callback. The app's JWT is signed with
``oauth.jwts`` (RS256, ``iat`` at least 60 s in the past, ``exp`` at most ``MAX_JWT_SECONDS``
ahead: GitHub refuses one more than 10 minutes ahead) and sent as ``Authorization: Bearer`` to
``POST /app/installations/{installation_id}/access_tokens``; the answer's ``token`` and
``expires_at`` (ISO-8601, an hour ahead) are the token and its lifetime.

Answers are sorted into the classes the refresher acts on: 401 is the key refused
(``CredentialsRejected``, with GitHub's ``message``), 404 (the installation was deleted, or
belongs to another app) and a suspended installation's 403 are ``GrantRevoked``, 429, 5xx, a
rate limit's 403 and no answer at all are ``ProviderUnavailable``, anything else
``TokenRequestRefused``. The private key and the JWT are masked in every message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx2

from gatekey.catalog.logins import GitHubAppSpec
from gatekey.domain.bodies import dig
from gatekey.domain.masking import Masker
from gatekey.domain.templates import placeholders, render
from gatekey.errors import (
    CredentialsRejected,
    GatekeyError,
    GrantRevoked,
    InvalidFields,
    OAuthClientMissing,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.jwts import sign
from gatekey.oauth.minters.logins import body_json, instant, provider_words, rendered
from gatekey.oauth.minting import Mint
from gatekey.oauth.token_answers import TokenResponse
from gatekey.unreachable import overloaded, unreachable

log = logging.getLogger(__name__)

#: The longest an app JWT lasts: GitHub's 10 minutes, less a minute against clock drift.
MAX_JWT_SECONDS = 540
#: How far in the past ``iat`` is set, at least (GitHub's advice, against clock drift).
MIN_LEEWAY_SECONDS = 60
GITHUB_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
#: The config name the installation's id is kept under (the recipe's ``callback_config``).
INSTALLATION_ID = "installation_id"


class GitHubAppMinter:
    """Asks GitHub through ``http`` (the apps' client); ``clock`` stamps the JWT and request."""

    def __init__(self, http: httpx2.Client, *, clock: Callable[[], datetime]) -> None:
        self._http = http
        self._clock = clock

    def mint(self, request: Mint) -> TokenResponse:
        spec = _spec(request)
        app = request.app
        values = _signing_values(request, spec)
        sent_at = self._clock()
        token = app_jwt(request, spec, values, sent_at)
        masked = Masker([*_secrets(request), token])
        url = render(spec.token_url, values)
        try:
            response = self._http.post(url, headers=_headers(spec, values, token))
        except httpx2.HTTPError as exc:
            raise unreachable(exc, app=app.key, what=app.name) from None
        return _answer(request, spec, response, sent_at, masked)

    def account(self, request: Mint) -> str | None:
        """The account the installation belongs to (``installation_label`` in the answer at
        ``installation_url``, read as the app), or None when the recipe has no such URL or
        GitHub does not say."""
        spec = _spec(request)
        if spec.installation_url is None:
            return None
        values = _signing_values(request, spec)
        token = app_jwt(request, spec, values, self._clock())
        try:
            response = self._http.get(
                render(spec.installation_url, values), headers=_headers(spec, values, token)
            )
        except httpx2.HTTPError as exc:
            log.info("could not read the %s installation: %s", request.app.key, type(exc).__name__)
            return None
        if response.status_code != 200:
            log.info("the %s installation answered %s", request.app.key, response.status_code)
            return None
        body = body_json(response)
        for path in spec.installation_label:
            value = dig(body, path)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return Masker(_secrets(request)).text(str(value))[:300]
        return None


def _spec(request: Mint) -> GitHubAppSpec:
    spec = request.method.github_app
    assert spec is not None  # the schema requires the section for this kind
    return spec


def _client(request: Mint) -> ClientCredentials:
    if request.client is None:
        raise OAuthClientMissing(
            f"no OAuth client holds {request.app.name}'s app id and private key: register the "
            "app's client id (or app id) and its PEM private key as the project's OAuth client "
            "for it, and reconnect",
            app=request.app.key,
        )
    return request.client


def _secrets(request: Mint) -> list[str]:
    """The private key, and each line of it (GitHub never echoes one, but a proxy may)."""
    key = request.client.client_secret if request.client is not None else ""
    return [key, *(line.strip() for line in key.splitlines() if len(line.strip()) >= 16)]


def _signing_values(request: Mint, spec: GitHubAppSpec) -> dict[str, str]:
    """The template values with the app's id (``client_id``) and key (under the JWT spec's
    key name); every value the token URL needs given, the installation's id digits."""
    client = _client(request)
    values = request.values()
    values["client_id"] = client.client_id
    needed = sorted(placeholders(spec.token_url) | {INSTALLATION_ID} & set(spec.callback_config))
    for name in needed:
        given = values.get(name, "")
        if not given or (name == INSTALLATION_ID and not given.isdigit()):
            raise InvalidFields(
                f"{request.app.name}: the connection has no valid {name}; reconnect it by "
                "installing the app",
                errors=[{"field": name, "message": "is required" if not given else "not digits"}],
            )
    values[spec.app_jwt.key] = client.client_secret
    return values


def app_jwt(request: Mint, spec: GitHubAppSpec, values: dict[str, str], now: datetime) -> str:
    """The app's JWT at ``now``: ``iss`` the client id unless the recipe says otherwise, the
    lifetime and leeway held within what GitHub takes."""
    jwt_spec = spec.app_jwt
    claims = {"iss": "{client_id}", **jwt_spec.claims}
    jwt_spec = jwt_spec.model_copy(
        update={
            "claims": claims,
            "lifetime_seconds": min(jwt_spec.lifetime_seconds, MAX_JWT_SECONDS),
            "issued_at_leeway_seconds": max(jwt_spec.issued_at_leeway_seconds, MIN_LEEWAY_SECONDS),
        }
    )
    return sign(jwt_spec, values, now=now, field_of={jwt_spec.key: "client_secret"})


def _headers(spec: GitHubAppSpec, values: dict[str, str], token: str) -> dict[str, str]:
    return {
        **GITHUB_HEADERS,
        **rendered(spec.token_headers, values),
        "Authorization": f"Bearer {token}",
    }


def _answer(
    request: Mint,
    spec: GitHubAppSpec,
    response: httpx2.Response,
    sent_at: datetime,
    masked: Masker,
) -> TokenResponse:
    name, key = request.app.name, request.app.key
    status = response.status_code
    installation = request.values().get(INSTALLATION_ID, "")

    def words() -> str:
        said = provider_words(response, masked)
        return f": {said}" if said else ""

    if status == 401:
        raise CredentialsRejected(
            f"GitHub refused {name}'s app JWT (HTTP 401){words()}: check the app's client id "
            "and private key in the OAuth client",
            app=key,
            provider_status=status,
        )
    if status == 404:
        raise GrantRevoked(
            f"GitHub knows no installation {installation} of {name} (HTTP 404){words()}: it "
            "was uninstalled; install the app again",
            app=key,
            provider_status=status,
        )
    busy = overloaded(response, who="GitHub", app=key, now=sent_at)
    if busy is not None:
        raise busy
    if status == 403:
        raise _forbidden(response, name, key, installation, words())
    if not 200 <= status < 300:
        raise TokenRequestRefused(
            f"GitHub refused an installation token for {name} (HTTP {status}){words()}",
            app=key,
            provider_status=status,
        )
    body = body_json(response)
    token = dig(body, spec.token_path)
    if not isinstance(token, str) or not token:
        raise TokenRequestRefused(
            f"GitHub's answer for {name} has no token at {spec.token_path!r}",
            app=key,
            provider_status=status,
        )
    minted: dict[str, object] = {"access_token": token}
    if spec.expires_at_path is not None:
        when = instant(dig(body, spec.expires_at_path))
        if when is not None and when > sent_at:
            minted["expires_in"] = int((when - sent_at).total_seconds())
    return TokenResponse(body=minted, sent_at=sent_at)


def _forbidden(
    response: httpx2.Response, name: str, key: str, installation: str, words: str
) -> GatekeyError:
    """A 403: the rate limit (``x-ratelimit-remaining: 0``: retried), a suspended
    installation (revoked), or any other refusal."""
    if response.headers.get("x-ratelimit-remaining") == "0":
        return ProviderUnavailable(
            f"GitHub's rate limit for {name} is used up; try again later",
            app=key,
            provider_status=403,
        )
    if "suspended" in words.lower():
        return GrantRevoked(
            f"the installation {installation} of {name} is suspended (HTTP 403){words}",
            app=key,
            provider_status=403,
        )
    return TokenRequestRefused(
        f"GitHub refused an installation token for {name} (HTTP 403){words}",
        app=key,
        provider_status=403,
    )
