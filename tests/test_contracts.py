"""The proto contracts: buf lint passes and the committed generated code is current."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_buf_lint_passes() -> None:
    buf = shutil.which("buf", path=_tool_env()["PATH"])
    assert buf, "buf is not installed (pip install buf-bin)"
    result = subprocess.run(
        [buf, "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=_tool_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "generate-protos"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=_tool_env(),
    )
    assert result.returncode == 0, result.stderr
    fresh = tmp_path / "hookline"
    committed = ROOT / "generated" / "hookline"

    def differences(cmp: filecmp.dircmp[str]) -> list[str]:
        out = [*cmp.left_only, *cmp.right_only, *cmp.diff_files]
        for sub in cmp.subdirs.values():
            out.extend(differences(sub))
        return [d for d in out if d != "__pycache__"]

    stale = differences(filecmp.dircmp(fresh, committed))
    assert not stale, f"generated/ is stale; run scripts/generate-protos ({stale})"


def test_every_item_stream_answers_a_failed_item_with_a_google_rpc_status() -> None:
    """An item's error is the standard ``google.rpc.Status`` (code, message, details),
    so any gRPC tooling reads it; found on the reply message of every item stream."""
    from hookline.cache.v1 import cache_service_pb2
    from hookline.trigger.v1 import trigger_service_pb2

    replies = [
        trigger_service_pb2.HandleWebhooksReply.DESCRIPTOR,
        cache_service_pb2.StoreResultsReply.DESCRIPTOR,
        cache_service_pb2.WatchResultsEvent.DESCRIPTOR,
    ]
    for reply in replies:
        error = reply.fields_by_name["error"]
        assert error.message_type is not None, reply.full_name
        assert error.message_type.full_name == "google.rpc.Status", reply.full_name
        assert error.containing_oneof is not None  # an answer or an error, never both
