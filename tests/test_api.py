"""The public surface: names, aliases, lookup, thread control, installation."""

import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import fastloss as fl
from fastloss._core.registry import LOSSES

# Canonical names and aliases fixed by the API contract (shared/API.md).
CONTRACT = {
    "mean_squared_error": ["mse"],
    "mean_absolute_error": ["mae"],
    "huber": [],
    "log_cosh": ["logcosh"],
    "quantile": ["pinball"],
    "poisson": [],
    "mean_squared_log_error": ["msle"],
}


def test_tests_run_against_the_installed_package():
    # The source tree has no compiled modules; a pass here must mean the
    # installed build was tested.
    import fastloss._core.dispatch as d

    kernels = d.kernels("_elementwise")
    assert Path(kernels.__file__).suffix in (".so", ".pyd")
    assert "site-packages" in fl.__file__ or os.environ.get("FASTLOSS_ALLOW_INPLACE")


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_names_and_aliases(name):
    obj = getattr(fl, name)
    assert fl.get(name) is obj
    for alias in CONTRACT[name]:
        assert getattr(fl, alias) is obj
        assert fl.get(alias) is obj
        assert fl.get(alias.upper()) is obj


def test_available_is_sorted_canonical_names():
    names = fl.available()
    assert names == sorted(names) == sorted(LOSSES)
    assert set(CONTRACT) <= set(names)


def test_get_unknown_name_raises():
    with pytest.raises(ValueError, match="available"):
        fl.get("nope")
    with pytest.raises(TypeError):
        fl.get(3)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_documented(name):
    loss = LOSSES[name]
    doc = loss.__doc__
    for section in ("Parameters", "reduction", "sample_weight", "Returns"):
        assert section in doc
    for p in loss.params:
        assert p.name in doc
    for i in loss.inputs:
        assert f"{i} : array_like" in doc
    for w in loss.wrt:
        assert w in doc.split("Notes")[-1]
    sig = inspect.signature(loss)
    assert str(sig).startswith("(" + ", ".join(loss.inputs) + ", *")
    assert list(sig.parameters)[-2:] == ["sample_weight", "reduction"]


def test_thread_controls():
    default = fl.get_num_threads()
    assert default >= 1
    with fl.threads(1):
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == default
    fl.set_num_threads(2)
    try:
        assert fl.get_num_threads() == 2
    finally:
        fl.set_num_threads(None)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            fl.set_num_threads(bad)


def test_build_info():
    info = fl.build_info()
    assert info["isa"] in ("baseline", "avx2", "avx512")
    assert isinstance(info["openmp"], bool)
    if os.environ.get("FASTLOSS_ISA"):
        assert info["isa"] == os.environ["FASTLOSS_ISA"]


def test_loss_objects_are_positional_in_keras_order():
    y, p = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    assert fl.mse(y, p) == fl.mse(y_true=y, y_pred=p) == 0.5


def test_default_thread_count_follows_omp_num_threads():
    import subprocess
    import sys

    if not fl.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-P", "-c",
                          "import fastloss; print(fastloss.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "1"


def test_default_thread_count_follows_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fl.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    fl.mse(np.zeros(40_000), np.ones(40_000))  # make sure the OpenMP runtime is loaded
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fl.get_num_threads() == 1


@pytest.mark.parametrize("name", ["mean_squared_error", "huber", "binary_crossentropy",
                                  "sparse_categorical_crossentropy", "kl_divergence"])
def test_out_receives_the_gradient(name):
    from fastloss._core.samples import draw

    loss = fl.get(name)
    params = loss.examples[0]
    shape = (40_000, 4) if loss.kind == "rowwise" else (70_000,)
    y, p = draw(loss, params, shape, seed=3)
    want_l, want_g = loss.loss_grad(y, p, **params)
    out = np.full(p.shape, np.nan)
    got_l, got_g = loss.loss_grad(y, p, out=out, **params)
    assert got_g is out and got_l == want_l
    np.testing.assert_array_equal(out, want_g)
    assert loss.grad(y[:3], p[:3], out=out[:3], **params) is not None
    if loss.has_hessian:
        g, h = np.empty_like(p), np.empty_like(p)
        rg, rh = loss.grad_hess(y, p, out=(g, h), **params)
        assert rg is g and rh is h
        want = loss.grad_hess(y, p, **params)
        np.testing.assert_array_equal(g, want[0])
        np.testing.assert_array_equal(h, want[1])


