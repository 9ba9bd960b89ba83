"""The bounded Jinja2 sandbox that node parameters render in.

On top of ``ImmutableSandboxedEnvironment`` (no ``_`` attributes, no mutation of the
objects in scope), a template cannot take its process down:

- **Size.** No single operation may build a string, list or number larger than the
  bounds: ``*`` and ``+`` on sequences, ``**`` and ``*`` on integers (at most
  ``MAX_INT_BITS`` bits), ``%`` and ``str.format`` (field widths included), the padding,
  ``replace``, ``join``, ``translate`` and ``to_bytes`` methods, amplifying filters
  (``center``, ``indent``, ``format``, ``join``, ``replace``, ``wordwrap``, ``batch``,
  ``slice``, ``tojson``...), ``lipsum``, ``~`` and the template's own output. Values are
  measured by ``weight`` (characters plus elements, shared references counted each time
  they would be printed), so ``[s] * 100000`` is as large as the text it would become.
- **Time.** Every loop iteration, call, filter, attribute lookup and intercepted
  operator calls ``tick()``, which raises once the render's deadline has passed. The
  deadline lives in a thread-local ``clock``: the renderer sets it around each render.
  Loops are reached by a code generator that wraps every ``{% for %}`` iterable.
- **Escapes.** Access to an unsafe attribute is an error at once (stock Jinja returns an
  undefined that prints as an empty string).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import _PassArg, generate_lorem_ipsum
from markupsafe import EscapeFormatter, Markup

__all__ = [
    "MAX_INT_BITS",
    "BoundedSandbox",
    "RenderTimeout",
    "SliceSpent",
    "TooLarge",
    "clock",
    "weight",
]

MAX_INT_BITS = 16384
"""Integers above this many bits (about 4,900 digits) are refused."""
_MAX_SLICES = 100_000
_MAX_JSON_INDENT = 16
_MAX_LIPSUM = 100
_TICK_EVERY = 4096
_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<type>[diouxXeEfFgGcrsab%])"
)


class TooLarge(SecurityError):
    """An operation would build a value over the size bound."""


class RenderTimeout(Exception):
    """The render's deadline passed."""


class SliceSpent(Exception):
    """The render's inline slice is over; the renderer moves it to a worker thread."""


class _Clock(threading.local):
    """The deadline of the render running on this thread (``inf``: none)."""

    deadline: float = math.inf
    inline: bool = False


clock = _Clock()


def tick() -> None:
    """Raise once the current render's deadline has passed."""
    if time.monotonic() > clock.deadline:
        raise SliceSpent() if clock.inline else RenderTimeout()


def weight(value: Any, limit: int) -> int:
    """Characters plus elements ``value`` would print as, counted up to just past
    ``limit`` (shared references count each time). Iterative: deep data is fine."""
    total = 0
    stack = [value]
    steps = 0
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item) + 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item) + 1
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 1
        if total > limit:
            return total
        steps += 1
        if steps % _TICK_EVERY == 0:
            tick()
    return total


