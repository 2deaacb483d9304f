"""Assemble a working Gatekey from settings: database, migrations, keys, catalog, service."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from sqlalchemy import make_url

from gatekey import logs
from gatekey.catalog.loader import Catalog, load_catalog
from gatekey.catalog.schema import App
from gatekey.crypto.keys import EnvKeyProvider, FileKeyProvider, KeyProvider
from gatekey.crypto.vault import Vault
from gatekey.egress import EgressPolicy, GuardedClient, GuardedTransport, parse_allowlist
from gatekey.errors import InvalidInput
from gatekey.home import read_served, secure_home, secure_sqlite_file
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.sandbox import SandboxState, sandbox_app_definition
from gatekey.oauth.sandbox.app import DEMO_CLIENT_ID
from gatekey.probe import Prober
from gatekey.ratelimit import Limits, MemoryLimiter, RedisLimiter
from gatekey.runtime.parts import build_service
from gatekey.service import Actor, Service, utcnow
from gatekey.settings import Settings
from gatekey.store.database import Database
from gatekey.workers.dispatcher import WebhookDispatcher
from gatekey.workers.keepalive import BackgroundKeepAlive
from gatekey.workers.pool import Workers
from gatekey.workers.refresher import BackgroundRefresher
from gatekey.workers.runner import RunWorker
from gatekey.workers.usage_writer import UsageWriter
from gatekey.workflows.engine import Engine
from gatekey.workflows.registry import StepRegistry
from gatekey.workflows.sandbox import StepSandbox, make_undumpable

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a process needs; ``close()`` flushes the audit queue and disposes the pool."""

    settings: Settings
    db: Database
    catalog: Catalog
    keys: KeyProvider
    service: Service
    engine: Engine
    http: httpx2.Client
    key_file_created: bool
    sandbox: SandboxState | None = None

    def close(self) -> None:
        internals = self.service.internals
        if isinstance(internals.limiter, RedisLimiter):
            internals.limiter.close()
        self.service.context.audit.close()
        internals.secrets.close()
        internals.prober.close()
        internals.provider.close()
        self.http.close()
        self.db.dispose()


def _tls_clients(settings: Settings) -> Callable[[ssl.SSLContext], httpx2.Client]:
    """How a client presenting a client certificate is made: like the shared one, through
    the egress guard, its TLS connections using the certificate's context."""

    def make(context: ssl.SSLContext) -> httpx2.Client:
        return GuardedClient(
            transport=GuardedTransport(egress_policy(settings), verify=context),
            timeout=settings.provider_timeout,
            follow_redirects=False,
            headers={"User-Agent": "gatekey/0.1"},
        )

    return make


def _tls_transports(settings: Settings) -> Callable[[ssl.SSLContext], httpx2.BaseTransport]:
    """How a transport presenting a client certificate on token requests is made (RFC 8705):
    through the egress guard like the shared one."""

    def make(context: ssl.SSLContext) -> httpx2.BaseTransport:
        return GuardedTransport(egress_policy(settings), verify=context)

    return make


def key_provider(settings: Settings) -> KeyProvider:
    if settings.master_keys is not None and settings.master_keys.get_secret_value().strip():
        return EnvKeyProvider(settings.master_keys.get_secret_value())
    return FileKeyProvider(settings.master_key_file)


def open_runtime(
    settings: Settings | None = None,
    *,
    transport: httpx2.BaseTransport | None = None,
    migrate: bool = True,
    extra_apps: Sequence[App] = (),
    follow_serve: bool = True,
) -> Runtime:
    """Open the database (migrating it), load keys and catalog; fail early and clearly.

    With ``follow_serve`` (all but ``serve`` itself) the settings follow what the last
    ``gatekey serve`` on the home recorded (``Settings.following``).
    """
    settings = settings or Settings()
    logs.install()
    make_undumpable()  # before any key is loaded: no same-user process reads this one's memory
    secure_home(settings.home)
    if follow_serve:
        settings = settings.following(read_served(settings.home))
    sqlite_file = sqlite_path(settings.resolved_database_url)
    if sqlite_file is not None:
        secure_sqlite_file(sqlite_file)
    pool = (
        {}
        if settings.resolved_database_url.startswith("sqlite")
        else {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
        }
    )
    db = Database(settings.resolved_database_url, **pool)
    if migrate:
        db.migrate()
    provider = key_provider(settings)
    vault = Vault(provider)
    created = isinstance(provider, FileKeyProvider) and provider.created
    catalog = load_catalog(settings.apps_dir)
    sandbox = None
    if settings.demo:
        sandbox = SandboxState(issuer=settings.origin + "/sandbox")
        extra_apps = [*extra_apps, sandbox_app_definition(settings.origin + "/sandbox")]
    if extra_apps:
        catalog = Catalog([*catalog, *extra_apps])
    shared = transport or GuardedTransport(egress_policy(settings))
    http = GuardedClient(
        transport=shared,
        timeout=settings.provider_timeout,
        follow_redirects=False,
        headers={"User-Agent": "gatekey/0.1"},
    )
    prober = Prober(http, with_tls=None if transport else _tls_clients(settings))
    step_registry = StepRegistry.installed(settings.steps)
    audit = UsageWriter(db, interval=settings.audit_flush_interval)
    audit.start()
    limiter = redis_limiter(settings) if settings.redis_url else MemoryLimiter()
    oauth = ProviderClient(
        shared,
        timeout=settings.provider_timeout,
        clock=utcnow,
        user_agent="gatekey/0.1",
        with_tls=None if transport else _tls_transports(settings),
    )
    service = build_service(
        db,
        catalog,
        vault,
        prober,
        audit,
        oauth,
        limiter,
        limits_of(settings),
        step_registry,
        callback_url=settings.callback_url,
        session_ttl=timedelta(minutes=settings.oauth_session_minutes),
        refresh_commit_seconds=settings.refresh_commit_seconds,
        key_cache_seconds=settings.api_key_cache_seconds,
    )
    try:
        service.system.check_master_keys()
        for project_id, key in service.context.registry.shadowed():
            log.warning(
                "project %s has its own app %r, now hidden by the catalog app of that key; "
                "its connections use the catalog's definition",
                project_id,
                key,
            )
    except Exception:
        audit.close()
        http.close()
        db.dispose()
        raise
    engine = run_engine(service, step_registry, step_sandbox(settings))
    return Runtime(settings, db, catalog, provider, service, engine, http, created, sandbox)


