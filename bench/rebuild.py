"""Rebuilding a results folder's Markdown and chart from its ``results.json`` (and
its collapsed py-spy stacks, when they are there), e.g. after the report changed."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from bench.load import LoadResult
from bench.profiling import PySpy
from bench.report import write_results
from bench.runner import RunResult

__all__ = ["rebuild"]

_LOAD_FIELDS = {f.name for f in fields(LoadResult)}


def rebuild(folder: Path) -> None:
    """Rewrite ``folder``'s results.json, results.md and latency.png."""
    data = json.loads((folder / "results.json").read_text())
    result = RunResult(
        plan=data["plan"], machine=data["machine"], started_at=data["started_at"],
        code=data.get("code", {}),
        load=[LoadResult(**{k: v for k, v in r.items() if k in _LOAD_FIELDS})
              for r in data["load"]],
        server_side=data.get("server_side", {}), delivery=data.get("delivery", {}),
        baseline=data.get("baseline", {}), waiters=data.get("waiters"),
        profiles=data.get("profiles", []), notes=data.get("notes", []),
        exit_codes=data.get("exit_codes", {}), startup_seconds=data.get("startup_seconds", {}),
    )
    names = [p["process"] for p in result.profiles]
    if names and all((folder / f"{name}.collapsed.txt").exists() for name in names):
        result.profiles = [s.to_json() for s in PySpy("", folder).summaries(names)]
    write_results(result, folder, data.get("command", "bench/run"))
