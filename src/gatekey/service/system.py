"""What runs without an actor: the process itself, the local operator and the doors a caller
comes in by. Every other part of the façade takes the ``Actor`` it acts for; nothing here is
ever exposed to an API key as it is. An adapter calls ``authenticate``, ``web_session``,
``sign_in``, ``webhook_actor`` or ``complete_authorization`` to learn who is calling; the
workers call the sweeps; the CLI (the local operator) calls the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from gatekey.domain.inputs import checked_arguments
from gatekey.models import (
    AuthorizationSession,
    CreatedApiKey,
    MasterKeyInfo,
    Project,
    Readiness,
    RotationProgress,
)
from gatekey.oauth.refresh import CandidatePage, Refresher
from gatekey.service.actor import Actor
from gatekey.service.authentication import Authenticator
from gatekey.service.context import Context
from gatekey.service.deliveries import Deliveries
from gatekey.service.flows import webhook_actor
from gatekey.service.health import Health
from gatekey.service.keepalive import KeepAlive, KeepAlivePage, Outcome
from gatekey.service.master_keys import MasterKeys
from gatekey.service.oauth_callback import OAuthCallback
from gatekey.service.projects import Projects
from gatekey.service.web_sessions import WebSession, WebSessions
from gatekey.store import oauth as oauth_rows


@checked_arguments
class System:
    def __init__(
        self,
        ctx: Context,
        projects: Projects,
        authenticator: Authenticator,
        web_sessions: WebSessions,
        callback: OAuthCallback,
        master_keys: MasterKeys,
        health: Health,
        deliveries: Deliveries,
        refresher: Refresher,
        keepalive: KeepAlive,
    ) -> None:
        self.ctx = ctx
        self._projects = projects
        self._authenticator = authenticator
        self._web_sessions = web_sessions
        self._callback = callback
        self._master_keys = master_keys
        self._health = health
        self._deliveries = deliveries
        self._refresher = refresher
        self._keepalive = keepalive

    # -- who is calling ---------------------------------------------------------------------

    def authenticate(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor:
        """The actor of an API key (``service.authentication``); every failure looks alike."""
        return self._authenticator.authenticate(token, client=client, peek=peek)

    def cached_actor(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor | None:
        """``authenticate`` without I/O, or None when only ``authenticate`` can tell."""
        return self._authenticator.cached_actor(token, client=client, peek=peek)

    def sign_in(
        self, *, api_key: str | None = None, link: str | None = None, client: str | None = None
    ) -> tuple[str, str]:
        """A web session from an admin API key or a one-time link: (cookie token, CSRF)."""
        return self._web_sessions.sign_in(api_key=api_key, link=link, client=client)

    def web_session(self, token: str | None) -> WebSession:
        """Who a session cookie signs in."""
        return self._web_sessions.web_session(token)

    def sign_out(self, token: str) -> None:
        self._web_sessions.sign_out(token)

    def webhook_actor(self, flow_id: str, secret: str) -> Actor:
        """Who a flow's webhook call acts as, if the flow's current secret matches."""
        return webhook_actor(self.ctx.db, flow_id, secret)

    def complete_authorization(
        self, params: Mapping[str, str], *, client: str | None = None
    ) -> AuthorizationSession:
        """Take the provider's redirect to the callback (``service.oauth_callback``)."""
        return self._callback.complete(params, client=client)

    # -- the local operator -----------------------------------------------------------------

    def create_project(self, name: str) -> Project:
        return self._projects.create(name)

    def list_projects(self) -> list[Project]:
        return self._projects.all()

    def find_project(self, name_or_id: str) -> Project:
        return self._projects.find(name_or_id)

    def bootstrap(self) -> tuple[Project, CreatedApiKey | None]:
        """Ensure the ``default`` project; on first start, return its one-time admin key."""
        return self._projects.bootstrap()

    def create_signin_link(self, project_id: str) -> str:
        """A one-time sign-in token for the project's admin; older unused links stop working."""
        return self._web_sessions.create_signin_link(project_id)

    def master_keys(self) -> list[MasterKeyInfo]:
        return self._master_keys.list()

    def check_master_keys(self) -> None:
        """Refuse to start when a stored secret is sealed under a key that is not configured."""
        self._master_keys.check()

    def rotate_master_key(
        self,
        *,
        batch_size: int = 500,
        progress: Callable[[RotationProgress], None] | None = None,
    ) -> RotationProgress:
        """Rewrap every data key under the primary master key, in committed batches."""
        return self._master_keys.rotate(batch_size=batch_size, progress=progress)

    def retire_master_key(self, key_id: str) -> None:
        self._master_keys.retire(key_id)

    def readiness(self) -> Readiness:
        """Whether this process can serve credentials right now."""
        return self._health.readiness()

    # -- the workers ------------------------------------------------------------------------

    def refresh_candidates(
        self,
        *,
        ahead: timedelta,
        limit: int,
        after: tuple[datetime | None, str] | None = None,
    ) -> CandidatePage:
        """One page of connections due for a background refresh (``Refresher.candidates``)."""
        return self._refresher.candidates(ahead=ahead, limit=limit, after=after)

    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool:
        """Refresh a token due within ``ahead`` (or an idle grant) now; return whether a token
        request was made (``Refresher.refresh_ahead``)."""
        return self._refresher.refresh_ahead(project_id, connection_id, ahead=ahead, idle=idle)

    def keepalive_candidates(self, *, limit: int, after: str | None = None) -> KeepAlivePage:
        """One page of connections to keep alive now (``KeepAlive.candidates``)."""
        return self._keepalive.candidates(limit=limit, after=after)

    def keep_alive(self, project_id: str, connection_id: str, *, window: timedelta) -> Outcome:
        """Claim the connection for ``window`` and use it through its test request
        (``KeepAlive.keep_alive``)."""
        return self._keepalive.keep_alive(project_id, connection_id, window=window)

    def deliver_webhooks(self, limit: int = 20) -> int:
        """Send one fair batch of due webhook deliveries; return how many were attempted."""
        return self._deliveries.deliver_due(limit)

    def purge_authorization_sessions(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete authorization sessions that expired more than ``older_than`` ago."""
        with self.ctx.db.write() as conn:
            return oauth_rows.purge_sessions(conn, self.ctx.now() - older_than)
