"""The package layout stays the shape DESIGN.md draws: which part may import which.

Every `import passk...` in the source (at module level, inside functions, and for type checkers
alike) is read from the AST and checked against the table below, so a shortcut across the
layers fails here the day it is written.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "passk"

# Importable by every part, importing nothing of passk: the errors, the outcomes, and the
# package root (for __version__; its public names load lazily).
LEAVES = {"errors", "outcome", "passk"}
ORCHESTRATION = {"evaluation", "pipeline", "canonical", "scoring", "mining"}

# part -> the parts it may import (besides itself and the leaves).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "outcome": set(),
    "records": set(),
    "metrics": set(),
    "benchmarks": {"records"},
    "execution": set(),
    "generation": {"records", "benchmarks"},
    "training": {"records", "benchmarks"},
    "analysis": {"records", "metrics", "benchmarks"},
    **{
        name: {
            "records",
            "metrics",
            "benchmarks",
            "execution",
            "generation",
            "training",
            "analysis",
            *ORCHESTRATION,
        }
        for name in ORCHESTRATION
    },
}


def part_of(module: str) -> str:
    """'passk.records.rundir' -> 'records'; 'passk' -> 'passk'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "passk"


def imported_parts(path: Path) -> set[tuple[str, int]]:
    """(part, line) for every passk import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "passk." + ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    found: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rstrip(".").split(".")
                base = base[: len(base) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            elif node.module:
                names = [node.module]
        for name in names:
            if name == "passk" or name.startswith("passk."):
                found.add((part_of(name), node.lineno))
    return found


def sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def test_every_part_is_in_the_table() -> None:
    parts = {
        part_of("passk." + ".".join(p.relative_to(SRC).with_suffix("").parts)) for p in sources()
    }
    unknown = parts - set(ALLOWED) - {"cli", "__init__", "__main__"}
    assert not unknown, f"parts missing from the layout table: {sorted(unknown)}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    module = "passk." + ".".join(path.relative_to(SRC).with_suffix("").parts)
    part = part_of(module)
    if part in ("cli", "__init__", "__main__"):
        return  # the shell over everything, and the package's lazy public names
    allowed = ALLOWED[part] | LEAVES | {part}
    wrong = sorted((line, name) for name, line in imported_parts(path) if name not in allowed)
    assert not wrong, f"{module} ({part}) may not import " + ", ".join(
        f"passk.{name} (line {line})" for line, name in wrong
    )


def test_the_worker_imports_only_the_standard_library_and_its_own_modules() -> None:
    """The execution worker runs inside the sandbox from its own files: nothing else of passk."""
    worker = SRC / "execution" / "worker.py"
    tree = ast.parse(worker.read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("passk")
    }
    assert imported <= {"passk.execution"}, imported


def test_import_passk_cli_stays_light() -> None:
    code = (
        "import json, sys, passk.cli; print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('numpy', 'rich', 'torch', 'transformers', 'httpx') "
        "or m.startswith('passk.'))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["passk.cli", "passk.errors"]
