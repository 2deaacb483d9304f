"""The connection service: the one façade the API, web pages, CLI, SDK and runner call.

Every method takes the ``Actor`` it acts for; project scoping and roles are enforced here, so no
adapter can forget them. Nothing above this module touches tables or ciphers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from gatekey import ids
from gatekey.catalog.loader import Catalog
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.crypto.keys import generate
from gatekey.crypto.vault import Vault
from gatekey.domain import fields as field_rules
from gatekey.domain.apply import AppliedAuth, apply, template_values
from gatekey.domain.connection import Reason, Role, Status, clean_name, name_key
from gatekey.errors import (
    AuthenticationFailed,
    Conflict,
    ConnectionInactive,
    CredentialsRejected,
    DuplicateName,
    GatekeyError,
    InvalidId,
    InvalidInput,
    KeyInUse,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from gatekey.models import (
    ApiKey,
    AppSummary,
    AuditEvent,
    BasicAuth,
    Connection,
    ConnectionPage,
    CreatedApiKey,
    Credentials,
    Deleted,
    MasterKeyInfo,
    Project,
    RotationProgress,
    TestResult,
)
from gatekey.probe import Prober
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import projects as project_rows
from gatekey.store.audit import AuditWriter, Event
from gatekey.store.database import Database
from gatekey.store.hot import SecretReader, SecretRow

Clock = Callable[[], datetime]
MAX_METADATA_BYTES = 16 * 1024
TOKEN_PREFIX = "gk_"  # noqa: S105 - a prefix, not a secret


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a project, the API key (or ``cli``) acting, and its role."""

    project_id: str
    key_id: str
    role: Role

    @classmethod
    def operator(cls, project_id: str) -> Actor:
        """The local operator (CLI, embedded SDK): admin of the project."""
        return cls(project_id=project_id, key_id="operator", role=Role.ADMIN)


