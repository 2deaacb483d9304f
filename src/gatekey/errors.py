"""The one exception tree of Gatekey.

Every error carries a stable machine-readable ``code``; adapters map it (the API to an HTTP
status and ``application/problem+json``, the CLI to an exit status and one line). Messages never
contain a secret value::

    GatekeyError
     ├── InvalidInput              invalid_input            400/422
     │    ├── UnknownApp           unknown_app
     │    ├── InvalidFields        invalid_fields
     │    ├── InvalidName          invalid_name
     │    ├── InvalidId            invalid_id
     │    └── PayloadTooLarge      payload_too_large
     ├── NotFound                  not_found                404
     ├── Conflict                  conflict                 409
     │    ├── DuplicateName        duplicate_name
     │    └── KeyInUse             key_in_use
     ├── AuthenticationFailed      unauthenticated          401
     ├── PermissionDenied          forbidden                403
     ├── CredentialsRejected       invalid_credentials      422  (the provider said no)
     ├── ProviderUnavailable       provider_unavailable     502  (timeouts, 5xx, network)
     ├── ConnectionInactive        connection_inactive      409
     └── CryptoError               crypto_error
          ├── DecryptionFailed     decryption_failed        500
          └── MasterKeyMissing     master_key_missing       (start-up)
"""

from __future__ import annotations

from typing import Any


class GatekeyError(Exception):
    """Base of every Gatekey error; ``code`` is stable, ``message`` is for people."""

    code = "gatekey_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(GatekeyError):
    code = "invalid_input"


class UnknownApp(InvalidInput):
    code = "unknown_app"


class InvalidFields(InvalidInput):
    """Credential or config fields do not match the app's schema.

    ``details["errors"]`` lists ``{"field": ..., "message": ...}``; never the submitted value.
    """

    code = "invalid_fields"


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidId(InvalidInput):
    code = "invalid_id"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class NotFound(GatekeyError):
    code = "not_found"


class Conflict(GatekeyError):
    code = "conflict"


class DuplicateName(Conflict):
    code = "duplicate_name"


class KeyInUse(Conflict):
    code = "key_in_use"


class AuthenticationFailed(GatekeyError):
    code = "unauthenticated"


class PermissionDenied(GatekeyError):
    code = "forbidden"


class CredentialsRejected(GatekeyError):
    """The provider refused the credentials; ``message`` carries the provider's own words."""

    code = "invalid_credentials"


class ProviderUnavailable(GatekeyError):
    code = "provider_unavailable"


class ConnectionInactive(GatekeyError):
    code = "connection_inactive"


class CryptoError(GatekeyError):
    code = "crypto_error"


class DecryptionFailed(CryptoError):
    code = "decryption_failed"


class MasterKeyMissing(CryptoError):
    code = "master_key_missing"


__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "ConnectionInactive",
    "CredentialsRejected",
    "CryptoError",
    "DecryptionFailed",
    "DuplicateName",
    "GatekeyError",
    "InvalidFields",
    "InvalidId",
    "InvalidInput",
    "InvalidName",
    "KeyInUse",
    "MasterKeyMissing",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProviderUnavailable",
    "UnknownApp",
]
