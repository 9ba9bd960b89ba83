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

from hookline_runtime.logs import get_logger

__all__ = ["CollapsedSummary", "ProfileSummary", "PySpy", "find_py_spy", "summarise_collapsed"]

log = get_logger(__name__)

_FRAME_FILE = re.compile(r"\((?P<file>[^()]*?):(?P<line>\d+)\)$")


@dataclass
class ProfileSummary:
    """Where one process spent its sampled time."""

    process: str
    samples: int
    idle_samples: int
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]
    own_by_package: list[tuple[str, float]]
    hookline_inclusive: list[tuple[str, float]]
    svg: str | None
    collapsed: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_py_spy() -> str | None:
    """py-spy next to the venv's python, or None (``pip install py-spy`` into .venv)."""
    candidate = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    return str(candidate) if candidate.exists() and os.access(candidate, os.X_OK) else None


_OLD_HOOKLINE_DIRS = ("edge", "services", "runtime")
"""Top-level folders of hookline before its packages were named ``hookline_*``
(``--source`` can run old commits)."""


def _is_hookline_dir(part: str) -> bool:
    return part.startswith("hookline_") or part in _OLD_HOOKLINE_DIRS


def _parts(file: str) -> tuple[str, ...]:
    """The parts of a frame's file, from its ``hookline_*`` package on when it has one
    (``services/trigger/hookline_trigger/x.py`` -> ``hookline_trigger/x.py``)."""
    parts = Path(file.removeprefix("<frozen ").removesuffix(">")).parts
    for index, part in enumerate(parts[:-1]):
        if part.startswith("hookline_"):
            return parts[index:]
    return parts

# Native libraries, by a marker in the frame's "(library)" part.
_NATIVE_LIBRARIES = (
    ("libc.so", "libc (system calls: socket writes, wake-ups)"),
    ("libpython", "CPython (interpreter, GC)"),
    ("cygrpc", "grpc C core"),
    ("libstdc++", "grpc C core"),
    ("_message", "protobuf (upb)"),
    ("hiredis", "hiredis"),
)
# Leaf frames of a thread that waits for I/O or a lock: with --native py-spy samples
# them, so they are left out of the shares (and counted as idle).
_IDLE_LEAVES = ("epoll_wait", "epoll_pwait", "poll ", "select ", "pthread_cond_wait",
                "pthread_cond_timedwait", "EpollSelector.select", "_PollLikeSelector.select",
                "sem_wait", "sem_timedwait")


def _frame_file(frame: str) -> str | None:
    """The file of a py-spy frame; py-spy already writes it relative to sys.path."""
    match = _FRAME_FILE.search(frame)
    return match["file"] if match else None


def _short(frame: str) -> str:
    """``fn (a/b/c/mod.py:12)`` -> ``fn (c/mod.py:12)``."""
    match = _FRAME_FILE.search(frame)
    if not match:
        return frame
    short = "/".join(Path(match["file"]).parts[-2:])
    return f"{frame[:match.start()].strip()} ({short}:{match['line']})"


def _function(frame: str) -> str:
    """``fn (a/b/mod.py:12)`` -> ``fn (b/mod.py)``: all lines of a function together."""
    match = _FRAME_FILE.search(frame)
    if not match:
        return frame
    short = "/".join(Path(match["file"]).parts[-2:])
    return f"{frame[:match.start()].strip()} ({short})"


def _package(frame: str) -> str:
    """Who owns a frame: ``hookline hookline_edge/…`` for project code, else the top-level
    package or standard-library module (``grpc``, ``asyncio``, ``threading``), or
    ``native`` for frames without a file."""
    file = _frame_file(frame)
    if file is None:
        library = frame[frame.rfind("(") + 1:].rstrip(")") if frame.endswith(")") else ""
        for marker, name in _NATIVE_LIBRARIES:
            if marker in library:
                return name
        return f"native {library}" if library else "native"
    parts = _parts(file)
    if _is_hookline_dir(parts[0]):
        inner = "/".join(parts[1:-1] + (Path(parts[-1]).stem,))
        return f"hookline {parts[0]}/{inner}" if len(parts) > 1 else f"hookline {parts[0]}"
    return Path(parts[0]).stem


def _is_hookline(frame: str) -> bool:
    file = _frame_file(frame)
    if file is None:
        return False
    parts = _parts(file)
    return _is_hookline_dir(parts[0]) and parts[-1] != "cli.py"


@dataclass
class CollapsedSummary:
    """Shares (percent of samples) of frames and packages in one recording."""

    samples: int
    idle_samples: int
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]
    own_by_package: list[tuple[str, float]]
    hookline_inclusive: list[tuple[str, float]]


def summarise_collapsed(text: str, top: int = 15) -> CollapsedSummary:
    """Top frames by own and inclusive share, own share by package, and the hookline
    functions (hookline_edge/, services/, runtime/) with the largest inclusive share; shares are
    of the busy samples (idle waits left out)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = stack.split(";")
        if raw[-1].startswith(_IDLE_LEAVES):
            idle += count
            continue
        total += count
        frames = [_short(f) for f in raw]
        own[frames[-1]] += count
        packages[_package(raw[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
        for frame in {_function(f) for f in raw if _is_hookline(f)}:
            ours[frame] += count

    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        if total == 0:
            return []
        return [(frame, round(100.0 * n / total, 1)) for frame, n in counter.most_common(top)]

    return CollapsedSummary(total, idle, share(own), share(inclusive), share(packages),
                            share(ours))


@dataclass
class PySpy:
    """Records several processes at once with py-spy (needs root or ptrace rights)."""

    binary: str
    out_dir: Path
    duration_s: int = 10
    rate: int = 100
    native: bool = False

    def _start(self, name: str, pid: int, fmt: str, path: Path) -> subprocess.Popen[bytes]:
        # The raw recording includes native frames (grpc's Cython core, libc, the GC),
        # which is where much of the time goes; the flame graph stays Python-only and
        # readable.
        native = ["--native"] if self.native and fmt == "raw" else []
        command = [self.binary, "record", "--pid", str(pid), "--duration", str(self.duration_s),
                   "--rate", str(self.rate), "--format", fmt, "--output", str(path), *native]
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
            summary = summarise_collapsed(text)
            out.append(ProfileSummary(
                process=name, samples=summary.samples, idle_samples=summary.idle_samples,
                top_self=summary.top_self,
                top_inclusive=summary.top_inclusive, own_by_package=summary.own_by_package,
                hookline_inclusive=summary.hookline_inclusive,
                svg=svg.name if svg.exists() else None,
                collapsed=collapsed.name if collapsed.exists() else None,
            ))
        return out
