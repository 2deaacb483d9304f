"""A project's API keys: creation, listing and revocation (``service.authentication`` says
who a bearer token is)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from gatekey import ids
from gatekey.domain.connection import Role, clean_name
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import (
    InvalidInput,
    NotFound,
)
from gatekey.models import (
    ApiKey,
    CreatedApiKey,
)
from gatekey.service.actor import Actor, authorize
from gatekey.service.context import Context
from gatekey.service.key_cache import KeyCache
from gatekey.store import audit as audit_rows
from gatekey.store import projects as project_rows
from gatekey.store.rows import ApiKeyRow

TOKEN_PREFIX = "gk_"  # noqa: S105 - a prefix, not a secret


def _api_key_of(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        role=Role(row.role),
        hint=row.hint,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def digest_of(token: str | None) -> str | None:
    """The hash a well-formed token is stored under; None for anything else."""
    if token and token.startswith(TOKEN_PREFIX) and len(token) <= 200:
        return _hash_token(token)
    return None


@checked_arguments
class Access:
    """The API keys of the actor's project."""

    def __init__(self, ctx: Context, keys: KeyCache) -> None:
        self.ctx = ctx
        self.keys = keys

    def create_key(
        self, actor: Actor, *, name: str, role: str, expires_in: timedelta | None = None
    ) -> CreatedApiKey:
        authorize(actor, "create_api_key")
        display = clean_name(name, what="key name", limit=100)
        try:
            key_role = Role(role)
        except ValueError:
            raise InvalidInput("role must be admin or runtime") from None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.ctx.now()
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
        with self.ctx.db.write() as conn:
            project_rows.insert_key(
                conn, {**key.model_dump(exclude={"token"}), "token_hash": _hash_token(token)}
            )
            audit_rows.record_now(
                conn,
                [self.ctx.event(actor, "api_key.create", "api_key", key.id, role=key_role.value)],
            )
        return key

    def list_keys(self, actor: Actor) -> list[ApiKey]:
        authorize(actor, "list_api_keys")
        with self.ctx.db.read() as conn:
            return [_api_key_of(r) for r in project_rows.keys_of(conn, actor.project_id)]

    def revoke_key(self, actor: Actor, key_id: str) -> None:
        authorize(actor, "revoke_api_key")
        ids.check("key", key_id)
        with self.ctx.db.write() as conn:
            if not project_rows.revoke_key(conn, actor.project_id, key_id, self.ctx.now()):
                raise NotFound(f"API key {key_id} not found")
            audit_rows.record_now(
                conn, [self.ctx.event(actor, "api_key.revoke", "api_key", key_id)]
            )
        self.keys.forget(key_id)
