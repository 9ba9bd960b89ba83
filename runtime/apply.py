"""``hookline apply``: create or update workflows, matched by name, through the edge."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["apply_files", "load_workflows"]


def load_workflows(path: Path) -> list[dict[str, Any]]:
    """The workflows in a JSON or YAML file: one object, or a list of them."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            # ValueError, not TypeError: the caller reports it with the file's other parse errors.
            raise ValueError("each workflow must be an object with a string 'name'")  # noqa: TRY004
    return items


def _existing_by_name(client: httpx.Client) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        resp = client.get("/api/v1/workflows", params=params)
        resp.raise_for_status()
        page = resp.json()
        for wf in page["data"]:
            found.setdefault(wf["name"], wf["id"])
        cursor = page.get("nextCursor")
        if not cursor:
            return found


def apply_files(files: list[str], *, url: str, api_key: str | None) -> int:
    """Apply every workflow of every file; returns the process exit code."""
    headers = {"X-API-Key": api_key} if api_key else {}
    failures = 0
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            existing = _existing_by_name(client)
            for name in files:
                path = Path(name)
                try:
                    workflows = load_workflows(path)
                except (OSError, ValueError, yaml.YAMLError) as exc:
                    print(f"{path}: cannot read: {exc}", file=sys.stderr)
                    failures += 1
                    continue
                for wf in workflows:
                    wf_id = existing.get(wf["name"])
                    if wf_id:
                        resp = client.put(f"/api/v1/workflows/{wf_id}", json=wf)
                        verb = "updated"
                    else:
                        resp = client.post("/api/v1/workflows", json=wf)
                        verb = "created"
                    if resp.status_code >= 400:
                        try:
                            message = resp.json().get("message", resp.text)
                        except ValueError:
                            message = resp.text
                        print(f"{path}: {wf['name']}: {resp.status_code} {message}",
                              file=sys.stderr)
                        failures += 1
                        continue
                    stored = resp.json()
                    existing[stored["name"]] = stored["id"]
                    print(f"{verb} {stored['name']} ({stored['id']}) from {path}")
    except httpx.HTTPError as exc:
        print(f"cannot reach hookline at {url}: {exc}", file=sys.stderr)
        return 2
    return 1 if failures else 0
