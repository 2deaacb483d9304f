"""GitHub's redirect to the app's Setup URL after an install: the installation it names
becomes a connection's grant (``github_app``).

GitHub sends ``?installation_id=..&setup_action=install&state=..`` (``update`` when the
person changed an existing installation, ``request`` when an organization owner has yet to
approve it, with no installation). The session the ``state`` names says whose it is
(``service.oauth_callback``); the installation's id is kept as config (the recipe's
``callback_config``) and the first installation token minted with the project's OAuth client
(the app's id and private key) before anything is stored, so an installation GitHub does not
know, or of another app, fails the session and never becomes an active connection.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatekey.catalog.schema import App, AuthMethod
from gatekey.domain import masking, tokens
from gatekey.errors import AuthorizationFailed, GatekeyError, TokenExchangeFailed
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.minters.github import INSTALLATION_ID, GitHubAppMinter
from gatekey.oauth.minting import Mint
from gatekey.probe import Prober
from gatekey.service.context import Context
from gatekey.service.grants import Grant, tested_label
from gatekey.store.rows import OAuthSessionRow

MAX_PARAM = 100


class GitHubInstalls:
    """Turns an install callback into a grant, asking GitHub as the app through ``prober``'s
    client (the egress guard's)."""

    def __init__(self, ctx: Context, client_secrets: ClientSecrets, prober: Prober) -> None:
        self.ctx = ctx
        self.client_secrets = client_secrets
        self.prober = prober
        self.minter = GitHubAppMinter(prober.http, clock=ctx.now)

    def grant(
        self, entry: App, method: AuthMethod, row: OAuthSessionRow, params: Mapping[str, str]
    ) -> Grant:
        """Mint the first installation token for the installation the callback names; raise
        ``AuthorizationFailed`` (or ``TokenExchangeFailed``, ``ProviderUnavailable``) when
        there is none to connect."""
        spec = method.github_app
        assert spec is not None  # a github_app method has its section
        if params.get("setup_action") == "request":
            raise AuthorizationFailed(
                f"the {entry.name} installation awaits an organization owner's approval; "
                "connect again once it is approved"
            )
        config = dict(row.config)
        for name in spec.callback_config:
            given = "".join(ch for ch in params.get(name) or "" if ch.isprintable())
            if given:
                config[name] = given[:MAX_PARAM]
        installation = str(config.get(INSTALLATION_ID, ""))
        if INSTALLATION_ID in spec.callback_config and not installation.isdigit():
            raise AuthorizationFailed(f"GitHub sent no installation of {entry.name}")
        client = self.client_secrets(row.project_id, row.oauth_client_id)
        request = Mint(entry, method, row.connection_id or "", {}, config, (), client)
        try:
            with self.ctx.metrics.provider_call(entry.key, "token"):
                response = self.minter.mint(request)
        except GatekeyError as exc:
            if exc.code == "provider_unavailable":
                raise
            raise TokenExchangeFailed(exc.message, cause=exc.code) from None
        secret, _ = tokens.merge({}, response.body)
        expires = tokens.expires_at(
            response.body,
            response.sent_at,
            refetchable=True,
            default_lifetime=spec.default_token_lifetime_seconds,
        )
        label = self._label(entry, method, request, secret, config)
        return Grant(secret, config, expires, [], label, response.sent_at)

    def _label(
        self,
        entry: App,
        method: AuthMethod,
        request: Mint,
        secret: dict[str, object],
        config: dict[str, object],
    ) -> str | None:
        """The installation's account (read as the app), else what the app's test request
        finds with the installation token."""
        with self.ctx.metrics.provider_call(entry.key, "discovery"):
            label = self.minter.account(request)
        if label is not None:
            return label
        values = {**secret, **config}
        hidden = masking.secret_values(secret)
        return tested_label(self.ctx.metrics, self.prober, entry, method, values, hidden)
