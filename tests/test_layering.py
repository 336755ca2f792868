"""The package's layering, read statically from its imports (ast, nothing executed).

An import inside a function counts as much as one at the top of a file: a lazy
import on a path no other test takes still breaks the layering. Imports under
``if TYPE_CHECKING:`` do not run and do not count. docs/architecture.md draws
the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The layer of each module: a subpackage's name, or "core"/"entry" for the root's modules.
CORE = {"source", "diagnostics", "ir", "limits", "record", "suggest", "atomic", "render", "version"}
ENTRY = {"__init__", "__main__", "cli"}

#: What each layer may import from the package (besides itself). "entry" may import anything.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "schema": {"core"},
    "plan": {"core"},
    "compiler": {"core", "schema", "plan"},
    "lint_rules": {"core", "compiler", "plan"},
    "lint": {"core", "compiler", "plan", "schema", "lint_rules"},
    "runtime": {"plan"},
    "export": {"core", "plan", "runtime"},
    "integrations": {"core", "compiler", "plan", "runtime", "export"},
    "lsp": {"core", "schema", "compiler", "plan", "lint", "lint_rules"},
}

#: Never imported by the layers `recipe-lint` runs on (cold start, and lint never needs torch).
HEAVY = {"torch", "numpy", "onnx", "onnxruntime", "onnxscript", "transformers", "lightning", "pytorch_lightning", "jsonschema", "lark"}
LINT_PATH_LAYERS = {"core", "schema", "plan", "compiler", "lint_rules", "lint"}
#: The language server is the linter in an editor: it never imports them either.
NO_HEAVY_LAYERS = LINT_PATH_LAYERS | {"lsp"}


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every module (of ``modules``, or a third-party top-level name) that ``path`` imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import mod` imports the submodule when there is one, else a name of pkg.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for written in targets:
            target = written
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]  # `a.b.name` → the module `a.b` it comes from
            found.add(target)
    found.discard(name)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    paths = {module_name(p, root, package): p for p in root.rglob("*.py")}
    modules = set(paths)
    return {name: imports_of(path, name, modules) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "entry"
    if len(parts) == 2 and parts[1] in ENTRY:
        return "entry"
    if len(parts) == 2 and parts[1] in CORE:
        return "core"
    return parts[1]


def violations(graph: dict[str, set[str]], package: str = "recipekit") -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        source = layer(module)
        for target in sorted(targets):
            if target.split(".")[0] != package:
                if source in NO_HEAVY_LAYERS and target.split(".")[0] in HEAVY:
                    problems.append(f"{module} imports {target}: the {source} layer is on recipe-lint's path")
                continue
            wanted = layer(target)
            if wanted == "entry" and source != "entry":
                problems.append(f"{module} imports {target}: nothing imports the entry points")
            elif source not in ("entry", wanted) and wanted not in ALLOWED.get(source, set()):
                problems.append(f"{module} ({source}) imports {target} ({wanted}), against the layering")
    return problems


def test_every_module_has_a_known_layer() -> None:
    graph = import_graph(ROOT / "recipekit", "recipekit")
    unknown = sorted({layer(m) for m in graph} - set(ALLOWED) - {"entry"})
    assert unknown == [], f"add these to ALLOWED and docs/architecture.md: {unknown}"


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph(ROOT / "recipekit", "recipekit")) == []


def test_imports_follow_the_layering() -> None:
    assert violations(import_graph(ROOT / "recipekit", "recipekit")) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "recipekit"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_is_found_however_the_import_is_written(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "plan/__init__.py": "",
            "plan/model.py": "def state_at():\n    from recipekit.plan.simulate import Simulation\n",  # lazy, in a function
            "plan/simulate.py": "from recipekit.plan import model\n",
            "plan/schedule.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from recipekit.plan import simulate\n",
        },
    )
    assert cycles(import_graph(root, "recipekit")) == [["recipekit.plan.model", "recipekit.plan.simulate"]]


def test_imports_against_the_layering_are_named(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "",
            "source.py": "",
            "plan/__init__.py": "",
            "plan/model.py": "from recipekit.compiler import lower\nimport torch\n",
            "compiler/__init__.py": "",
            "compiler/lower.py": "from ..source import Span\n",
            "runtime/__init__.py": "",
            "runtime/runner.py": "def f():\n    from recipekit.lint import driver\n    from recipekit import cli\n",
            "lint/__init__.py": "",
            "lint/driver.py": "",
        },
    )
    assert violations(import_graph(root, "recipekit")) == [
        "recipekit.plan.model (plan) imports recipekit.compiler.lower (compiler), against the layering",
        "recipekit.plan.model imports torch: the plan layer is on recipe-lint's path",
        "recipekit.runtime.runner imports recipekit.cli: nothing imports the entry points",
        "recipekit.runtime.runner (runtime) imports recipekit.lint.driver (lint), against the layering",
    ]


@pytest.mark.parametrize("module", ["recipekit.compiler.lower", "recipekit.lint.linter", "recipekit.runtime.runner"])
def test_the_graph_sees_real_imports(module: str) -> None:
    # Guards the reader itself: an empty graph would pass every test above.
    graph = import_graph(ROOT / "recipekit", "recipekit")
    assert graph[module], module
