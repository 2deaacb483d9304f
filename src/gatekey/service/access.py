"""Projects and their API keys: creation, listing, revocation and authentication."""

from __future__ import annotations

import hashlib
import math
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
    RateLimited,
)
from gatekey.models import (
    ApiKey,
    CreatedApiKey,
    Project,
)
from gatekey.service.base import Actor, ServiceBase
from gatekey.store import audit as audit_rows
from gatekey.store import projects as project_rows

TOKEN_PREFIX = "gk_"  # noqa: S105 - a prefix, not a secret


def _api_key_of(row: Row[Any]) -> ApiKey:
    return ApiKey.model_validate(row._asdict())


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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

    def authenticate(self, token: str | None, *, client: str | None = None) -> Actor:
        """Return the actor of a bearer token; every failure looks the same.

        With ``client`` (the caller's address), failures are counted: past
        ``auth_failures_per_client`` a minute, every attempt from there is refused with
        ``rate_limited`` until the budget refills, whether the key exists or not.
        """
        rate = self.limits.rate("auth_failures_per_client") if client else None
        bucket = f"auth_failures_per_client:{client}"
        if rate is not None:
            wait = self.limiter.wait_for(bucket, rate)
            if wait is not None:
                raise RateLimited(
                    "too many failed API-key attempts from this address; "
                    f"try again in {math.ceil(wait)} s",
                    retry_after=round(wait, 3),
                )
        row = None
        if token and token.startswith(TOKEN_PREFIX) and len(token) <= 200:
            with self.db.read() as conn:
                row = project_rows.key_by_hash(conn, _hash_token(token))
        if (
            row is None
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= self.clock())
        ):
            if rate is not None:
                self.limiter.hit(bucket, rate)
            raise AuthenticationFailed("missing, unknown, expired or revoked API key")
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