def run_engine(service: Service, registry: StepRegistry, sandbox: StepSandbox) -> Engine:
    """The engine that executes runs, on the service's resolver, proxy and writer.

    It reads the service's clock at each use, so a clock set on the service later (tests)
    holds for the runs too.
    """
    ctx = service.context
    return Engine(
        ctx.db,
        service.credentials,
        service.proxy.send,
        registry,
        sandbox,
        ctx.writer,
        clock=ctx.now,
    )


def step_sandbox(settings: Settings) -> StepSandbox:
    """The child process python steps run in, confined as ``GATEKEY_STEP_*`` says."""
    return StepSandbox(
        timeout=settings.step_timeout_seconds,
        memory_mb=settings.step_memory_mb,
        user=settings.step_user,
        python=settings.step_python,
        private=private_paths(settings),
        allow_unconfined=settings.step_unconfined,
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL (None for PostgreSQL and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename: SQLite opens it as told
    return Path(parsed.database).expanduser()


def private_paths(settings: Settings) -> list[Path]:
    """What a python step must never read: Gatekey's home (the key file), and the SQLite
    database wherever it lives."""
    database = sqlite_path(settings.resolved_database_url)
    return [settings.home, settings.master_key_file, *([database] if database else [])]


def redis_limiter(settings: Settings) -> RedisLimiter:
    """The shared limiter, with the timeouts and circuit breaker of ``GATEKEY_REDIS_*``."""
    assert settings.redis_url is not None
    return RedisLimiter(
        settings.redis_url,
        timeout=settings.redis_timeout,
        failures=settings.redis_breaker_failures,
        cool_off=settings.redis_cool_off,
    )


def limits_of(settings: Settings) -> Limits:
    """The per-minute budgets from ``GATEKEY_RATE_*``."""
    return Limits(
        **{f.name: getattr(settings, f"rate_{f.name}") for f in dataclasses.fields(Limits)}
    )


def egress_policy(settings: Settings) -> EgressPolicy:
    """The operator's allowlist; in demo mode also Gatekey's own origin (the sandbox)."""
    allow = parse_allowlist(settings.egress_allow)
    if settings.demo:
        origin = urlsplit(settings.origin)
        port = origin.port or (443 if origin.scheme == "https" else 80)
        host = origin.hostname or settings.host
        allow.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    try:
        return EgressPolicy(allow)
    except ValueError as exc:
        raise InvalidInput(f"GATEKEY_EGRESS_ALLOW: {exc}") from None


def install_demo(runtime: Runtime, project_id: str) -> None:
    """Register the sandbox's OAuth client (a fresh secret each start) in a project."""
    if runtime.sandbox is None:
        return
    secret = secrets.token_urlsafe(24)
    runtime.sandbox.register_client(DEMO_CLIENT_ID, secret, [runtime.settings.callback_url])
    actor = Actor.operator(project_id)
    clients = runtime.service.oauth_clients
    existing = [c for c in clients.list(actor) if c.app == "sandbox"]
    if existing:
        clients.update(actor, existing[0].id, client_id=DEMO_CLIENT_ID, client_secret=secret)
    else:
        clients.register(actor, app="sandbox", client_id=DEMO_CLIENT_ID, client_secret=secret)


def background_workers(runtime: Runtime) -> Workers:
    """Return (not started) the loops of ``serve`` and ``gatekey worker``."""
    return Workers(
        run_worker(runtime),
        webhook_dispatcher(runtime),
        background_refresher(runtime),
        background_keepalive(runtime),
    )


def background_keepalive(runtime: Runtime) -> BackgroundKeepAlive | None:
    """Return (not started) the keep-alive loop, or None when the settings turn it off."""
    interval = runtime.settings.keepalive_interval
    return BackgroundKeepAlive(runtime.service.system, interval=interval) if interval else None


def background_refresher(runtime: Runtime) -> BackgroundRefresher:
    """Return (not started) the refresher configured by the settings."""
    settings = runtime.settings
    return BackgroundRefresher(
        runtime.service.system,
        interval=settings.refresh_interval,
        concurrency=settings.refresh_concurrency,
        rate_per_app=settings.refresh_rate_per_app,
        limiter=runtime.service.internals.limiter,
    )


def webhook_dispatcher(runtime: Runtime) -> WebhookDispatcher:
    """Return (not started) the thread that sends status webhooks."""
    return WebhookDispatcher(
        runtime.service.system, interval=runtime.settings.webhook_poll_interval
    )


def run_worker(runtime: Runtime) -> RunWorker:
    """Return (not started) the pool that executes queued runs."""
    return RunWorker(
        runtime.engine,
        threads=runtime.settings.run_workers,
        idle_wait=runtime.settings.run_poll_interval,
        abandon_after=timedelta(minutes=runtime.settings.run_timeout_minutes),
    )
