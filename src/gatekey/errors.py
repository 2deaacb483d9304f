"""The one exception tree of Gatekey.

Every error carries a stable machine-readable ``code``; adapters map it (the API to an HTTP
status and ``application/problem+json``, the CLI to an exit status and one line). Messages never
contain a secret value::

    GatekeyError
     ├── InvalidInput              invalid_input            400/422
     │    ├── OAuthClientMissing   oauth_client_missing     (no client registered for the app)
     │    ├── UnknownApp           unknown_app
     │    ├── AuthMethodRetired    auth_method_retired      (past its sunset: use another method)
     │    ├── InvalidAppDefinition invalid_app_definition  (the app schema refused it)
     │    ├── InvalidFields        invalid_fields
     │    │    └── TemplateError   template_error           (a flow template cannot be filled)
     │    ├── InvalidName          invalid_name
     │    ├── InvalidId            invalid_id
     │    ├── PayloadTooLarge      payload_too_large
     │    ├── UnsupportedMediaType unsupported_media_type   415  (a body type it does not take)
     │    └── InsecureHome         insecure_home            (start-up: files others could read)
     ├── NotFound                  not_found                404
     ├── Conflict                  conflict                 409
     │    ├── DuplicateName        duplicate_name
     │    ├── KeyInUse             key_in_use
     │    ├── AppExists            app_exists               (the key is taken)
     │    ├── AppInUse             app_in_use               (connections or flows use it)
     │    └── ConnectionInUse      connection_in_use        (flows use it; force to delete)
     ├── AuthenticationFailed      unauthenticated          401
     ├── PermissionDenied          forbidden                403
     ├── CredentialsRejected       invalid_credentials      422  (the provider said no)
     ├── ProviderUnavailable       provider_unavailable     502  (timeouts, 5xx, network)
     ├── DestinationBlocked        destination_blocked      422  (SSRF guard: not a public address)
     ├── RateLimited               rate_limited             429  (``retry_after`` seconds)
     ├── ConnectionInactive        connection_inactive      409
     ├── MissingScopes             missing_scopes           409  (granted scopes lack some)
     ├── OAuthClientRejected       oauth_client_rejected    502  (invalid_client: fix the client)
     ├── GrantRevoked              grant_revoked            409  (invalid_grant: reconnect)
     ├── TokenRequestRefused       token_request_refused    502
     ├── AuthFailed                auth_failed              (a run's step: refused after a refresh)
     ├── StepFailed                step_failed              (a run's step failed; the run stops)
     │    ├── StepNotRegistered    step_not_registered      (names no step the operator registered)
     │    ├── StepTimedOut         step_timeout             (past its wall-clock or CPU limit)
     │    ├── StepOutOfMemory      step_memory_exceeded     (past its memory limit)
     │    ├── StepExited           step_exited              (exited or was killed without a result)
     │    └── StepSandboxFailed    step_sandbox_failed      (its child process could not be started)
     ├── DatabaseUnavailable       database_unavailable     503  (down, restarting; ``retry_after``)
     ├── HttpError                 http_error               (refused before any route: bad request)
     │    └── MethodNotAllowed     method_not_allowed       405
     ├── AuthorizationFailed       authorization_failed     400  (an OAuth flow went wrong)
     │    ├── StateInvalid         oauth_state_invalid      (unknown, forged or replayed state)
     │    ├── SessionExpired       oauth_session_expired
     │    ├── IssuerMismatch       oauth_issuer_mismatch    (RFC 9207)
     │    ├── AccessDenied         oauth_access_denied      (the person or provider said no)
     │    ├── TokenExchangeFailed  oauth_token_exchange_failed
     │    ├── DiscoveryFailed      discovery_failed         (after consent: the API lists nothing)
     │    └── AccountMismatch      account_mismatch         (a reconnect signed in as another)
     └── CryptoError               crypto_error
          ├── DecryptionFailed     decryption_failed        500
          └── MasterKeyMissing     master_key_missing       (start-up)
"""

from __future__ import annotations

from typing import Any

from gatekey.hints import NEXT_STEPS as NEXT_STEPS  # re-exported: errors carry hints
from gatekey.hints import Hint as Hint


