"""The layout's rules: who may import whom, no import cycles, nothing at import time."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("HMR", "src", "model_utils")
# a package may import the packages listed (and itself): HMR is the bottom, model_utils is beside it
ALLOWED = {"HMR": set(), "model_utils": set(), "src": {"HMR", "model_utils"}}
# the job folders of src/: none imports another (what several share lives in the layers below them:
# src/inference, src/data, src/builders.py, ...); only the README's main job (src/main_job) calls them
JOB_FOLDERS = ("training", "evaluation", "deployment", "demo", "video")
MAIN_JOB = "main_job"


def _modules():
    """{dotted module name: file path} of every module in the three packages."""
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = path
    return found


def _imports(path, module_level_only, modules=()):
    """Project modules imported by a file (every import, or only those run when it is imported).
    ``from package import submodule`` counts as importing the submodule."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    nodes = tree.body if module_level_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
            out.update(submodules or {node.module})
    return {name for name in out if name.split(".")[0] in PACKAGES}


def test_packages_import_only_what_the_layout_allows():
    wrong = []
    for module, path in _modules().items():
        package = module.split(".")[0]
        for imported in _imports(path, module_level_only=False):
            target = imported.split(".")[0]
            if target != package and target not in ALLOWED[package]:
                wrong.append(f"{module} imports {imported}")
    assert not wrong, wrong


def _job_folder(module):
    """The src/ job folder a module belongs to (``training``, ...), ``main_job``, or None (a shared layer)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "src" and len(parts) > 2 and parts[1] in JOB_FOLDERS + (MAIN_JOB,) else None


def job_folder_violations(modules):
    """``"<module> imports <module>"`` for every import (inside functions too) from one job folder into
    another, or from a shared layer into a job folder; only the main job may call the jobs."""
    wrong = []
    for module, path in modules.items():
        own = _job_folder(module)
        for imported in _imports(path, module_level_only=False, modules=modules):
            target = _job_folder(imported)
            if target is not None and target != own and own != MAIN_JOB:
                wrong.append(f"{module} imports {imported}")
    return sorted(wrong)


def import_cycles(modules):
    """Cycles in the graph of every import between project modules, inside functions too: an import
    that runs late still ties the two modules together."""
    graph = {m: {i for i in _imports(p, False, modules) if i in modules and i != m} for m, p in modules.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"
    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_cycles():
    cycles = import_cycles(_modules())
    assert not cycles, cycles


def test_no_job_folder_imports_another():
    wrong = job_folder_violations(_modules())
    assert not wrong, wrong


def test_importing_any_module_runs_nothing():
    """Every module imports without MindSpore being loaded for HMR's package, without output,
    without touching the working folder (no set_context, no file writes at import)."""
    code = ("import importlib, sys\n"
            f"names = {sorted(_modules())!r}\n"
            "for n in names:\n"
            "    importlib.import_module(n)\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_importing_the_network_package_does_not_load_mindspore():
    """The CPU ISA cap must be set before MindSpore loads: ``import HMR`` and the registries stay light."""
    code = ("import sys, HMR, HMR.backbones, HMR.heads, HMR.constants\n"
            "print('mindspore' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.stdout.strip() == "False", result.stderr[-2000:]


@pytest.mark.parametrize("kind", ["backbone", "head"])
def test_unknown_component_names_list_the_known_ones(kind):
    from HMR.backbones import build_backbone
    from HMR.heads import build_head
    from HMR.registry import UnknownComponentError
    with pytest.raises(UnknownComponentError) as err:
        build_backbone("vgg16") if kind == "backbone" else build_head("linear", 2048, {})
    known = "hrnet, hybrik_hrnet, hybrik_resnet, pose_hrnet, resnet, vit_b16, vit_h16, vit_l16" if kind == "backbone" \
        else "axis_angle, cliff, crowdnet, hmr2, hybrik, rot6d"
    assert str(err.value) == (f"unknown {kind} 'vgg16'; known: {known}" if kind == "backbone" else
                              f"unknown {kind} 'linear'; known: {known}")


def _top_level_names(path):
    """Names a module defines or imports at its top level."""
    names = set()
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(t.id for t in ast.walk(target) if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _importers():
    """{name: path} of every Python file that may import the project: its packages, the entry
    points at the top level and the tests."""
    files = dict(_modules())
    for folder, _, names in os.walk(os.path.join(ROOT, "tests")):
        files.update({os.path.relpath(os.path.join(folder, n), ROOT): os.path.join(folder, n)
                      for n in names if n.endswith(".py")})
    files.update({n: os.path.join(ROOT, n) for n in os.listdir(ROOT) if n.endswith(".py")})
    return files


def test_every_project_import_resolves():
    """Imports inside functions too (they run late), in the packages, the entry points and the
    tests: each ``from X import Y`` names a module X of the project and a submodule or top-level
    name Y of it."""
    modules = _modules()
    lazy = {"HMR": {"SMPL", "load_smpl_model", "SMPLModelError"}}        # HMR/__init__.py's lazy names
    broken = []
    for module, path in _importers().items():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Import):
                broken += [f"{module}: import {a.name}" for a in node.names
                           if a.name.split(".")[0] in PACKAGES and a.name not in modules]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                if node.module not in modules:
                    broken.append(f"{module}: from {node.module}")
                    continue
                known = _top_level_names(modules[node.module]) | lazy.get(node.module, set())
                broken += [f"{module}: from {node.module} import {a.name}" for a in node.names
                           if f"{node.module}.{a.name}" not in modules and a.name not in known]
    assert not broken, broken


# the registries that define the names (and may therefore spell them)
NAME_REGISTRIES = ("HMR/architectures.py", "HMR/heads/__init__.py", "HMR/backbones/__init__.py",
                   "HMR/cameras/__init__.py")


def _component_names():
    """Every architecture, head and camera name the registries know."""
    from HMR.architectures import ARCHITECTURES
    from HMR.cameras import CAMERAS
    from HMR.heads import HEADS
    return set(ARCHITECTURES.names()) | set(HEADS.names()) | set(CAMERAS.names())


def name_comparisons(paths, names):
    """``"<file>:<line>"`` of every comparison (``==``, ``!=``, ``in``, ``not in``) with one of ``names`` as
    a literal operand (alone or in a literal tuple, list or set)."""
    found = []
    for label, path in paths.items():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if not isinstance(node, ast.Compare):
                continue
            literals = []
            for operand in [node.left, *node.comparators]:
                items = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                literals += [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
            if set(literals) & names:
                found.append(f"{label}:{node.lineno}")
    return found


def test_no_code_outside_the_registries_compares_architecture_head_or_camera_names():
    """Architectures, heads and cameras are chosen through their registries' facts: no module of HMR/,
    src/ or model_utils/ and no entry point compares a value with one of their names."""
    paths = {os.path.relpath(p, ROOT): p for p in _modules().values()}
    paths.update({n: os.path.join(ROOT, n) for n in os.listdir(ROOT) if n.endswith(".py")})
    for registry in NAME_REGISTRIES:
        paths.pop(registry)
    names = _component_names()
    assert {"hmr", "cliff", "hmr2", "axis_angle", "rot6d", "weak_perspective"} <= names
    assert not name_comparisons(paths, names), name_comparisons(paths, names)


def _is_graph_function(node, cell_class):
    """A method of a class with a base named ``...Cell``, or a function decorated with ``jit``."""
    decorators = {d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "") for d in node.decorator_list}
    return cell_class or "jit" in decorators


def varargs_unpacked_in_graph_code(paths):
    """``"<file>:<line>"`` of every call in graph code (see ``_is_graph_function``) that star-unpacks the
    enclosing function's own ``*varargs`` (``HMR.graph_call``: MindSpore then keeps the cell alive)."""
    found = []

    def visit(node, cell_class, label):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in child.bases]
                visit(child, any(b.endswith("Cell") for b in bases), label)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                vararg = child.args.vararg
                if vararg is not None and _is_graph_function(child, cell_class):
                    for call in (n for n in ast.walk(child) if isinstance(n, ast.Call)):
                        for arg in call.args:
                            if isinstance(arg, ast.Starred) and any(
                                    isinstance(n, ast.Name) and n.id == vararg.arg for n in ast.walk(arg.value)):
                                found.append(f"{label}:{call.lineno}")
                visit(child, False, label)
            else:
                visit(child, cell_class, label)

    for label, path in paths.items():
        visit(ast.parse(open(path, encoding="utf-8").read()), False, label)
    return sorted(set(found))


