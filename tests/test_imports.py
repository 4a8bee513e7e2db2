"""The package's import structure: no import cycle, lazy top-level packages."""

import ast
import importlib
import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tf_sfw"

# Cycles that exist only through imports deferred into function bodies (so that importing
# any module still works), each a set of modules. Every other cycle is a defect.
KNOWN_DEFERRED_CYCLES = []


def _modules():
    """``{dotted module name: path}`` of every module of the package."""
    result = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        result[".".join(parts)] = path
    return result


MODULES = _modules()


def _parents(name):
    """The packages executed before ``name`` is imported (``a.b.c`` -> ``a``, ``a.b``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _targets(node):
    """The package modules an ``import`` / ``from ... import`` statement executes."""
    names = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
    found = set()
    for name in names:
        if name in MODULES:
            found.update([name] + [p for p in _parents(name) if p in MODULES])
    return found


def import_graph(deferred):
    """``{module: modules it imports}``: statements run at import time (module level and
    class bodies), plus those in function bodies when ``deferred``."""
    graph = {}
    for name, path in MODULES.items():
        edges = set()

        def visit(node, at_import):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)) and (at_import or deferred):
                    edges.update(_targets(child))
                in_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, at_import and not in_function)

        visit(ast.parse(path.read_text(encoding="utf-8")), True)
        edges.discard(name)
        edges.difference_update(_parents(name))  # a package's own parents run first anyway
        graph[name] = edges
    return graph


def cycles(graph):
    """Every elementary cycle found by a depth-first search, as lists ``[a, b, ..., a]``."""
    found, state = [], {}

    def dfs(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            dfs(node, [])
    return found


def test_graph_walker_sees_module_and_function_level_imports():
    eager, deferred = import_graph(deferred=False), import_graph(deferred=True)
    assert "tf_sfw.sets" in eager["tf_sfw.constraints"]  # from tf_sfw import set_sizes, sets
    assert "tf_sfw.lmo" in eager["tf_sfw.sets"]  # from tf_sfw import lmo as lmo_lib
    assert "tf_sfw.selection" in eager["tf_sfw.lmo"]
    assert "tf_sfw.pruning.masks" not in eager["tf_sfw.pruning.magnitude"]  # inside magnitude_masks
    assert "tf_sfw.pruning.masks" in deferred["tf_sfw.pruning.magnitude"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_among_module_level_imports():
    assert cycles(import_graph(deferred=False)) == []


def test_deferred_imports_add_no_new_cycle():
    unknown = [c for c in cycles(import_graph(deferred=True)) if set(c) not in KNOWN_DEFERRED_CYCLES]
    assert unknown == []


def test_pruning_retrain_cycle_is_gone():
    """magnitude -> masks -> retrain -> magnitude/masks: retrain now sits above both."""
    graph = import_graph(deferred=True)
    assert "tf_sfw.pruning.retrain" not in graph["tf_sfw.pruning.masks"]
    assert "tf_sfw.pruning.retrain" not in graph["tf_sfw.pruning.magnitude"]
    assert {"tf_sfw.pruning.masks", "tf_sfw.pruning.magnitude"} <= graph["tf_sfw.pruning.retrain"]


def _run(code):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
        cwd=str(ROOT.parent),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_is_lazy_until_a_name_is_touched():
    out = _run(
        """
        import json, sys
        import tf_sfw, tf_sfw.models, tf_sfw.pruning
        report = {"version": tf_sfw.__version__, "tf_after_import": "tensorflow" in sys.modules,
                  "tfmot_after_import": "tensorflow_model_optimization" in sys.modules}
        report["dir_has_all"] = all(set(p.__all__) <= set(dir(p)) for p in (tf_sfw, tf_sfw.models, tf_sfw.pruning))
        lmo = tf_sfw.lmo
        report["after_lmo"] = ["tensorflow" in sys.modules, "tf_sfw.optimizers" in sys.modules]
        report["sfw_module"] = tf_sfw.SFW.__module__
        try:
            tf_sfw.no_such_name
        except AttributeError as err:
            report["error"] = str(err)
        print(json.dumps(report))
        """
    )
    assert out["version"] == "0.1.0"
    assert out["tf_after_import"] is False and out["tfmot_after_import"] is False
    assert out["dir_has_all"] is True
    # touching a name imports its module only (the shared math imports TensorFlow on first use)
    assert out["after_lmo"] == [False, False]
    assert out["sfw_module"] == "tf_sfw.optimizers"
    assert "no_such_name" in out["error"]


@pytest.mark.parametrize("package", ["tf_sfw", "tf_sfw.models", "tf_sfw.pruning"])
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")


def test_functions_named_like_their_module_stay_functions():
    """``tf_sfw.sfw_init`` and ``tf_sfw.pruning.sweep`` are the functions, as the eager
    ``from .sfw_init import sfw_init`` made them, even after their modules are imported."""
    import tf_sfw
    import tf_sfw.pruning
    import tf_sfw.pruning.sweep
    import tf_sfw.sfw_init

    assert callable(tf_sfw.sfw_init) and tf_sfw.sfw_init.__name__ == "sfw_init"
    assert callable(tf_sfw.pruning.sweep) and tf_sfw.pruning.sweep.__name__ == "sweep"
    assert sys.modules["tf_sfw.sfw_init"].sfw_init is tf_sfw.sfw_init
