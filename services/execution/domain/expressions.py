"""Jinja2 expressions inside node parameters, rendered in a sandbox.

Every string inside a node's ``parameters`` (recursively through objects and lists)
is a template. ``json``, ``nodes`` and ``execution`` are in scope. A string that is
exactly one ``{{ … }}`` keeps the expression's own type (a number stays a number);
any other template renders to a string; a string with no ``{{``/``{%`` is returned
untouched without going near Jinja. Compiled templates are cached per renderer.

Rendering runs in ``ImmutableSandboxedEnvironment``: no access to ``_``-prefixed
attributes, no mutation of the objects in scope, bounded ``range`` and bounded
``*``/``**`` on big operands.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Template, TemplateError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["RenderError", "TemplateRenderer"]

_MAX_POWER_EXPONENT = 1024
_MAX_REPEAT_LENGTH = 10 * 1024 * 1024
# What an expression can raise besides Jinja's own errors (1 + "a", 1 / 0, x[99]).
_EXPRESSION_ERRORS = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


class RenderError(Exception):
    """A template failed; ``path`` names the parameter (``values.greeting``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"parameter {path}: {message}")
        self.path = path
        self.message = message


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with big-number and big-string products refused."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > _MAX_POWER_EXPONENT:
                raise SecurityError(f"exponent {right} is too large")
            return left**right
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, (str, list))
                and isinstance(times, int)
                and len(sequence) * times > _MAX_REPEAT_LENGTH
            ):
                raise SecurityError("the repeated value would be too large")
        return left * right


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
    """Undefined becomes None; tuples and ranges become lists; the rest as is."""
    if isinstance(value, Undefined):
        return None
    if isinstance(value, dict):
        return {str(k): _to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, range)):
        return [_to_json_value(v) for v in value]
    return value


class TemplateRenderer:
    """Renders node parameters; one per process, shared by every run."""

    def __init__(self, cache_size: int = 2048) -> None:
        self._env = _Sandbox(autoescape=False, keep_trailing_newline=True)
        self._cache_size = cache_size
        self._templates: OrderedDict[str, Template] = OrderedDict()
        self._expressions: OrderedDict[str, Callable[..., Any]] = OrderedDict()

    def render(self, value: Any, scope: Mapping[str, Any], path: str = "") -> Any:
        """``value`` with every template string inside it rendered.

        Raises ``RenderError`` naming the parameter path of the first failure.
        """
        if isinstance(value, str):
            if not _has_template(value):
                return value
            try:
                return self._render_string(value, scope)
            except _EXPRESSION_ERRORS as exc:
                raise RenderError(path or "(root)", str(exc) or type(exc).__name__) from exc
        if isinstance(value, dict):
            return {
                key: self.render(item, scope, f"{path}.{key}" if path else str(key))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.render(item, scope, f"{path}[{i}]") for i, item in enumerate(value)]
        return value

    def _render_string(self, text: str, scope: Mapping[str, Any]) -> Any:
        source = _single_expression(text)
        if source is not None:
            return _to_json_value(self._expression(source)(**scope))
        return self._template(text).render(**scope)

    def _expression(self, source: str) -> Callable[..., Any]:
        compiled = self._expressions.get(source)
        if compiled is None:
            compiled = self._env.compile_expression(source, undefined_to_none=True)
            self._remember(self._expressions, source, compiled)
        else:
            self._expressions.move_to_end(source)
        return compiled

    def _template(self, text: str) -> Template:
        compiled = self._templates.get(text)
        if compiled is None:
            compiled = self._env.from_string(text)
            self._remember(self._templates, text, compiled)
        else:
            self._templates.move_to_end(text)
        return compiled

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
