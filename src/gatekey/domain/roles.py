"""Roles, and the one table of what each may do. Pure data; the service enforces it.

``admin`` and ``runtime`` are the roles an API key has. An admin key manages its project. A
runtime key (a workflow engine's) may only read apps and connection metadata and use
credentials: resolve them, or call the app through the proxy. It cannot read or run flows or
runs, nor change anything.

``Internal`` roles belong to callers inside Gatekey that no API key can have: a flow's webhook
URL (it queues a run of that flow, and reads back the flow and the run it queued) and a run
being executed (it resolves its connections and calls their apps).

The local operator (the CLI, the embedded SDK) may do everything and is not in the table.
Every public service operation that acts for an actor has a row; ``tests/service/test_roles.py``
calls each one as each role and fails on an operation without a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """The role of an API key: ``admin`` manages the project; ``runtime`` reads metadata and
    uses credentials."""

    ADMIN = "admin"
    RUNTIME = "runtime"


class Internal(StrEnum):
    """Callers inside Gatekey, never an API key."""

    FLOW_WEBHOOK = "flow_webhook"
    RUN = "run"


AnyRole = Role | Internal
ROLES: tuple[AnyRole, ...] = (*Role, *Internal)

_ADMIN: frozenset[AnyRole] = frozenset({Role.ADMIN})
_READ: frozenset[AnyRole] = frozenset({Role.ADMIN, Role.RUNTIME})
_USE: frozenset[AnyRole] = frozenset({Role.ADMIN, Role.RUNTIME, Internal.RUN})
_HOOK: frozenset[AnyRole] = frozenset({Role.ADMIN, Internal.FLOW_WEBHOOK})

PERMISSIONS: Mapping[str, frozenset[AnyRole]] = MappingProxyType(
    {
        # apps
        "list_apps": _READ,
        "get_app": _READ,
        "add_app": _ADMIN,
        "replace_app": _ADMIN,
        "delete_app": _ADMIN,
        # connections: metadata, changes, credentials
        "list_connections": _READ,
        "get_connection": _READ,
        "diagnose_connection": _READ,
        "create_connection": _ADMIN,
        "update_connection": _ADMIN,
        "rename_connection": _ADMIN,
        "set_default": _ADMIN,
        "replace_credentials": _ADMIN,
        "delete_connection": _ADMIN,
        "test_connection": _ADMIN,
        "connection_usage": _ADMIN,  # names the flows that use it
        "replace_connection": _ADMIN,
        "audit_trail": _ADMIN,
        "resolve_credentials": _USE,
        "open_credentials": _ADMIN,  # the whole secret, refresh token included: edits, exports
        "proxy": _USE,
        "export_connections": _ADMIN,
        "import_connections": _ADMIN,
        # OAuth
        "list_oauth_clients": _ADMIN,
        "get_oauth_client": _ADMIN,
        "register_oauth_client": _ADMIN,
        "update_oauth_client": _ADMIN,
        "delete_oauth_client": _ADMIN,
        "start_authorization": _ADMIN,
        "authorization_status": _ADMIN,
        # flows and runs
        "list_flows": _ADMIN,
        "get_flow": _HOOK,
        "create_flow": _ADMIN,
        "update_flow": _ADMIN,
        "delete_flow": _ADMIN,
        "rotate_webhook": _ADMIN,
        "trigger_run": _HOOK,
        "get_run": _HOOK,
        "list_runs": _ADMIN,
        "retry_run": _ADMIN,
        # status webhooks, audit, API keys
        "add_webhook": _ADMIN,
        "list_webhooks": _ADMIN,
        "delete_webhook": _ADMIN,
        "webhook_deliveries": _ADMIN,
        "ping_webhook": _ADMIN,
        "project_audit": _ADMIN,
        "verify_audit": _ADMIN,
        "create_api_key": _ADMIN,
        "list_api_keys": _ADMIN,
        "revoke_api_key": _ADMIN,
    }
)


def allowed(role: AnyRole, operation: str) -> bool:
    """Whether ``role`` may run ``operation``; an operation without a row is refused."""
    return role in PERMISSIONS.get(operation, frozenset())


def refusal(role: AnyRole, operation: str) -> str:
    """The message of a refusal: what was refused and which role would do."""
    what = operation.replace("_", " ")
    if Role.ADMIN in PERMISSIONS.get(operation, frozenset()) and isinstance(role, Role):
        return f"this API key has the {role} role, which may not {what}; an admin key is needed"
    return f"the {role} role may not {what}"
