"""The ``two_step`` minter: log in with the connection's credentials (a user name and password,
or a personal access token), then use the token the answer holds (``catalog.logins``).

The login request is sent with the apps' HTTP client (the egress guard's), its parameters as a
JSON or form body, or as the query (a GET, or body ``none``). The token is read at
``token_path``; its lifetime at ``expires_in_path`` (seconds) or ``expires_at_path`` (ISO-8601
or epoch seconds, turned into seconds from when the request was sent), else the recipe's
``lifetime_seconds`` applies.

Answers are sorted into the classes the refresher acts on: a ``refused_status`` is the
credentials refused (``CredentialsRejected``, with the provider's words), 429 and 5xx and no
answer at all are ``ProviderUnavailable``, any other refusal or a success without a token is
``TokenRequestRefused``. Every message is masked for the connection's secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx2

from gatekey.catalog.logins import TwoStepSpec
from gatekey.domain.bodies import dig, first_text
from gatekey.domain.masking import Masker, secret_values
from gatekey.domain.templates import can_render, placeholders, render
from gatekey.errors import CredentialsRejected, InvalidFields, TokenRequestRefused
from gatekey.oauth.minting import Mint
from gatekey.oauth.token_answers import MAX_MESSAGE, TokenResponse
from gatekey.unreachable import overloaded, unreachable

#: Where a login API puts its words when it refuses (the first one found is quoted).
ERROR_PATHS = ("message", "error_description", "error.message", "error", "detail")


class TwoStepMinter:
    """Logs in through ``http`` (the apps' client); ``clock`` stamps when each request left."""

    def __init__(self, http: httpx2.Client, *, clock: Callable[[], datetime]) -> None:
        self._http = http
        self._clock = clock

    def mint(self, request: Mint) -> TokenResponse:
        spec = request.method.two_step
        assert spec is not None  # the schema requires the section for this kind
        app = request.app
        values = request.values()
        basic = _basic(spec, values)
        masked = _masker(request, spec, values, basic)
        params = rendered(spec.params, values)
        options: dict[str, Any] = {}
        if spec.body == "json":
            options["json"] = params
        elif spec.body == "form":
            options["data"] = params
        elif params:
            options["params"] = params
        sent_at = self._clock()
        try:
            response = self._http.request(
                spec.http_method,
                _url(spec, values, request),
                headers={"Accept": "application/json", **rendered(spec.headers, values)},
                auth=basic if basic is not None else httpx2.USE_CLIENT_DEFAULT,
                **options,
            )
        except httpx2.HTTPError as exc:
            raise unreachable(exc, app=app.key, what=app.name) from None
        return _answer(spec, app.name, app.key, response, sent_at, masked)


def _url(spec: TwoStepSpec, values: Mapping[str, str], request: Mint) -> str:
    missing = sorted(n for n in placeholders(spec.token_url) if not values.get(n))
    if missing:
        raise InvalidFields(
            f"{request.app.name}'s login URL needs {missing[0]}",
            errors=[{"field": name, "message": "is required"} for name in missing],
        )
    return render(spec.token_url, values)


def rendered(templates: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """The templates whose placeholders all have a value (an optional field left empty
    leaves its parameter or header out)."""
    return {k: render(t, values) for k, t in templates.items() if can_render(t, values)}


def _basic(spec: TwoStepSpec, values: Mapping[str, str]) -> tuple[str, str] | None:
    if spec.basic is None or not all(can_render(t, values) for t in spec.basic):
        return None
    return render(spec.basic[0], values), render(spec.basic[1], values)


def _masker(
    request: Mint, spec: TwoStepSpec, values: Mapping[str, str], basic: tuple[str, str] | None
) -> Masker:
    """Mask the connection's secrets and whatever the login sends built from one (a header
    ``Token {pat}``, a parameter ``{user}:{password}``), and the basic pair."""
    secrets = secret_values(request.secret, request.method.fields.secret_names)
    plain = Masker(secrets)
    sent = [*rendered(spec.params, values).values(), *rendered(spec.headers, values).values()]
    composed = [v for v in sent if v != plain.text(v)]
    return Masker([*secrets, *composed], pairs=[basic] if basic is not None else [])


def _answer(
    spec: TwoStepSpec,
    app_name: str,
    app_key: str,
    response: httpx2.Response,
    sent_at: datetime,
    masked: Masker,
) -> TokenResponse:
    status = response.status_code
    if status in spec.refused_status:
        said = provider_words(response, masked)
        raise CredentialsRejected(
            f"{app_name} refused the login (HTTP {status})" + (f": {said}" if said else ""),
            app=app_key,
            provider_status=status,
        )
    busy = overloaded(response, who=f"{app_name}'s login", app=app_key, now=sent_at)
    if busy is not None:
        raise busy
    if not 200 <= status < 300:
        said = provider_words(response, masked)
        raise TokenRequestRefused(
            f"{app_name} refused the login request (HTTP {status})" + (f": {said}" if said else ""),
            app=app_key,
            provider_status=status,
        )
    body = body_json(response)
    token = dig(body, spec.token_path)
    if not isinstance(token, str) or not token:
        raise TokenRequestRefused(
            f"{app_name}'s login answer has no token at {spec.token_path!r}",
            app=app_key,
            provider_status=status,
        )
    minted: dict[str, Any] = {"access_token": token}
    lifetime = _lifetime(spec, body, sent_at)
    if lifetime is not None:
        minted["expires_in"] = lifetime
    return TokenResponse(body=minted, sent_at=sent_at)


def _lifetime(spec: TwoStepSpec, body: Any, sent_at: datetime) -> int | None:
    """Seconds the token lasts from ``sent_at``, when the answer says; None otherwise (the
    recipe's ``lifetime_seconds`` then applies)."""
    if spec.expires_in_path is not None:
        seconds = _number(dig(body, spec.expires_in_path))
        if seconds is not None and seconds > 0:
            return int(seconds)
    if spec.expires_at_path is not None:
        when = instant(dig(body, spec.expires_at_path))
        if when is not None and when > sent_at:
            return int((when - sent_at).total_seconds())
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def instant(value: Any) -> datetime | None:
    """An ISO-8601 time (naive ones taken as UTC) or epoch seconds (milliseconds when the
    number is too large to be seconds)."""
    seconds = _number(value)
    if seconds is not None:
        if seconds > 1e11:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def body_json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def provider_words(response: httpx2.Response, masked: Masker) -> str:
    """The provider's words in a refusal: an error field of a JSON body, or a short plain-text
    answer's first line; masked, then cut short."""
    words = first_text(body_json(response), ERROR_PATHS)
    if words is None and response.headers.get("content-type", "").startswith("text/plain"):
        text = response.text.strip()
        line = text.splitlines()[0] if text and len(response.content) <= 1000 else ""
        words = line if line.isprintable() else None
    return masked.text(words)[:MAX_MESSAGE] if words else ""
