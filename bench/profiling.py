"""py-spy profiles of the running services while load is on: a flame graph (SVG)
per process, and from a second, raw (collapsed-stack) recording the top frames by
own time and by inclusive time."""

from __future__ import annotations

import collections
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runtime.logs import get_logger

__all__ = ["ProfileSummary", "PySpy", "find_py_spy", "summarise_collapsed"]

log = get_logger(__name__)

_FRAME_FILE = re.compile(r"\((?P<file>[^()]*?):(?P<line>\d+)\)$")


@dataclass
class ProfileSummary:
    """Where one process spent its sampled time."""

    process: str
    samples: int
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]
    svg: str | None
    collapsed: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_py_spy() -> str | None:
    """py-spy next to the venv's python, or None (``pip install py-spy`` into .venv)."""
    candidate = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    return str(candidate) if candidate.exists() and os.access(candidate, os.X_OK) else None


def _short(frame: str) -> str:
    """``fn (/long/path/pkg/mod.py:12)`` -> ``fn (pkg/mod.py:12)``."""
    match = _FRAME_FILE.search(frame)
    if not match:
        return frame
    path = Path(match["file"])
    short = "/".join(path.parts[-2:])
    return f"{frame[:match.start()].strip()} ({short}:{match['line']})"


def summarise_collapsed(text: str, top: int = 15) -> tuple[int, list[tuple[str, float]],
                                                            list[tuple[str, float]]]:
    """Total samples, top frames by own share and by inclusive share (percent)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return 0, [], []

    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100.0 * n / total, 1)) for frame, n in counter.most_common(top)]

    return total, share(own), share(inclusive)


@dataclass
class PySpy:
    """Records several processes at once with py-spy (needs root or ptrace rights)."""

    binary: str
    out_dir: Path
    duration_s: int = 10
    rate: int = 100

    def _start(self, name: str, pid: int, fmt: str, path: Path) -> subprocess.Popen[bytes]:
        command = [self.binary, "record", "--pid", str(pid), "--duration", str(self.duration_s),
                   "--rate", str(self.rate), "--format", fmt, "--output", str(path)]
        log_path = self.out_dir / f"py-spy-{name}-{fmt}.log"
        with log_path.open("ab") as out:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def start(self, pids: dict[str, int], fmt: str) -> dict[str, subprocess.Popen[bytes]]:
        """Begin recording every process; ``fmt`` is ``flamegraph`` or ``raw``."""
        suffix = "svg" if fmt == "flamegraph" else "collapsed.txt"
        return {name: self._start(name, pid, fmt, self.out_dir / f"{name}.{suffix}")
                for name, pid in pids.items()}

    def finish(self, running: dict[str, subprocess.Popen[bytes]]) -> None:
        """Wait for every recording to end."""
        for name, popen in running.items():
            try:
                code = popen.wait(self.duration_s + 60)
            except subprocess.TimeoutExpired:
                popen.kill()
                code = popen.wait()
            if code != 0:
                log.warning("py-spy failed", process=name, exit_code=code,
                            log=str(self.out_dir / f"py-spy-{name}.log"))

    def summaries(self, names: list[str]) -> list[ProfileSummary]:
        """Summaries of the raw recordings made for ``names``."""
        out = []
        for name in names:
            collapsed = self.out_dir / f"{name}.collapsed.txt"
            svg = self.out_dir / f"{name}.svg"
            text = collapsed.read_text() if collapsed.exists() else ""
            total, top_self, top_inclusive = summarise_collapsed(text)
            out.append(ProfileSummary(
                process=name, samples=total, top_self=top_self, top_inclusive=top_inclusive,
                svg=svg.name if svg.exists() else None,
                collapsed=collapsed.name if collapsed.exists() else None,
            ))
        return out
