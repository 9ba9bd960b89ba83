"""The code base type-checks with ``mypy --strict`` and lints clean with ruff.

Both read their settings from pyproject.toml ([tool.mypy], [tool.ruff]) and run
with the venv's executables, found next to the interpreter running the tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# A cold mypy run (no .mypy_cache) takes about 15 s here; leave room on a busy machine.
CHECK_TIMEOUT_SECONDS = 150


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    assert executable.exists(), f"{tool} is not installed in {BIN} (pip install -e '.[test]')"
    return subprocess.run(
        [str(executable), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.timeout(CHECK_TIMEOUT_SECONDS + 30)
def test_mypy_strict_finds_no_errors() -> None:
    result = _run(
        "mypy",
        "hookline_runtime",
        "edge/hookline_edge",
        "services/trigger/hookline_trigger",
        "services/execution/hookline_execution",
        "services/cache/hookline_cache",
        "hookline_launcher",
        "tests",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(CHECK_TIMEOUT_SECONDS + 30)
def test_ruff_finds_no_problems() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
