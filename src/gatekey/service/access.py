"""Projects and their API keys: creation, listing, revocation and authentication."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from gatekey import ids
from gatekey.domain.connection import Role, clean_name
from gatekey.errors import (
    AuthenticationFailed,
    DuplicateName,
    InvalidInput,
    NotFound,
)
from gatekey.models import (
    ApiKey,
    CreatedApiKey,
    Project,
)
from gatekey.service.base import Actor, ServiceBase
from gatekey.service.budgets import FAILURES
from gatekey.store import audit as audit_rows
from gatekey.store import projects as project_rows

TOKEN_PREFIX = "gk_"  # noqa: S105 - a prefix, not a secret


def _api_key_of(row: Row[Any]) -> ApiKey:
    return ApiKey.model_validate(row._asdict())


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _digest(token: str | None) -> str | None:
    """The hash a well-formed token is stored under; None for anything else."""
    if token and token.startswith(TOKEN_PREFIX) and len(token) <= 200:
        return _hash_token(token)
    return None


class AccessMixin(ServiceBase):
    """Projects, API keys, and who a bearer token is."""

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
        self._authorize(actor, "create_api_key")
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
        self._authorize(actor, "list_api_keys")
        with self.db.read() as conn:
            return [_api_key_of(r) for r in project_rows.keys_of(conn, actor.project_id)]

    def revoke_api_key(self, actor: Actor, key_id: str) -> None:
        self._authorize(actor, "revoke_api_key")
        ids.check("key", key_id)
        with self.db.write() as conn:
            if not project_rows.revoke_key(conn, actor.project_id, key_id, self.clock()):
                raise NotFound(f"API key {key_id} not found")
            audit_rows.record_now(conn, [self._event(actor, "api_key.revoke", "api_key", key_id)])
        self.keys.forget(key_id)

    def authenticate(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor:
        """Return the actor of a bearer token; every failure looks the same.

        With ``client`` (the caller's address), failures are counted: past
        ``auth_failures_per_client`` a minute, every attempt from there is refused with
        ``rate_limited`` until the budget refills, whether the key exists or not. A key is
        read at most once per ``GATEKEY_API_KEY_CACHE_SECONDS`` per process (the revocation
        window: ``service.key_cache``). ``peek=False``, for a request whose next call spends
        a budget: the look at ``client``'s failed attempts is left to that call
        (``Actor.address``), so that the request costs one limiter call.
        """
        digest = _digest(token)
        known = self.keys.get(digest, self.clock()) if digest else None
        if known is not None:
            if peek:
                self.budgets.look_at_failures(client)
            return Actor(known.project_id, known.key_id, known.role, None if peek else client)
        self.budgets.look_at_failures(client)
        row = None
        if digest is not None:
            with self.db.read() as conn:
                row = project_rows.key_by_hash(conn, digest)
        if (
            row is None
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= self.clock())
        ):
            self.budgets.count_failure(client)
            raise AuthenticationFailed("missing, unknown, expired or revoked API key")
        assert digest is not None
        self.keys.put(digest, row.project_id, row.id, Role(row.role), row.expires_at)
        return Actor(project_id=row.project_id, key_id=row.id, role=Role(row.role))

    def cached_actor(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor | None:
        """``authenticate`` without I/O: the actor of a key this process read lately, or None
        when only ``authenticate`` can tell (a database read, a limiter call to Redis)."""
        digest = _digest(token)
        known = self.keys.get(digest, self.clock()) if digest else None
        if known is None:
            return None
        if peek and client and self.limits.rate(FAILURES) is not None:
            if self.limiter.shared:
                return None
            self.budgets.look_at_failures(client)
        return Actor(known.project_id, known.key_id, known.role, None if peek else client)

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
