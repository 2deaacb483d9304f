from __future__ import annotations

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
