"""The core's modules import each other in one direction: no circle, not even through imports
inside functions (they hide a circle; they do not remove it)."""

import ast

from .conftest import ROOT


def module_graph() -> dict[str, set[str]]:
    """benchbox module -> the benchbox modules it imports anywhere in its file (a submodule
    imported from its package counts as the submodule)."""
    package = ROOT / "benchbox"
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        here = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in names else base)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {e for e in edges if e in names and e != name}
    return graph


def test_the_core_has_no_import_circle():
    graph = module_graph()
    assert "benchbox.report.compute" in graph and "benchbox.tables" in graph["benchbox.report.compute"]
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != "open", "import circle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_every_package_is_in_the_wheel():
    """setuptools installs only the packages pyproject lists: a method or dataset folder left out
    imports in an editable install (the tests') and fails in a real one."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    roots = {
        "benchbox": ROOT / "benchbox",
        "benchbox.methods": ROOT / "methods",
        "benchbox.datasets": ROOT / "datasets",
    }
    found = {
        ".".join([prefix, *init.parent.relative_to(root).parts])
        for prefix, root in roots.items()
        for init in root.rglob("__init__.py")
    }
    assert found - listed == set()
