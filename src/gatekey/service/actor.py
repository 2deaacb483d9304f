"""Who is calling the service, and whether their role allows an operation (``domain.roles``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gatekey.domain import roles
from gatekey.domain.roles import AnyRole, Role
from gatekey.errors import PermissionDenied

OPERATOR = "operator"
"""The ``key_id`` of the local operator's actor."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a project, the API key (or ``cli``) acting, and its role."""

    project_id: str
    key_id: str
    role: AnyRole
    address: str | None = field(default=None, compare=False, repr=False)
    """Set by ``authenticate(..., peek=False)``: the caller's address, whose failed API-key
    attempts the request's budget looks at in the same limiter call (``service.budgets``)."""

    @classmethod
    def operator(cls, project_id: str) -> Actor:
        """The local operator (CLI, embedded SDK): admin of the project, allowed everything."""
        return cls(project_id=project_id, key_id=OPERATOR, role=Role.ADMIN)

    @property
    def is_operator(self) -> bool:
        return self.key_id == OPERATOR


def authorize(actor: Actor, operation: str) -> None:
    """Refuse ``operation`` unless the table in ``domain.roles`` allows it to the actor's role;
    the local operator may do everything."""
    if actor.key_id != OPERATOR and not roles.allowed(actor.role, operation):
        raise PermissionDenied(roles.refusal(actor.role, operation))
