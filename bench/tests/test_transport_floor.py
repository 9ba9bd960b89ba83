"""``bench.transport_floor`` end to end: its echo server in a process of its own, every
transport measured, each message really echoed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_transport_floor_measures_each_transport_through_a_server_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.transport_floor", "--round-trips", "50", "--batch", "4"],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| grpc", "| asyncio"))]
    assert [row.split("|")[1:3] for row in rows] == [
        [" grpc.aio stream ", " 1 "],
        [" grpc.aio stream ", " 4 "],
        [" asyncio TCP ", " 1 "],
    ]
    for row in rows:
        wall = float(row.split("|")[3].split()[0])
        assert wall > 0
