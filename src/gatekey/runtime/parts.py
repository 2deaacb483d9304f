"""The composition root of the service: every part built with its collaborators, in one place."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from gatekey.catalog.loader import Catalog
from gatekey.catalog.schema import AuthKind
from gatekey.crypto.vault import Vault
from gatekey.metrics import Metrics
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.minters.aws import AwsAssumeRole
from gatekey.oauth.minters.bearer import JwtBearerMinter
from gatekey.oauth.minters.github import GitHubAppMinter
from gatekey.oauth.minters.logins import TwoStepMinter
from gatekey.oauth.minters.signed import SignedJwtMinter
from gatekey.oauth.minting import Minter, Minters
from gatekey.oauth.oauth1_consent import OAuth1Consent
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.refresh import Refresher
from gatekey.oauth.refresh_store import RefreshStore
from gatekey.oauth.revocation import Revoker
from gatekey.probe import Prober
from gatekey.ratelimit import Limiter, Limits
from gatekey.service import Clock, Context, Internals, Service, utcnow
from gatekey.service.access import Access
from gatekey.service.app_registry import AppRegistry
from gatekey.service.apps import ProjectApps
from gatekey.service.audit import AuditTrail
from gatekey.service.authentication import Authenticator
from gatekey.service.authorizations import Authorizations
from gatekey.service.budgets import Budgets
from gatekey.service.connections import Connections
from gatekey.service.credential_checks import CredentialCheck
from gatekey.service.credentials import Resolver
from gatekey.service.deliveries import Deliveries
from gatekey.service.flows import Flows
from gatekey.service.health import Health
from gatekey.service.keepalive import KeepAlive
from gatekey.service.key_cache import KeyCache
from gatekey.service.master_keys import MasterKeys
from gatekey.service.oauth_callback import OAuthCallback
from gatekey.service.oauth_clients import OAuthClients
from gatekey.service.projects import Projects
from gatekey.service.proxy import Proxy
from gatekey.service.runs import Runs
from gatekey.service.system import System
from gatekey.service.transfer import Transfer
from gatekey.service.web_sessions import WebSessions
from gatekey.service.webhooks import Webhooks
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database
from gatekey.store.secret_reader import SecretReader
from gatekey.store.webhooks import Outbox
from gatekey.workers.usage_writer import UsageWriter
from gatekey.workflows.registry import StepRegistry


def recipe_minters(
    provider: ProviderClient, prober: Prober, *, clock: Callable[[], datetime]
) -> Minters:
    """The minter of each recipe kind (``oauth.minting``): each needs the provider's transport
    (``provider``), the apps' client (``prober.http``) or nothing but the clock."""
    by_kind: dict[AuthKind, Minter] = {}
    by_kind[AuthKind.SIGNED_JWT] = SignedJwtMinter(clock=clock)
    by_kind[AuthKind.JWT_BEARER] = JwtBearerMinter(provider, clock=clock)
    by_kind[AuthKind.TWO_STEP] = TwoStepMinter(prober.http, clock=clock)
    by_kind[AuthKind.GITHUB_APP] = GitHubAppMinter(prober.http, clock=clock)
    by_kind[AuthKind.AWS_SIGV4] = AwsAssumeRole(
        prober.http, clock=clock, timeout=lambda: provider.timeout
    )
    return Minters(by_kind)


def build_service(
    db: Database,
    catalog: Catalog,
    vault: Vault,
    prober: Prober,
    audit: UsageWriter,
    provider: ProviderClient,
    limiter: Limiter,
    limits: Limits,
    step_registry: StepRegistry,
    *,
    clock: Clock = utcnow,
    callback_url: str = "http://127.0.0.1:8040/oauth/callback",
    session_ttl: timedelta = timedelta(minutes=10),
    refresh_commit_seconds: float = 30.0,
    key_cache_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Service:
    """Build every part of the service with its collaborators: the one place that knows them.

    The parts read the clock through the context at each use, so a clock set on
    ``service.context`` later (tests travel in time) holds for all of them.
    """
    metrics = Metrics(db)
    outbox = Outbox()
    writer = ConnectionWriter(outbox)
    registry = AppRegistry(db, catalog)
    budgets = Budgets(limiter, limits, metrics)
    ctx = Context(db, vault, registry, audit, writer, outbox, budgets, metrics, clock=clock)
    keys = KeyCache(key_cache_seconds)
    secrets_reader = SecretReader(db)
    client_secrets = ClientSecrets(db, vault)
    minters = recipe_minters(provider, prober, clock=ctx.now)
    consent = OAuth1Consent(prober.http, clock=ctx.now)
    store = RefreshStore(
        db,
        secrets_reader,
        vault,
        writer,
        clock=ctx.now,
        provider_timeout=lambda: provider.timeout,
        commit_seconds=refresh_commit_seconds,
    )
    refresher = Refresher(
        db,
        secrets_reader,
        vault,
        registry,
        provider,
        metrics,
        client_secrets,
        store,
        clock=ctx.now,
        sleep=sleep,
        minters=minters,
    )
    revoker = Revoker(provider, client_secrets, sleep=sleep)
    resolver = Resolver(
        secrets_reader, registry, vault, refresher, audit, metrics, budgets, clock=ctx.now
    )
    check = CredentialCheck(prober, provider, metrics, minters)
    connections = Connections(ctx, check, resolver, refresher, revoker)
    access = Access(ctx, keys)
    authenticator = Authenticator(ctx, keys, limiter, limits)
    master_keys = MasterKeys(ctx)
    flows = Flows(ctx, step_registry)
    system = System(
        ctx,
        Projects(ctx, access),
        authenticator,
        WebSessions(ctx, authenticator),
        OAuthCallback(ctx, provider, client_secrets, prober, consent),
        master_keys,
        Health(ctx, master_keys, limiter),
        Deliveries(ctx, prober),
        refresher,
        KeepAlive(ctx, connections.tester),
    )
    return Service(
        access=access,
        apps=ProjectApps(ctx, catalog),
        connections=connections,
        credentials=resolver,
        proxy=Proxy(resolver, prober, metrics),
        oauth_clients=OAuthClients(ctx),
        authorizations=Authorizations(
            ctx,
            connections,
            provider,
            client_secrets,
            consent,
            callback_url=callback_url,
            session_ttl=session_ttl,
        ),
        flows=flows,
        runs=Runs(ctx, flows),
        webhooks=Webhooks(ctx, prober),
        audit=AuditTrail(ctx),
        transfer=Transfer(ctx, connections, resolver),
        system=system,
        context=ctx,
        internals=Internals(
            catalog,
            prober,
            provider,
            limiter,
            keys,
            secrets_reader,
            client_secrets,
            refresher,
            revoker,
            step_registry,
        ),
    )
