"""The package's import graph has no cycle: not between modules (imports inside functions count) and
not between subpackages (a top-level module such as ``database`` counts as one of its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import dbtwin
from dbtwin.schema.components import strongly_connected

ROOT = Path(dbtwin.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ["dbtwin", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` lives in (``dbtwin.io.files.read_directory`` -> ``dbtwin.io.files``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, wherever in the file the import stands."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                owner = _owner(target, modules)
                if owner and owner != module and owner.startswith("dbtwin."):
                    graph[module].add(owner)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (the schema's own Tarjan)."""
    nodes = sorted(set(graph).union(*graph.values()))
    found = strongly_connected(nodes, lambda node: sorted(graph.get(node, ())))
    return [sorted(component) for component in found if len(component) > 1]


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dbtwin"


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph())
    assert not found, f"import cycles between modules: {found}"


def test_no_subpackage_imports_itself_through_others():
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        here = _subpackage(module)
        packages.setdefault(here, set()).update(_subpackage(t) for t in targets if _subpackage(t) != here)
    found = cycles(packages)
    assert not found, f"import cycles between subpackages: {found}"


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_synthesizer_stays_a_thin_facade():
    """At most 250 lines and 15 of the package's modules: features are stages, not branches of it."""
    module = "dbtwin.synthesizer.model"
    path = _modules()[module]
    assert len(path.read_text().splitlines()) <= 250
    assert len(import_graph()[module]) <= 15, sorted(import_graph()[module])
