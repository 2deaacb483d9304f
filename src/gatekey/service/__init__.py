"""The service: the one façade (``service.facade.Service``) the API, web pages, CLI, SDK and
workers call, made of one object per module here.

Every method of every part but ``system`` takes the ``Actor`` it acts for; project scoping and
roles are enforced here, so no adapter can forget them. Nothing above this package touches
tables or ciphers.
"""

from __future__ import annotations

from gatekey.service.actor import Actor
from gatekey.service.context import Clock, Context, utcnow
from gatekey.service.facade import Internals, Service
from gatekey.service.web_sessions import WebSession

__all__ = ["Actor", "Clock", "Context", "Internals", "Service", "WebSession", "utcnow"]
