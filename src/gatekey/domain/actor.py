"""Who is calling: a project, the API key (or ``cli``, or a run) acting, and its role.

A plain value, here so that the layers below the service (the workflow engine acting for a
run) can name it; what an actor may do is decided in ``service.actor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gatekey.domain.roles import AnyRole, Role

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
