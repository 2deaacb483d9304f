"""``gatekey apps``: the catalog and a project's own apps."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cli import run


def test_apps(env: Path) -> None:
    _, out, _ = run("apps", "list", "--json")
    assert "sendgrid" in {a["key"] for a in json.loads(out)}
    _code, out, _ = run("apps", "show", "twilio", "--json")
    assert json.loads(out)["auth"][0]["kind"] == "basic"


def test_apps_show_says_which_options_connect_an_app(env: Path) -> None:
    code, out, _ = run("apps", "show", "zendesk")
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[:3] == [
        "Zendesk (zendesk)",
        "Customer support ticketing.",
        "Docs: https://developer.zendesk.com/documentation/api-basics/authentication/api-tokens-to-oauth/",
    ]
    assert (
        "  gatekey connections create --app zendesk --name NAME --auth-kind custom "
        "-f email=VALUE -c subdomain=VALUE" in lines
    )
    assert "    email      Agent email (required)" in lines
    assert any(line.startswith("    api_token  API token (required; secret: ") for line in lines)
    assert '    subdomain  Subdomain (required): The "acme" in acme.zendesk.com.' in lines
    _, out, _ = run("apps", "show", "airtable")
    lines = [line.rstrip() for line in out.splitlines()]
    assert "  gatekey connections connect --app airtable" in lines
    assert "  gatekey oauth-clients add --app airtable --client-id ID" in lines
    assert "  gatekey connections create --app airtable --name NAME --auth-kind api_key" in lines


def test_a_project_app_from_a_file(env: Path, tmp_path: Path) -> None:
    import yaml

    from tests.fakes.apps import acme

    definition = tmp_path / "acme.yaml"
    definition.write_text(yaml.safe_dump(acme()))
    code, out, _ = run("apps", "add", str(definition))
    assert (code, out) == (0, "added acme-crm (Acme CRM) to project default\n")
    code, out, _ = run("apps", "list", "--search", "acme")
    assert code == 0 and "acme-crm" in out and "project" in out
    _, out, _ = run("apps", "show", "acme-crm", "--json")
    assert json.loads(out)["base_url"] == "https://api.acme.test"
    code, _, err = run("apps", "add", str(definition))
    assert (code, err) == (4, "error [app_exists]: this project already has an app 'acme-crm'\n")
    definition.write_text(yaml.safe_dump(acme(name="Acme CRM 2")))
    assert run("apps", "replace", "acme-crm", str(definition))[0] == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed")
    code, _, err = run("apps", "add", str(broken))
    assert code == 2 and err.startswith("error [invalid_app_definition]:")
    assert run("apps", "delete", "acme-crm")[:2] == (0, "deleted acme-crm\n")
    code, _, err = run("apps", "show", "acme-crm")
    assert code == 2 and "unknown_app" in err


def _add_portal(tmp_path: Path) -> None:
    import yaml

    from tests.fakes.apps import portal

    definition = tmp_path / "portal.yaml"
    definition.write_text(yaml.safe_dump(portal()))
    assert run("apps", "add", str(definition))[0] == 0


def test_apps_list_filters_by_category_and_auth_kind(env: Path, tmp_path: Path) -> None:
    _add_portal(tmp_path)
    _, out, _ = run("apps", "list", "--category", "support", "--auth-kind", "oauth2", "--json")
    listed = json.loads(out)
    assert "portal" in {a["key"] for a in listed}
    assert all("support" in a["categories"] and "oauth2" in a["auth_kinds"] for a in listed)
    code, _, err = run("apps", "list", "--category", "gardening")
    assert code == 2 and err.startswith("error [invalid_input]: invalid filter: category: ")
    _, out, _ = run("apps", "categories", "--json")
    counted = {c["category"]: c["count"] for c in json.loads(out)}
    support = json.loads(run("apps", "list", "--category", "support", "--json")[1])
    assert counted["support"] == len(support)


def test_apps_show_says_what_to_prepare(env: Path, tmp_path: Path) -> None:
    _add_portal(tmp_path)
    code, out, _ = run("apps", "show", "portal")
    assert code == 0
    lines = [line.rstrip() for line in out.splitlines()]
    assert "  prepare at https://portal.test/developers/apps:" in lines
    assert "    1. Open Developer apps" in lines
    assert "  redirect URI to register: http://127.0.0.1:8040/oauth/callback" in lines
    assert "  scopes: tickets:read users:read" in lines
    assert "  DEPRECATED since 2026-10-27: API keys stop working at the sunset date." in lines
    assert "    stops working on 2027-04-30" in lines
    assert "    use oauth2 instead" in lines
