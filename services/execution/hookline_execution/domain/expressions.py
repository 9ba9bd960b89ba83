"""Jinja2 expressions inside node parameters, rendered in a bounded sandbox.

Every string inside a node's ``parameters`` (recursively through objects and lists)
is a template. ``json``, ``nodes`` and ``execution`` are in scope. A string that is
exactly one ``{{ … }}`` keeps the expression's own type (a number stays a number);
any other template renders to a string; a string with no ``{{``/``{%`` is returned
untouched without going near Jinja. Compiled templates are cached per renderer.

Rendering runs in ``sandbox.BoundedSandbox``: no access to internals, no mutation of
the objects in scope, and bounds on what a template can build and on how long it may
run. ``render_async`` renders inline for a short slice (``INLINE_SECONDS``); a render
that needs longer is started again on a worker thread with the node's whole deadline,
so that the event loop keeps serving while it runs and the sandbox's deadline checks
stop it in the worker. Templates have no side effects, so the restart is safe.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jinja2 import Template, TemplateError, Undefined

from hookline_execution.domain.sandbox import (
    BoundedSandbox,
    RenderTimeout,
    SliceSpent,
    clock,
)

__all__ = ["DEFAULT_MAX_SIZE", "INLINE_SECONDS", "RenderError", "RenderTimeout", "TemplateRenderer"]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
INLINE_SECONDS = 0.02
"""How long a render may hold the event loop before it moves to a worker thread."""
_DEFAULT_TIMEOUT_SECONDS = 30.0
_WORKERS = 4
# What an expression can raise besides Jinja's own errors (1 + "a", 1 / 0, x[99]);
# RecursionError: data or macros nested too deeply.
_EXPRESSION_ERRORS = (
    TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    RecursionError,
    MemoryError,
)


class RenderError(Exception):
    """A template failed; ``path`` names the parameter (``values.greeting``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"parameter {path}: {message}")
        self.path = path
        self.message = message


def _has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _single_expression(text: str) -> str | None:
    """The expression source when ``text`` is exactly one ``{{ … }}``, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    inner = stripped[2:-2]
    if any(mark in inner for mark in ("{{", "}}", "{%", "%}", "{#")):
        return None
    if inner[:1] in ("-", "+"):  # whitespace control: {{- x }}
        inner = inner[1:]
    if inner[-1:] in ("-", "+"):  # {{ x -}}
        inner = inner[:-1]
    return inner.strip() or None


def _to_json_value(value: Any) -> Any:
    """Undefined becomes None; tuples and ranges become lists; the rest as is.
    Iterative, so that data nested deeper than the recursion limit is fine."""
    if not isinstance(value, (dict, list, tuple, range, Undefined)):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, Undefined):
            parent[key] = None
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            parent[key] = copy
            for name, child in item.items():
                copy[str(name)] = None
                stack.append((child, copy, str(name)))
        elif isinstance(item, (list, tuple, range)):
            items: list[Any] = [None] * len(item)
            parent[key] = items
            stack.extend((child, items, i) for i, child in enumerate(item))
        else:
            parent[key] = item
    return root[0]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "the data or the template is nested too deeply"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return str(exc) or type(exc).__name__


class TemplateRenderer:
    """Renders node parameters; one per process, shared by every run."""

    def __init__(self, cache_size: int = 2048, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._env = BoundedSandbox(max_size)
        self._cache_size = cache_size
        self._templates: OrderedDict[str, Template] = OrderedDict()
        self._expressions: OrderedDict[str, Callable[..., Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._workers: ThreadPoolExecutor | None = None

    def render(
        self,
        value: Any,
        scope: Mapping[str, Any],
        *,
        timeout: float = _DEFAULT_TIMEOUT_SECONDS,
    ) -> Any:
        """``value`` with every template string inside it rendered, here and now.

        Raises ``RenderError`` naming the parameter path of the first failure, and
        ``RenderTimeout`` when rendering takes longer than ``timeout`` seconds.
        """
        return self._render_by(value, scope, time.monotonic() + timeout, inline=False)

    async def render_async(self, value: Any, scope: Mapping[str, Any], *, timeout: float) -> Any:
        """As ``render``, without holding the event loop for more than a short slice."""
        deadline = time.monotonic() + timeout
        if timeout > INLINE_SECONDS:
            try:
                return self._render_by(value, scope, time.monotonic() + INLINE_SECONDS, inline=True)
            except SliceSpent:
                pass
        else:
            return self._render_by(value, scope, deadline, inline=False)
        if self._workers is None:
            self._workers = ThreadPoolExecutor(_WORKERS, thread_name_prefix="hookline-render")
        job = functools.partial(self._render_by, value, scope, deadline, inline=False)
        return await asyncio.get_running_loop().run_in_executor(self._workers, job)

    def close(self) -> None:
        """Stop the worker threads (a render still running ends at its deadline)."""
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
            self._workers = None

    def _render_by(
        self, value: Any, scope: Mapping[str, Any], deadline: float, *, inline: bool
    ) -> Any:
        saved = clock.deadline, clock.inline
        clock.deadline, clock.inline = deadline, inline
        try:
            return self._walk(value, scope, "")
        except RecursionError:
            raise RenderError("(root)", "the parameters are nested too deeply") from None
        finally:
            clock.deadline, clock.inline = saved

    def _walk(self, value: Any, scope: Mapping[str, Any], path: str) -> Any:
        if isinstance(value, str):
            if not _has_template(value):
                return value
            try:
                return self._render_string(value, scope)
            except _EXPRESSION_ERRORS as exc:
                raise RenderError(path or "(root)", _error_text(exc)) from None
        if isinstance(value, dict):
            return {
                key: self._walk(item, scope, f"{path}.{key}" if path else str(key))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self._walk(item, scope, f"{path}[{i}]") for i, item in enumerate(value)]
        return value

    def _render_string(self, text: str, scope: Mapping[str, Any]) -> Any:
        source = _single_expression(text)
        if source is not None:
            return _to_json_value(self._expression(source)(**scope))
        return self._template(text).render(**scope)

    def _expression(self, source: str) -> Callable[..., Any]:
        with self._lock:
            compiled = self._expressions.get(source)
            if compiled is not None:
                self._expressions.move_to_end(source)
                return compiled
        compiled = self._env.compile_expression(source, undefined_to_none=True)
        self._remember(self._expressions, source, compiled)
        return compiled

    def _template(self, text: str) -> Template:
        with self._lock:
            compiled = self._templates.get(text)
            if compiled is not None:
                self._templates.move_to_end(text)
                return compiled
        compiled = self._env.from_string(text)
        self._remember(self._templates, text, compiled)
        return compiled

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        with self._lock:
            cache[key] = value
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
