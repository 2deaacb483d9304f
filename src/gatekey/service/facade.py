"""The service façade: the one object the API, the web pages, the CLI, the SDK and the workers
hold. It is a container of named parts, each one object with its collaborators passed in by the
composition root (``runtime.parts.build_service``); it holds no behaviour of its own.

Every method of every part but ``system`` takes the ``Actor`` it acts for first, and checks the
actor's role (``domain.roles``) and its arguments (``domain.inputs``) before it runs: those are
the methods an adapter may expose to a tenant. ``system`` holds what runs without an actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gatekey.catalog.loader import Catalog
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.refresh import Refresher
from gatekey.oauth.revocation import Revoker
from gatekey.probe import Prober
from gatekey.ratelimit import Limiter
from gatekey.service.access import Access
from gatekey.service.apps import ProjectApps
from gatekey.service.audit import AuditTrail
from gatekey.service.authorizations import Authorizations
from gatekey.service.connections import Connections
from gatekey.service.context import Context
from gatekey.service.credentials import Resolver
from gatekey.service.flows import Flows
from gatekey.service.key_cache import KeyCache
from gatekey.service.oauth_clients import OAuthClients
from gatekey.service.proxy import Proxy
from gatekey.service.runs import Runs
from gatekey.service.system import System
from gatekey.service.transfer import Transfer
from gatekey.service.webhooks import Webhooks
from gatekey.store.secret_reader import SecretReader
from gatekey.workflows.registry import StepRegistry


@dataclass(frozen=True, repr=False)
class Internals:
    """The collaborators the parts were built with, for the composition root (closing them)
    and for tests that look underneath; never for an adapter."""

    catalog: Catalog
    prober: Prober
    provider: ProviderClient
    limiter: Limiter
    keys: KeyCache
    secrets: SecretReader
    client_secrets: ClientSecrets
    refresher: Refresher
    revoker: Revoker
    step_registry: StepRegistry


@dataclass(frozen=True, repr=False)
class Service:
    """Projects' connections, OAuth, flows, runs, webhooks and keys, as named parts."""

    access: Access
    """The project's API keys."""
    apps: ProjectApps
    """The catalog and the project's own apps."""
    connections: Connections
    """Create, list, change, test and delete connections."""
    credentials: Resolver
    """Credentials for an execution: the hot path."""
    proxy: Proxy
    """Requests to a connection's app, authenticated by Gatekey."""
    oauth_clients: OAuthClients
    """The project's OAuth clients, per app."""
    authorizations: Authorizations
    """Connecting and reconnecting OAuth2 apps through the browser."""
    flows: Flows
    runs: Runs
    """The run queue: trigger, read, list, retry."""
    webhooks: Webhooks
    """Status webhook endpoints and their deliveries."""
    audit: AuditTrail
    """The project's audit trail and its verification."""
    transfer: Transfer
    """Export and import of connections."""
    system: System
    """What runs without an actor."""
    context: Context = field(repr=False)
    internals: Internals = field(repr=False)

    def __repr__(self) -> str:
        return "Service()"
