"""The shape of mock_server/ that its docs promise a reader (docs/internals.md, "Layout"):
modules short enough to read, each carrier reaching the core only through its public names,
and no class whose methods hide the modules they use. ``make lint`` holds the layers
themselves (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support.paths import ROOT

PACKAGE = ROOT / "mock_server"
MODULES = sorted(PACKAGE.rglob("*.py"))
# A module past this many lines is split along its seams (docs/internals.md); the connection
# protocol, the one state machine that sees every byte, may be the largest.
MOST_LINES = 500
LARGEST = {"mock_server/serve/own_server/protocol.py": 600}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_module_is_longer_than_a_reader_reads_at_once(path: Path) -> None:
    lines = path.read_text("utf-8").count("\n")
    most = LARGEST.get(relative(path), MOST_LINES)
    assert lines <= most, f"{relative(path)} has {lines} lines; split it along its seams"


def core_names_used(tree: ast.Module) -> list[str]:
    """The names a module takes from mock_server.core (``from ..core.x import name``) and the
    attributes it reads of a core module it imported (``engine.journal``...)."""
    used: list[str] = []
    core_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "core" or node.module.startswith("core.")):
            for alias in node.names:
                used.append(alias.name)
                if node.module == "core":
                    core_modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in core_modules):
            used.append(node.attr)
    return used


CARRIERS = [path for path in MODULES
            if path.relative_to(PACKAGE).parts[0] in ("web", "testing", "serve")]


@pytest.mark.parametrize("path", CARRIERS, ids=relative)
def test_the_carriers_use_only_the_cores_public_names(path: Path) -> None:
    private = [name for name in core_names_used(ast.parse(path.read_text("utf-8")))
               if name.startswith("_")]
    assert not private, f"{relative(path)} uses private names of the core: {private}"


@pytest.mark.parametrize("path", [path for path in MODULES
                                  if path.relative_to(PACKAGE).parts[0] == "serve"],
                         ids=relative)
def test_the_servers_reach_no_part_of_the_engine(path: Path) -> None:
    """The engine offers what a server needs (``flush``, ``batch_writes``, ``handle``...):
    nothing in serve/ reads the engine's journal or store."""
    tree = ast.parse(path.read_text("utf-8"))
    reached = [f"{ast.unparse(node)}" for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr in ("journal", "store")
               and "engine" in ast.unparse(node.value)]
    assert not reached, f"{relative(path)} reaches into the engine: {reached}"


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_method_hides_a_module_it_uses(path: Path) -> None:
    """A method named after a module its class's module imports would hide that module from
    the class body (a default value taken from it would be the method)."""
    tree = ast.parse(path.read_text("utf-8"))
    imported = {alias.asname or alias.name.partition(".")[0]
                for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    hidden = [f"{node.name}.{item.name}" for node in ast.walk(tree)
              if isinstance(node, ast.ClassDef) for item in node.body
              if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
              and item.name in imported]
    assert not hidden, f"{relative(path)}: methods named after imported modules: {hidden}"
