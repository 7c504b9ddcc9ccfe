"""The package's layers: each module imports only from its own layer or lower ones, and no import cycle.

Read from the source with ``ast`` (imports inside functions count too: a lazy import is still a dependency),
so the test needs no import-linter and sees every module whether or not it is importable on its own.
"""

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "src" / "neuroconv_brand"

#: The layers, lowest first; a module may import from its own layer and any layer before it. A name is a
#: subpackage or a module directly under the package; "neuroconv_brand" is the package's own __init__.py.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "schemas_io", "interruption", "environment"),
    ("graph",),
    ("sources",),
    ("mechanisms",),
    ("reading",),
    ("timing",),
    ("participant",),
    ("extractors",),
    ("nwb",),
    ("interfaces",),
    ("converter",),
    ("testing",),
    ("apps",),
    ("cli",),
    ("neuroconv_brand",),
)
MAX_TOP_LEVEL_MODULES = 8


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports (``from pkg import submodule`` counts as the submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [
                f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules
            ]
            targets = targets or [target]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` imports a.b.c, or an attribute of a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else parts[0]
    for index, names in enumerate(LAYERS):
        if key in names:
            return index
    raise AssertionError(
        f"{module} is in no layer: put it in one of the subpackages, or add "
        f"'{key}' to LAYERS in {Path(__file__).name} at its place in the order"
    )


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_layer():
    for module in all_modules():
        layer_of(module)


def test_few_modules_at_the_top_of_the_package():
    top = sorted(path.name for path in PACKAGE_ROOT.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"move some of these into a layer subpackage: {top}"


def test_no_module_imports_from_a_higher_layer():
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    }
    assert upward == set(), "these imports point up the layers (see LAYERS)"


def test_no_import_cycle():
    assert sorted(sorted(component) for component in cycles(import_graph())) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [{"a", "b", "c"}]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [{"a", "b"}, {"c", "d"}]),
    ],
)
def test_cycle_finder(graph, expected):
    assert sorted(map(sorted, cycles(graph))) == sorted(map(sorted, expected))


def test_import_reader_sees_lazy_relative_and_submodule_imports(tmp_path):
    source = "from .b import x\nfrom . import c\n\ndef f():\n    from ..top import y\n"
    modules = {
        name: tmp_path / "unused.py"
        for name in (
            "neuroconv_brand.pkg.a",
            "neuroconv_brand.pkg.b",
            "neuroconv_brand.pkg.c",
            "neuroconv_brand.top",
        )
    }
    module_file = tmp_path / "a.py"
    module_file.write_text(source)
    found = imported_modules("neuroconv_brand.pkg.a", module_file, modules)
    assert found == {"neuroconv_brand.pkg.b", "neuroconv_brand.pkg.c", "neuroconv_brand.top"}
