"""The audit trail: read it, and check that nobody edited or deleted an entry."""

from __future__ import annotations

from gatekey.domain.inputs import checked_arguments
from gatekey.domain.pagination import check_limit
from gatekey.errors import PermissionDenied
from gatekey.models import AuditBreak, AuditEvent, AuditVerification
from gatekey.service.actor import Actor, authorize
from gatekey.service.context import Context
from gatekey.service.views import audit_event_of
from gatekey.store import audit as audit_rows


@checked_arguments
class AuditTrail:
    """The project's trail for admins; verification of one chain or, for the operator, all."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def events(
        self, actor: Actor, *, object_id: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """The newest entries of the actor's project, optionally about one object."""
        authorize(actor, "project_audit")
        self.ctx.audit.flush()
        with self.ctx.db.read() as conn:
            found = audit_rows.events_for(
                conn, actor.project_id, object_id, check_limit(limit, 500)
            )
        return [audit_event_of(r) for r in found]

    def verify(self, actor: Actor, *, every_project: bool = False) -> AuditVerification:
        """Recompute the hash chain of the actor's project (or every chain, for the operator).

        ``ok`` is false when an entry was edited, removed or inserted, or the newest ones were cut.
        The chains are read on one snapshot, so writers in other processes cause no false break.
        """
        authorize(actor, "verify_audit")
        if every_project and actor.key_id != "operator":
            raise PermissionDenied("only the operator verifies every project's chain")
        self.ctx.audit.flush()
        result = audit_rows.verify_snapshot(
            self.ctx.db, None if every_project else actor.project_id
        )
        return AuditVerification(
            ok=not result.breaks,
            chains=result.chains,
            entries=result.entries,
            breaks=[
                AuditBreak(chain=b.chain, seq=b.seq, entry_id=b.entry_id, problem=b.problem)
                for b in result.breaks[:1000]
            ],
        )