def test_graph_code_forwards_its_varargs_through_graph_call(tmp_path):
    """No Cell method or jit function of HMR/ or src/ unpacks its own varargs into a call; the check itself
    finds them in a fabricated module (a Cell method, a jit function, an expression of the varargs) and
    leaves plain Python and unpacking of other tuples alone."""
    paths = {os.path.relpath(p, ROOT): p for p in _modules().values()}
    assert not varargs_unpacked_in_graph_code(paths), varargs_unpacked_in_graph_code(paths)
    code = ("import mindspore as ms\nfrom mindspore import nn\n\n"
            "class A(nn.Cell):\n    def construct(self, x, *extra):\n        y = self.f(x, *extra)\n"
            "        return self.g(*extra[:-1]), self.h(*x), call(self.f, (x, *extra))\n\n"
            "@ms.jit\ndef step(*inputs):\n    return grad(*inputs)\n\n"
            "def python(*args):\n    return run(*args)\n")
    (tmp_path / "cells.py").write_text(code)
    assert varargs_unpacked_in_graph_code({"cells.py": str(tmp_path / "cells.py")}) == \
        ["cells.py:11", "cells.py:6", "cells.py:7"]


def test_the_layout_checks_see_imports_inside_functions(tmp_path):
    """The checks themselves, on fabricated modules: a cycle closed by a function-level import, and a job
    folder importing another inside a function, are both reported; the main job may call the jobs."""
    files = {
        "src.training.a": "import os\n\ndef run():\n    from src.evaluation.b import score\n    return score\n",
        "src.evaluation.b": "def score():\n    from src.training.a import run\n    return run\n",
        "src.main_job.c": "def main():\n    from src.training.a import run\n    return run()\n",
        "src.inference.d": "def helper():\n    import src.video.e\n",
        "src.video.e": "X = 1\n",
    }
    modules = {}
    for name, text in files.items():
        path = tmp_path / (name.replace(".", "_") + ".py")
        path.write_text(text)
        modules[name] = str(path)
    assert import_cycles(modules) == [["src.evaluation.b", "src.training.a", "src.evaluation.b"]]
    assert job_folder_violations(modules) == ["src.evaluation.b imports src.training.a",
                                              "src.inference.d imports src.video.e",
                                              "src.training.a imports src.evaluation.b"]
    code = "X = 1\n\ndef f(mode):\n    return mode == 'cliff' or mode in ('a', 'hmr2')\n"
    (tmp_path / "compare.py").write_text(code)
    assert name_comparisons({"compare.py": str(tmp_path / "compare.py")}, {"cliff", "hmr2"}) == ["compare.py:4"] * 2
