"""A workflow pasted into the console: JSON or YAML text to one workflow object.

Only the shape is checked here (one object with a string ``name``); the API
validates the rest and its 422 message is what the operator reads.
"""

from __future__ import annotations

from typing import Any

import yaml

from hookline_runtime.strict_json import loads_strict

__all__ = ["DocumentError", "parse_document"]

MAX_DOCUMENT_CHARS = 1_000_000


class DocumentError(ValueError):
    """The pasted text is not one workflow object."""


def parse_document(text: str) -> dict[str, Any]:
    """The workflow object in ``text`` (JSON first, then YAML, which JSON mostly is)."""
    if not text.strip():
        raise DocumentError("paste a workflow as JSON or YAML")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentError(f"the text is longer than {MAX_DOCUMENT_CHARS} characters")
    try:
        data: Any = loads_strict(text)
    except ValueError as json_error:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            stripped = text.lstrip()
            problem = json_error if stripped.startswith(("{", "[")) else yaml_error
            raise DocumentError(f"not valid JSON or YAML: {problem}") from yaml_error
    if isinstance(data, list):
        raise DocumentError("paste one workflow (an object), not a list")
    if not isinstance(data, dict):
        raise DocumentError("a workflow is an object with name, nodes and connections")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise DocumentError("the workflow needs a string 'name'")
    return data
