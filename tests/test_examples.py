"""Every file in examples/ loads and validates, so the README's quick start works."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline_launcher.apply import load_workflows
from hookline_runtime.workflow import parse_workflow

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").iterdir())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_a_valid_workflow(path: Path) -> None:
    workflows = load_workflows(path)
    assert workflows
    for data in workflows:
        assert parse_workflow(data).name == data["name"]
