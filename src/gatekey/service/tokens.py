"""What the background loops ask of the service about tokens: which are due, refresh one ahead
of time, and the purge of spent authorization sessions. Refreshing is ``oauth.refresh``;
revoking a deleted connection's grant is ``oauth.revocation``, called by the delete."""

from __future__ import annotations

from datetime import datetime, timedelta

from gatekey.oauth.refresh import CandidatePage, RefreshCandidate
from gatekey.service.base import ServiceBase
from gatekey.store import oauth as oauth_rows

__all__ = ["CandidatePage", "RefreshCandidate", "TokensMixin"]


class TokensMixin(ServiceBase):
    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool:
        """Refresh a token due within ``ahead`` (or an idle grant) now; return whether a token
        request was made (``Refresher.refresh_ahead``)."""
        return self.refresher.refresh_ahead(project_id, connection_id, ahead=ahead, idle=idle)

    def refresh_candidates(
        self,
        *,
        ahead: timedelta,
        limit: int,
        after: tuple[datetime | None, str] | None = None,
    ) -> CandidatePage:
        """One page of connections due for a background refresh (``Refresher.candidates``)."""
        return self.refresher.candidates(ahead=ahead, limit=limit, after=after)

    def purge_authorization_sessions(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete authorization sessions that expired more than ``older_than`` ago."""
        with self.db.write() as conn:
            return oauth_rows.purge_sessions(conn, self.clock() - older_than)
