"""The package's shape, checked from its source: layers, cycles, module and function sizes.

The layers are those of ARCHITECTURE.md; a module may import from its own layer and the
layers below it, never from above, and the import graph (every ``import`` statement, also
those inside functions) has no cycles. The package facade ``bayesinv/__init__.py`` resolves
``bayesinv.sample`` and ``bayesinv.report`` lazily and is the one exemption.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bayesinv"

#: layer of each top-level part of the package, lowest first (ARCHITECTURE.md)
LAYERS = {
    "grid": 0,
    "io": 0,
    "_checks": 0,
    "_seeds": 0,
    "_progress": 0,
    "_deprecation": 0,
    "_numba": 0,
    "operators": 1,
    "formats": 1,
    "multiscale": 2,
    "ops": 3,
    "model": 4,
    "testing": 4,
    "synthetic": 4,
    "inference": 5,
    "diagnostics": 6,
    "calibration": 7,
    "studies": 8,
    "cli": 8,
}
#: the package facade resolves `bayesinv.sample` / `bayesinv.report` lazily
FACADE = "bayesinv"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: a module or function longer than the limit says why in this marker near its top
LONG_MARKER = "long:"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The package module an imported dotted name belongs to (longest known prefix)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in MODULES:
            return candidate
    return None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule `pkg.sub` when there is one,
            # otherwise a name defined in `pkg`
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> int | None:
    if module == FACADE:
        return None
    top = module.split(".")[1]
    return LAYERS.get(top)


def test_every_part_of_the_package_has_a_layer():
    missing = sorted({m.split(".")[1] for m in MODULES if m != FACADE and _layer(m) is None})
    assert not missing, f"add these to LAYERS (and ARCHITECTURE.md): {missing}"


def test_no_upward_imports():
    upward = []
    for module, targets in GRAPH.items():
        if module == FACADE:
            continue
        for target in targets:
            if target == FACADE:
                continue
            if _layer(target) > _layer(module):
                upward.append(
                    f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
                )
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = {m: t for m, t in GRAPH.items() if m != FACADE}
    assert _cycles(graph) == []


def test_cycle_detector_finds_a_cycle():
    # negative control: a cycle through three modules is found
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_upward_import_is_detected(tmp_path):
    # negative control: a model-layer module importing the studies layer is flagged
    assert _layer("bayesinv.model.builder") < _layer("bayesinv.studies.demo")


def _has_marker(lines: list[str]) -> bool:
    return any(LONG_MARKER in line.lower() for line in lines)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_and_function_sizes(module):
    path = MODULES[module]
    text = path.read_text()
    lines = text.splitlines()
    problems = []
    if len(lines) > MAX_MODULE_LINES and not _has_marker(lines[:15]):
        problems.append(
            f"{len(lines)} lines (> {MAX_MODULE_LINES}) without a '{LONG_MARKER}' "
            "reason in its first 15 lines"
        )
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:] or body  # the docstring does not count
            n = body[-1].end_lineno - body[0].lineno + 1
            head = lines[node.lineno - 1 : node.lineno + 40]
            if n > MAX_FUNCTION_LINES and not _has_marker(head):
                problems.append(f"{node.name}: body of {n} lines (> {MAX_FUNCTION_LINES})")
    assert not problems, f"{path.relative_to(ROOT.parent)}: " + "; ".join(problems)
