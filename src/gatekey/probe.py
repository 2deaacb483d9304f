"""Run an app's test request: prove credentials work and learn the account they belong to.

The HTTP client is injected, so tests hand in a transport that plays the provider. Outcomes are
kept apart: the provider refusing the credentials (``CredentialsRejected``, with its own words)
is not the provider being unreachable or failing (``ProviderUnavailable``). Whatever the
provider says (its error message, the account label) is masked (``domain.masking``) for every
secret the request carried, in every form it may be echoed in.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2

from gatekey.catalog.responses import ResponseRules
from gatekey.catalog.schema import App, AuthMethod, TestRequest
from gatekey.client_certificates import ClientFactory, PerCertificate
from gatekey.domain.apply import AppliedAuth
from gatekey.domain.bodies import first_text
from gatekey.domain.masking import Masker
from gatekey.domain.templates import render
from gatekey.egress import destination
from gatekey.errors import CredentialsRejected, ProviderUnavailable
from gatekey.signing import ClientTls
from gatekey.unreachable import overloaded, unreachable

log = logging.getLogger(__name__)
MAX_MESSAGE = 300


def scrub(message: str, secrets: list[str]) -> str:
    """Replace every secret value in a provider's message, in any form, by a mask."""
    return Masker(secrets).text(message)


def request_masker(auth: AppliedAuth, secrets: list[str]) -> Masker:
    """Mask what a request was sent with: the secrets, the basic pair, and every header or
    query value built from a secret (``Token token=...``, ``Bearer ...``)."""
    found = Masker(secrets)
    sent = [*auth.request_headers().values(), *auth.query.values()]
    composed = [v for v in sent if v != found.text(v)]
    return Masker([*secrets, *composed], pairs=[auth.basic] if auth.basic else [])


class Prober:
    """Sends test requests with an injected ``httpx2.Client``."""

    def __init__(self, http: httpx2.Client, *, with_tls: ClientFactory | None = None) -> None:
        self._http = http
        self._clients = PerCertificate(http, with_tls)

    @property
    def http(self) -> httpx2.Client:
        """The client for requests to apps' APIs (the proxy sends through it too)."""
        return self._http

    def client_for(self, identity: ClientTls | None) -> httpx2.Client:
        """The client presenting ``identity`` (a client certificate), or the shared one."""
        return self._clients.get(identity)

    def close(self) -> None:
        """Close the clients kept per client certificate (the shared one is the runtime's)."""
        self._clients.close()

    def check(
        self,
        app: App,
        method: AuthMethod,
        auth: AppliedAuth,
        values: dict[str, str],
        secrets: list[str],
        signer: httpx2.Auth | None = None,
        identity: ClientTls | None = None,
    ) -> str | None:
        """Return the account label; raise if the provider refuses or cannot be reached.
        ``signer`` signs the request (OAuth 1.0a, AWS SigV4); ``identity`` is the client
        certificate to present (mutual TLS)."""
        spec: TestRequest | None = method.test_request or app.test_request
        if spec is None:
            return None
        path = render(spec.path, values)
        url = auth.base_url + (path if path.startswith("/") else "/" + path)
        headers = {"Accept": "application/json", **spec.headers, **auth.request_headers()}
        try:
            target = destination(url)  # InvalidInput, never httpx2.InvalidURL
            if auth.query:  # Merge, not replace: a test path may carry a query string of its own.
                target = target.copy_merge_params(auth.query)
            response = self.client_for(identity).request(
                spec.method,
                target,
                headers=headers,
                json=spec.json_body,
                auth=signer or httpx2.USE_CLIENT_DEFAULT,
            )
        except httpx2.HTTPError as exc:
            log.info("test request to %s failed: %s", app.key, type(exc).__name__)
            raise unreachable(exc, app=app.key, what=app.name) from None
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = None
        masker = request_masker(auth, secrets)
        provider_says = first_text(body, spec.error_message) or _plain_text(response)
        rules = method.responses
        refused = _refused_by_body(app, rules, response.status_code in spec.ok_status, body)
        if refused is not None:
            if provider_says:
                refused += f": {masker.text(provider_says)[:MAX_MESSAGE]}"
            raise CredentialsRejected(refused, app=app.key, provider_status=response.status_code)
        if response.status_code in spec.ok_status:
            label = first_text(body, spec.account_label)
            return masker.text(label)[:MAX_MESSAGE] if label else None
        busy = overloaded(response, who=app.name, app=app.key)
        if busy is not None:
            raise busy
        message = f"{app.name} rejected the credentials (HTTP {response.status_code})"
        if provider_says:
            message += f": {masker.text(provider_says)[:MAX_MESSAGE]}"
        raise CredentialsRejected(message, app=app.key, provider_status=response.status_code)


def _plain_text(response: httpx2.Response) -> str | None:
    """A short plain-text answer's first line (Trello: "invalid key"), for a refusal's message;
    HTML error pages and long bodies say nothing useful."""
    if not response.headers.get("content-type", "").startswith("text/plain"):
        return None
    if len(response.content) > 1000:
        return None
    line = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return line if line.isprintable() else None


def _refused_by_body(app: App, rules: ResponseRules, ok_status: bool, body: Any) -> str | None:
    """What a body rule makes of the answer: the start of a refusal's message, or None.

    A body passing ``expired_when`` is a refusal whatever the status (the connection test
    then refreshes once and tries again, as for a 401); an ``ok_status`` answer whose body
    fails ``ok_when`` is one too (Slack: HTTP 200 ``{"ok": false, "error": "invalid_auth"}``).
    """
    if rules.expired_when is not None and rules.expired_when.holds(body):
        return f"{app.name} rejected the credentials (the access token expired)"
    if ok_status and rules.ok_when is not None and not rules.ok_when.holds(body):
        if body is None:
            raise ProviderUnavailable(
                f"{app.name} answered with a body that is not JSON; try again later", app=app.key
            )
        return f"{app.name} rejected the credentials"
    return None
