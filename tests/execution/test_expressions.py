"""Templates in node parameters: types, strings, errors, the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from hookline_execution.domain.expressions import RenderError, TemplateRenderer

SCOPE: dict[str, Any] = {
    "json": {"n": 21, "name": "Ada", "tags": ["a", "b"], "user": {"id": 7}},
    "nodes": {"Start": {"n": 21}},
    "execution": {"id": "e1", "workflowId": "w1", "mode": "manual"},
}


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ json.n * 2 }}", 42),
        ("  {{ json.user }}  ", {"id": 7}),
        ("{{ json.tags }}", ["a", "b"]),
        ("{{ json.n > 3 }}", True),
        ("{{ json.missing }}", None),
        ("{{ nodes.Start.n }}", 21),
        ("{{ execution.mode }}", "manual"),
        ("{{ -1 }}", -1),
        ("{{- json.n -}}", 21),
    ],
)
def test_a_single_expression_keeps_its_type(
    renderer: TemplateRenderer, template: str, expected: Any
) -> None:
    assert renderer.render(template, SCOPE) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ json.name }}", "Hello Ada"),
        ("{{ json.n }}{{ json.n }}", "2121"),
        ("n={{ json.n * 2 }}", "n=42"),
        ("{% if json.n > 3 %}big{% else %}small{% endif %}", "big"),
        ("[{{ json.missing }}]", "[]"),
    ],
)
def test_a_template_with_text_around_renders_to_a_string(
    renderer: TemplateRenderer, template: str, expected: str
) -> None:
    assert renderer.render(template, SCOPE) == expected


def test_strings_without_templates_and_non_strings_are_returned_as_is(
    renderer: TemplateRenderer,
) -> None:
    value = {"a": "plain {text}", "b": 5, "c": [None, True, 1.5], "d": "50% off"}
    assert renderer.render(value, SCOPE) == value


def test_templates_are_rendered_through_nested_objects_and_lists(
    renderer: TemplateRenderer,
) -> None:
    value = {"outer": {"inner": ["{{ json.n }}", "x{{ json.name }}"]}}
    assert renderer.render(value, SCOPE) == {"outer": {"inner": [21, "xAda"]}}


def test_an_error_names_the_parameter_path(renderer: TemplateRenderer) -> None:
    with pytest.raises(RenderError) as caught:
        renderer.render({"values": {"greeting": "Hi {{ json.missing.x }}"}}, SCOPE)
    assert caught.value.path == "values.greeting"
    assert caught.value.message == "'dict object' has no attribute 'missing'"


def test_an_error_inside_a_list_names_the_index(renderer: TemplateRenderer) -> None:
    with pytest.raises(RenderError) as caught:
        renderer.render({"body": {"items": ["ok", "{{ 1 / 0 }}"]}}, SCOPE)
    assert caught.value.path == "body.items[1]"


def test_a_syntax_error_is_a_render_error(renderer: TemplateRenderer) -> None:
    with pytest.raises(RenderError) as caught:
        renderer.render({"x": "{{ json.n + }}"}, SCOPE)
    assert caught.value.path == "x"


@pytest.mark.parametrize(
    "template",
    [
        "{{ json.__class__.__mro__ }}",
        "x {{ json.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ json.update({'n': 1}) }}",
        "{{ 9 ** 99999999 }}",
        "{{ 'a' * 100000000 }}",
        "{{ range(10000000) | list }}",
    ],
)
def test_the_sandbox_blocks_internals_mutation_and_huge_values(
    renderer: TemplateRenderer, template: str
) -> None:
    with pytest.raises(RenderError):
        renderer.render({"p": template}, SCOPE)
    assert SCOPE["json"]["n"] == 21


def test_a_dunder_attribute_alone_is_an_error_not_an_empty_value(
    renderer: TemplateRenderer,
) -> None:
    for template in ("{{ json.__class__ }}", "[{{ json.__class__ }}]"):
        with pytest.raises(RenderError, match="unsafe"):
            renderer.render(template, SCOPE)


def test_compiled_templates_are_cached_and_bounded() -> None:
    renderer = TemplateRenderer(cache_size=2)
    for i in range(5):
        assert renderer.render(f"{{{{ {i} }}}}", SCOPE) == i
        assert renderer.render(f"n{{{{ {i} }}}}", SCOPE) == f"n{i}"
    assert len(renderer._expressions) == 2
    assert len(renderer._templates) == 2
