"""The package's modules import in one direction: each layer only from the layers before it, and no module in a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit"

# Layers from the bottom up; a module belongs to the longest prefix that names it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("toolkit.errors", "toolkit.config", "toolkit.progress", "toolkit"),  # the root package holds only __version__
    ("toolkit.sql",),
    ("toolkit.ml.types",),
    ("toolkit.project",),
    ("toolkit.warehouse",),
    ("toolkit.checks",),
    ("toolkit.ml.features",),
    ("toolkit.ml.model", "toolkit.ml.metrics"),
    ("toolkit.ml.inference",),
    ("toolkit.ml.compile",),
    ("toolkit.ml.tuning",),
    ("toolkit.ml.training",),
    ("toolkit.ml.store",),
    ("toolkit.ml.functions", "toolkit.ml.monitor"),
    ("toolkit.ml",),
    ("toolkit.runner",),
    ("toolkit.serve", "toolkit.docs"),
    ("toolkit.deploy",),
    ("toolkit.scaffold",),
    ("toolkit.display",),
    ("toolkit.cli",),
    ("toolkit.__main__",),
)



def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The toolkit module an imported name lives in (a module, or the package holding the imported attribute)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """Every toolkit module `module` imports, anywhere in the file (functions and TYPE_CHECKING included)."""
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append((node.lineno, target))
    return found


def _layer(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def _edges() -> list[tuple[str, int, str]]:
    return [(module, line, target) for module, path in MODULES.items() for line, target in _imports(module, path)]


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}"


def _is_package_of(package: str, module: str) -> bool:
    return module.startswith(package + ".") and MODULES[package].name == "__init__.py"


def test_no_upward_import() -> None:
    upward = [
        f"{_where(module, line)}: {module} (layer {_layer(module)}) -> {target} (layer {_layer(target)})"
        for module, line, target in _edges()
        if _layer(target) > _layer(module)
        and not _is_package_of(module, target)
    ]
    assert not upward, "imports of a later layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, _line, target in _edges():
        # A package's __init__ re-exporting its own modules is not a cycle of ideas; importing a package
        # from inside it is resolved to the module the name comes from where the test can tell.
        graph[module].add(target)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = error.args[1]
        lines = [
            f"{_where(a, line)}: {a} -> {b}"
            for a, b in zip(cycle, cycle[1:])
            for module, line, target in _edges()
            if (module, target) == (a, b)
        ]
        raise AssertionError("import cycle:\n" + "\n".join(lines)) from None


def test_toolkit_ml_imports_lazily() -> None:
    code = (
        "import sys, toolkit.ml\n"
        "loaded = sorted(m for m in sys.modules if m == 'sklearn' or m.startswith(('sklearn.', 'toolkit.ml.')))\n"
        "print('\\n'.join(loaded))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"`import toolkit.ml` loads: {loaded}"


def test_no_private_name_imported_from_another_module() -> None:
    private = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("toolkit"):
                private += [
                    f"{_where(module, node.lineno)}: {module} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert not private, "private names imported from another module:\n" + "\n".join(private)
