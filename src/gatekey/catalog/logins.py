"""Recipes that trade what the person gave for a token Gatekey keeps renewing: a GitHub App's
installation token (the app's JWT, then ``POST /app/installations/{id}/access_tokens``) and a
declarative "log in, then use the token" (``two_step``: credentials or a personal access token
posted to a token URL as form or JSON; the token and its expiry read from the answer by path).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gatekey.catalog.jwt import JwtSpec
from gatekey.catalog.minted import Minted
from gatekey.catalog.text import BodyPath, Headers, Params, PlainText


class GitHubAppSpec(Minted):
    """A GitHub App: the project's OAuth client holds the app's client id (or app id) and its
    private key; each connection is one installation, its id captured from the install
    callback (``installation_id`` config)."""

    install_url: PlainText = Field(
        description="where the person installs the app (`https://github.com/apps/{app_slug}/"
        "installations/new`); `state` is added"
    )
    app_jwt: JwtSpec
    token_url: PlainText = Field(
        description="`https://api.github.com/app/installations/{installation_id}/access_tokens`"
    )
    token_headers: Headers = Field(default_factory=dict)
    token_path: BodyPath = "token"  # noqa: S105 (a path into the answer)
    expires_at_path: BodyPath | None = "expires_at"
    installation_url: PlainText | None = Field(
        default=None,
        description="read once the installation is known, for the account label "
        "(`https://api.github.com/app/installations/{installation_id}`)",
    )
    installation_label: list[BodyPath] = Field(default_factory=lambda: ["account.login"])
    callback_config: list[str] = Field(
        default_factory=lambda: ["installation_id"],
        description="install-callback query parameters kept as config",
    )


class TwoStepSpec(Minted):
    """Log in, then use the token: ``{access_token}`` in the method's apply rules."""

    token_url: PlainText
    http_method: Literal["POST", "PUT", "GET"] = "POST"
    body: Literal["form", "json", "none"] = "json"
    params: Params = Field(
        default_factory=dict,
        description="the login request's fields as templates (`username: '{username}'`)",
    )
    headers: Headers = Field(default_factory=dict)
    basic: tuple[PlainText, PlainText] | None = Field(
        default=None, description="HTTP basic credentials of the login request (templates)"
    )
    token_path: BodyPath = Field(default="token")
    expires_in_path: BodyPath | None = None
    expires_at_path: BodyPath | None = None
    refused_status: list[int] = Field(
        default_factory=lambda: [400, 401, 403],
        description="login answers meaning the credentials are refused: the connection goes "
        "Inactive with the provider's words",
    )

    @model_validator(mode="after")
    def _fits(self) -> TwoStepSpec:
        if self.http_method == "GET" and self.body != "none":
            raise ValueError("a GET login sends no body: body none (params go in the query)")
        return self

    def templates(self) -> list[str]:
        out = [self.token_url, *self.params.values(), *self.headers.values()]
        return out + list(self.basic or ())