def _width(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return len(value)
    return 0


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` with field widths and the total length bounded."""

    def __init__(self, env: BoundedSandbox, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._limit = env.max_size
        self._built = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        tick()
        for digits in re.findall(r"\d+", format_spec):
            if len(digits) > 9 or int(digits) > self._limit:
                raise TooLarge(f"format width {digits} is too large")
        if not isinstance(value, (str, int, float)) and weight(value, self._limit) > self._limit:
            raise TooLarge("the formatted value would be too large")
        text = super().format_field(value, format_spec)
        self._built += len(text)
        if self._built > self._limit:
            raise TooLarge("the formatted string would be too large")
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class _BudgetedCodeGenerator(CodeGenerator):
    """Jinja's code generator with every loop iterable wrapped in
    ``environment.budgeted_iter(...)`` and ``~`` bounded (Jinja forbids new node
    types, so the iterables are recognised by identity as they are visited)."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        self._loop_iterables = {id(loop.iter) for loop in node.find_all(nodes.For)}
        super().visit_Template(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) not in getattr(self, "_loop_iterables", ()):
            return super().visit(node, *args, **kwargs)
        self.write("environment.budgeted_iter(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.budgeted_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with size and time bounds (see the module docstring)."""

    code_generator_class = _BudgetedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_size: int) -> None:
        super().__init__(autoescape=False, keep_trailing_newline=True, finalize=self._finalize)
        self.max_size = max_size
        self.filters = {name: self._bounded_filter(f) for name, f in self.filters.items()}
        self.globals["lipsum"] = self._lipsum(generate_lorem_ipsum)
        self.concat = self._join  # type: ignore[method-assign]

    # ------------------------------------------------------------ size checks
    def _refuse_over(self, size: int, what: str) -> None:
        if size > self.max_size:
            raise TooLarge(f"{what} would be larger than the limit of {self.max_size}")

    def _check_weight(self, value: Any, what: str) -> None:
        if isinstance(value, (str, bytes)):
            self._refuse_over(len(value), what)
        elif not isinstance(value, (int, float, bool)) and value is not None:
            self._refuse_over(weight(value, self.max_size), what)

    def _check_printf(self, fmt: str, args: Any) -> None:
        positional = list(args) if isinstance(args, tuple) else [args]
        mapping = args if isinstance(args, dict) else None
        estimate = len(fmt)
        for match in _PRINTF.finditer(fmt):
            for part in ("width", "precision"):
                spec = match.group(part)
                if spec == "*":
                    size = _width(positional.pop(0)) if positional else 0
                elif spec:
                    size = self.max_size + 1 if len(spec) > 9 else int(spec)
                else:
                    size = 0
                self._refuse_over(size, f"a %-format {part}")
                estimate += size
            if match.group("type") == "%":
                continue
            key = match.group("key")
            if key is not None and mapping is not None:
                value = mapping.get(key)
            else:
                value = positional.pop(0) if positional else None
            estimate += weight(value, self.max_size)
            self._refuse_over(estimate, "the %-formatted string")

    def _check_int(self, bits: int) -> None:
        if bits > MAX_INT_BITS:
            raise TooLarge(f"the number would have more than {MAX_INT_BITS} bits")

    # ------------------------------------------------------- sandbox hooks
    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        tick()
        both_int = isinstance(left, int) and isinstance(right, int)
        if operator == "**":
            if both_int and right > 0 and abs(left) > 1:
                self._check_int(left.bit_length() * right)
            return left**right
        if operator == "*":
            if both_int:
                self._check_int(left.bit_length() + right.bit_length())
            for sequence, times in ((left, right), (right, left)):
                repeats = isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int)
                if repeats and times > 0:
                    per = weight(sequence, self.max_size // times + 1)
                    self._refuse_over(per * times, "the repeated value")
            return left * right
        if operator == "+":
            if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, type(left)):
                self._refuse_over(
                    weight(left, self.max_size) + weight(right, self.max_size), "the sum"
                )
            return left + right
        if isinstance(left, str):  # "%"
            self._check_printf(left, right)
        return left % right

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        f_self: str = value.__self__
        is_format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            formatter: Formatter
            if isinstance(f_self, Markup):
                formatter = _BoundedEscapeFormatter(self, escape=f_self.escape)
            else:
                formatter = _BoundedFormatter(self)
            if not is_format_map:
                return type(f_self)(formatter.vformat(f_self, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one mapping")
            return type(f_self)(formatter.vformat(f_self, (), args[0]))

        return functools.update_wrapper(bounded, value)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        tick()
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", "")
        if isinstance(owner, (str, bytes)):
            args = self._check_text_method(owner, name, args)
        elif isinstance(owner, int) and name == "to_bytes":
            self._refuse_over(_width(args[0] if args else kwargs.get("length", 1)), "to_bytes")
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, (str, bytes)):
            self._refuse_over(len(result), "the result")
        return result

    def _check_text_method(self, text: str | bytes, name: str, args: tuple[Any, ...]) -> Any:
        """Refuse a str/bytes method call that would build too much; returns the
        arguments to call with (``join``'s iterable is read once, here)."""
        if name in ("center", "ljust", "rjust", "zfill") and args:
            self._refuse_over(_width(args[0]), f"{name}()")
        elif name == "expandtabs":
            size = _width(args[0]) if args else 8
            tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
            self._refuse_over(len(text) + tabs * size, name)
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            hits = text.count(old) if old else len(text) + 1
            self._refuse_over(len(text) + hits * max(len(new) - len(old), 0), "replace()")
        elif name == "join" and args:
            items = list(args[0])
            self._refuse_over(weight(items, self.max_size) + len(text) * len(items), "join()")
            return (items,)
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((_width(v) for v in args[0].values()), default=1)
            self._refuse_over(len(text) * max(longest, 1), "translate()")
        return args

    # ---------------------------------------------------------- loops, output
    def budgeted_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            tick()
            yield item

    def budgeted_concat(self, parts: tuple[Any, ...]) -> str:
        tick()
        total = 0
        texts = []
        for part in parts:
            self._check_weight(part, "the joined string")
            text = str(part)
            total += len(text)
            self._refuse_over(total, "the joined string")
            texts.append(text)
        return "".join(texts)

    def _finalize(self, value: Any) -> Any:
        self._check_weight(value, "the printed value")
        return value

    def _join(self, pieces: Iterable[str]) -> str:
        total = 0
        kept = []
        for piece in pieces:
            total += len(piece)
            self._refuse_over(total, "the template's output")
            kept.append(piece)
        return "".join(kept)

    # ------------------------------------------------------ filters, globals
    def _bounded_filter(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """``original`` with a tick, a size pre-check for the amplifying filters, and
        a check of the size of what it built."""
        name = getattr(original, "__name__", "")
        skip = 1 if _PassArg.from_obj(original) is not None else 0

        @functools.wraps(original)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            tick()
            value, params = args[skip] if len(args) > skip else None, args[skip + 1 :]
            self._check_filter(name, value, params, kwargs)
            result = original(*args, **kwargs)
            if isinstance(result, (str, bytes, list)):
                self._refuse_over(len(result), "the filter's result")
            return result

        return bounded

    def _check_filter(
        self, name: str, value: Any, params: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        def param(index: int, key: str, default: Any) -> Any:
            return params[index] if len(params) > index else kwargs.get(key, default)

        text = value if isinstance(value, str) else ""
        if name == "do_center":
            self._refuse_over(_width(param(0, "width", 80)), "center")
        elif name == "do_indent":
            width = _width(param(0, "width", 4))
            self._refuse_over(len(text) + (text.count("\n") + 1) * width, "indent")
        elif name == "do_format":
            self._check_printf(str(value), kwargs or params)
        elif name == "do_replace" and len(params) >= 2:
            old, new = str(params[0]), str(params[1])
            hits = text.count(old) if old else len(text) + 1
            self._refuse_over(len(text) + hits * max(len(new) - len(old), 0), "replace")
        elif name == "do_wordwrap":
            width = max(_width(param(0, "width", 79)), 1)
            wrap = param(2, "wrapstring", None)
            wraps = (len(text) // width + 1) * (len(wrap) if isinstance(wrap, str) else 2)
            self._refuse_over(len(text) + wraps, "wordwrap")
        elif name == "do_batch":
            self._refuse_over(_width(param(0, "linecount", 1)), "batch")
        elif name == "do_slice":
            if _width(param(0, "slices", 1)) > _MAX_SLICES:
                raise TooLarge(f"slice count over {_MAX_SLICES}")
        elif name == "do_tojson":
            indent = param(0, "indent", None)
            if _width(indent) > _MAX_JSON_INDENT:
                raise TooLarge(f"tojson indent over {_MAX_JSON_INDENT}")
            self._check_weight(value, "tojson")
        elif name in ("do_join", "soft_str", "do_pprint", "do_urlencode", "do_list"):
            self._check_weight(value, name.removeprefix("do_"))

    def _lipsum(self, original: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(original)
        def bounded(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
            if _width(n) > _MAX_LIPSUM or _width(max) > _MAX_LIPSUM or _width(min) > _MAX_LIPSUM:
                raise TooLarge(f"lipsum arguments over {_MAX_LIPSUM}")
            return original(n, html, min, max)

        return bounded
