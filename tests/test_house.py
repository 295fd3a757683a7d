"""The house rules (issue 21), read from the package's own code with ``ast``: each test fails
when a change breaks its rule, and names the modules and lines to look at.

- no module of ``lifbatch/`` over :data:`MAX_LINES` lines;
- the import graph, function-level imports included, has no cycle;
- no private name (``_x``) of one lifbatch module imported or reached by another;
- the layers (:data:`LAYERS`, lowest first): no import points up a layer;
- every function-level import of a lifbatch module or of a heavy library says why it is
  there, on its line or the line above (a run of imports under one comment shares it).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lifbatch"

MAX_LINES = 800

#: The package's layers, lowest first (module names relative to ``lifbatch``; a package is
#: named by its folder, e.g. ``models`` for models/__init__.py). A module imports modules of
#: its own layer and of the layers below it, never above. A new module goes in one of them.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "ground: errors, configuration, pure identities and specs",
        {"__init__", "errors", "config", "atomic", "pause", "grid", "identity", "provenance", "specs"},
    ),
    (
        "numerics: the kernel and the neuron models",
        {
            "kernel",
            "models",
            "models.base",
            "models.loops",
            "models.lanes",
            "models.lif",
            "models.lif_loop",
            "models.adex",
            "models.adex_loop",
            "models.izhikevich",
            "models.izhikevich_loop",
            "models.hh_traub",
            "models.hh_traub_loop",
        },
    ),
    (
        "units, messages, one value, the drive kinds, the store's layout",
        {"units", "messages", "values", "plausibility", "drives", "layout"},
    ),
    (
        "the workflow: its sections, caps and checks",
        {
            "checks",
            "limits",
            "design",
            "sections",
            "sections.neuron",
            "sections.inputs",
            "sections.sweep",
            "sections.outputs",
            "workflow",
        },
    ),
    (
        "a point's computation, the plan, where a store's bytes live",
        {"streams", "point", "inputs", "adaptation", "plan", "storage", "storage.base", "storage.posix", "storage.s3"},
    ),
    (
        "the store and its control plane (lease, markers, recovery)",
        {"lease", "markers", "swap", "template", "state", "verify", "store", "growth", "control"},
    ),
    # query is here, not with the views: summaries (selection) reads its --sel parser
    ("the unit of work, the summaries, reading results", {"block", "summaries", "query", "theory"}),
    ("running sweeps and what runs them again", {"execute", "cluster", "summarize", "refine", "fitting"}),
    (
        "figures, the review app, reports, exports, status",
        {
            "figures",
            "figures.core",
            "figures.sampled",
            "figures.traces",
            "plotting",
            "plotting.base",
            "plotting.point",
            "plotting.sampled",
            "plotting.summary",
            "bokeh_figures",
            "review",
            "review_store",
            "review_http",
            "report",
            "status",
            "neo",
            "nwb",
        },
    ),
    ("the command line", {"cli"}),
]

#: imports allowed to point up a layer, (importer, imported) -> why. None today.
UPWARD: dict[tuple[str, str], str] = {}

#: cycles allowed, as the set of their modules -> why. None today (storage/base.py holds the
#: interface its implementations import, so the package's face no longer sits in a loop with them);
#: an entry whose cycle is gone fails too, so that this only shrinks.
PENDING_CYCLES: dict[frozenset[str], str] = {}

#: private names one module may reach in another, (importer, owner, name) -> why. None today.
PRIVATE_ALLOWED: dict[tuple[str, str, str], str] = {}

#: libraries slow to import (or optional extras): importing one inside a function says why
HEAVY = {
    "xarray",
    "zarr",
    "dask",
    "distributed",
    "dask_jobqueue",
    "pandas",
    "numba",
    "llvmlite",
    "holoviews",
    "hvplot",
    "bokeh",
    "panel",
    "tornado",
    "scipy",
    "obstore",
    "s3fs",
    "boto3",
    "botocore",
    "neo",
    "quantities",
    "pynwb",
    "hdmf",
    "optuna",
    "matplotlib",
    "brian2",
    "elephant",
    "nwbinspector",
}

#: Files whose function-level imports may go unexplained. None today: keep it so (a file listed
#: here whose imports all say why fails, so that this set only shrinks).
PENDING: set[str] = set()


# --------------------------------------------------------------------------- reading the code
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(name: str) -> ast.Module:
    return ast.parse(_modules()[name].read_text(), filename=str(_modules()[name]))


def _package_of(name: str) -> list[str]:
    """The package a module's relative imports start from."""
    if name == "__init__":
        return []
    parts = name.split(".")
    return parts if _modules()[name].name == "__init__.py" else parts[:-1]


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str | None]]:
    """The lifbatch modules an import statement of module ``name`` imports, each with the
    name it takes from that module (None: the module itself)."""
    mods = _modules()
    out: list[tuple[str, str | None]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "lifbatch" or alias.name.startswith("lifbatch."):
                out.append((alias.name.removeprefix("lifbatch").removeprefix(".") or "__init__", None))
        return out
    if node.level:
        pkg = _package_of(name)
        base = pkg[: len(pkg) - node.level + 1] + (node.module.split(".") if node.module else [])
    elif node.module and (node.module == "lifbatch" or node.module.startswith("lifbatch.")):
        base = node.module.split(".")[1:]
    else:
        return out
    owner = ".".join(base) or "__init__"
    for alias in node.names:
        sub = ".".join(base + [alias.name])
        out.append((sub, None) if sub in mods else (owner, alias.name))
    return out


def _imports(name: str):
    """(import node, whether it is inside a function) for every import of a module."""

    def walk(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            yield from walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    yield from walk(_tree(name), False)


@cache
def _graph() -> dict[str, dict[str, int]]:
    """{importer: {imported: first line}} over the package, function-level imports included."""
    graph: dict[str, dict[str, int]] = {}
    for name in _modules():
        edges = graph.setdefault(name, {})
        for node, _ in _imports(name):
            for target, _name in _targets(name, node):
                if target != name and target in _modules():
                    edges.setdefault(target, node.lineno)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _path_in(component: set[str], graph: dict[str, dict[str, int]]) -> str:
    """The shortest loop through a cycle's first module (by name), with the line of each
    import, for the message."""
    start = min(component)
    came: dict[str, str] = {}
    queue = [start]
    while queue:  # breadth first, back to the start
        node = queue.pop(0)
        for nxt in sorted(graph[node]):
            if nxt == start:
                loop = [(node, start)]
                while loop[-1][0] != start:
                    loop.append((came[loop[-1][0]], loop[-1][0]))
                steps = [f"{b} (line {graph[a][b]} of {a})" for a, b in reversed(loop)]
                return " -> ".join([start, *steps])
            if nxt in component and nxt not in came:
                came[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no loop through {start} in {sorted(component)}")


def _comment_lines(name: str) -> dict[int, str]:
    """{line: comment} of a module's comments that say something (not only a pragma)."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(_modules()[name].read_text()).readline):
        if tok.type == tokenize.COMMENT:
            text = _PRAGMA.sub("", tok.string.lstrip("#")).strip(" -#")
            if text:
                out[tok.start[0]] = text
    return out


#: a linter's or type checker's pragma, which says nothing of why
_PRAGMA = re.compile(r"\s*(noqa(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?|pragma:\s*no cover)")


# --------------------------------------------------------------------------- the rules
def test_no_module_is_over_the_line_cap():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    assert "workflow" in graph["cli"] and "store" in graph["execute"], "the graph reads function-level imports"
    cycles = _cycles(graph)
    new = [c for c in cycles if frozenset(c) not in PENDING_CYCLES]
    assert not new, "import cycles: " + "; ".join(_path_in(c, graph) for c in new)
    gone = [sorted(c) for c in PENDING_CYCLES if set(c) not in cycles]
    assert not gone, f"PENDING_CYCLES names cycles that are gone (drop them): {gone}"


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert _cycles(graph) == [{"a", "b", "c"}]
    assert _path_in({"a", "b", "c"}, graph) == "a -> b (line 1 of a) -> c (line 2 of b) -> a (line 3 of c)"
    # a dead end inside the component (b -> e -> f -> b) is not the loop through a
    graph = {"a": {"b": 1}, "b": {"e": 2, "z": 5}, "e": {"f": 3}, "f": {"b": 4}, "z": {"a": 6}}
    assert _cycles(graph) == [{"a", "b", "e", "f", "z"}]
    assert _path_in({"a", "b", "e", "f", "z"}, graph) == "a -> b (line 1 of a) -> z (line 5 of b) -> a (line 6 of z)"


def _private_uses(name: str) -> list[str]:
    """Where module ``name`` imports or reaches a private name (``_x``, not ``__x__``) of
    another lifbatch module, but for :data:`PRIVATE_ALLOWED`."""
    found = []
    aliases: dict[str, str] = {}  # local name -> the lifbatch module it is bound to
    for node, _ in _imports(name):
        for target, taken in _targets(name, node):
            if taken is not None and taken.startswith("_") and not taken.startswith("__") and target != name:
                if (name, target, taken) not in PRIVATE_ALLOWED:
                    found.append(f"{name} line {node.lineno}: imports {target}.{taken}")
        for alias in node.names:
            if isinstance(node, ast.Import) and alias.asname is None:
                continue  # (`import lifbatch.x`: reached as lifbatch.x._y, below)
            for target, taken in _targets(name, node):
                if taken is None and target.rsplit(".", 1)[-1] == alias.name.rsplit(".", 1)[-1]:
                    aliases[alias.asname or alias.name] = target
    for node in ast.walk(_tree(name)):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
            continue
        owner = None
        if isinstance(node.value, ast.Name):
            owner = aliases.get(node.value.id)
        elif isinstance(node.value, ast.Attribute):  # lifbatch.x._name
            dotted = ast.unparse(node.value)
            if dotted.startswith("lifbatch."):
                owner = dotted.removeprefix("lifbatch.")
        if owner and owner != name and owner in _modules() and (name, owner, node.attr) not in PRIVATE_ALLOWED:
            found.append(f"{name} line {node.lineno}: reaches {owner}.{node.attr}")
    return found


def test_no_private_name_crosses_modules():
    found = [use for name in _modules() for use in _private_uses(name)]
    assert not found, "private names used across modules (make them public, or move them): " + "; ".join(found)


def test_the_private_name_reader(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("_hidden = 1\nshown = 2\n")
    (tmp_path / "b.py").write_text("from .a import _hidden, shown\n")
    (tmp_path / "c.py").write_text("from . import a\n\n\ndef f():\n    return a._hidden + a.shown\n")
    (tmp_path / "d.py").write_text("import lifbatch.a\n\nx = lifbatch.a._hidden\n")
    (tmp_path / "e.py").write_text("from .a import __doc__, shown as _shown\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    for f in (_modules, _tree):
        f.cache_clear()
    try:
        found = {name: _private_uses(name) for name in ("a", "b", "c", "d", "e")}
    finally:
        for f in (_modules, _tree):
            f.cache_clear()
    assert found == {
        "a": [],
        "b": ["b line 1: imports a._hidden"],
        "c": ["c line 5: reaches a._hidden"],
        "d": ["d line 3: reaches a._hidden"],
        "e": [],
    }


def _layer_of() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, (_, members) in enumerate(LAYERS):
        for member in members:
            assert member not in out, f"{member} is in two layers"
            out[member] = i
    return out


def test_every_module_has_a_layer():
    layer = _layer_of()
    missing = sorted(set(_modules()) - set(layer))
    stale = sorted(set(layer) - set(_modules()))
    assert not missing, f"modules in no layer of LAYERS (add each to the layer it belongs to): {missing}"
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_no_import_points_up_a_layer():
    layer = _layer_of()
    up = [
        f"{importer} (line {line}, layer {layer[importer]}: {LAYERS[layer[importer]][0]}) imports "
        f"{imported} (layer {layer[imported]}: {LAYERS[layer[imported]][0]})"
        for importer, edges in _graph().items()
        for imported, line in edges.items()
        if layer.get(importer, 0) < layer.get(imported, 0) and (importer, imported) not in UPWARD
    ]
    assert not up, "imports pointing up a layer: " + "; ".join(up)
    assert len(UPWARD) <= 2, "issue 21 allows at most 2 imports up a layer"


def _unexplained(name: str) -> list[int]:
    """Lines of a module's function-level imports of lifbatch or heavy modules that do not
    say why they are there (a comment on the import's lines or the line above it; a run of
    imports shares the comment above its first)."""
    comments = _comment_lines(name)
    text = _modules()[name].read_text().splitlines()
    explained_ends: set[int] = set()
    out = []
    for node, in_function in sorted(_imports(name), key=lambda item: item[0].lineno):
        if not in_function:
            continue
        heavy = isinstance(node, ast.Import) and any(a.name.split(".")[0] in HEAVY for a in node.names)
        heavy = heavy or (
            isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in HEAVY
        )
        ours = bool(_targets(name, node))
        lines = range(node.lineno - 1, node.end_lineno + 1)
        above = node.lineno - 1
        while above > 0 and not text[above - 1].strip():  # (isort's blank line between groups)
            above -= 1
        if any(line in comments for line in lines) or above in explained_ends:
            explained_ends.add(node.end_lineno)
        elif heavy or ours:
            out.append(node.lineno)
    return out


def _relative(name: str) -> str:
    return str(_modules()[name].relative_to(PACKAGE))


def test_every_deferred_import_says_why():
    missing = {}
    for name in _modules():
        if _relative(name) in PENDING:
            continue
        lines = _unexplained(name)
        if lines:
            missing[_relative(name)] = lines
    assert not missing, (
        "function-level imports without a comment saying why (e.g. '# (deferred: keeps --help "
        f"and validate fast)'), or that could move to the top: {missing}"
    )
    done = sorted(p for p in PENDING if not _unexplained(_module_name(PACKAGE / p)))
    assert not done, f"PENDING lists files whose deferred imports all say why (drop them): {done}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import xarray\n", [2]),
        ("def f():\n    import xarray  # (deferred: --help)\n", []),
        ("def f():\n    # (deferred: --help)\n    import xarray\n\n    from . import units\n", []),
        ("def f():\n    # (deferred: --help)\n    import xarray\n    x = 1\n    from . import units\n", [5]),
        ("def f():\n    import xarray  # noqa: F401\n", [2]),
        ("def f():\n    import xarray  # noqa: F401 - the registry\n", []),
        ("def f():\n    import json\n", []),
        ("import xarray\n", []),
    ],
)
def test_the_deferred_import_reader(tmp_path, monkeypatch, source, expected):
    (tmp_path / "probe.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    for f in (_modules, _tree):
        f.cache_clear()
    try:
        assert _unexplained("probe") == expected
    finally:
        for f in (_modules, _tree):
            f.cache_clear()
