"""An incoming webhook call and the trigger output made from it.

Headers become an object of lower-case names (repeated ones joined with ", "), the
query an object (repeated names become lists), and the body is parsed by its
Content-Type: JSON (``application/json`` and ``*/*+json``), form
(``application/x-www-form-urlencoded``, repeated keys become lists), or text.
JSON is parsed strictly (``hookline_runtime.strict_json``): too deep, ``NaN``/``Infinity``,
out-of-range numbers and lone surrogates are an ``InvalidBody``, like bad syntax.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from hookline_runtime.strict_json import JsonRejected, loads_strict

__all__ = [
    "InvalidBody",
    "WebhookCall",
    "header_map",
    "parse_body",
    "query_object",
    "trigger_output",
]


class InvalidBody(ValueError):
    """The body does not parse as its Content-Type says."""


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """One HTTP call to ``/webhook/{path}``."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    body: bytes
    execution_id: str = ""
    idempotency_key: str = ""
    fingerprint: str = ""

    @property
    def header_values(self) -> dict[str, list[str]]:
        return header_map(self.headers)


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Lower-case header name -> its values in order."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value)
    return out


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for name, value in pairs:
        current = out.get(name)
        if current is None:
            out[name] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            out[name] = [current, value]
    return out


def query_object(query: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    return _grouped(query)


def _media_type(headers: Mapping[str, list[str]]) -> str:
    values = headers.get("content-type")
    if not values:
        return ""
    return values[0].split(";", 1)[0].strip().lower()


def parse_body(headers: Mapping[str, list[str]], body: bytes) -> Any:
    """The body as the workflow sees it; ``InvalidBody`` for malformed JSON."""
    if not body:
        return {}
    media_type = _media_type(headers)
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return loads_strict(body)
        except JsonRejected as exc:
            raise InvalidBody(f"the body is not valid JSON: {exc}") from None
    text = body.decode("utf-8", errors="replace")
    if media_type == "application/x-www-form-urlencoded":
        return _grouped(parse_qsl(text, keep_blank_values=True))
    return text


def trigger_output(
    *,
    method: str,
    path: str,
    headers: Mapping[str, list[str]],
    query: Iterable[tuple[str, str]],
    body: Any,
    hidden_headers: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The webhook node's output; ``headers`` maps lower-case names to values, and
    ``hidden_headers`` (lower case) are left out."""
    return {
        "body": body,
        "headers": {
            name: ", ".join(values)
            for name, values in headers.items()
            if name not in hidden_headers
        },
        "query": query_object(query),
        "method": method,
        "path": path,
    }
