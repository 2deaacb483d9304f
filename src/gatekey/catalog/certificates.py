"""Client certificates (mutual TLS, RFC 8705 section 2 for token requests): the fields that
hold a connection's PEM certificate and private key, presented on the TLS handshake of token
requests and API calls alike."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClientCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate: str = Field(default="client_certificate", pattern=r"^[a-z][a-z0-9_]*$")
    private_key: str = Field(default="client_key", pattern=r"^[a-z][a-z0-9_]*$")
    api_calls: bool = Field(default=True, description="present it on API calls too")
    token_requests: bool = Field(default=True, description="present it on token requests")