class GatekeyError(Exception):
    """Base of every Gatekey error; ``code`` is stable, ``message`` is for people, ``hint``
    names what to do next when there is one thing to do (each adapter renders it)."""

    code = "gatekey_error"

    def __init__(self, message: str, *, hint: Hint | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before trying again, when the error says (``retry_after``)."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(GatekeyError):
    code = "invalid_input"


class UnknownApp(InvalidInput):
    code = "unknown_app"


class AuthMethodRetired(InvalidInput):
    """The provider switched this auth method off (its sunset has come); see ``use_instead``."""

    code = "auth_method_retired"


class InvalidAppDefinition(InvalidInput):
    """An app definition does not fit the catalog schema; ``details["errors"]`` says where."""

    code = "invalid_app_definition"


class InvalidFields(InvalidInput):
    """Fields do not fit the app's schema; ``details["errors"]``: ``{field, message}``, no value."""

    code = "invalid_fields"


class TemplateError(InvalidFields):
    """A flow step's ``{{ ... }}`` template has no value, or its value cannot be sent there."""

    code = "template_error"


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidId(InvalidInput):
    code = "invalid_id"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """The body's media type is not one the route takes (``multipart/form-data`` on a form)."""

    code = "unsupported_media_type"


class InsecureHome(InvalidInput):
    """At start-up: ``path`` (home or database file) is another user's or cannot be private."""

    code = "insecure_home"


class NotFound(GatekeyError):
    code = "not_found"


class Conflict(GatekeyError):
    code = "conflict"


class DuplicateName(Conflict):
    code = "duplicate_name"


class KeyInUse(Conflict):
    code = "key_in_use"


class AppExists(Conflict):
    code = "app_exists"


class AppInUse(Conflict):
    """Connections or flows still use the app; ``connections`` counts, ``flows`` names them."""

    code = "app_in_use"


class ConnectionInUse(Conflict):
    """Flows still use the connection; ``flows`` names them. Pass ``force`` to delete anyway."""

    code = "connection_in_use"


class AuthenticationFailed(GatekeyError):
    code = "unauthenticated"


class PermissionDenied(GatekeyError):
    code = "forbidden"


class CredentialsRejected(GatekeyError):
    """The provider refused the credentials; ``message`` carries the provider's own words."""

    code = "invalid_credentials"


class ProviderUnavailable(GatekeyError):
    """Timeouts, connection errors, 5xx, 429, bodies not JSON: retry (``retry_after`` if said)."""

    code = "provider_unavailable"


class OAuthClientMissing(InvalidInput):
    code = "oauth_client_missing"


class OAuthClientRejected(GatekeyError):
    """The provider refused the OAuth client itself (``invalid_client``): fix its registration."""

    code = "oauth_client_rejected"


class GrantRevoked(GatekeyError):
    """The token endpoint says the grant is gone (``invalid_grant`` or the app's equivalent)."""

    code = "grant_revoked"


class TokenRequestRefused(GatekeyError):
    """The token endpoint refused the request for another reason; retrying will not help."""

    code = "token_request_refused"


class AuthFailed(GatekeyError):
    """The app refused the connection's credentials even after a refresh and a retry."""

    code = "auth_failed"


class StepFailed(GatekeyError):
    """A step of a run failed; the run stops there. ``logs`` holds its captured output."""

    code = "step_failed"


class StepNotRegistered(StepFailed):
    """A python step names no step the operator registered (entry points or ``GATEKEY_STEPS``)."""

    code = "step_not_registered"


class StepTimedOut(StepFailed):
    code = "step_timeout"


class StepOutOfMemory(StepFailed):
    code = "step_memory_exceeded"


class StepExited(StepFailed):
    """The step's process exited (``SystemExit``, ``os._exit``, a signal) without a result."""

    code = "step_exited"


class StepSandboxFailed(StepFailed):
    """The step's child process could not be started (interpreter, user or host missing), or
    could not be confined where confinement is required (``gatekey.workflows.sandbox``)."""

    code = "step_sandbox_failed"


class DatabaseUnavailable(GatekeyError):
    """The database cannot be reached (down, restarting, full): retry in ``retry_after`` s."""

    code = "database_unavailable"


class HttpError(GatekeyError):
    """Refused before any route ran, with no finer code (the HTTP status says why)."""

    code = "http_error"


class MethodNotAllowed(HttpError):
    """The path exists but does not take this HTTP method."""

    code = "method_not_allowed"


class AuthorizationFailed(GatekeyError):
    code = "authorization_failed"


class StateInvalid(AuthorizationFailed):
    code = "oauth_state_invalid"


class SessionExpired(AuthorizationFailed):
    code = "oauth_session_expired"


class IssuerMismatch(AuthorizationFailed):
    code = "oauth_issuer_mismatch"


class AccessDenied(AuthorizationFailed):
    code = "oauth_access_denied"


class TokenExchangeFailed(AuthorizationFailed):
    code = "oauth_token_exchange_failed"


class DiscoveryFailed(AuthorizationFailed):
    code = "discovery_failed"


class AccountMismatch(AuthorizationFailed):
    """A reconnect signed in as another account (``expected``, ``got``); nothing changed."""

    code = "account_mismatch"


class RateLimited(GatekeyError):
    """Too many requests for a key, a project or a client; ``retry_after`` says how long to wait."""

    code = "rate_limited"


class DestinationBlocked(GatekeyError):
    """An outbound request would reach a loopback, private, link-local or other non-public
    address; ``host`` names it. Only the operator's egress allowlist lets it through."""

    code = "destination_blocked"


class ConnectionInactive(GatekeyError):
    code = "connection_inactive"


class MissingScopes(GatekeyError):
    """The connection was not granted scopes the caller declared it needs (``missing``)."""

    code = "missing_scopes"


class CryptoError(GatekeyError):
    code = "crypto_error"


class DecryptionFailed(CryptoError):
    code = "decryption_failed"


class MasterKeyMissing(CryptoError):
    code = "master_key_missing"


__all__ = [
    "AccessDenied",
    "AccountMismatch",
    "AppExists",
    "AppInUse",
    "AuthFailed",
    "AuthMethodRetired",
    "AuthenticationFailed",
    "AuthorizationFailed",
    "Conflict",
    "ConnectionInUse",
    "ConnectionInactive",
    "CredentialsRejected",
    "CryptoError",
    "DatabaseUnavailable",
    "DecryptionFailed",
    "DestinationBlocked",
    "DiscoveryFailed",
    "DuplicateName",
    "GatekeyError",
    "GrantRevoked",
    "HttpError",
    "InsecureHome",
    "InvalidAppDefinition",
    "InvalidFields",
    "InvalidId",
    "InvalidInput",
    "InvalidName",
    "IssuerMismatch",
    "KeyInUse",
    "MasterKeyMissing",
    "MethodNotAllowed",
    "MissingScopes",
    "NotFound",
    "OAuthClientMissing",
    "OAuthClientRejected",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "RateLimited",
    "SessionExpired",
    "StateInvalid",
    "StepExited",
    "StepFailed",
    "StepNotRegistered",
    "StepOutOfMemory",
    "StepSandboxFailed",
    "StepTimedOut",
    "TemplateError",
    "TokenExchangeFailed",
    "TokenRequestRefused",
    "UnknownApp",
    "UnsupportedMediaType",
]
