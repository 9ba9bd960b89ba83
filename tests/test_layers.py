"""The layering is a test: the import-linter contracts in pyproject.toml hold.

- The launcher (``hookline_launcher``) sits above the edge and the three services,
  which sit above the shared layer (``hookline_runtime``); no service imports another,
  and nothing imports upwards.
- Domain code (``hookline_*.domain``) imports no transport, web framework, database
  driver or generated protobuf code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command is not None, "import-linter is part of the test extra"
    result = subprocess.run(
        [command, "--no-cache"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
