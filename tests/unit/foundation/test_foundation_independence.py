"""No service package imports another service's package.

A system's services share data only through messages; an import across that line
(``from shop.orders.tables import orders`` inside payments) would be a shared
database in disguise. Each system package's direct subpackages are its services;
its other modules (system.py, demo.py, contracts) are the composition root.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS = {"examples.notes": ROOT / "examples" / "notes", "shop": ROOT / "src" / "shop"}
# Packages of a system that are shared vocabulary, not services.
SHARED = {"common", "contracts", "migrations", "testing"}


def services_of(folder: Path) -> list[str]:
    return sorted(
        child.name
        for child in folder.iterdir()
        if (child / "__init__.py").exists() and child.name not in SHARED
    )


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def crossings(system: str, folder: Path) -> list[str]:
    services = services_of(folder)
    problems: list[str] = []
    for service in services:
        others = [f"{system}.{other}" for other in services if other != service]
        for path in sorted((folder / service).rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            package = ".".join([system, *relative.parts[:-1]])
            for module in imported_modules(path, package):
                for other in others:
                    if module == other or module.startswith(other + "."):
                        problems.append(f"{relative.with_suffix('.py')} imports {module}")
    return sorted(problems)


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_no_service_imports_another_service(system: str) -> None:
    folder = SYSTEMS[system]
    assert folder.is_dir(), f"{system}'s services are not at {folder}"
    assert len(services_of(folder)) >= 2
    assert crossings(system, folder) == []


def test_the_check_catches_a_crossing(tmp_path: Path) -> None:
    for service in ("alpha", "beta"):
        (tmp_path / service).mkdir()
        (tmp_path / service / "__init__.py").write_text("")
    (tmp_path / "alpha" / "handlers.py").write_text("from ..beta.tables import things\n")
    (tmp_path / "beta" / "api.py").write_text("import sys\nimport demo.alpha\n")
    assert crossings("demo", tmp_path) == [
        "alpha/handlers.py imports demo.beta.tables",
        "alpha/handlers.py imports demo.beta.tables.things",
        "beta/api.py imports demo.alpha",
    ]
