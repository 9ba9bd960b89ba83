"""JSON log lines as a process writes them: one JSON object per line, with the level,
the logger's name, a UTC timestamp and the bound execution id; values orjson declines
(integers past 64 bits, keys that are not strings) still make a valid line. Each
check runs in a fresh interpreter, whose logging it configures."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    from hookline_runtime.logs import bind_execution, configure_logging, get_logger

    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    configure_logging("info", "json")
    log = get_logger("hookline_test.logs")
    bind_execution("exec-1")
    log.info("Cached execution result", bytes=1208, compressed=False, store="memory")
    log.info("Huge", count=2**70, by_number={1: "one"}, thing=Thing(), text="naïve ✓")
    log.debug("not shown")
    log.warning("Timeout waiting for execution result", timeout_ms=30000)
    """
)


def test_json_lines_carry_level_logger_time_and_execution_id() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == [
        "Cached execution result",
        "Huge",
        "Timeout waiting for execution result",
    ]
    first, huge, warning = lines
    assert first["level"] == "info" and warning["level"] == "warning"
    assert first["logger"] == "hookline_test.logs"
    assert first["timestamp"].endswith("Z")
    assert {line["execution_id"] for line in lines} == {"exec-1"}
    assert (first["bytes"], first["compressed"], first["store"]) == (1208, False, "memory")
    # What orjson declines goes through the standard library, exactly.
    assert huge["count"] == 2**70
    assert huge["by_number"] == {"1": "one"}
    assert huge["thing"] == "<thing>"
    assert huge["text"] == "naïve ✓"
