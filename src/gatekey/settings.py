"""Configuration from the environment (``GATEKEY_*``), with embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gatekey.home import Served


class Settings(BaseSettings):
    """Every setting has a default that gives a working embedded server."""

    model_config = SettingsConfigDict(env_prefix="GATEKEY_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".gatekey")
    database_url: str | None = None
    database_pool_size: int = Field(
        default=10, ge=1, description="PostgreSQL connections kept per process"
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="PostgreSQL connections opened past the pool under load"
    )
    master_keys: SecretStr | None = None
    master_key_path: Path | None = Field(
        default=None, description="the master key file (default: <home>/master.key)"
    )
    apps_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8040
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    provider_timeout: float = 10.0
    audit_flush_interval: float = 0.2
    public_url: str | None = Field(
        default=None,
        description="the origin people reach Gatekey at; the OAuth callback is registered there",
    )
    oauth_session_minutes: int = 10
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="how long a process trusts an API key it read (a key revoked through another "
        "replica is refused there within this; 0 reads the key on every request)",
    )
    refresh_interval: float = Field(default=30.0, description="seconds between background sweeps")
    refresh_commit_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a refresh keeps trying to store the token set a provider issued "
        "while the database is unavailable (a rotated refresh token exists nowhere else)",
    )
    refresh_concurrency: int = Field(default=8, ge=1, description="background refreshes in flight")
    refresh_rate_per_app: float = Field(
        default=10.0,
        gt=0,
        description="background token requests per app per second (shared through Redis)",
    )
    keepalive_interval: float = Field(
        default=3600.0,
        ge=0,
        description="seconds between keep-alive sweeps of credentials a provider deactivates "
        "when idle (Zendesk API tokens); 0 turns them off",
    )
    run_workers: int = Field(default=4, ge=1, description="threads executing queued runs")
    run_poll_interval: float = Field(default=0.5, description="seconds between queue polls")
    run_timeout_minutes: int = Field(
        default=30, ge=1, description="a run still running after this is failed as worker_lost"
    )
    steps: str = Field(
        default="",
        description="python steps flows may name, as comma-separated name=package.module:function "
        "(added to the gatekey.steps entry-point group)",
    )
    step_timeout_seconds: float = Field(
        default=60.0, gt=0, description="wall-clock (and CPU) seconds a python step may take"
    )
    step_memory_mb: int = Field(default=512, ge=32, description="address space of a python step")
    step_user: str | None = Field(
        default=None,
        description="the user python steps run as; when Gatekey runs as root, nobody by default",
    )
    step_python: str | None = Field(
        default=None, description="the interpreter python steps run in (default: Gatekey's own)"
    )
    step_unconfined: bool = Field(
        default=False,
        description="run python steps even where they run as Gatekey's own user without "
        "Landlock (they can then read what that user can read, the key file included)",
    )
    demo: bool = False
    webhook_poll_interval: float = Field(
        default=2.0, gt=0, description="seconds between looks at the webhook outbox"
    )
    redis_url: str | None = Field(
        default=None, description="share rate-limit budgets between replicas through Redis"
    )
    redis_timeout: float = Field(
        default=0.05, gt=0, description="seconds to connect to Redis, and to wait for each answer"
    )
    redis_breaker_failures: int = Field(
        default=3, ge=1, description="Redis failures in a row before the limiter stops asking it"
    )
    redis_cool_off: float = Field(
        default=10.0,
        gt=0,
        description="seconds the limiter lets requests through unasked before probing Redis",
    )
    rate_resolve_per_key: int = Field(default=60_000, ge=0, description="credential reads/min")
    rate_resolve_per_project: int = Field(default=300_000, ge=0)
    rate_oauth_per_key: int = Field(default=60, ge=0, description="OAuth sessions started/min")
    rate_oauth_per_project: int = Field(default=300, ge=0)
    rate_callback_per_client: int = Field(default=60, ge=0, description="OAuth callbacks/min/IP")
    rate_callback_per_project: int = Field(default=300, ge=0)
    rate_signin_per_client: int = Field(default=10, ge=0, description="web sign-ins/min/IP")
    rate_signin_per_project: int = Field(default=60, ge=0)
    rate_auth_failures_per_client: int = Field(
        default=30, ge=0, description="failed API-key attempts/min/IP before 429s"
    )
    egress_allow: str = Field(
        default="",
        description="comma-separated networks, addresses or host names (each optionally with "
        ":port) Gatekey may connect to although they are not public, e.g. 10.0.0.0/8,crm.lan",
    )

    def following(self, served: Served | None) -> Settings:
        """These settings, with what ``gatekey serve`` recorded in the home filling in what
        was not set: its public URL (links then reach the server, on whatever port it took)
        and the demo (the Sandbox app). ``GATEKEY_PUBLIC_URL`` and ``GATEKEY_DEMO`` win."""
        if served is None:
            return self
        update: dict[str, object] = {}
        if "public_url" not in self.model_fields_set:
            update["public_url"] = served.origin
        if "demo" not in self.model_fields_set:
            update["demo"] = served.demo
        return self.model_copy(update=update)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'gatekey.db'}"

    @property
    def origin(self) -> str:
        """Return the public origin, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def callback_url(self) -> str:
        """Return the redirect URI to register with every OAuth provider."""
        return self.origin + "/oauth/callback"

    @property
    def master_key_file(self) -> Path:
        return self.master_key_path or self.home / "master.key"
