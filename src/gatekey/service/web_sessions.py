"""Sign-in for the web pages: an admin API key or a one-time link, then a session cookie.

The cookie carries a random token; the database keeps its hash, the project, the acting key
and the CSRF token of the session, so any replica can serve the next request. A session ends
with the API key that opened it: every request checks that key is neither revoked nor expired.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from gatekey import ids
from gatekey.domain.connection import Role
from gatekey.errors import AuthenticationFailed, Hint, NotFound
from gatekey.service.actor import Actor
from gatekey.service.authentication import Authenticator
from gatekey.service.context import Context
from gatekey.store import audit as audit_rows
from gatekey.store import projects as project_rows
from gatekey.store import web as web_rows

SESSION_TTL = timedelta(hours=12)
LINK_TTL = timedelta(hours=24)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """Who a browser is signed in as, and the token its forms must echo (CSRF)."""

    actor: Actor
    csrf: str

    def __repr__(self) -> str:
        return f"WebSession(project_id={self.actor.project_id!r})"


class WebSessions:
    """Browser sessions of the web pages; none of it needs an actor (``service.system``)."""

    def __init__(self, ctx: Context, authenticator: Authenticator) -> None:
        self.ctx = ctx
        self.authenticator = authenticator

    def create_signin_link(self, project_id: str) -> str:
        """Return a one-time sign-in token for the project's admin, valid ``LINK_TTL``.

        The project's older unused links stop working: the newest link is the only one.
        Signed-in sessions and API keys are not touched.
        """
        ids.check("proj", project_id)
        token = secrets.token_urlsafe(32)
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            if project_rows.project_by_id(conn, project_id) is None:
                raise NotFound(f"project {project_id} not found", id=project_id)
            web_rows.purge(conn, now)
            web_rows.supersede_links(conn, project_id)
            web_rows.insert_link(
                conn,
                {
                    "token_hash": _hash(token),
                    "project_id": project_id,
                    "created_at": now,
                    "expires_at": now + LINK_TTL,
                },
            )
        return token

    def sign_in(
        self, *, api_key: str | None = None, link: str | None = None, client: str | None = None
    ) -> tuple[str, str]:
        """Start a web session from an admin API key or a one-time link.

        Return the cookie token and the session's CSRF token. Attempts are limited per
        ``client`` address and per project.
        """
        if client is not None:
            self.ctx.budgets.spend(
                "signin_per_client", client, "sign-in attempts from this address"
            )
        now = self.ctx.now()
        if api_key is not None:
            actor = self.authenticator.authenticate(api_key, client=client)
            if actor.role is not Role.ADMIN:
                raise AuthenticationFailed(
                    "this is a runtime API key: it lets a workflow engine use credentials, not "
                    "sign in; sign in with an admin API key or a one-time link",
                    hint=Hint("signin_link"),
                )
        elif link:
            with self.ctx.db.write() as conn:
                project_id = web_rows.use_link(conn, _hash(link), now)
            if project_id is None:
                raise AuthenticationFailed(
                    "this sign-in link was used already, has expired or was replaced by a newer "
                    "one; ask for a new one, or sign in with an admin API key",
                    hint=Hint("signin_link"),
                )
            actor = Actor(project_id=project_id, key_id=web_rows.LINK_ACTOR, role=Role.ADMIN)
        else:
            raise AuthenticationFailed("sign in with an admin API key")
        self.ctx.budgets.spend("signin_per_project", actor.project_id, "sign-ins to this project")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.ctx.db.write() as conn:
            web_rows.insert_session(
                conn,
                {
                    "token_hash": _hash(token),
                    "project_id": actor.project_id,
                    "actor": actor.key_id,
                    "csrf": csrf,
                    "created_at": now,
                    "expires_at": now + SESSION_TTL,
                },
            )
            audit_rows.record_now(
                conn, [self.ctx.event(actor, "web.sign_in", "web_session", None, via=actor.key_id)]
            )
        return token, csrf

    def web_session(self, token: str | None) -> WebSession:
        """Return who a session cookie signs in; it ends with its expiry or with its API key."""
        if not token or len(token) > 200:
            raise AuthenticationFailed("not signed in")
        with self.ctx.db.read() as conn:
            row = web_rows.session(conn, _hash(token), self.ctx.now())
        if row is None:
            raise AuthenticationFailed("your session has ended; sign in again")
        return WebSession(Actor(row.project_id, row.actor, Role.ADMIN), row.csrf)

    def sign_out(self, token: str) -> None:
        with self.ctx.db.write() as conn:
            web_rows.end_session(conn, _hash(token))
