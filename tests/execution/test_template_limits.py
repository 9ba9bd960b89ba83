"""Templates cannot take the execution service down: what they build is bounded,
runaway renders stop at the node time limit while other runs go on, oversized node
outputs fail, and known Jinja2 sandbox escapes stay contained."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from hookline_execution.domain import Engine, ExecutionRecord, TemplateRenderer
from hookline_execution.domain.expressions import RenderError, RenderTimeout
from hookline_runtime.clock import utcnow
from hookline_runtime.workflow import parse_workflow

from .workflows import node, workflow

SCOPE: dict[str, Any] = {
    "json": {"n": 21, "name": "Ada", "items": [1, 2, 3]},
    "nodes": {"Start": {"n": 21}},
    "execution": {"id": "e1", "workflowId": "w1", "mode": "manual"},
}

BUILDERS = [
    "{{ (((10**1000)**1000)**20) > 0 }}",
    (
        "{% set ns = namespace(x=2) %}{% for i in range(100000) %}"
        "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}"
    ),
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '{:{w}}'.format(1, w=1000000000) }}",
    "{{ '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format('a' * 1000000) }}",
    "{{ '%01000000000d' % 1 }}",
    "{{ '%*d' % (1000000000, 1) }}",
    "{{ '%01000000000d'|format(1) }}",
    "{{ range(10**9) }}",
    "{{ 'a' * 10**9 }}",
    "{{ [0] * 10**9 }}",
    "{{ [('a' * 1000000)] * 1000 }}",
    "{{ (10**100000)|string }}",
    "{% set s = 'a' * 1000000 %}{% for i in range(1000) %}{{ s }}{% endfor %}",
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(100) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(100) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"
    ),
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ ('a' * 1000000).replace('a', 'aaaaaaaaaaaaaaaaaaaa') }}",
    "{{ ('a' * 1000000)|replace('a', 'aaaaaaaaaaaaaaaaaaaa') }}",
    "{{ 'a\tb'.expandtabs(10**9) }}",
    "{{ (1).to_bytes(10**9, 'big') }}",
    "{{ [1]|batch(10**9, 0)|list }}",
    "{{ ('a' * 1000000)|wordwrap(1, wrapstring='x' * 100) }}",
    "{{ ('<' * 1000000)|forceescape|forceescape|forceescape }}",
    "{{ lipsum(10**6) }}",
    "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
]

RUNAWAYS = [
    "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}",
    "{% set s = 'a' * 10**7 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "{% for i in range(10**5) %}{% for j in range(10**5) %}{{ i * j }}{% endfor %}{% endfor %}",
]

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__globals__ }}",
    "{{ request.application.__globals__ }}",
    "{{ config.items() }}",
    "{{ '{0.__class__}'.format(json) }}",
    "{{ '{0.__class__.__mro__}'.format(json) }}",
    "{{ '{0[__class__]}'.format(json) }}",
    "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}",
    "{{ json|attr('__class__') }}",
    "{{ (json|attr('__class__')).__mro__ }}",
    "{{ json['__class__'] }}",
    "{{ json.items.__self__ }}",
    "{{ json.update({'n': 1}) }}",
    "{{ json['items'].append(4) }}",
    "{% set x = json.pop('n') %}",
    "{{ json.__setitem__('n', 0) }}",
    "{{ ''.join.__self__.__class__ }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ dict.__base__.__subclasses__() }}",
]


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


@pytest.mark.parametrize("template", BUILDERS)
def test_templates_that_build_too_much_fail_quickly(
    renderer: TemplateRenderer, template: str
) -> None:
    started = time.monotonic()
    with pytest.raises(RenderError):
        renderer.render({"p": template}, SCOPE, timeout=10)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("template", RUNAWAYS)
def test_runaway_loops_stop_at_the_deadline(renderer: TemplateRenderer, template: str) -> None:
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        renderer.render({"p": template}, SCOPE, timeout=0.3)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("template", ESCAPES)
def test_known_sandbox_escapes_are_errors_not_leaks(
    renderer: TemplateRenderer, template: str
) -> None:
    with pytest.raises(RenderError) as failed:
        renderer.render({"p": template}, SCOPE)
    assert "<class" not in failed.value.message
    assert SCOPE["json"] == {"n": 21, "name": "Ada", "items": [1, 2, 3]}


def test_ordinary_templates_still_work(renderer: TemplateRenderer) -> None:
    template = (
        "{% set ns = namespace(total=0) %}{% for i in json['items'] %}"
        "{% set ns.total = ns.total + i %}{% endfor %}"
        "{{ ns.total }} {{ '%05d' % 42 }} {{ '{:>6}'.format(json.name) }} "
        "{{ json.name|center(7) }}|{{ 'ab' * 3 }}|{{ [1, 2] + [3] }}|{{ 2 ** 64 }}"
    )
    assert renderer.render(template, SCOPE) == (
        "6 00042    Ada   Ada  |ababab|[1, 2, 3]|18446744073709551616"
    )
    assert renderer.render("{{ json['items']|join(',') }}", SCOPE) == "1,2,3"
    assert renderer.render("{{ range(3)|list }}", SCOPE) == [0, 1, 2]
    assert renderer.render("{% for x in json['items'] %}{{ loop.index }}{% endfor %}", SCOPE) == (
        "123"
    )


def _deep(levels: int) -> Any:
    """JSON nested ``levels`` deep (objects and lists in turn)."""
    value: Any = {"leaf": 1}
    for _ in range(levels // 2):
        value = {"d": [value]}
    return value


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, (dict, list)):
        value = value["d"] if isinstance(value, dict) and "d" in value else value
        value = value[0] if isinstance(value, list) else value
        depth += 2
        if isinstance(value, dict) and "d" not in value:
            break
    return depth


def test_input_nested_900_levels_renders_without_recursion_errors(
    renderer: TemplateRenderer,
) -> None:
    scope = {**SCOPE, "json": _deep(900)}

    def under_a_run_s_stack(frames: int) -> Any:  # a real run renders ~60 frames deep
        if frames:
            return under_a_run_s_stack(frames - 1)
        return renderer.render("{{ json }}", scope)

    assert _depth(under_a_run_s_stack(60)) == 900
    for template in ("x {{ json }}", "{{ json|tojson }}", "{{ json|string }}"):
        try:
            renderer.render({"p": template}, scope)
        except RenderError as exc:
            assert exc.path == "p"


async def test_a_run_with_input_nested_900_levels_finishes(
    http_client: httpx.AsyncClient,
) -> None:
    data = workflow(
        [
            node("Shape", "set", values={"copy": "{{ json }}", "text": "{{ json|tojson }}"}),
            node("Check", "if", condition="{{ json.copy.d[0].d[0] is defined }}"),
        ]
    )
    record = await _run(Engine(TemplateRenderer(), http_client), data, _deep(900))
    assert record["status"] in ("success", "error")
    if record["status"] == "error":
        assert "RecursionError" not in record["error"]["message"]


async def _run(engine: Engine, data: dict[str, Any], trigger_output: Any = None) -> Any:
    record = ExecutionRecord("exec-limits", "", "limits", "manual", utcnow())
    await engine.run(parse_workflow(data), record, trigger_output or {})
    return record.to_json()


async def test_a_runaway_node_times_out_while_other_runs_go_on(
    http_client: httpx.AsyncClient,
) -> None:
    engine = Engine(TemplateRenderer(), http_client, node_timeout_seconds=3)
    spin = "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"
    runaway = asyncio.create_task(_run(engine, workflow([node("Spin", "set", values={"x": spin})])))
    await asyncio.sleep(0)  # the runaway starts rendering first
    normal = workflow([node("Shape", "set", values={"y": "{{ json.n * 2 }}"})])
    for _ in range(3):  # the event loop keeps serving other runs meanwhile
        record = await _run(engine, normal, {"n": 4})
        assert record["status"] == "success"
        assert record["nodes"]["Shape"]["output"]["y"] == 8
    assert not runaway.done()
    failed = await runaway
    assert failed["status"] == "error"
    assert failed["nodes"]["Spin"]["error"] == 'node "Spin" timed out after 3 s'


async def test_a_node_output_over_the_limit_fails_naming_the_limit(
    http_client: httpx.AsyncClient,
) -> None:
    engine = Engine(TemplateRenderer(), http_client, max_output_bytes=4096)
    data = workflow([node("Big", "set", values={"x": "{{ 'a' * 5000 }}"})])
    record = await _run(engine, data)
    assert record["status"] == "error"
    message = record["nodes"]["Big"]["error"]
    assert "over the limit of 4096" in message
    assert "HOOKLINE_MAX_NODE_OUTPUT_BYTES" in message
    small = await _run(engine, workflow([node("Small", "set", values={"x": "{{ 'a' * 50 }}"})]))
    assert small["status"] == "success"


async def test_wait_is_bounded_by_its_own_seconds_not_the_node_limit(
    http_client: httpx.AsyncClient,
) -> None:
    engine = Engine(TemplateRenderer(), http_client, node_timeout_seconds=0.05)
    record = await _run(engine, workflow([node("Pause", "wait", seconds=0.2)]))
    assert record["status"] == "success"
