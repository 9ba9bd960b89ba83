"""Which code the benchmark runs: by default a clean export of a commit (``HEAD``), so
that edits in progress in the shared working tree cannot change or break a run, and
the results name the commit they measured. ``worktree`` runs the files as they are."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from hookline_runtime.logs import get_logger

__all__ = ["CodeSource"]

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICE_FOLDERS = ("edge", "services/trigger", "services/execution", "services/cache")
"""Where the edge and the services live, each folder holding its ``hookline_*`` package."""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


@dataclass
class CodeSource:
    """``with CodeSource("HEAD") as source:`` — ``source.root`` holds the code to run."""

    ref: str = "HEAD"
    root: Path = REPO_ROOT
    commit: str = ""
    dirty: bool = False
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pythonpath(self) -> str:
        """Import roots of the code: the project root, the generated stubs and, from the
        layout with a folder per service on, the edge's and each service's folder."""
        roots = [self.root, self.root / "generated",
                 *(self.root / folder for folder in SERVICE_FOLDERS)]
        return ":".join(str(root) for root in roots if root.is_dir())

    def __enter__(self) -> Self:
        if self.ref == "worktree":
            self.commit = _git("rev-parse", "HEAD")
            self.dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
            return self
        self.commit = _git("rev-parse", self.ref)
        self._tmp = tempfile.TemporaryDirectory(prefix="hookline-bench-src-")
        self.root = Path(self._tmp.name)
        archive = subprocess.run(["git", "archive", "--format=tar", self.commit],
                                 cwd=REPO_ROOT, check=True, capture_output=True).stdout
        with tempfile.TemporaryFile() as buffer:
            buffer.write(archive)
            buffer.seek(0)
            with tarfile.open(fileobj=buffer) as tar:
                tar.extractall(self.root, filter="data")
        log.info("code exported", commit=self.commit[:12], root=str(self.root))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
