"""The package's shape: imports go down the layers of the Architecture page and
never in a cycle, and modules and functions stay small enough to read."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sktorch_linear"

# Bottom to top, as docs/architecture.rst draws them. A module imports from its
# own layer (without a cycle) or from the layers below it, never from above.
LAYERS = [
    (
        "primitives",
        [
            "_version",
            "_extended",
            "_linalg",
            "_warnings",
            "_checkpoint",
            "_module",
            "_device",
            "_threads",
        ],
    ),
    (
        "data",
        ["_scaling", "_moments", "_folds", "_data", "_config", "_validation", "_dask"],
    ),
    (
        "solver parts",
        [
            "solvers._base",
            "solvers._policy",
            "solvers._elastic_net",
            "solvers._penalised",
            "solvers._refinement",
            "solvers._optimality",
            "solvers._duality",
            "solvers._passes",
            "solvers._dask_passes",
            "solvers._robust",
            "solvers._scale",
            "solvers._vertex",
            "solvers._callbacks",
            "solvers._net",
            "solvers._persist",
        ],
    ),
    (
        "exact families",
        [
            "solvers.least_squares",
            "solvers.coordinate_descent",
            "solvers.interior_point",
            "solvers._boundary",
            "solvers.newton",
            "solvers.path",
            "solvers.robust_path",
            "solvers.huber_path",
            "solvers.preprocessed",
        ],
    ),
    ("certification", ["solvers._certify", "solvers._collinear"]),
    ("gradient families", ["solvers.gradient", "solvers.dask_gradient"]),
    ("dispatch", ["solvers"]),
    (
        "fitted models",
        [
            "_results",
            "_bootstrap",
            "_sandwich",
            "_inference",
            "_quantile_inference",
            "_export",
            "_fitted",
        ],
    ),
    ("model selection", ["_scores", "_search"]),
    ("estimator", ["_statistics", "_regressor", "_refit", "_cv"]),
    ("entry points", ["_onnx", "", "__main__"]),
]
LAYER = {module: i for i, (_, modules) in enumerate(LAYERS) for module in modules}

MAX_MODULE_LINES = 450
MAX_ESTIMATOR_LINES = 750
MAX_METHOD_LINES = 35  # in the estimator
MAX_FUNCTION_LINES = 60


def _name(path):
    """The module's name relative to the package: "" for the package itself,
    "solvers" for the subpackage."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources():
    return {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name, path, modules):
    """The package's modules that ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if name else []
    if not is_package:
        base = base[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module.split(".") if node.module else []
            if node.level:
                target = base[: len(base) - node.level + 1] + module
            elif module[:1] == ["sktorch_linear"]:
                target = module[1:]
            else:
                continue
            for alias in node.names:
                candidate = ".".join(target + [alias.name])
                found.add(candidate if candidate in modules else ".".join(target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sktorch_linear."):
                    found.add(alias.name.split(".", 1)[1])
    return {module for module in found if module in modules and module != name}


def _graph():
    sources = _sources()
    return {name: _imports(name, path, sources) for name, path in sources.items()}


def test_every_module_has_a_layer():
    """Check that the layer list names every module of the package (a new
    module takes its place there and on the Architecture page)."""
    assert set(_sources()) == set(LAYER)


def test_imports_go_down_the_layers():
    """Check that no module imports from a layer above its own."""
    upward = [
        f"{name} ({LAYERS[LAYER[name]][0]}) imports {other} ({LAYERS[LAYER[other]][0]})"
        for name, imported in _graph().items()
        for other in imported
        if LAYER[other] > LAYER[name]
    ]
    assert not upward, upward


def test_no_import_cycles():
    """Check that the import graph of the package has no cycle."""
    graph, state, cycles = _graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                cycles.append(path[path.index(other) :] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_the_graph_sees_the_imports():
    """Check the import reader on known edges (relative, from-package and
    absolute forms)."""
    graph = _graph()
    assert "solvers._certify" in graph["solvers.gradient"]
    assert "solvers" in graph["_regressor"]
    assert "solvers._policy" in graph["_regressor"]
    assert "_regressor" in graph["_onnx"]
    assert "solvers.newton" in graph["solvers._certify"]


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _body_lines(node):
    """Lines of a function's body, its docstring left out."""
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    if not body:
        return 0
    return body[-1].end_lineno - body[0].lineno + 1


@pytest.mark.parametrize("name", sorted(_sources()))
def test_module_and_function_sizes(name):
    """Check that the estimator's module is at most 750 lines with methods of
    at most 35, every other module at most 450, and every function body at
    most 60 lines."""
    path = _sources()[name]
    text = path.read_text()
    n_lines = len(text.splitlines())
    tree = ast.parse(text)
    if name == "_regressor":
        assert n_lines <= MAX_ESTIMATOR_LINES, n_lines
        limit = MAX_METHOD_LINES
    else:
        assert n_lines <= MAX_MODULE_LINES, n_lines
        limit = MAX_FUNCTION_LINES
    long = {
        node.name: _body_lines(node)
        for node in _functions(tree)
        if _body_lines(node) > limit
    }
    assert not long, long
