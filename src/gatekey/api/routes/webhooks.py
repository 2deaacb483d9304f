"""``/api/v1/webhooks``: status-webhook endpoints of the project and their delivery logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.api.schemas import WebhookCreate
from gatekey.models import CreatedWebhook, Webhook, WebhookDelivery

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", response_model=CreatedWebhook, status_code=201)
def add_webhook(body: WebhookCreate, actor: ActorDep, service: ServiceDep) -> CreatedWebhook:
    """Register an endpoint; ``secret`` (shown once) signs every delivery."""
    return service.webhooks.add(
        actor, url=body.url, events=body.events, description=body.description
    )


@router.get("", response_model=list[Webhook])
def list_webhooks(actor: ActorDep, service: ServiceDep) -> list[Webhook]:
    return service.webhooks.list(actor)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, actor: ActorDep, service: ServiceDep) -> Response:
    service.webhooks.delete(actor, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=list[WebhookDelivery])
def webhook_deliveries(
    webhook_id: str,
    actor: ActorDep,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[WebhookDelivery]:
    """The delivery log, newest first: status, attempts, the endpoint's last answer."""
    return service.webhooks.deliveries(actor, webhook_id, limit)


@router.post("/{webhook_id}/ping", status_code=202)
def ping_webhook(webhook_id: str, actor: ActorDep, service: ServiceDep) -> Response:
    """Queue a ``webhook.ping`` event to this endpoint."""
    service.webhooks.ping(actor, webhook_id)
    return Response(status_code=202)
