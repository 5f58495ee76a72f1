"""dvc.yaml lists, for every stage, each repository module the stage's command imports.

A module missing from a stage's deps would let `dvc repro` skip a stage whose code changed; a
stage listing code it never imports reruns for nothing. Imports are followed transitively with
`ast` (function-level imports included); data files read by a module are listed beside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from helpers import REPO, dvc_stages

DATA_FILES = {"recsys/prompts/templates.py": ["recsys/prompts/templates.yaml"]}


def module_file(name: str) -> Path | None:
    path = REPO / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(start: Path) -> set[str]:
    """Repository files `start` needs: itself, what it imports from recsys/ and stages/, recursively."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        rel = path.relative_to(REPO).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        seen.update(DATA_FILES.get(rel, []))
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                found = module_file(name) if name.split(".")[0] in ("recsys", "stages") else None
                if found and found.name != "__init__.py":  # package markers hold no code here
                    todo.append(found)
    return seen


STAGES = dvc_stages()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_its_imports(stage):
    command = STAGES[stage]["cmd"].split()
    assert command[:3] == ["python", "-m", "stages.cli"]
    needed = imported_files(REPO / "stages" / f"{command[3].replace('-', '_')}.py")
    code_deps = [d for d in STAGES[stage]["deps"] if d.startswith(("recsys", "stages"))]
    uncovered = [f for f in sorted(needed) if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in code_deps)]
    assert not uncovered, f"{stage}: add to deps in dvc.yaml: {uncovered}"
    listed = {f.relative_to(REPO).as_posix() for d in code_deps for f in
              ([REPO / d] if (REPO / d).is_file() else (REPO / d).rglob("*.py")) if f.name != "__init__.py"}
    assert not listed - needed, f"{stage}: deps it never imports: {sorted(listed - needed)}"
