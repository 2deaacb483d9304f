"""What a person must prepare before connecting: where to create the key or the OAuth app,
and the steps there. The redirect URI to register and the scopes to enable are known from the
deployment and the method's ``oauth2`` section, so the pages and the API add them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class Setup(BaseModel):
    """Where the credential is made, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl = Field(description="the provider's page where the key or app is created")
    steps: list[str] = Field(
        min_length=1, max_length=8, description="short steps, in order, in the provider's words"
    )
