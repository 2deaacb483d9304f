"""What a step does once its credentials are resolved, and how its results are recorded.

Outputs and captured logs are recorded with every secret value of the run's credentials masked
(``domain.masking``: encoded, reversed and re-cased forms too). python steps run registered code
in a child process (``registry``, ``sandbox``); nothing here imports step code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from gatekey.domain import masking

MAX_OUTPUT = 64 * 1024
MAX_LOGS = 64 * 1024
MASK = masking.MASK


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret value, in any form a provider may echo it, anywhere in ``value``."""
    return masking.Masker(secrets).data(value)


def jsonable(value: Any) -> Any:
    """Return ``value`` as JSON data both databases store, truncated to ``MAX_OUTPUT``
    characters when large: a NUL character (which PostgreSQL refuses in text and JSON) becomes
    U+FFFD, a NaN or infinity (not JSON) becomes its name as text."""
    try:
        text = json.dumps(storable(value), default=str, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = json.dumps(storable(str(value)))
    if len(text) > MAX_OUTPUT:
        return {"truncated": True, "preview": text[:MAX_OUTPUT]}
    return json.loads(text)


def storable(node: Any) -> Any:
    """Return ``node`` with NUL characters as U+FFFD and non-finite numbers as text."""
    if isinstance(node, str):
        return node.replace("\x00", "\ufffd")
    if isinstance(node, float) and not math.isfinite(node):
        return str(node)
    if isinstance(node, Mapping):
        return {storable(str(k)): storable(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [storable(v) for v in node]
    return node


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


def recorded_logs(raw: str, secrets: Iterable[str]) -> str | None:
    """Mask a step's captured output, then cap it at ``MAX_LOGS`` characters (in that order,
    so a secret cut by the cap is masked whole)."""
    if not raw:
        return None
    text: str = redact(raw, secrets)
    if len(text) > MAX_LOGS:
        text = text[:MAX_LOGS] + "\n[output truncated]"
    return text
