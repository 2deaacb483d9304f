from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gatekey


def test_public_names_are_pinned() -> None:
    assert sorted(gatekey.__all__) == ["Client", "Gatekey", "GatekeyError", "__version__"]


def test_embedded_and_http_clients_offer_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_") and callable(getattr(cls, n))}

    shared = public(gatekey.Gatekey) & public(gatekey.Client)
    assert {
        "create_connection",
        "list_connections",
        "get_connection",
        "rename_connection",
        "set_default",
        "replace_credentials",
        "delete_connection",
        "resolve_credentials",
        "test_connection",
        "list_apps",
        "get_app",
        "create_api_key",
        "list_api_keys",
        "register_oauth_client",
        "list_oauth_clients",
        "update_oauth_client",
        "delete_oauth_client",
        "start_authorization",
        "authorization_status",
        "create_flow",
        "list_flows",
        "connection_usage",
        "trigger_run",
        "get_run",
        "list_runs",
        "retry_run",
        "replace_connection",
    } <= shared


SERVER_ONLY = ("sqlalchemy", "alembic", "fastapi", "starlette")


def test_importing_the_http_client_loads_no_server_code() -> None:
    """A worker that only talks to a server starts without the database or web stacks."""
    probe = "import json, sys; from gatekey import Client; print(json.dumps(sorted(sys.modules)))"
    source = str(Path(gatekey.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    ran = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    loaded = {name.split(".")[0] for name in json.loads(ran.stdout)}
    assert loaded & set(SERVER_ONLY) == set()


def test_the_embedded_sdk_is_still_importable_by_name() -> None:
    from gatekey import Gatekey
    from gatekey.embedded import Gatekey as Embedded

    assert Gatekey is Embedded is gatekey.Gatekey
    assert "Gatekey" in dir(gatekey)
