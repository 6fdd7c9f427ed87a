"""The house layout: imports run agents -> tables -> streams -> logradar, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_ENGINE = {"faust", "mode", "aiokafka", "streams", "tables", "agents"}
ORDER = ["logradar", "streams", "tables", "agents"]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def top_level_imports(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


ENGINE_FILES = sorted((REPO / "logradar").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_engine_imports_no_framework(path: Path) -> None:
    # The CLI is the one face that may start the worker, and only inside a command.
    roots = (
        top_level_imports(path) if path.name in {"cli.py", "__main__.py"} else imported_roots(path)
    )
    assert not roots & FORBIDDEN_IN_ENGINE, f"{path.name} imports {roots & FORBIDDEN_IN_ENGINE}"


@pytest.mark.parametrize("layer", ORDER[1:])
def test_layers_import_only_downwards(layer: str) -> None:
    above = set(ORDER[ORDER.index(layer) + 1 :])
    for path in (REPO / layer).rglob("*.py"):
        assert not imported_roots(path) & above, f"{path} imports a layer above {layer}"


def test_ambiguous_package_names_resolve_inside_the_repo() -> None:
    import agents
    import streams
    import tables

    for module in (agents, tables, streams):
        assert Path(module.__file__ or "").resolve().is_relative_to(REPO)
    assert not (REPO / "ops" / "__init__.py").exists()
