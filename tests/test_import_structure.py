"""The package's import structure: no import hidden inside a function, no import cycle.

An import inside a function usually dodges a cycle between two modules that should
be one, or be split differently; it also hides a module's dependencies from its top.
The only one kept is listed below with its reason (start-up cost, not a cycle), and
the cycle check proves none is needed: the module graph has no cycle except a
package's view modules importing the package's own blueprint (`from . import bp`).

Imports only flow downward (issue 27): between the parts of campaign/ (its packages and
top-level modules) in the order of LAYERS in campaign/__init__.py, between the domain
packages of campaign/services in the order of LAYERS in campaign/services/__init__.py
(both bottom first), and inside every package no two parts import each other, even
through others.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "campaign"

# (module, imported module) -> why it is imported inside a function.
ALLOWED_LAZY = {
    ("campaign.services.exports.delivery", "campaign.services.pages.pdf"): (
        "WeasyPrint loads Pango and fonts (seconds, ~30 MB), only for a delivery pack"
    ),
    ("campaign.services.paper.sheets", "campaign.services.pages.pdf"): (
        "the same WeasyPrint, only when paper sheets are printed"
    ),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache  # parsed once for every check here
def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute names an import statement loads (`from . import x` names x)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def function_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            found += [n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def lazy_imports() -> dict[tuple[str, str], int]:
    """(module, imported module) -> line, for every import inside a function."""
    found = {}
    for name, tree in modules().items():
        for node in function_imports(tree):
            names = imported(name, is_package(name), node)
            target = next((n for n in names[1:] if is_module(n)), names[0])
            found[(name, target)] = node.lineno
    return found


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").is_file()


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """Module -> the campaign modules it imports when it is loaded (its top level)."""
    trees = modules()
    graph: dict[str, set[str]] = {name: set() for name in trees}
    for name, tree in trees.items():
        hidden = set(function_imports(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node not in hidden:
                for target in imported(name, is_package(name), node):
                    # A package's modules may import names from the package itself.
                    if target in trees and not name.startswith(target + "."):
                        graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_inside_a_function_but_the_listed_ones():
    found = lazy_imports()
    unexpected = {key: line for key, line in found.items() if key not in ALLOWED_LAZY}
    assert not unexpected, (
        "imports inside functions (move them to the top of the module; if that makes a "
        "cycle, move the code to the module that owns it): "
        + ", ".join(f"{m}:{line} imports {t}" for (m, t), line in sorted(unexpected.items()))
    )
    assert set(ALLOWED_LAZY) <= set(found), "stale ALLOWED_LAZY entries"


def test_no_import_cycle_between_campaign_modules():
    graph = import_graph()
    assert graph["campaign.petition.signing.routes"], (
        "the walk found no imports: the test is broken"
    )
    assert cycles(graph) == []


def test_the_checks_see_a_hidden_import_and_a_cycle():
    # A function-level import of a campaign module is seen, resolved from a relative name.
    tree = ast.parse("def f():\n    from ..services.signatures import signing\n")
    (node,) = function_imports(tree)
    assert "campaign.services.signatures.signing" in imported(
        "campaign.petition.routes", False, node
    )
    # Two modules importing each other make one cycle; a package's own modules don't.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


# The parts of campaign/ and the domain packages of campaign/services (issue 27): imports
# only flow downward.


def layers(package: Path = PACKAGE / "services") -> list[str]:
    """The package's parts, bottom first, as its __init__.py declares them (LAYERS)."""
    tree = ast.parse((package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "LAYERS" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{package}/__init__.py declares no LAYERS")


def part(module: str, package: str = "campaign.services") -> str | None:
    """The part of `package` a module lives in: `campaign.services.sealing.crypto` ->
    "sealing"; None outside the package, and for the package's own __init__."""
    prefix = package + "."
    return module[len(prefix) :].split(".")[0] if module.startswith(prefix) else None


def upward_imports(
    graph: dict[str, set[str]], order: list[str], package: str = "campaign.services"
) -> list[str]:
    """Every import of a later (higher) part of the package from an earlier (lower) one."""
    rank = {name: place for place, name in enumerate(order)}
    found = []
    for module, targets in graph.items():
        for target in targets:
            low, high = part(module, package), part(target, package)
            if low in rank and high in rank and rank[high] > rank[low]:
                found.append(f"{module} ({low}) imports {target} ({high})")
    return sorted(found)


def full_graph() -> dict[str, set[str]]:
    """The import graph with the imports inside functions too."""
    graph = import_graph()
    for module, target in lazy_imports():
        graph[module].add(target)
    return graph


def parts_of(directory: Path) -> list[str]:
    """A package's parts: its modules (but __init__) and its sub-packages."""
    modules = [p.stem for p in directory.glob("*.py") if p.name != "__init__.py"]
    return sorted(modules + [p.parent.name for p in directory.glob("*/__init__.py")])


def test_every_service_module_lives_in_a_declared_domain():
    order = layers()
    services = PACKAGE / "services"
    loose = sorted(p.name for p in services.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"put these in a domain package of campaign/services: {loose}"
    packages = sorted(p.parent.name for p in services.glob("*/__init__.py"))
    assert packages == sorted(order), "LAYERS must name every package of campaign/services"


def test_imports_between_domains_only_flow_downward():
    assert upward_imports(full_graph(), layers()) == []


def test_every_part_of_campaign_is_in_a_declared_layer():
    assert parts_of(PACKAGE) == sorted(layers(PACKAGE)), (
        "LAYERS in campaign/__init__.py must name every package and module of campaign/"
    )


def test_imports_between_the_parts_of_campaign_only_flow_downward():
    assert upward_imports(full_graph(), layers(PACKAGE), "campaign") == []


def part_graph(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    """Part of `package` -> the parts of it that its modules import."""
    parts: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if (low := part(module, package)) is None:
            continue
        parts.setdefault(low, set())
        for target in targets:
            if (high := part(target, package)) not in (None, low):
                parts[low].add(high)
                parts.setdefault(high, set())
    return parts


def test_no_two_parts_of_a_package_import_each_other():
    graph = full_graph()
    packages = sorted(name for name in graph if is_package(name))
    assert "campaign.petition.signing" in packages, "the walk found no sub-packages"
    found = {p: c for p in packages if (c := cycles(part_graph(graph, p)))}
    assert found == {}, "parts of a package that import each other (move the shared code)"


def test_the_layer_check_sees_an_upward_import():
    graph = {
        "campaign.services.low.a": {"campaign.services.high.b", "campaign.models"},
        "campaign.services.high.b": {"campaign.services.low", "campaign.services.low.a"},
    }
    assert upward_imports(graph, ["low", "high"]) == [
        "campaign.services.low.a (low) imports campaign.services.high.b (high)"
    ]
    # Two parts of a package in a cycle through a third; the package's own face is no part.
    graph = {
        "campaign.petition": {"campaign.petition.signing.routes"},
        "campaign.petition.signing.routes": {"campaign.petition.pages", "campaign.petition"},
        "campaign.petition.pages": {"campaign.petition.forms"},
        "campaign.petition.forms": {"campaign.petition.signing"},
    }
    assert cycles(part_graph(graph, "campaign.petition")) == [["forms", "pages", "signing"]]
