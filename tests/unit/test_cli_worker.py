"""``logradar worker`` imports its agents itself: a broken one stops it, not Faust's warning."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from logradar.cli import load_modules


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "lr_agents_probe"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "good.py").write_text("LOADED = True\n")
    sys.path.insert(0, str(tmp_path))
    yield root
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("lr_agents_probe")]:
        del sys.modules[name]


def test_every_module_of_the_packages_is_imported(package: Path) -> None:
    load_modules(["lr_agents_probe"])
    assert sys.modules["lr_agents_probe.good"].LOADED is True


def test_a_module_that_fails_to_import_raises(package: Path) -> None:
    (package / "broken.py").write_text("x = >>>>>>> conflict\n")
    with pytest.raises(SyntaxError):
        load_modules(["lr_agents_probe"])


def test_the_worker_packages_import_cleanly() -> None:
    load_modules(["tables", "agents"])
    assert "agents.ingest" in sys.modules and "tables.state" in sys.modules
