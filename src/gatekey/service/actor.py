"""Whether an actor's role allows an operation (``domain.roles``); the actor is a domain value."""

from __future__ import annotations

from gatekey.domain import roles
from gatekey.domain.actor import OPERATOR, Actor
from gatekey.errors import PermissionDenied

__all__ = ["OPERATOR", "Actor", "authorize"]


def authorize(actor: Actor, operation: str) -> None:
    """Refuse ``operation`` unless the table in ``domain.roles`` allows it to the actor's role;
    the local operator may do everything."""
    if actor.key_id != OPERATOR and not roles.allowed(actor.role, operation):
        raise PermissionDenied(roles.refusal(actor.role, operation))
