"""The connection service: the one façade the API, web pages, CLI, SDK and runner call.

Every method takes the ``Actor`` it acts for; project scoping and roles are enforced here, so no
adapter can forget them. Nothing above this module touches tables or ciphers.
"""

from __future__ import annotations

from gatekey.domain.inputs import checked_arguments
from gatekey.service.access import AccessMixin
from gatekey.service.apps import AppsMixin
from gatekey.service.audit import AuditMixin
from gatekey.service.base import Actor, Clock, ServiceBase, utcnow
from gatekey.service.connections import ConnectionsMixin
from gatekey.service.flows import FlowsMixin
from gatekey.service.health import HealthMixin
from gatekey.service.master_keys import MasterKeysMixin
from gatekey.service.oauth_flow import OAuthFlowMixin
from gatekey.service.proxy import ProxyMixin
from gatekey.service.runs import RunsMixin
from gatekey.service.tokens import TokensMixin
from gatekey.service.transfer import TransferMixin
from gatekey.service.web_sessions import WebSession, WebSessionsMixin
from gatekey.service.webhooks import WebhooksMixin


@checked_arguments
class ConnectionService(
    TokensMixin,
    TransferMixin,
    RunsMixin,
    ProxyMixin,
    OAuthFlowMixin,
    ConnectionsMixin,
    AppsMixin,
    AuditMixin,
    WebhooksMixin,
    FlowsMixin,
    WebSessionsMixin,
    AccessMixin,
    HealthMixin,
    MasterKeysMixin,
):
    """Projects, API keys, connections, OAuth and master keys, each call for a given actor.

    One class for the adapters to hold; its parts live in the modules of this package. Every
    public method refuses a NUL character or a non-finite number in its arguments with
    ``InvalidInput`` before it runs (``gatekey.domain.inputs``).
    """


__all__ = ["Actor", "Clock", "ConnectionService", "ServiceBase", "WebSession", "utcnow"]
