"""What an app's answers mean: the test request, and rules that read the body as well as the
status.

Slack answers HTTP 200 ``{"ok": false, "error": "invalid_auth"}`` for a dead token and
``{"ok": false, "error": "token_expired"}`` for an expired one, so the status alone says
nothing. A method's ``responses`` say, by a ``BodyCheck`` on the JSON body, when an answer
that looks like a success is a failure (``ok_when``) and when it means the access token
expired (``expired_when``); the test request, the proxy and run steps all read them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from gatekey.catalog.text import BodyPath, Headers, PlainText
from gatekey.domain.bodies import BodyRule, Scalar


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BodyCheck(_Strict):
    """A test on one value of a JSON body: it ``equals`` a value, or is ``one_of`` several."""

    path: BodyPath
    equals: Scalar = None
    one_of: list[Scalar] | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_test(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("equals" in data) == ("one_of" in data):
            raise ValueError("a body check takes exactly one of equals and one_of")
        return data

    @model_serializer(mode="wrap")
    def _keep_the_test(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``equals: null`` stays written out when None fields are left out (``public_view``),
        so a definition read back is the same definition."""
        data: dict[str, Any] = handler(self)
        if self.one_of is None:
            data["equals"] = self.equals
        return data

    def rule(self) -> BodyRule:
        """The same test as plain data (``one_of`` only), as ``Credentials`` hands it out."""
        return BodyRule(
            path=self.path, one_of=self.one_of if self.one_of is not None else [self.equals]
        )

    def holds(self, body: Any) -> bool:
        """Whether the body's value at ``path`` passes (a body that is not JSON never does)."""
        return self.rule().holds(body)


class ResponseRules(_Strict):
    """How to read an app's answers beyond their status."""

    ok_when: BodyCheck | None = Field(
        default=None,
        description="a 2xx answer whose body fails this check is a failure (Slack `ok: true`)",
    )
    expired_when: BodyCheck | None = Field(
        default=None,
        description="an answer whose body passes this check means the access token expired: "
        "refresh once and retry, as for `oauth2.expired_token_status` (Slack `token_expired`)",
    )


class TestRequest(_Strict):
    """A cheap request that proves the credentials work and names the account."""

    @model_validator(mode="after")
    def _body_with_post(self) -> TestRequest:
        if self.json_body is not None and self.method != "POST":
            raise ValueError("json_body: only a POST test request sends a body")
        if self.json_body is not None and len(json.dumps(self.json_body)) > 4096:
            raise ValueError("json_body: at most 4 KiB")
        return self

    method: Literal["GET", "POST"] = "GET"
    path: PlainText
    headers: Headers = Field(default_factory=dict)
    json_body: dict[str, Any] | None = Field(
        default=None,
        description="a POST's JSON body: a GraphQL API's only cheap identity check is a query "
        '(`{"query": "{ me { id } }"}`)',
    )
    ok_status: list[int] = Field(
        default_factory=lambda: [200],
        description="statuses that prove the credentials good: Stripe answers 403 to a valid "
        "restricted key lacking one permission, 401 to a bad key",
    )
    account_label: list[str] = Field(
        default_factory=list, description="dotted paths into the JSON body; first non-empty wins"
    )
    error_message: list[str] = Field(
        default_factory=lambda: [
            "errors.0.message",
            "error.message",
            "error_description",
            "message",
            "error",
            "detail",
        ],
        description="dotted paths to the provider's error text",
    )
