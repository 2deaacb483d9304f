"""A problem document (RFC 9457) the server answered, back as the exception the service raised:
its class chosen by ``code``, its ``next`` member as the error's ``hint``. The HTTP SDK's half
of ``api.problems``; it imports nothing of the server."""

from __future__ import annotations

from typing import Any

from gatekey import errors


def _error_classes() -> dict[str, type[errors.GatekeyError]]:
    found: dict[str, type[errors.GatekeyError]] = {}
    pending: list[type[errors.GatekeyError]] = [errors.GatekeyError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


ERRORS = _error_classes()
"""Every code the server answers, and its class."""


def hint_of(value: Any) -> errors.Hint | None:
    """The ``next`` member of a problem document as the hint the server's error carried."""
    if not isinstance(value, dict) or value.get("action") not in errors.NEXT_STEPS:
        return None
    params = value.get("params")
    fill = {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {}
    return errors.Hint(str(value["action"]), fill)


def error_of(status: int, body: Any) -> errors.GatekeyError:
    """The exception an error response stands for; a body that is not a problem document is
    a plain ``GatekeyError`` saying the status."""
    document: dict[str, Any] = body if isinstance(body, dict) else {}
    code = document.get("code", "gatekey_error")
    cls = ERRORS.get(code, errors.GatekeyError) if isinstance(code, str) else errors.GatekeyError
    detail = document.get("detail")
    extra = {k: v for k, v in document.items() if k not in ("detail", "code", "next", "status")}
    return cls(
        detail if isinstance(detail, str) and detail else f"HTTP {status}",
        hint=hint_of(document.get("next")),
        status=status,
        **extra,
    )
