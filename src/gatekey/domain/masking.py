"""Masking secrets in provider text and step output, in every form a provider may echo them.

A provider that refuses a request often quotes it back: the ``Authorization`` header (base64 of
``user:password`` or of ``client_id:client_secret``), the key in hex, reversed, upper-cased,
URL-encoded. A ``Masker`` is built from a connection's secret values and the pairs it sends as
basic credentials; it derives every such form (``forms``) and replaces each, longest first,
wherever it appears in text or JSON data, whatever its letter case. First, though, it decodes
each run of base64 or hex characters in the text and masks the whole run when the decoded bytes
hold a secret, so ``base64(user:password)`` is caught even when the user name is not known
here, and a secret inside a larger encoded blob leaves none of its bits visible.

Pure: values in, masked text out. Values shorter than ``MIN_LENGTH`` are not masked (they would
blank out ordinary words).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "••••"
MIN_LENGTH = 4
#: Fields of a token set that describe it rather than grant anything; never masked.
DESCRIPTIVE = frozenset(
    {"token_type", "scope", "expires_in", "expires_at", "ext_expires_in", "refresh_expires_in"}
)
# A length-preserving fold: A-Z to a-z, every other character as it is (str.lower may change
# a string's length, which would shift the spans found in the folded copy).
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_SECRET_KEY = re.compile(r"token|secret|passw|key|credential|assertion|signature", re.IGNORECASE)


def _encodings(data: bytes) -> Iterator[str]:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(data).decode("ascii")
        yield text
        yield text.rstrip("=")
    yield data.hex()


def _percent(text: str) -> Iterator[str]:
    yield quote(text)
    yield quote(text, safe="")
    yield quote_plus(text)


def forms(value: str) -> set[str]:
    """Return every spelling of ``value`` to hide: as is, reversed, upper- and lower-cased,
    base64 (standard and URL-safe, with and without padding) and hex of its UTF-8 and
    Latin-1 bytes, percent-encoded (``quote``, ``quote_plus``, also of the base64 forms) and
    JSON-escaped (``\\/`` too). Matching ignores ASCII case: hex and cased forms need no
    variants."""
    escaped = json.dumps(value)[1:-1]
    found = {value, value[::-1], value.upper(), value.lower(), escaped}
    found.add(escaped.replace("/", "\\/"))
    raw = [value.encode("utf-8")]
    try:
        latin = value.encode("latin-1")
    except UnicodeEncodeError:
        latin = raw[0]
    if latin != raw[0]:
        raw.append(latin)
    encoded = {form for data in raw for form in _encodings(data)}
    found |= encoded
    for text in (value, *encoded):
        found.update(_percent(text))
    return {f for f in found if len(f) >= MIN_LENGTH}


def pair_texts(user: str, password: str) -> set[str]:
    """Return ``user:password`` as HTTP basic authentication sends it: as is, and with both
    halves form-encoded first (RFC 6749 section 2.3.1, for OAuth clients)."""
    return {
        f"{user}:{password}",
        f"{quote(user, safe='')}:{quote(password, safe='')}",
        f"{quote_plus(user)}:{quote_plus(password)}",
    }


def secret_values(payload: Mapping[str, Any], names: Iterable[str] = ()) -> list[str]:
    """Return the secrets in a connection's secret payload: the values of the fields in
    ``names`` (the app's secret fields), and every string, at any depth, under a key that names
    a secret (``access_token``, ``authed_user.access_token``, ``client_secret``, ``api_key``).
    Other strings of a token response (``workspace_name``, ``team.name``) name the account and
    stay visible; the fields that describe a token set (``DESCRIPTIVE``) are never secrets."""
    wanted = set(names)
    out: list[str] = []

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, str | int) and not isinstance(node, bool):
            if secret:
                out.append(str(node))
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if key not in DESCRIPTIVE:
                    walk(value, secret or _SECRET_KEY.search(str(key)) is not None)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value, secret)

    for key, value in payload.items():
        if key not in DESCRIPTIVE:
            walk(value, key in wanted or _SECRET_KEY.search(str(key)) is not None)
    return out


class Masker:
    """Replaces every form of the given secrets by ``MASK``; ``repr`` shows a count only."""

    __slots__ = ("_compiled", "_count", "_ordered")

    def __init__(
        self, secrets: Iterable[object] = (), pairs: Iterable[tuple[object, object]] = ()
    ) -> None:
        values = {str(s) for s in secrets if isinstance(s, str | int) and not isinstance(s, bool)}
        for user, password in pairs:
            if len(str(password)) >= MIN_LENGTH:
                values |= pair_texts(str(user), str(password))
        folded = {
            form.translate(_FOLD)
            for value in values
            if len(value) >= MIN_LENGTH
            for form in forms(value)
        }
        self._count = len(folded)
        self._ordered = sorted(folded, key=lambda f: (-len(f), f))
        self._compiled: re.Pattern[str] | None = None

    @property
    def _pattern(self) -> re.Pattern[str] | None:
        """The alternation of every form, compiled on first use: a masker is built on every
        mint and token request, and compiling the forms of a PEM key costs about 0.1 s, which
        the call pays only when there is text to mask (an error)."""
        if self._compiled is None and self._ordered:
            self._compiled = re.compile("|".join(map(re.escape, self._ordered)))
        return self._compiled

    def __bool__(self) -> bool:
        return self._count > 0

    def __repr__(self) -> str:
        return f"Masker({self._count} forms)"

    def _holds(self, text: str) -> bool:
        pattern = self._pattern
        return pattern is not None and pattern.search(text.translate(_FOLD)) is not None

    def _decodes_to_secret(self, run: str) -> bool:
        core = run.rstrip("=")
        if _HEX.fullmatch(core) and self._holds(bytes.fromhex(core).decode("latin-1")):
            return True
        standard = core.replace("-", "+").replace("_", "/")
        for start in range(4):  # the encoded blob may begin inside the run
            chunk = standard[start:]
            chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
            if len(chunk) < 8:
                break
            try:
                data = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
            except (binascii.Error, ValueError):
                continue
            if self._holds(data.decode("latin-1")) or self._holds(data.decode("utf-8", "ignore")):
                return True
        return False

    def text(self, text: str) -> str:
        """Return ``text`` with every form of every secret, and every encoded run that decodes
        to one, replaced by ``MASK``."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        text = _ENCODED_RUN.sub(
            lambda m: MASK if self._decodes_to_secret(m.group()) else m.group(), text
        )
        parts: list[str] = []
        end = 0
        for match in pattern.finditer(text.translate(_FOLD)):
            parts += [text[end : match.start()], MASK]
            end = match.end()
        parts.append(text[end:])
        return "".join(parts)

    def data(self, value: Any) -> Any:
        """Return JSON-like ``value`` with every string in it (keys too) masked."""
        if not self._count:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
