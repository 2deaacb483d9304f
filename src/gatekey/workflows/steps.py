"""What a step does once its credentials are resolved: call a Python callable, shape outputs.

Outputs are recorded with every secret value of the run's credentials masked
(``domain.masking``: encoded, reversed and re-cased forms too).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from gatekey.domain import masking
from gatekey.errors import InvalidInput

MAX_OUTPUT = 64 * 1024
MASK = masking.MASK


def load_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (or ``package.module.function``)."""
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise InvalidInput(f"cannot import the step's callable {path!r}") from None
    if not callable(target):
        raise InvalidInput(f"{path!r} is not callable")
    return target  # type: ignore[no-any-return]


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret value, in any form a provider may echo it, anywhere in ``value``."""
    return masking.Masker(secrets).data(value)


def jsonable(value: Any) -> Any:
    """Return ``value`` as JSON data, truncated to ``MAX_OUTPUT`` characters when large."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = json.dumps(str(value))
    if len(text) > MAX_OUTPUT:
        return {"truncated": True, "preview": text[:MAX_OUTPUT]}
    return json.loads(text)


def response_output(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    data: Any
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = body.decode("utf-8", "replace")
    else:
        data = body.decode("utf-8", "replace")
    return {"status": status, "body": data}
