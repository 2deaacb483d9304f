"""Why a host could not be reached, in the words a person uses: the error every outbound call
raises when no answer came back.

An ``httpx2`` transport error wraps what went wrong at the socket (``httpcore2`` in between,
the ``OSError`` or ``ssl.SSLError`` underneath, or only its words when the connection pool
dropped the chain). ``cause`` names it: no network, name not resolved, connection refused,
timed out, TLS failure. ``unreachable`` builds
the ``ProviderUnavailable`` that says which host (never the URL: its path and query may carry
a secret) and why. ``overloaded`` is its counterpart for an answer that means "not now" (429 or
5xx): the same error, with the seconds ``Retry-After`` asks for.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2

from gatekey.domain.tokens import retry_after_seconds
from gatekey.errors import Hint, ProviderUnavailable

NO_NETWORK = "no network"
NOT_RESOLVED = "name not resolved"
REFUSED = "connection refused"
TIMED_OUT = "timed out"
TLS = "TLS failure"
UNREACHABLE_HOST = "host unreachable"
RESET = "connection closed before an answer"
OTHER = "network error"

_BY_ERRNO = {
    errno.ENETUNREACH: NO_NETWORK,
    errno.ENETDOWN: NO_NETWORK,
    errno.ECONNREFUSED: REFUSED,
    errno.EHOSTUNREACH: UNREACHABLE_HOST,
    errno.EHOSTDOWN: UNREACHABLE_HOST,
    errno.ECONNRESET: RESET,
    errno.ECONNABORTED: RESET,
    errno.EPIPE: RESET,
    errno.ETIMEDOUT: TIMED_OUT,
}
# getaddrinfo: a temporary failure is what a machine without a network (or without a name
# server it can reach) answers; the others are a name that does not exist.
_BY_RESOLVER = {
    socket.EAI_AGAIN: NO_NETWORK,
    socket.EAI_NONAME: NOT_RESOLVED,
    socket.EAI_FAIL: NOT_RESOLVED,
}
for _name in ("EAI_NODATA", "EAI_ADDRFAMILY"):  # glibc only
    if hasattr(socket, _name):
        _BY_RESOLVER[getattr(socket, _name)] = NOT_RESOLVED


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or found.__context__


def cause(exc: BaseException) -> str:
    """What went wrong on the way to the host, in plain words."""
    chain = list(_chain(exc))
    for found in chain:
        if isinstance(found, ssl.SSLError | ssl.CertificateError):
            return TLS
        if isinstance(found, socket.gaierror):
            return _BY_RESOLVER.get(found.errno or 0, NOT_RESOLVED)
        if isinstance(found, OSError) and found.errno in _BY_ERRNO:
            return _BY_ERRNO[found.errno]
    for found in chain:
        said = _said(str(found))
        if said is not None:
            return said
    for found in chain:
        if isinstance(found, httpx2.TimeoutException | TimeoutError):
            return TIMED_OUT
        if isinstance(found, httpx2.RemoteProtocolError):
            return RESET
    return OTHER


_ERRNO = re.compile(r"\[Errno (-?\d+)\]")


def _said(message: str) -> str | None:
    """The cause an error's message names. The connection pool re-raises the socket's error
    without its chain, so its words are all that is left: ``[Errno 111] Connection
    refused``, ``cannot resolve HOST: [Errno -3] ...`` (the egress guard's), ``[SSL: ...]``."""
    if "[SSL" in message or "CERTIFICATE_VERIFY_FAILED" in message:
        return TLS
    found = _ERRNO.search(message)
    if found is None:
        return None
    number = int(found.group(1))
    if number < 0 or message.startswith("cannot resolve"):  # getaddrinfo's codes
        return _BY_RESOLVER.get(number, NOT_RESOLVED)
    return _BY_ERRNO.get(number)


def host_of(exc: httpx2.HTTPError) -> str | None:
    """The host the failed request was for, when the error knows its request."""
    try:
        return exc.request.url.host or None
    except RuntimeError:  # an error raised without its request
        return None


def unreachable(
    exc: httpx2.HTTPError,
    *,
    app: str,
    what: str | None = None,
    then: str = "try again later",
    hint: Hint | None = None,
) -> ProviderUnavailable:
    """The error for a request to ``app`` that got no answer: ``could not reach HOST: CAUSE;
    THEN`` (``what``: the app's name, said when the host is not known)."""
    host = host_of(exc)
    why = cause(exc)
    return ProviderUnavailable(
        f"could not reach {host or what or app}: {why}; {then}",
        hint=hint,
        app=app,
        host=host,
        cause=why,
    )


def overloaded(
    response: httpx2.Response,
    *,
    who: str,
    app: str,
    context: str = "",
    now: datetime | None = None,
) -> ProviderUnavailable | None:
    """The error for an answer that means "not now" (429 or 5xx), else None: "``who``
    answered 503``context``; try again later", with ``Retry-After`` as ``retry_after``."""
    status = response.status_code
    if status != 429 and status < 500:
        return None
    waited = retry_after_seconds(response.headers.get("Retry-After"), now or datetime.now(UTC))
    return ProviderUnavailable(
        f"{who} answered {status}{context}; try again later",
        app=app,
        provider_status=status,
        retry_after=waited,
    )
