"""Whether an actor's role allows an operation (``domain.roles``); the actor is a domain value."""

from __future__ import annotations

from gatekey.domain import roles
from gatekey.domain.actor import OPERATOR, Actor
from gatekey.domain.roles import Internal
from gatekey.errors import NotFound, PermissionDenied

__all__ = ["OPERATOR", "Actor", "authorize", "flow_webhook", "within_flow"]


def authorize(actor: Actor, operation: str) -> None:
    """Refuse ``operation`` unless the table in ``domain.roles`` allows it to the actor's role;
    the local operator may do everything."""
    if actor.key_id != OPERATOR and not roles.allowed(actor.role, operation):
        raise PermissionDenied(roles.refusal(actor.role, operation))


def flow_webhook(project_id: str, flow_id: str) -> Actor:
    """Who a call to a flow's webhook acts as: that flow, and nothing else of its project."""
    return Actor(project_id, key_id=f"webhook:{flow_id}", role=Internal.FLOW_WEBHOOK)


def within_flow(actor: Actor, flow_id: str, missing: NotFound) -> None:
    """A flow's webhook sees its own flow and runs only: anything else is ``missing`` to it,
    as another project's objects are (``domain.roles``: it queues a run of that flow)."""
    if actor.role is Internal.FLOW_WEBHOOK and actor.key_id != f"webhook:{flow_id}":
        raise missing