def _connection_of(row: Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        project_id=row.project_id,
        app=row.app_key,
        auth_kind=row.auth_kind,
        name=row.name,
        status=row.status,
        status_reason=row.status_reason,
        status_message=row.status_message,
        is_default=row.is_default,
        account_label=row.account_label,
        scopes=row.scopes,
        config=row.config,
        fields=row.public_fields,
        metadata=row.meta,
        expires_at=row.expires_at,
        last_refreshed_at=row.last_refreshed_at,
        last_used_at=row.last_used_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _api_key_of(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        role=row.role,
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInput("cursor is not one this API returned") from None
    if not isinstance(after, str) or not ids.is_valid("conn", after):
        raise InvalidInput("cursor is not one this API returned")
    return after


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be an object")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise PayloadTooLarge(f"metadata is larger than {MAX_METADATA_BYTES // 1024} KiB")
    return metadata


class ConnectionService:
    """Projects, API keys, connections and master keys, for a given actor."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        vault: Vault,
        prober: Prober,
        audit: AuditWriter,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.vault = vault
        self.prober = prober
        self.audit = audit
        self.clock = clock
        self.secrets = SecretReader(db)

    # -- access -----------------------------------------------------------------------------

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if actor.role is not Role.ADMIN:
            raise PermissionDenied("this API key has the runtime role; an admin key is needed")

    def _event(
        self,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str | None,
        outcome: str = "ok",
        **detail: Any,
    ) -> Event:
        return Event(
            self.clock(),
            actor.project_id,
            actor.key_id,
            action,
            object_type,
            object_id,
            outcome,
            detail,
        )

    @contextmanager
    def _changing(self, actor: Actor, action: str, object_id: str | None) -> Iterator[DbConnection]:
        """A write transaction; a refused change is audited after the rollback."""
        try:
            with self.db.write() as conn:
                yield conn
        except GatekeyError as exc:
            self.audit.submit(
                self._event(actor, action, "connection", object_id, "refused", code=exc.code)
            )
            raise

    # -- apps -------------------------------------------------------------------------------

    def list_apps(self, actor: Actor, text: str | None = None) -> list[AppSummary]:
        needle = (text or "").casefold()
        return [
            AppSummary.of(app)
            for app in self.catalog
            if not needle
            or needle in app.key
            or needle in app.name.casefold()
            or any(needle in c for c in app.categories)
        ]

    def get_app(self, actor: Actor, key: str) -> App:
        return self.catalog.get(key)

    # -- connections ------------------------------------------------------------------------

    def _method(self, app: App, auth_kind: str | None) -> AuthMethod:
        try:
            return app.method(auth_kind)
        except LookupError:
            kinds = ", ".join(m.kind for m in app.auth)
            raise InvalidInput(
                f"{app.name} does not support auth kind {auth_kind!r} (it supports {kinds})"
            ) from None

    @staticmethod
    def _check_id(connection_id: str) -> None:
        if not isinstance(connection_id, str) or not ids.is_valid("conn", connection_id):
            raise InvalidId("connection ids look like conn_ followed by 26 characters")

    @staticmethod
    def _missing(connection_id: str) -> NotFound:
        return NotFound(f"connection {connection_id} not found", id=connection_id)

    def _prepare(
        self, app: App, method: AuthMethod, values: Any, config: Any, validate: bool
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str | None]:
        """Validate fields and config and run the test request.

        Return the secret payload, the public view, the config and the account label.
        """
        cleaned = field_rules.validate(method.fields, values, what="fields")
        cleaned_config = field_rules.validate(method.config, config, what="config")
        public, secret = field_rules.split(method.fields, cleaned)
        auth = apply(app, method, {**cleaned, **cleaned_config})
        label = None
        if validate:
            secret_values = [str(v) for k, v in cleaned.items() if k in method.fields.secret_names]
            label = self.prober.check(
                app,
                method,
                auth,
                template_values(method, {**cleaned, **cleaned_config}),
                secret_values,
            )
        return secret, public, cleaned_config, label

    def create_connection(
        self,
        actor: Actor,
        *,
        app: str,
        name: str,
        fields: Any = None,
        config: Any = None,
        auth_kind: str | None = None,
        metadata: Any = None,
        is_default: bool | None = None,
        validate: bool = True,
    ) -> Connection:
        """Create a connection; with ``validate`` the provider must accept the credentials first."""
        self._require_admin(actor)
        entry = self.catalog.get(app)
        method = self._method(entry, auth_kind)
        display = clean_name(name)
        meta = _check_metadata(metadata)
        secret, public, cleaned_config, label = self._prepare(
            entry, method, fields, config, validate
        )
        now = self.clock()
        connection_id = ids.new_id("conn")
        sealed = self.vault.seal(actor.project_id, connection_id, secret)
        try:
            with self._changing(actor, "connection.create", connection_id) as conn:
                if rows.name_taken(conn, actor.project_id, name_key(display), except_id=None):
                    raise DuplicateName(f"a connection named {display!r} already exists")
                rows.lock_defaults(conn, actor.project_id, entry.key)
                current_default = rows.default_for(conn, actor.project_id, entry.key)
                make_default = current_default is None or bool(is_default)
                if make_default and current_default is not None:
                    rows.clear_default(conn, actor.project_id, entry.key, now)
                rows.insert(
                    conn,
                    {
                        "id": connection_id,
                        "project_id": actor.project_id,
                        "app_key": entry.key,
                        "auth_kind": method.kind.value,
                        "name": display,
                        "name_key": name_key(display),
                        "status": Status.ACTIVE.value,
                        "is_default": make_default,
                        "account_label": label,
                        "scopes": [],
                        "config": cleaned_config,
                        "public_fields": public,
                        "meta": meta,
                        "secret_ciphertext": sealed.ciphertext,
                        "dek_wrapped": sealed.wrapped_key,
                        "kek_id": sealed.key_id,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                audit_rows.record_now(
                    conn,
                    [
                        self._event(
                            actor,
                            "connection.create",
                            "connection",
                            connection_id,
                            app=entry.key,
                            default=make_default,
                            validated=validate,
                        )
                    ],
                )
        except IntegrityError:
            raise self._integrity(actor, display) from None
        return self.get_connection(actor, connection_id)

    def _integrity(self, actor: Actor, display: str) -> GatekeyError:
        with self.db.read() as conn:
            if rows.name_taken(conn, actor.project_id, name_key(display), except_id=None):
                return DuplicateName(f"a connection named {display!r} already exists")
        return Conflict("another change to the same connections happened at once; try again")

    def list_connections(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        if status is not None and status not in {s.value for s in Status}:
            raise InvalidInput(f"status must be one of {', '.join(s.value for s in Status)}")
        if app is not None:
            self.catalog.get(app)
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be between 1 and 200")
        if text is not None and len(text) > 200:
            raise InvalidInput("search text must be at most 200 characters")
        after = _decode_cursor(cursor) if cursor else None
        with self.db.read() as conn:
            found = rows.page(
                conn,
                actor.project_id,
                status=status,
                app_key=app,
                text=text,
                after=after,
                limit=limit + 1,
            )
        items = [_connection_of(r) for r in found[:limit]]
        next_cursor = _encode_cursor(items[-1].id) if len(found) > limit else None
        return ConnectionPage(items=items, next_cursor=next_cursor)

    def get_connection(self, actor: Actor, connection_id: str) -> Connection:
        self._check_id(connection_id)
        with self.db.read() as conn:
            row = rows.get(conn, actor.project_id, connection_id)
        if row is None:
            raise self._missing(connection_id)
        return _connection_of(row)

    def update_connection(
        self,
        actor: Actor,
        connection_id: str,
        *,
        name: str | None = None,
        is_default: bool | None = None,
        metadata: Any = None,
    ) -> Connection:
        """Rename, make (or stop being) the default for its app, or replace metadata."""
        self._require_admin(actor)
        self._check_id(connection_id)
        display = clean_name(name) if name is not None else None
        meta = _check_metadata(metadata) if metadata is not None else None
        now = self.clock()
        try:
            with self._changing(actor, "connection.update", connection_id) as conn:
                row = rows.get(conn, actor.project_id, connection_id)
                if row is None:
                    raise self._missing(connection_id)
                if is_default is not None:
                    rows.lock_defaults(conn, actor.project_id, row.app_key)
                    row = rows.get(conn, actor.project_id, connection_id)
                    if row is None:
                        raise self._missing(connection_id)
                values: dict[str, Any] = {"updated_at": now}
                changed: list[str] = []
                if display is not None and display != row.name:
                    if rows.name_taken(
                        conn, actor.project_id, name_key(display), except_id=connection_id
                    ):
                        raise DuplicateName(f"a connection named {display!r} already exists")
                    values.update(name=display, name_key=name_key(display))
                    changed.append("name")
                if is_default is not None and is_default != row.is_default:
                    if is_default:
                        rows.clear_default(conn, actor.project_id, row.app_key, now)
                    values["is_default"] = is_default
                    changed.append("is_default")
                if meta is not None:
                    values["meta"] = meta
                    changed.append("metadata")
                if changed:
                    rows.set_values(conn, actor.project_id, connection_id, values)
                    audit_rows.record_now(
                        conn,
                        [
                            self._event(
                                actor,
                                "connection.update",
                                "connection",
                                connection_id,
                                changed=changed,
                            )
                        ],
                    )
        except IntegrityError:
            raise self._integrity(actor, display or "") from None
        return self.get_connection(actor, connection_id)

    def rename_connection(self, actor: Actor, connection_id: str, name: str) -> Connection:
        return self.update_connection(actor, connection_id, name=name)

    def set_default(self, actor: Actor, connection_id: str) -> Connection:
        return self.update_connection(actor, connection_id, is_default=True)

    def replace_credentials(
        self,
        actor: Actor,
        connection_id: str,
        *,
        fields: Any,
        config: Any = None,
        validate: bool = True,
    ) -> Connection:
        """Put new credentials on the same connection id, validated like a new connection."""
        self._require_admin(actor)
        current = self.get_connection(actor, connection_id)
        entry = self.catalog.get(current.app)
        method = self._method(entry, current.auth_kind)
        if config is None:
            config = current.config
        secret, public, cleaned_config, label = self._prepare(
            entry, method, fields, config, validate
        )
        sealed = self.vault.seal(actor.project_id, connection_id, secret)
        now = self.clock()
        with self._changing(actor, "connection.credentials", connection_id) as conn:
            updated = rows.set_values(
                conn,
                actor.project_id,
                connection_id,
                {
                    "public_fields": public,
                    "config": cleaned_config,
                    "account_label": label,
                    "secret_ciphertext": sealed.ciphertext,
                    "dek_wrapped": sealed.wrapped_key,
                    "kek_id": sealed.key_id,
                    "status": Status.ACTIVE.value,
                    "status_reason": None,
                    "status_message": None,
                    "updated_at": now,
                },
            )
            if not updated:
                raise self._missing(connection_id)
            audit_rows.record_now(
                conn,
                [
                    self._event(
                        actor,
                        "connection.credentials",
                        "connection",
                        connection_id,
                        validated=validate,
                    )
                ],
            )
        return self.get_connection(actor, connection_id)

    def delete_connection(self, actor: Actor, connection_id: str) -> Deleted:
        self._require_admin(actor)
        self._check_id(connection_id)
        with self._changing(actor, "connection.delete", connection_id) as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            if row is None or not rows.remove(conn, actor.project_id, connection_id):
                raise self._missing(connection_id)
            audit_rows.record_now(
                conn,
                [
                    self._event(
                        actor, "connection.delete", "connection", connection_id, app=row.app_key
                    )
                ],
            )
        app_name = (
            self.catalog.get(row.app_key).name if row.app_key in self.catalog else row.app_key
        )
        if row.is_default:
            message = (
                f"deleted {row.name!r}; it was the default {app_name} connection, and no "
                f"{app_name} connection is the default now: set one with set-default"
            )
        else:
            message = f"deleted {row.name!r}"
        return Deleted(id=connection_id, was_default=row.is_default, message=message)

    def _open(
        self, actor: Actor, connection_id: str
    ) -> tuple[SecretRow, App, AuthMethod, dict[str, Any]]:
        self._check_id(connection_id)
        row = self.secrets.read(actor.project_id, connection_id)
        if row is None:
            raise self._missing(connection_id)
        entry = self.catalog.get(row.app_key)
        method = self._method(entry, row.auth_kind)
        secret = self.vault.open(actor.project_id, connection_id, rows.sealed_of(row))
        return row, entry, method, secret

    def resolve_credentials(self, actor: Actor, connection_id: str) -> Credentials:
        """Return ready-to-use credentials for an execution; audited, never logged.

        The hot path: one indexed read and the decrypt. The audit entry and ``last_used_at``
        are queued for the group-commit writer.
        """
        try:
            row, entry, method, secret = self._open(actor, connection_id)
            if row.status != Status.ACTIVE.value:
                raise ConnectionInactive(
                    f"connection {row.name!r} ({row.id}) is inactive: "
                    f"{row.status_message or row.status_reason}; reconnect it",
                    id=row.id,
                    reason=row.status_reason,
                )
        except GatekeyError as exc:
            self.audit.submit(
                self._event(
                    actor, "credentials.read", "connection", connection_id, "refused", code=exc.code
                )
            )
            raise
        auth = apply(entry, method, {**secret, **row.config})
        self.audit.submit(self._event(actor, "credentials.read", "connection", connection_id))
        basic = None
        if auth.basic is not None:
            basic = BasicAuth.model_construct(username=auth.basic[0], password=auth.basic[1])
        # Every value comes from validated, stored data: construct without re-validating.
        return Credentials.model_construct(
            connection_id=row.id,
            app=row.app_key,
            auth_kind=AuthKind(row.auth_kind),
            fields=secret,
            config=row.config,
            base_url=auth.base_url,
            headers=auth.headers,
            query=auth.query,
            basic=basic,
            expires_at=row.expires_at,
        )

    def test_connection(self, actor: Actor, connection_id: str) -> TestResult:
        """Run the app's test request; a refusal marks the connection inactive, success heals it."""
        self._require_admin(actor)
        row, entry, method, secret = self._open(actor, connection_id)
        values = {**secret, **row.config}
        auth: AppliedAuth = apply(entry, method, values)
        secret_values = [str(v) for k, v in secret.items() if k in method.fields.secret_names]
        now = self.clock()
        try:
            label = self.prober.check(
                entry, method, auth, template_values(method, values), secret_values
            )
        except CredentialsRejected as exc:
            self._set_status(
                actor, connection_id, Status.INACTIVE, Reason.INVALID_CREDENTIALS, exc.message, now
            )
            return TestResult(ok=False, message=exc.message)
        has_test = (method.test_request or entry.test_request) is not None
        message = "credentials accepted" if has_test else f"{entry.name} has no test request"
        self._set_status(
            actor,
            connection_id,
            Status.ACTIVE,
            None,
            None,
            now,
            account_label=label or row.account_label,
        )
        return TestResult(ok=True, account_label=label or row.account_label, message=message)

    def _set_status(
        self,
        actor: Actor,
        connection_id: str,
        status: Status,
        reason: Reason | None,
        message: str | None,
        now: datetime,
        **extra: Any,
    ) -> None:
        with self.db.write() as conn:
            rows.set_values(
                conn,
                actor.project_id,
                connection_id,
                {
                    "status": status.value,
                    "status_reason": reason.value if reason else None,
                    "status_message": message,
                    "updated_at": now,
                    **extra,
                },
            )
            audit_rows.record_now(
                conn,
                [
                    self._event(
                        actor,
                        "connection.test",
                        "connection",
                        connection_id,
                        "ok" if status is Status.ACTIVE else "failed",
                        status=status.value,
                    )
                ],
            )

    def audit_trail(
        self, actor: Actor, connection_id: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        self._require_admin(actor)
        if connection_id is not None:
            self.get_connection(actor, connection_id)
        self.audit.flush()
        with self.db.read() as conn:
            found = audit_rows.events_for(conn, actor.project_id, connection_id, limit)
        return [AuditEvent.model_validate(r._asdict()) for r in found]

    # -- projects and API keys --------------------------------------------------------------

    def create_project(self, name: str) -> Project:
        """Create a project (operators only: no API key can create projects)."""
        display = clean_name(name, what="project name", limit=100)
        project = Project(id=ids.new_id("proj"), name=display, created_at=self.clock())
        try:
            with self.db.write() as conn:
                if project_rows.project_by_name(conn, display) is not None:
                    raise DuplicateName(f"a project named {display!r} already exists")
                project_rows.insert_project(conn, project.model_dump())
        except IntegrityError:
            raise DuplicateName(f"a project named {display!r} already exists") from None
        return project

    def list_projects(self) -> list[Project]:
        with self.db.read() as conn:
            return [Project.model_validate(r._asdict()) for r in project_rows.all_projects(conn)]

    def find_project(self, name_or_id: str) -> Project:
        with self.db.read() as conn:
            row = project_rows.project_by_id(conn, name_or_id) or project_rows.project_by_name(
                conn, name_or_id
            )
        if row is None:
            raise NotFound(f"project {name_or_id!r} not found")
        return Project.model_validate(row._asdict())

    def create_api_key(
        self, actor: Actor, *, name: str, role: str, expires_in: timedelta | None = None
    ) -> CreatedApiKey:
        self._require_admin(actor)
        display = clean_name(name, what="key name", limit=100)
        try:
            key_role = Role(role)
        except ValueError:
            raise InvalidInput("role must be admin or runtime") from None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        key = CreatedApiKey(
            id=ids.new_id("key"),
            project_id=actor.project_id,
            name=display,
            role=key_role,
            hint=token[-4:],
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
            token=token,
        )
        with self.db.write() as conn:
            project_rows.insert_key(
                conn, {**key.model_dump(exclude={"token"}), "token_hash": _hash_token(token)}
            )
            audit_rows.record_now(
                conn, [self._event(actor, "api_key.create", "api_key", key.id, role=key_role.value)]
            )
        return key

    def list_api_keys(self, actor: Actor) -> list[ApiKey]:
        self._require_admin(actor)
        with self.db.read() as conn:
            return [_api_key_of(r) for r in project_rows.keys_of(conn, actor.project_id)]

    def revoke_api_key(self, actor: Actor, key_id: str) -> None:
        self._require_admin(actor)
        with self.db.write() as conn:
            if not project_rows.revoke_key(conn, actor.project_id, key_id, self.clock()):
                raise NotFound(f"API key {key_id} not found")
            audit_rows.record_now(conn, [self._event(actor, "api_key.revoke", "api_key", key_id)])

    def authenticate(self, token: str | None) -> Actor:
        """Return the actor of a bearer token; every failure looks the same."""
        failure = AuthenticationFailed("missing, unknown, expired or revoked API key")
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise failure
        with self.db.read() as conn:
            row = project_rows.key_by_hash(conn, _hash_token(token))
        if row is None or row.revoked_at is not None:
            raise failure
        if row.expires_at is not None and row.expires_at <= self.clock():
            raise failure
        return Actor(project_id=row.project_id, key_id=row.id, role=Role(row.role))

    def bootstrap(self) -> tuple[Project, CreatedApiKey | None]:
        """Ensure the ``default`` project; on first start, return its one-time admin key."""
        with self.db.read() as conn:
            row = project_rows.project_by_name(conn, "default")
        if row is not None:
            return Project.model_validate(row._asdict()), None
        try:
            project = self.create_project("default")
        except DuplicateName:
            return self.find_project("default"), None
        key = self.create_api_key(Actor.operator(project.id), name="initial admin", role="admin")
        return project, key

    # -- master keys ------------------------------------------------------------------------

    def master_keys(self) -> list[MasterKeyInfo]:
        ring = self.vault.reload()
        with self.db.read() as conn:
            usage = rows.key_usage(conn)
        known = list(ring.ids) + sorted(set(usage) - set(ring.ids))
        return [
            MasterKeyInfo(
                id=k, primary=k == ring.primary.id, available=k in ring, data_keys=usage.get(k, 0)
            )
            for k in known
        ]

    def check_master_keys(self) -> None:
        """Fail start-up, naming the key, if stored data needs a master key we do not have."""
        with self.db.read() as conn:
            self.vault.check_available(set(rows.key_usage(conn)))

    def rotate_master_key(
        self,
        *,
        batch_size: int = 500,
        progress: Callable[[RotationProgress], None] | None = None,
    ) -> RotationProgress:
        """Add a master key (unless a rotation is unfinished) and rewrap every data key to it.

        Each batch commits on its own, so a crash loses at most one batch of work; running the
        command again resumes with whatever is still wrapped by an older key.
        """
        ring = self.vault.reload()
        with self.db.read() as conn:
            usage = rows.key_usage(conn)
        leftover = sum(n for k, n in usage.items() if k != ring.primary.id)
        if leftover == 0:
            self.vault.provider.add(generate(self.clock()))
            ring = self.vault.reload()
            with self.db.write() as conn:
                audit_rows.record_now(
                    conn,
                    [
                        Event(
                            self.clock(),
                            None,
                            "operator",
                            "keys.add",
                            "master_key",
                            ring.primary.id,
                        )
                    ],
                )
            usage = {ring.primary.id: 0, **usage}
        remaining = sum(n for k, n in usage.items() if k != ring.primary.id)
        done = 0
        while True:
            with self.db.write() as conn:
                batch = rows.not_wrapped_by(conn, ring.primary.id, batch_size)
                if not batch:
                    break
                rows.store_rewrapped(
                    conn,
                    [
                        (r.id, self.vault.rewrap(r.project_id, r.id, rows.sealed_of(r)), r.kek_id)
                        for r in batch
                    ],
                )
            done += len(batch)
            remaining = max(remaining - len(batch), 0)
            if progress is not None:
                progress(RotationProgress(key_id=ring.primary.id, done=done, remaining=remaining))
        with self.db.write() as conn:
            audit_rows.record_now(
                conn,
                [
                    Event(
                        self.clock(),
                        None,
                        "operator",
                        "keys.rotate",
                        "master_key",
                        ring.primary.id,
                        "ok",
                        {"rewrapped": done},
                    )
                ],
            )
        return RotationProgress(key_id=ring.primary.id, done=done, remaining=0)

    def retire_master_key(self, key_id: str) -> None:
        """Remove a master key that no data key references any more."""
        ring = self.vault.reload()
        if key_id not in ring:
            raise NotFound(f"master key {key_id!r} is not configured")
        if key_id == ring.primary.id:
            raise KeyInUse(f"master key {key_id!r} is the primary key; rotate first")
        with self.db.read() as conn:
            in_use = rows.key_usage(conn).get(key_id, 0)
        if in_use:
            raise KeyInUse(
                f"master key {key_id!r} still wraps {in_use} data key(s); "
                "run 'gatekey keys rotate'",
                key_id=key_id,
                data_keys=in_use,
            )
        self.vault.provider.remove(key_id)
        self.vault.reload()
        with self.db.write() as conn:
            audit_rows.record_now(
                conn, [Event(self.clock(), None, "operator", "keys.retire", "master_key", key_id)]
            )
