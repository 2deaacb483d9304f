"""Export and import connections: move between Gatekey installs, or in from another tool.

An export holds each connection's secret sealed with a passphrase (``crypto/export.py``), or in
plaintext only when the operator asks for it. An import takes the same document; OAuth2
entries carry their token set (access token, refresh token, expiry) so people need not
re-authorize, and are tied to the project's OAuth client for the app.

An export says when the provider last accepted each connection's credentials
(``verified_at``); an import does not take it over: nothing was checked by the install that
imports, so an imported connection reads as not verified until a test passes (a
client-credentials one fetches its token on the way in, which verifies it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gatekey import ids
from gatekey.catalog.schema import AuthKind
from gatekey.crypto.export import PassphraseBox
from gatekey.domain import fields as field_rules
from gatekey.domain.connection import clean_name
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import GatekeyError, InvalidInput
from gatekey.models import ImportResult
from gatekey.service.actor import Actor, authorize
from gatekey.service.connections import Connections
from gatekey.service.context import Context
from gatekey.service.credentials import Resolver, method_of
from gatekey.service.lifecycle import refuse_retired
from gatekey.service.oauth_clients import registered_client
from gatekey.store.connection_writer import NewConnection

FORMAT = "gatekey-export/1"
MAX_ENTRIES = 10_000


def _when(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(f"expires_at {value!r} is not a date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@checked_arguments
class Transfer:
    """Export a project's connections, or import them from another install or tool."""

    def __init__(self, ctx: Context, connections: Connections, resolver: Resolver) -> None:
        self.ctx = ctx
        self.connections = connections
        self.resolver = resolver

    def export_connections(
        self, actor: Actor, *, passphrase: str | None = None, plaintext: bool = False
    ) -> dict[str, Any]:
        """Return every connection of the project as an export document."""
        authorize(actor, "export_connections")
        if passphrase is None and not plaintext:
            raise InvalidInput("give a passphrase to seal the secrets, or ask for plaintext")
        box = PassphraseBox(passphrase) if passphrase is not None else None
        entries: list[dict[str, Any]] = []
        cursor = None
        while True:
            found = self.connections.list(actor, cursor=cursor, limit=200)
            for connection in found.items:
                secret = self.resolver.open(actor, connection.id).secret
                position = len(entries)
                entries.append(
                    {
                        "id": connection.id,
                        "app": connection.app,
                        "auth_kind": connection.auth_kind,
                        "name": connection.name,
                        "is_default": connection.is_default,
                        "config": connection.config,
                        "metadata": connection.metadata,
                        "scopes": connection.scopes,
                        "account_label": connection.account_label,
                        "expires_at": _iso(connection.expires_at),
                        "verified_at": _iso(connection.verified_at),
                        "secret": {"sealed": box.seal(secret, position)}
                        if box is not None
                        else {"plaintext": secret},
                    }
                )
            if found.next_cursor is None:
                break
            cursor = found.next_cursor
        self.ctx.audit.submit(
            self.ctx.event(
                actor,
                "connection.export",
                "project",
                actor.project_id,
                connections=len(entries),
                sealed=box is not None,
            )
        )
        return {
            "format": FORMAT,
            "exported_at": self.ctx.now().isoformat(),
            "encryption": box.header if box is not None else None,
            "connections": entries,
        }

    def import_connections(
        self, actor: Actor, document: Any, *, passphrase: str | None = None
    ) -> ImportResult:
        """Create the document's connections; a name already taken is skipped, not replaced."""
        authorize(actor, "import_connections")
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise InvalidInput(f"not a Gatekey export (format {FORMAT} expected)")
        entries = document.get("connections")
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            raise InvalidInput("connections must be a list of at most 10,000 entries")
        header = document.get("encryption")
        box = None
        if header is not None:
            if passphrase is None:
                raise InvalidInput("this export is sealed: give its passphrase")
            box = PassphraseBox(passphrase, header)
        created: list[str] = []
        skipped: list[dict[str, str]] = []
        for position, entry in enumerate(entries):
            name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
            try:
                if not isinstance(entry, dict):
                    raise InvalidInput("each entry must be an object")
                secret_box = entry.get("secret") or {}
                if "sealed" in secret_box:
                    if box is None:
                        raise InvalidInput("a sealed secret in an export without encryption")
                    secret = box.open(secret_box["sealed"], position)
                elif "plaintext" in secret_box and isinstance(secret_box["plaintext"], dict):
                    secret = secret_box["plaintext"]
                else:
                    raise InvalidInput("each entry needs secret.sealed or secret.plaintext")
                created.append(self._import_one(actor, entry, secret))
            except GatekeyError as exc:
                skipped.append({"name": name, "code": exc.code, "message": exc.message})
        return ImportResult(created=created, skipped=skipped)

    def _import_one(self, actor: Actor, entry: dict[str, Any], secret: dict[str, Any]) -> str:
        app = self.ctx.registry.get(actor.project_id, str(entry.get("app", "")))
        method = method_of(app, entry.get("auth_kind"))
        refuse_retired(app, method, self.ctx.now().date())
        if method.kind is not AuthKind.OAUTH2:
            return self.connections.create(
                actor,
                app=app.key,
                name=str(entry.get("name", "")),
                fields=secret,
                config=entry.get("config") or {},
                auth_kind=method.kind.value,
                metadata=entry.get("metadata") or {},
                validate=False,
            ).id
        if not isinstance(secret.get("access_token"), str) or not secret["access_token"]:
            raise InvalidInput("an OAuth2 entry needs secret access_token")
        display = clean_name(entry.get("name", ""))
        config = field_rules.validate(
            method.config,
            {k: v for k, v in (entry.get("config") or {}).items() if k in method.config.properties},
            what="config",
        )
        extra = {k: v for k, v in (entry.get("config") or {}).items() if k not in config}
        client_id, _ = registered_client(self.ctx.db, actor.project_id, app)
        connection_id = ids.new_id("conn")
        kept = {k: v for k, v in secret.items() if k not in ("expires_at", "expires_in")}
        scopes = entry.get("scopes") or []
        new = NewConnection(
            id=connection_id,
            project_id=actor.project_id,
            app_key=app.key,
            auth_kind=AuthKind.OAUTH2.value,
            name=display,
            sealed=self.ctx.vault.seal(actor.project_id, connection_id, kept),
            account_label=entry.get("account_label"),
            scopes=[str(s) for s in scopes if isinstance(s, str)],
            config={**extra, **config},
            meta=entry.get("metadata") or {},
            expires_at=_when(entry.get("expires_at") or secret.get("expires_at")),
            oauth_client_id=client_id,
        )
        audit = self.ctx.event(actor, "connection.import", "connection", connection_id, app=app.key)
        with self.ctx.changing(actor, "connection.import", "connection", connection_id) as conn:
            self.ctx.writer.insert(conn, new, audit, self.ctx.now())
        return connection_id
