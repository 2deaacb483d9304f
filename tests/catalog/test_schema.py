"""The catalog schema refuses new fields used wrongly with ``invalid_app_definition``, naming
each field at fault: body checks, endpoint shapes, discovery, issuers, overridable headers,
choices, lifecycle, setup and sources."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatekey.catalog.loader import app_from_data
from gatekey.catalog.schema import public_view
from gatekey.errors import InvalidAppDefinition


def _app() -> dict[str, Any]:
    return {
        "key": "acme",
        "name": "Acme",
        "docs_url": "https://docs.acme.test/auth",
        "base_url": "https://api.acme.test",
        "categories": ["crm"],
        "auth": [
            {
                "kind": "oauth2",
                "apply": [{"type": "bearer", "value": "{access_token}"}],
                "oauth2": {
                    "authorization_url": "https://acme.test/authorize",
                    "token_url": "https://acme.test/token",
                },
            },
            {
                "kind": "api_key",
                "fields": {"properties": {"key": {"title": "Key", "secret": True}}},
                "apply": [{"type": "bearer", "value": "{key}"}],
            },
        ],
    }


def _refused(change: dict[str, Any] | None = None, **methods: dict[str, Any]) -> list[str]:
    data = _app()
    data.update(change or {})
    for index, extra in methods.items():
        target = data["auth"][int(index[1:])]
        for name, value in extra.items():
            if name == "oauth2":
                target["oauth2"].update(value)
            else:
                target[name] = value
    with pytest.raises(InvalidAppDefinition) as caught:
        app_from_data(copy.deepcopy(data), "acme.yaml")
    assert caught.value.code == "invalid_app_definition"
    return [f"{e['field']}: {e['message']}" for e in caught.value.details["errors"]]


def test_a_correct_definition_with_every_new_field_is_taken() -> None:
    data = _app()
    oauth, key = data["auth"]
    oauth["responses"] = {"ok_when": {"path": "ok", "equals": True}}
    oauth["oauth2"].update(
        {
            "issuer": "https://acme.test",
            "iss_required": False,
            "token_request": {"body": "json"},
            "revocation_url": "https://acme.test/revoke",
            "revocation_request": {"client_auth_method": "client_secret_post"},
            "discovery": [
                {"url": "https://api.acme.test/me", "config": [{"name": "org", "path": "0.id"}]}
            ],
            "token_response_config": ["instance_url", {"name": "team_id", "path": "team.id"}],
            "default_token_lifetime_seconds": 7200,
        }
    )
    oauth["apply"].append(
        {"type": "header", "name": "Acme-Version", "value": "2", "overridable": True}
    )
    oauth["setup"] = {"url": "https://acme.test/apps", "steps": ["Create an app."]}
    key["deprecated"] = {
        "since": "2026-01-01",
        "sunset": "2027-01-01",
        "note": "Keys are retired.",
        "use_instead": "oauth2",
        "source": "https://docs.acme.test/keys",
    }
    key["idle_expiry_days"] = 30
    data["sources"] = [
        {
            "url": "https://docs.acme.test/auth",
            "checked": "2026-12-02",
            "facts": ["oauth2.token_url"],
        }
    ]
    app = app_from_data(data, "acme.yaml")
    assert app.method().oauth2 is not None
    assert app.method().oauth2.learned_names == {"org", "instance_url", "team_id"}


@pytest.mark.parametrize(
    ("methods", "change", "field", "says"),
    [
        (
            {"m0": {"responses": {"ok_when": {"path": "ok"}}}},
            None,
            "auth.0.responses.ok_when",
            "exactly one of",
        ),
        (
            {"m0": {"responses": {"ok_when": {"path": "a..b", "equals": 1}}}},
            None,
            "auth.0.responses.ok_when.path",
            "dotted path",
        ),
        (
            {"m0": {"oauth2": {"token_request": {"body": "xml"}}}},
            None,
            "auth.0.oauth2.token_request.body",
            "'form' or 'json'",
        ),
        (
            {"m0": {"oauth2": {"revocation_request": {"body": "json"}}}},
            None,
            "auth.0.oauth2",
            "needs a revocation_url",
        ),
        (
            {"m0": {"oauth2": {"iss_required": False}}},
            None,
            "auth.0.oauth2",
            "only means something with an issuer",
        ),
        ({"m0": {"oauth2": {"issuer": "http://acme.test"}}}, None, "auth.0.oauth2", "https URL"),
        (
            {"m0": {"oauth2": {"discovery": [{"url": "https://api.acme.test/me", "config": []}]}}},
            None,
            "auth.0.oauth2.discovery.0.config",
            "at least 1",
        ),
        (
            {
                "m0": {
                    "oauth2": {
                        "discovery": [
                            {
                                "url": "https://a.test/",
                                "config": [{"name": "Bad-Name", "path": "id"}],
                            }
                        ]
                    }
                }
            },
            None,
            "auth.0.oauth2.discovery.0.config.0.name",
            "pattern",
        ),
        (
            {"m0": {"oauth2": {"token_response_config": ["org"], "callback_config": ["org"]}}},
            None,
            "auth.0.oauth2",
            "learned twice",
        ),
        (
            {"m0": {"oauth2": {"default_token_lifetime_seconds": 5}}},
            None,
            "auth.0.oauth2.default_token_lifetime_seconds",
            "greater than or equal to 60",
        ),
        (
            {"m0": {"oauth2": {"revoked_error_fields": [""]}}},
            None,
            "auth.0.oauth2.revoked_error_fields.0",
            "dotted path",
        ),
        (
            {
                "m0": {
                    "apply": [
                        {
                            "type": "header",
                            "name": "Authorization",
                            "value": "x",
                            "overridable": True,
                        }
                    ]
                }
            },
            None,
            "auth.0",
            "never override Authorization",
        ),
        (
            {
                "m1": {
                    "apply": [
                        {"type": "header", "name": "X-Key", "value": "{key}", "overridable": True}
                    ]
                }
            },
            None,
            "auth.1",
            "built from a secret",
        ),
        (
            {
                "m1": {
                    "deprecated": {
                        "since": "2026-01-01",
                        "note": "x",
                        "use_instead": "basic",
                        "source": "https://a.test/",
                    }
                }
            },
            None,
            "(root)",
            "names no other method",
        ),
        (
            {"m1": {"deprecated": {"since": "someday", "note": "x", "source": "https://a.test/"}}},
            None,
            "auth.1.deprecated.since",
            "date",
        ),
        ({"m0": {"idle_expiry_days": 30}}, None, "auth.0", "oauth2.idle_refresh_days"),
        (
            {"m1": {"setup": {"url": "https://a.test/", "steps": []}}},
            None,
            "auth.1.setup.steps",
            "at least 1",
        ),
        ({}, {"categories": ["gardening"]}, "categories.0", "Input should be"),
        (
            {},
            {
                "sources": [
                    {"url": "http://a.test/", "checked": "2026-12-02", "facts": ["base_url"]}
                ]
            },
            "sources.0.url",
            "https",
        ),
        (
            {},
            {
                "sources": [
                    {"url": "https://a.test/", "checked": "2026-12-02", "facts": ["basic.apply"]}
                ]
            },
            "(root)",
            "unknown ['basic.apply']",
        ),
        (
            {},
            {"sources": [{"url": "https://a.test/", "checked": "2026-12-02", "facts": []}]},
            "sources.0.facts",
            "at least 1",
        ),
    ],
)
def test_new_fields_used_wrongly_are_refused_naming_the_field(
    methods: dict[str, dict[str, Any]], change: dict[str, Any] | None, field: str, says: str
) -> None:
    found = _refused(change, **methods)
    assert any(e.startswith(f"{field}:") and says in e for e in found), found


def test_closed_choices_take_no_default_outside_them_and_open_ones_must_fit_the_pattern() -> None:
    config = {
        "properties": {
            "host": {
                "title": "Host",
                "choices": [{"value": "a.test", "title": "A"}, {"value": "b.test", "title": "B"}],
                "default": "c.test",
            }
        }
    }
    found = _refused(m0={"config": config})
    assert any(
        "auth.0.config.properties.host" in e and "not one of the choices" in e for e in found
    )
    config["properties"]["host"].update({"default": "a.test", "pattern": "^[a]\\.test$"})
    found = _refused(m0={"config": config})
    assert any("do not match the pattern" in e for e in found), found
    config["properties"]["host"]["enum"] = ["a.test"]
    config["properties"]["host"].pop("pattern")
    found = _refused(m0={"config": config})
    assert any("choices and enum" in e for e in found), found


def test_every_error_is_named_at_once() -> None:
    found = _refused(
        {"categories": ["gardening"]},
        m0={"oauth2": {"token_request": {"body": "xml"}}},
        m1={"setup": {"url": "https://a.test/", "steps": []}},
    )
    fields = {e.split(":")[0] for e in found}
    assert {"categories.0", "auth.0.oauth2.token_request.body", "auth.1.setup.steps"} <= fields


def test_a_body_check_for_null_reads_back_as_the_same_check() -> None:
    """``public_view`` leaves None fields out; ``equals: null`` must survive it."""
    data = _app()
    data["auth"][1]["responses"] = {"ok_when": {"path": "error", "equals": None}}
    app = app_from_data(data, "acme.yaml")
    again = app_from_data(public_view(app), "acme.yaml")
    assert again.auth[1].responses == app.auth[1].responses
    assert again.auth[1].responses.ok_when is not None
    assert again.auth[1].responses.ok_when.holds({"error": None})


def test_a_test_request_body_goes_with_post_only() -> None:
    found = _refused(m1={"test_request": {"path": "/me", "json_body": {"query": "{ me }"}}})
    assert any("only a POST test request sends a body" in e for e in found), found
