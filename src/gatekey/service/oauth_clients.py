"""OAuth clients: the client id and secret a project registers with a provider, per app (for a
GitHub App: its client id, or app id, and its PEM private key)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy.exc import IntegrityError

from gatekey import ids
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.domain import keys
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import (
    Conflict,
    InvalidFields,
    InvalidId,
    InvalidInput,
    NotFound,
    OAuthClientMissing,
)
from gatekey.models import AppSummary, OAuthClient
from gatekey.service.actor import Actor, authorize
from gatekey.service.context import Context
from gatekey.store import audit as audit_rows
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed
from gatekey.store.database import Database
from gatekey.store.rows import OAuthClientRow

MAX_CLIENT_FIELD = 500
#: A GitHub App's client secret is its PEM private key: several lines, a few KiB.
MAX_PEM = 16 * 1024


def _client_of(row: OAuthClientRow, connections: int) -> OAuthClient:
    return OAuthClient(
        id=row.id,
        project_id=row.project_id,
        app=row.app_key,
        client_id=row.client_id,
        scopes=row.scopes,
        connections=connections,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidFields(
            f"{what} is required", errors=[{"field": what, "message": "must be a non-empty string"}]
        )
    if len(value) > MAX_CLIENT_FIELD or any(ord(c) < 32 for c in value):
        raise InvalidFields(
            f"{what} is not valid",
            errors=[{"field": what, "message": f"at most {MAX_CLIENT_FIELD} printable characters"}],
        )
    return value.strip()


def _three_legged(method: AuthMethod) -> bool:
    return method.oauth1 is not None and method.oauth1.flow == "three_legged"


def _key_algorithm(entry: App | None) -> str | None:
    """What a PEM client secret must sign with: a GitHub App's JWT algorithm, or RSA-SHA1 for
    an OAuth 1.0a consumer (only when the app has no OAuth2 method the secret could be for)."""
    methods = {m.kind: m for m in entry.auth} if entry is not None else {}
    if AuthKind.OAUTH2 in methods:
        return None
    github = methods.get(AuthKind.GITHUB_APP)
    if github is not None and github.github_app is not None:
        return github.github_app.app_jwt.algorithm
    oauth1 = methods.get(AuthKind.OAUTH1)
    if oauth1 is not None and oauth1.oauth1 is not None and _three_legged(oauth1):
        rsa = oauth1.oauth1.signature_method == "RSA-SHA1"
        return "RSA-SHA1" if rsa else None
    return None


def _client_secret(value: Any, entry: App | None = None) -> str:
    """The client secret: a line of text, or a PEM private key (a GitHub App's, or an OAuth
    1.0a consumer's for RSA-SHA1), checked to be one that signs what the app asks for when
    only one method can use it. Never shown."""
    algorithm = _key_algorithm(entry)
    if not isinstance(value, str) or not value.strip().startswith("-----BEGIN"):
        if algorithm is not None and isinstance(value, str) and value.strip():
            problem = f"must be the PEM private key that signs {algorithm}"
            raise InvalidFields(
                f"client_secret {problem}", errors=[{"field": "client_secret", "message": problem}]
            )
        return _text(value, "client_secret")
    pem = value.strip()
    if len(pem) > MAX_PEM or any(ord(c) < 32 and c not in "\r\n" for c in pem):
        raise InvalidFields(
            "client_secret is not valid",
            errors=[{"field": "client_secret", "message": "is not a PEM private key"}],
        )
    if algorithm is not None:
        try:
            keys.check_fits(keys.private_key(pem), algorithm)
        except keys.KeyProblem as exc:
            raise InvalidFields(
                f"client_secret {exc}", errors=[{"field": "client_secret", "message": str(exc)}]
            ) from None
    return pem + "\n"


def _takes(entry: App) -> bool:
    """Whether the app connects through a consent or install screen with the project's OAuth
    client."""
    return any(m.through_consent for m in entry.auth)


def parse_scopes(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(s, str) and s.strip() and len(s) <= 300 for s in value
    ):
        raise InvalidFields(
            "scopes must be a list of scope names",
            errors=[{"field": "scopes", "message": "a list of non-empty strings"}],
        )
    return [s.strip() for s in value]


@checked_arguments
class OAuthClients:
    """Register, list, change and remove the OAuth clients of the actor's project."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def apps(self, actor: Actor) -> list[AppSummary]:
        """The project's apps that take an OAuth client (an OAuth2 authorization-code app, a
        GitHub App, an OAuth 1.0a consumer), by name."""
        authorize(actor, "list_oauth_clients")
        found = [AppSummary.of(a) for a in self.ctx.registry.all(actor.project_id) if _takes(a)]
        return sorted(found, key=lambda a: a.name.casefold())

    def _oauth_app(self, project_id: str, key: str) -> App:
        entry = self.ctx.registry.get(project_id, key)
        if not _takes(entry):
            raise InvalidInput(
                f"{entry.name} uses neither the OAuth2 authorization-code flow, a GitHub App "
                "nor OAuth 1.0a consent"
            )
        return entry

    @staticmethod
    def _check_client_id(oauth_client_id: str) -> None:
        if not isinstance(oauth_client_id, str) or not ids.is_valid("oac", oauth_client_id):
            raise InvalidId("OAuth client ids look like oac_ followed by 26 characters")

    def register(
        self,
        actor: Actor,
        *,
        app: str,
        client_id: str,
        client_secret: str,
        scopes: Any = None,
    ) -> OAuthClient:
        """Register the project's OAuth client for an app (one per app)."""
        authorize(actor, "register_oauth_client")
        entry = self._oauth_app(actor.project_id, app)
        cid = _text(client_id, "client_id")
        secret = _client_secret(client_secret, entry)
        scope_list = parse_scopes(scopes)
        now = self.ctx.now()
        oauth_client_id = ids.new_id("oac")
        box = self.ctx.vault.seal(actor.project_id, oauth_client_id, {"client_secret": secret})
        try:
            with self.ctx.changing(
                actor, "oauth_client.create", "oauth_client", oauth_client_id
            ) as conn:
                if oauth_rows.client_for_app(conn, actor.project_id, entry.key) is not None:
                    raise Conflict(
                        f"an OAuth client for {entry.name} exists already; change it instead",
                        app=entry.key,
                    )
                oauth_rows.insert_client(
                    conn,
                    {
                        "id": oauth_client_id,
                        "project_id": actor.project_id,
                        "app_key": entry.key,
                        "client_id": cid,
                        "scopes": scope_list,
                        **sealed.columns(box),
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                audit_rows.record_now(
                    conn,
                    [
                        self.ctx.event(
                            actor, "oauth_client.create", "oauth_client", oauth_client_id, app=app
                        )
                    ],
                )
        except IntegrityError:
            raise Conflict(f"an OAuth client for {entry.name} is already registered") from None
        return self.get(actor, oauth_client_id)

    def list(self, actor: Actor) -> builtins.list[OAuthClient]:
        authorize(actor, "list_oauth_clients")
        with self.ctx.db.read() as conn:
            return [
                _client_of(r, used) for r, used in oauth_rows.clients_of(conn, actor.project_id)
            ]

    def get(self, actor: Actor, oauth_client_id: str) -> OAuthClient:
        authorize(actor, "get_oauth_client")
        self._check_client_id(oauth_client_id)
        with self.ctx.db.read() as conn:
            row = oauth_rows.client_by_id(conn, actor.project_id, oauth_client_id)
            if row is None:
                raise NotFound(f"OAuth client {oauth_client_id} not found", id=oauth_client_id)
            used = oauth_rows.connections_using(conn, actor.project_id, oauth_client_id)
        return _client_of(row, used)

    def update(
        self,
        actor: Actor,
        oauth_client_id: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: Any = None,
        clear_scopes: bool = False,
    ) -> OAuthClient:
        """Change the client id, the secret or the scopes override; connections keep working."""
        authorize(actor, "update_oauth_client")
        self._check_client_id(oauth_client_id)
        values: dict[str, Any] = {"updated_at": self.ctx.now()}
        changed = []
        if client_id is not None:
            values["client_id"] = _text(client_id, "client_id")
            changed.append("client_id")
        if client_secret is not None:
            box = self.ctx.vault.seal(
                actor.project_id,
                oauth_client_id,
                {"client_secret": _client_secret(client_secret)},
            )
            values.update(sealed.columns(box))
            changed.append("client_secret")
        if scopes is not None or clear_scopes:
            values["scopes"] = None if clear_scopes else parse_scopes(scopes)
            changed.append("scopes")
        with self.ctx.changing(
            actor, "oauth_client.update", "oauth_client", oauth_client_id
        ) as conn:
            if not oauth_rows.update_client(conn, actor.project_id, oauth_client_id, values):
                raise NotFound(f"OAuth client {oauth_client_id} not found", id=oauth_client_id)
            audit_rows.record_now(
                conn,
                [
                    self.ctx.event(
                        actor,
                        "oauth_client.update",
                        "oauth_client",
                        oauth_client_id,
                        changed=changed,
                    )
                ],
            )
        return self.get(actor, oauth_client_id)

    def delete(self, actor: Actor, oauth_client_id: str) -> None:
        """Remove a client no connection uses."""
        authorize(actor, "delete_oauth_client")
        self._check_client_id(oauth_client_id)
        with self.ctx.changing(
            actor, "oauth_client.delete", "oauth_client", oauth_client_id
        ) as conn:
            # Another project's client is missing here: look it up in the actor's project
            # before saying anything about it, its connections included.
            if oauth_rows.client_by_id(conn, actor.project_id, oauth_client_id) is None:
                raise NotFound(f"OAuth client {oauth_client_id} not found", id=oauth_client_id)
            used = oauth_rows.connections_using(conn, actor.project_id, oauth_client_id)
            if used:
                raise Conflict(
                    f"{used} connection(s) use this OAuth client; delete or reconnect them first",
                    connections=used,
                )
            if not oauth_rows.delete_client(conn, actor.project_id, oauth_client_id):
                raise NotFound(f"OAuth client {oauth_client_id} not found", id=oauth_client_id)
            audit_rows.record_now(
                conn,
                [self.ctx.event(actor, "oauth_client.delete", "oauth_client", oauth_client_id)],
            )


def registered_client(db: Database, project_id: str, entry: App) -> tuple[str, list[str] | None]:
    """The id and scopes override of the project's OAuth client for an app."""
    with db.read() as conn:
        row = oauth_rows.client_for_app(conn, project_id, entry.key)
    if row is None:
        raise OAuthClientMissing(
            f"no OAuth client is registered for {entry.name} in this project; "
            "register one with its client id and secret",
            app=entry.key,
        )
    return row.id, row.scopes