def test_bad_out_raises():
    y, p = np.zeros(8), np.ones(8)
    with pytest.raises(ValueError, match="dtype"):
        fl.mse.grad(y, p, out=np.empty(8, np.float32))
    with pytest.raises(ValueError, match="shape"):
        fl.mse.grad(y, p, out=np.empty(9))
    with pytest.raises(ValueError, match="C-contiguous"):
        fl.mse.grad(y, p, out=np.empty(16)[::2])
    with pytest.raises(ValueError, match="share memory"):
        fl.mse.grad(y, p, out=p)
    with pytest.raises(TypeError, match="NumPy array"):
        fl.mse.grad(y, p, out=[0.0] * 8)
    with pytest.raises(TypeError, match="pair"):
        fl.mse.grad_hess(y, p, out=np.empty(8))
    g = np.empty(8)
    with pytest.raises(ValueError, match="different"):
        fl.mse.grad_hess(y, p, out=(g, g))


def test_a_subclass_override_of_a_loss_method_stays_in_effect():
    # The compiled call path binds loss / grad / loss_grad on each instance
    # (fastloss/_core/loops.py: _compile_calls); a method a subclass overrides
    # must still be the one called, and its super() call still computes.
    from fastloss._core.loops import ElementwiseLoss

    seen = []

    class Logged(ElementwiseLoss):
        def loss_grad(self, *inputs, **kw):
            seen.append(len(inputs))
            return super().loss_grad(*inputs, **kw)

    loss = Logged("logged_squared_error", kernel="mse")
    y, p = np.array([1.0, 2.0, 3.0]), np.array([0.5, 2.0, 4.0])
    v, g = loss.loss_grad(y, p)
    assert seen == [2]
    assert v == fl.mean_squared_error(y, p)
    np.testing.assert_array_equal(g, fl.mean_squared_error.grad(y, p))
    # the methods it does not override are the compiled ones, with the same result
    assert loss.grad.__self__ is loss._fast
    np.testing.assert_array_equal(loss.grad(y, p), g)


def test_compiled_path_keyword_sets_in_turn_match_the_general_path():
    # The compiled path reuses the plan of the last keyword call when the same
    # keywords come again (names, order, value types and values); keyword
    # sets that alternate, values of another type, inputs passed by keyword
    # and too many inputs must all give what the general path gives.
    rng = np.random.default_rng(5)
    y, p = rng.random(64), rng.random(64) * 3
    general = fl.huber._evaluate
    calls = [{"delta": 0.5}, {"delta": 0.5}, {"delta": 2.0}, {"delta": 0.5},
             {"delta": 2}, {"delta": 2.0}, {}, {"delta": 0.5}]
    for kw in calls:
        v, g = fl.huber.loss_grad(y, p, **kw)
        ev, eg = general(1, (y, p), None, "mean", dict(kw))
        assert v == ev, kw
        np.testing.assert_array_equal(g, eg)
    # two keywords, in both orders
    for kw in ({"delta": 0.5, "reduction": "sum"}, {"reduction": "sum", "delta": 0.5}) * 2:
        v = fl.huber.loss(y, p, **kw)
        assert v == general(0, (y, p), None, "sum", {"delta": 0.5})[0]
    # inputs by keyword, then positionally again with the same keywords
    by_kw = fl.huber.loss_grad(y_true=y, y_pred=p, delta=0.5)
    by_pos = fl.huber.loss_grad(y, p, delta=0.5)
    assert by_kw[0] == by_pos[0]
    np.testing.assert_array_equal(by_kw[1], by_pos[1])
    with pytest.raises(TypeError, match="positional inputs"):
        fl.huber.loss_grad(y, p, p, delta=0.5)
    # a bad value after a good one with the same name is still refused
    with pytest.raises(ValueError, match="delta"):
        fl.huber.loss_grad(y, p, delta=-1.0)
    fl.binary_crossentropy.loss_grad(y.round(), p, from_logits=True)
    with pytest.raises(TypeError, match="from_logits"):
        fl.binary_crossentropy.loss_grad(y.round(), p, from_logits="yes")
