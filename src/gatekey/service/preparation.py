"""What a person must prepare before connecting with an auth method, as the apps page and
``GET /api/v1/apps/{key}`` show it: where the key or OAuth app is created and the steps there
(the entry's ``setup``), the redirect URI to register (this deployment's OAuth callback, for
the authorization-code grant), the scopes Gatekey asks for, and the method's deprecation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gatekey.catalog.lifecycle import Deprecation
from gatekey.catalog.schema import CONSENT, App, AuthMethod


class Preparation(BaseModel):
    """One auth method's ``prepare`` block."""

    model_config = ConfigDict(frozen=True)

    setup_url: str | None = Field(
        default=None, description="the provider's page where the key or OAuth app is created"
    )
    steps: list[str] = Field(default_factory=list, description="what to do there, in order")
    redirect_uri: str | None = Field(
        default=None,
        description="OAuth2: the redirect (callback) URI to register with the provider, this "
        "deployment's own (a GitHub App's Setup URL)",
    )
    scopes: list[str] = Field(
        default_factory=list, description="OAuth2: the scopes Gatekey asks for (to enable)"
    )
    deprecated: Deprecation | None = Field(
        default=None, description="the provider is retiring this method: since, sunset, use_instead"
    )
    idle_expiry_days: int | None = Field(
        default=None, description="the provider deactivates a credential left unused this long"
    )


def prepare(method: AuthMethod, callback_url: str) -> Preparation:
    """What connecting with ``method`` takes beforehand, on a deployment called back at
    ``callback_url``."""
    spec = method.oauth2
    return Preparation(
        setup_url=str(method.setup.url) if method.setup else None,
        steps=list(method.setup.steps) if method.setup else [],
        redirect_uri=callback_url if method.kind in CONSENT else None,
        scopes=list(spec.default_scopes) if spec else [],
        deprecated=method.deprecated,
        idle_expiry_days=method.idle_expiry_days,
    )


def with_preparations(view: dict[str, Any], app: App, callback_url: str) -> dict[str, Any]:
    """``view`` (``public_view(app)``) with each auth method's ``prepare`` block."""
    methods = [
        {**shown, "prepare": prepare(method, callback_url).model_dump(mode="json")}
        for shown, method in zip(view["auth"], app.auth, strict=True)
    ]
    return {**view, "auth": methods}
