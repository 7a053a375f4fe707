"""The installed distribution: type information, package data, compiled
modules, metadata and free-threading safety.

These run against the installed package (wheel or `pip install .`), like the
rest of the suite; .ci/check_dist checks the sdist and the wheel files.
"""

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import platform
import subprocess
import sys
import sysconfig
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import LOSSES, cases, draw, grads, shapes_for

import fastloss as fl
from fastloss._kernels import _cpu

PKG = Path(fl.__file__).parent
INSTALLED = "site-packages" in fl.__file__ and not os.environ.get("FASTLOSS_ALLOW_INPLACE")

# Losses of the API contract (shared/API.md) that the stub already declares
# while they are being implemented; a name leaves this set when it is
# registered (the test then requires it in fastloss.__all__ as usual).
ANNOUNCED = {
    "binary_crossentropy", "bce", "log_loss", "categorical_crossentropy", "cce",
    "sparse_categorical_crossentropy", "scce", "hinge", "squared_hinge",
    "categorical_hinge", "kl_divergence", "kld", "kullback_leibler_divergence",
    "binary_focal_crossentropy", "focal", "categorical_focal_crossentropy",
}
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
X86_64 = platform.machine().lower() in ("x86_64", "amd64", "x64")


def _stub(path):
    """(names declared at module level, __all__, {function name: node}, {class: node})."""
    tree = ast.parse(path.read_text())
    names, functions, classes, all_ = set(), {}, {}, None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    if t.id == "__all__":
                        all_ = ast.literal_eval(node.value)
                    else:
                        names.add(t.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            classes[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            # only explicit re-exports (`import x as x`) are public in a stub
            names.update(a.asname for a in node.names if a.asname == a.name)
    return names, all_, functions, classes


def _params(fn):
    """[(name, kind)] of a stub function, without self."""
    a = fn.args
    out = [(x.arg, "positional") for x in a.posonlyargs + a.args]
    if a.vararg:
        out.append((a.vararg.arg, "*"))
    out += [(x.arg, "keyword") for x in a.kwonlyargs]
    if a.kwarg:
        out.append((a.kwarg.arg, "**"))
    return [p for p in out if p[0] != "self"]


def _runtime_params(fn):
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "positional",
             inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.VAR_POSITIONAL: "*",
             inspect.Parameter.KEYWORD_ONLY: "keyword",
             inspect.Parameter.VAR_KEYWORD: "**"}
    sig = inspect.Signature.from_callable(fn, follow_wrapped=True)
    return [(p.name, kinds[p.kind]) for p in sig.parameters.values() if p.name != "self"]


# --- type information ---------------------------------------------------------------------

def test_py_typed_and_stubs_are_installed():
    for rel in ("py.typed", "__init__.pyi", "_kernels/_cpu.pyi"):
        assert (PKG / rel).is_file(), f"{rel} is not installed next to {fl.__file__}"


def test_stub_declares_exactly_the_public_names():
    names, stub_all, _, _ = _stub(PKG / "__init__.pyi")
    assert stub_all is not None, "__init__.pyi has no __all__"
    undeclared = set(stub_all) - names
    assert not undeclared, f"in the stub's __all__ but not declared: {undeclared}"
    runtime = set(fl.__all__)
    missing = runtime - set(stub_all)
    assert not missing, f"public at run time but missing from __init__.pyi: {sorted(missing)}"
    extra = set(stub_all) - runtime
    unknown = sorted(extra - ANNOUNCED)
    assert not unknown, f"in __init__.pyi but not in fastloss.__all__: {unknown}"
    for name in runtime:
        assert hasattr(fl, name), f"fastloss.__all__ names {name!r}, which does not exist"
    assert "reference" in names  # the module, re-exported


def test_stub_declares_every_loss_and_alias_as_a_loss():
    tree = ast.parse((PKG / "__init__.pyi").read_text())
    annotated = {n.target.id: ast.unparse(n.annotation) for n in tree.body
                 if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    for name in [*fl.available(), *fl.aliases()]:
        loss = getattr(fl, name)
        k = len(loss.wrt)
        want = "Loss[_Array]" if k == 1 else f"Loss[tuple[{', '.join(['_Array'] * k)}]]"
        assert annotated.get(name) == want, f"{name} is not declared as `{name}: {want}`"
        assert isinstance(loss, fl.Loss)


@pytest.mark.parametrize("name", ["get", "available", "aliases", "build_info",
                                  "get_num_threads", "set_num_threads", "threads",
                                  "custom", "combine"])
def test_stub_function_signatures_match(name):
    _, _, functions, _ = _stub(PKG / "__init__.pyi")
    assert _params(functions[name]) == _runtime_params(getattr(fl, name))


@pytest.mark.parametrize("method", ["loss", "__call__", "grad", "loss_grad", "grad_hess", "domain"])
def test_stub_loss_methods_match(method):
    _, _, _, classes = _stub(PKG / "__init__.pyi")
    defs = [n for n in classes["Loss"].body if isinstance(n, ast.FunctionDef) and n.name == method]
    assert defs, f"Loss.{method} is not in the stub"
    want = _runtime_params(getattr(fl.Loss, method))
    for d in defs:  # every overload has the run-time parameters
        assert _params(d) == want, f"Loss.{method}: stub {_params(d)} != runtime {want}"


def test_stub_loss_attributes_exist():
    _, _, _, classes = _stub(PKG / "__init__.pyi")
    attrs = [n.target.id for n in classes["Loss"].body if isinstance(n, ast.AnnAssign)]
    assert {"name", "aliases", "params", "has_hessian", "kind", "examples", "inputs", "wrt",
            "unit", "shapes"} <= set(attrs)
    for loss in LOSSES.values():
        for a in attrs:
            assert hasattr(loss, a), f"{loss.name} has no attribute {a!r} declared in the stub"
        for p in loss.params:
            assert {"name", "default", "convert", "doc"} <= set(dir(p))


def test_build_info_keys_match_the_stub():
    _, _, _, classes = _stub(PKG / "__init__.pyi")
    fields = {n.target.id for n in classes["_BuildInfo"].body if isinstance(n, ast.AnnAssign)}
    assert set(fl.build_info()) == fields


def test_compiled_module_stub_matches():
    names, _, _, _ = _stub(PKG / "_kernels" / "_cpu.pyi")
    public = {n for n in dir(_cpu) if not n.startswith("_")}
    assert names == public
    assert isinstance(_cpu.HAVE_OPENMP, bool)
    assert isinstance(_cpu.omp_max_threads(), int)
    assert _cpu.supported_isas()[0] == "baseline"


_TYPED_USE = """
import numpy as np
import fastloss as fl

y = np.zeros(4)
p = np.ones(4, dtype=np.float32)
v = fl.huber(y, p, delta=2.0)
per_elem = fl.mse(y, p, reduction="none")
loss, grad = fl.huber.loss_grad(y, p, sample_weight=np.ones(4))
g, h = fl.get("mse").grad_hess(y, p)
names: list[str] = fl.available()
with fl.threads(2):
    n: int = fl.get_num_threads()
fl.set_num_threads(None)
info = fl.build_info()
isa: str = info["isa"]
reveal_type(v)
reveal_type(per_elem)
reveal_type(grad)
reveal_type(fl.reference)
"""


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_sees_the_signatures(tmp_path):
    good = tmp_path / "use_fastloss.py"
    good.write_text(textwrap.dedent(_TYPED_USE))
    bad = tmp_path / "misuse_fastloss.py"
    bad.write_text("import fastloss as fl\nfl.get(3)\nfl.set_num_threads('4')\n"
                   "fl.huber.grad([1.0], [2.0], reduction=None)\n")
    cmd = [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
           "--cache-dir", str(tmp_path / ".mypy_cache")]
    ok = subprocess.run(cmd + [str(good)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert 'Revealed type is "numpy.floating[Any]"' in ok.stdout
    assert "numpy.ndarray" in ok.stdout
    assert 'Revealed type is "types.ModuleType"' in ok.stdout  # fastloss.reference
    err = subprocess.run(cmd + [str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert err.returncode == 1, err.stdout + err.stderr
    assert err.stdout.count("error:") >= 3, err.stdout


# --- package data and compiled modules ------------------------------------------------------

@pytest.mark.skipif(not INSTALLED, reason="checks an installed wheel, not a source tree")
def test_installed_package_has_no_sources_or_generated_files():
    leaked = [str(p.relative_to(PKG)) for p in PKG.rglob("*")
              if p.is_file() and (p.suffix in (".c", ".cpp", ".pyx", ".html", ".tp")
                                  or p.name.endswith(".pyx.tp"))]
    assert not leaked, f"sources or generated files installed: {leaked}"


def _families(isa):
    d = PKG / "_kernels" / isa
    exts = (".so", ".pyd")
    return {p.name.split(".")[0] for p in d.glob("*") if p.suffix in exts} if d.is_dir() else set()


@pytest.mark.skipif(bool(os.environ.get("FASTLOSS_ISAS")),
                    reason="a build restricted by FASTLOSS_ISAS")
def test_every_isa_level_is_built():
    # The CPU-dispatch builds are part of every x86-64 wheel; arm64 has one.
    base = _families("baseline")
    assert "_elementwise" in base
    levels = ("avx2", "avx512") if X86_64 else ()
    for isa in levels:
        assert _families(isa) == base, f"{isa} kernels {_families(isa)} != baseline {base}"
    if not X86_64:
        assert not _families("avx2") and not _families("avx512")


def test_dispatch_uses_a_level_the_cpu_supports():
    from fastloss._core import dispatch as _dispatch

    assert _dispatch.ISA in _cpu.supported_isas()
    assert fl.build_info()["isa"] == _dispatch.ISA


def test_metadata_single_version_source():
    md = importlib.metadata.metadata("fastloss")
    assert md["Version"] == fl.__version__ == importlib.metadata.version("fastloss")
    assert md["Requires-Python"] == ">=3.11"
    assert md["License-Expression"] == "BSD-3-Clause"
    assert md.get_all("License-File") == ["LICENSE"]
    dist = importlib.metadata.distribution("fastloss")
    assert any(str(f).endswith("LICENSE") and "BSD 3-Clause" in f.read_text()
               for f in dist.files if str(f).endswith("LICENSE"))
    assert any(r.startswith("numpy") for r in importlib.metadata.requires("fastloss"))
    assert "Typing :: Typed" in md.get_all("Classifier")


# --- free threading ---------------------------------------------------------------------------

@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded (3.14t) Python")
def test_importing_every_kernel_keeps_the_gil_disabled():
    # A compiled module not declared free-threading compatible would re-enable
    # the GIL on import (with a RuntimeWarning, made an error here).
    code = textwrap.dedent("""
        import importlib, sys
        import fastloss
        from fastloss._kernels import _cpu
        for isa in _cpu.supported_isas():
            for fam in ("_elementwise", "_rowwise"):
                try:
                    importlib.import_module(f"fastloss._kernels.{isa}.{fam}")
                except ModuleNotFoundError:
                    pass
        print(sys._is_gil_enabled())
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def _flat(result):
    """A method's result as a flat list of arrays (gradient tuples spread)."""
    out = []
    for r in result:
        out += list(grads(r))
    return out


def _work(name, params, n_threads, seed):
    loss = LOSSES[name]
    out = []
    with fl.threads(n_threads):
        for s in (shapes_for(loss)[-1], loss.shapes["threads"]):  # serial and OpenMP-sized
            inputs = draw(loss, params, s, seed=seed)
            out.append(_flat(loss.loss_grad(*inputs, **params)))
            out.append(_flat(loss.loss_grad(*inputs, reduction="none", **params)))
            if loss.has_hessian:
                out.append(_flat(loss.grad_hess(*inputs, **params)))
        assert fl.get_num_threads() == n_threads  # each thread keeps its own setting
    return out


def test_concurrent_calls_from_many_threads_match_serial_results():
    # Kernels hold no shared mutable state: every call allocates its outputs
    # and block partials, the kernel tables are written once at import.  On a
    # free-threaded build these calls really run at the same time.
    jobs = [(c.values[0], c.values[1], 1 + i % 2, i) for i, c in enumerate(cases())]
    serial = [_work(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as ex:
        for _ in range(2):
            concurrent = list(ex.map(lambda job: _work(*job), jobs))
            for job, want, got in zip(jobs, serial, concurrent, strict=True):
                for w, g in zip(want, got, strict=True):
                    for a, b in zip(w, g, strict=True):
                        np.testing.assert_array_equal(a, b, err_msg=f"{job}")


# --- every SIMD level computes the same bits ------------------------------------------------

_ISA_RUN = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import fastloss as fl
    from fastloss._core.registry import LOSSES
    from helpers import draw, grads
    assert fl.build_info()["isa"] == sys.argv[2]
    out = {}
    for name, loss in sorted(LOSSES.items()):
        for e, params in enumerate(loss.examples):
            # sizes with vector remainders (e.g. 16 and 1000 classes for row-wise)
            for dtype in (np.float64, np.float32):
                for s, shape in enumerate(loss.shapes["simd"]):
                    key = f"{name}/{e}/{np.dtype(dtype).name}/{s}"
                    inputs = draw(loss, params, shape, seed=3, dtype=dtype)
                    for red in ("mean", "none"):
                        v, g = loss.loss_grad(*inputs, reduction=red, **params)
                        for i, vi in enumerate(grads(v)):  # one, or one per unit group
                            out[f"{key}/{red}/v{i}"] = np.asarray(vi)
                        for i, gi in enumerate(grads(g)):
                            out[f"{key}/{red}/g{i}"] = gi
                    if loss.has_hessian:
                        g, hh = loss.grad_hess(*inputs, **params)
                        for i, a in enumerate(grads(g) + grads(hh)):
                            out[f"{key}/gh{i}"] = a
    np.savez(sys.argv[3], **out)
""")


def _levels():
    """The SIMD levels this CPU runs and this build has."""
    from fastloss._core import dispatch

    return [isa for isa in _cpu.supported_isas() if dispatch._built(isa)]


@pytest.mark.skipif(len(_levels()) < 2, reason="one SIMD level on this CPU or in this build")
def test_every_simd_level_gives_the_same_bits(tmp_path):
    # The README promises bitwise identical results for every SIMD level (no
    # FMA contraction, the same operation order in every build; fl_math.h's
    # FL_USE_FMA stays off): every loss's outputs under each level the CPU
    # runs and this build has, compared array by array.
    tests_dir = str(Path(__file__).parent)
    found = {}
    for isa in _levels():
        env = dict(os.environ, FASTLOSS_ISA=isa)
        path = tmp_path / f"{isa}.npz"
        r = subprocess.run([sys.executable, "-c", _ISA_RUN, tests_dir, isa, str(path)],
                           capture_output=True, text=True, env=env, cwd=tests_dir)
        assert r.returncode == 0, r.stderr
        found[isa] = dict(np.load(path))
    first, *rest = found
    assert found[first]
    for isa in rest:
        assert found[isa].keys() == found[first].keys()
        for key, a in found[first].items():
            b = found[isa][key]
            if b.tobytes() != a.tobytes():   # bits: -0 vs +0 and NaN payloads count
                np.testing.assert_array_equal(b, a, err_msg=f"{isa} vs {first}: {key}")
                pytest.fail(f"{isa} vs {first}: {key} differs in signs of zero or NaN bits")
