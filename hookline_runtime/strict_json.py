"""Parsing JSON that comes from outside (request bodies, workflow documents): strict
RFC 8259 with bounds, so bad input is a clear ``ValueError`` and never a crash later.

``loads_strict`` refuses, with ``JsonRejected`` (a ``ValueError``) naming the rule:

- documents nested deeper than ``MAX_JSON_DEPTH`` levels (checked on the raw text
  before parsing, so no ``RecursionError`` is possible, here or downstream);
- ``NaN``, ``Infinity``, ``-Infinity`` and numbers too large for a float (``1e999``),
  which Python's ``json`` accepts but which are not JSON and cannot be written back;
- lone UTF-16 surrogates (``"\\ud800"``), which would fail whenever the value is
  encoded again;
- bytes that are not UTF-8 (RFC 8259 section 8.1: JSON exchanged between systems is
  UTF-8; a UTF-8 byte order mark is ignored), UTF-16 and UTF-32 included;
- anything else the standard parser refuses.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonRejected", "loads_strict"]

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (``[[1]]`` is 2 levels)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRejected(ValueError):
    """The document is not acceptable JSON; the message says why."""


def _reject_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a valid JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected(f"the number {text[:40]} is out of range")
    return value


def _depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings (C-speed: regex, translate, map)."""
    skeleton = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0)


def _text(data: bytes) -> str:
    encoding = json.detect_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        raise JsonRejected(f"the document is {encoding.upper()}; JSON must be UTF-8 (RFC 8259)")
    try:
        text = data.decode(encoding)  # strict: no surrogates smuggled in as bytes
    except UnicodeDecodeError as exc:
        raise JsonRejected(f"the document is not valid {encoding.upper()}: {exc.reason}") from None
    return text.removeprefix("\ufeff")


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def loads_strict(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse ``data`` as JSON under the rules of the module docstring."""
    if isinstance(data, str):
        text = data
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise JsonRejected(
                "the document holds a lone UTF-16 surrogate (\\ud800-\\udfff)"
            ) from None
    else:
        text, raw = _text(data), data
    # Fewer brackets than the limit cannot nest deeper than it: skip the scan.
    if raw.count(b"[") + raw.count(b"{") > max_depth and _depth(raw) > max_depth:
        raise JsonRejected(f"the document is nested deeper than {max_depth} levels (the limit)")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:  # not reachable after the depth check; kept as a guard
        raise JsonRejected(
            f"the document is nested deeper than {max_depth} levels (the limit)"
        ) from None
    except JsonRejected:
        raise
    except ValueError as exc:
        raise JsonRejected(str(exc)) from None
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(value):
        raise JsonRejected("the document holds a lone UTF-16 surrogate (\\ud800-\\udfff)")
    return value
