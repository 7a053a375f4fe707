"""fastloss.custom and fastloss.combine.

Their losses are registered nowhere, so the generic tests of test_losses.py
do not see them; here every one of those tests runs on a few custom and
combined losses, each registered for the duration of the test only (with its
NumPy reference: the user's functions, or the weighted sum of the parts'
references).  Then the behaviours of their own: the user's functions
checked and named, the README's asymmetric example written both ways,
keyword routing, units.
"""

import inspect

import numpy as np
import pytest
import test_losses as generic
from helpers import LOSSES

import fastloss as fl
from fastloss import reference

# --- the README's example: under-prediction costs more -------------------------------


def asym_loss(y, p, under=2.0, over=0.5):
    e = y - p
    return np.where(e > 0, under, over) * e * e


def asym_grad(y, p, under=2.0, over=0.5):
    e = y - p
    return -2 * np.where(e > 0, under, over) * e


def asym_hess(y, p, under=2.0, over=0.5):
    return np.where(y - p > 0, 2 * under, 2 * over)


def logcosh_loss(y, p):
    d = p - y
    with np.errstate(invalid="ignore"):  # NaN in, NaN out
        return np.logaddexp(d, -d) - np.log(2)


def logcosh_grad(y, p):
    return np.tanh(p - y)


ASYM = fl.custom("custom_asym", asym_loss, asym_grad, asym_hess,
                 params={"under": 2.0, "over": 0.5})
LOGCOSH = fl.custom("custom_logcosh", logcosh_loss, logcosh_grad)
MSE_HUBER = fl.combine(fl.mse, (fl.huber, 0.5, {"delta": 0.7}), name="mse_huber")
FOCAL_BCE = fl.combine((fl.focal, 1.0), (fl.bce, 0.5), from_logits=True, name="focal_bce")
GAN_MIX = fl.combine(fl.gan_discriminator, (fl.gan_discriminator, 0.25, {"kind": "hinge"}),
                     name="gan_mix")


def _lin(terms):
    """sum(c * x) over (c, x) pairs of like structures (arrays or tuples)."""
    first = terms[0][1]
    if isinstance(first, tuple):
        return tuple(_lin([(c, x[i]) for c, x in terms]) for i in range(len(first)))
    return sum(c * x for c, x in terms)


def _sum_refs(loss):
    """The per-unit NumPy reference of a combined loss: the weighted sum of its
    parts' references (parts of one unit, without weights of their own)."""
    def ref(suffix):
        def f(*inputs, **params):
            return _lin([(c, getattr(reference, part.name + suffix)(
                *inputs, **{**bound, **{k: v for k, v in params.items()
                                        if k in part._param_names}}))
                for part, c, bound in loss.parts])
        return f
    return ref(""), ref("_hess")


def _custom_refs(loss):
    fns = loss._fns
    return ((lambda *a, **k: (fns["loss"](*a, **k), fns["grad"](*a, **k))),
            fns["hess"])


EXTRA = {"custom_asym": (ASYM, _custom_refs), "custom_logcosh": (LOGCOSH, _custom_refs),
         "mse_huber": (MSE_HUBER, _sum_refs), "focal_bce": (FOCAL_BCE, _sum_refs),
         "gan_mix": (GAN_MIX, _sum_refs)}
EXTRA_CASES = [("custom_asym", {}), ("custom_asym", {"under": 0.5, "over": 3.0}),
               ("custom_logcosh", {}), ("mse_huber", {}), ("mse_huber", {"delta": 2.0}),
               ("focal_bce", {}), ("focal_bce", {"gamma": 1.0}), ("gan_mix", {})]


@pytest.fixture
def registered(monkeypatch):
    """Register an extra loss and its reference for one test."""
    def add(name):
        loss, refs = EXTRA[name]
        fn, hess = refs(loss)
        monkeypatch.setitem(LOSSES, name, loss)
        monkeypatch.setitem(reference._FUNCS, name, fn)
        if hess is not None and loss.has_hessian:
            monkeypatch.setitem(reference._FUNCS, name + "_hess", hess)
        return loss
    return add


GENERIC = sorted((n, f) for n, f in vars(generic).items()
                 if n.startswith("test_") and callable(f)
                 and "name" in inspect.signature(f).parameters)


@pytest.mark.parametrize("test", [f for _, f in GENERIC], ids=[n for n, _ in GENERIC])
@pytest.mark.parametrize("name,params", EXTRA_CASES,
                         ids=[f"{n}-{p or 'default'}" for n, p in EXTRA_CASES])
def test_the_generic_suite_holds_for_custom_and_combined_losses(test, name, params,
                                                                 registered):
    loss = registered(name)
    if (test is generic.test_elementwise_full_shape_and_row_weights
            and not (loss.unit == "element" and loss.inputs == ("y_true", "y_pred"))):
        pytest.skip("(y_true, y_pred) element-wise losses only")
    # the test's other arguments: its own parametrisation, or the dtype fixture's
    grid = [{"name": name, "params": params}]
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize" and mark.args[0] not in ("name,params",):
            grid = [{**g, mark.args[0]: v} for g in grid for v in mark.args[1]]
    if "dtype" in inspect.signature(test).parameters:
        grid = [{**g, "dtype": np.dtype(d)} for g in grid for d in ("float32", "float64")]
    for kw in grid:
        test(**kw)


# --- custom ---------------------------------------------------------------------------


def test_custom_losses_are_registered_nowhere_unless_asked():
    before = fl.available()
    fl.custom("never_registered", asym_loss, asym_grad)
    assert fl.available() == before
    with pytest.raises(ValueError, match="unknown loss"):
        fl.get("never_registered")
    from fastloss._core import registry

    obj = fl.custom("briefly_registered", asym_loss, asym_grad, register=True)
    try:
        assert fl.get("briefly_registered") is obj
    finally:
        del registry.LOSSES["briefly_registered"]
    with pytest.raises(ValueError, match="registered twice"):
        fl.custom("huber", asym_loss, asym_grad, register=True)


def test_the_readme_example_agrees_with_the_builtin_both_ways():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    w = rng.uniform(0.5, 2, 50)
    for kw in ({}, {"under": 3.0, "over": 0.25}):
        for reduction in ("mean", "sum", "none"):
            a = ASYM.loss_grad(y, p, sample_weight=w, reduction=reduction, **kw)
            b = fl.asymmetric_squared.loss_grad(y, p, sample_weight=w, reduction=reduction,
                                                **kw)
            np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
            np.testing.assert_allclose(a[1], b[1], rtol=1e-14)
        np.testing.assert_allclose(ASYM.grad_hess(y, p, **kw),
                                   fl.asymmetric_squared.grad_hess(y, p, **kw), rtol=1e-14)


def test_a_wrong_shaped_result_names_the_function():
    bad = fl.custom("bad_shape", asym_loss, lambda y, p: np.ones(3))
    with pytest.raises(ValueError, match=r"'bad_shape': its grad function .*lambda.* "
                                         r"returned shape \(3,\).*shape \(5,\)"):
        bad.grad(np.zeros(5), np.ones(5))
    scalar = fl.custom("scalar_loss", lambda y, p: float(np.sum(p)), asym_grad)
    with pytest.raises(ValueError, match="its loss function .*returned shape \\(\\)"):
        scalar(np.zeros(5), np.ones(5))
    words = fl.custom("words", lambda y, p: np.array(["a"] * 5), asym_grad)
    with pytest.raises(TypeError, match="its loss function .*real numbers"):
        words(np.zeros(5), np.ones(5))


def test_a_non_finite_result_for_finite_inputs_names_the_function():
    def bad_grad(y, p):
        g = p - y
        g[2] = np.inf
        return g

    loss = fl.custom("blows_up", asym_loss, bad_grad)
    y, p = np.zeros(6), np.arange(6.0)
    with pytest.raises(ValueError, match=r"its grad function .*bad_grad returned inf at "
                                         r"index \(2,\) for finite inputs"):
        loss.loss_grad(y, p)
    loose = fl.custom("allowed", asym_loss, bad_grad, check_finite=False)
    assert np.isinf(loose.grad(y, p)[2])
    overflow = fl.custom("exp_loss", lambda y, p: np.exp(p), lambda y, p: np.exp(p))
    with np.errstate(over="ignore"):
        with pytest.raises(ValueError, match="its loss function"):
            overflow(y, p + 1000.0)


def test_nan_inputs_propagate_through_custom_losses():
    p = np.array([0.0, np.nan, 1.0])
    per, g = ASYM.loss_grad(np.zeros(3), p, reduction="none")
    assert np.isnan(per[1]) and np.isnan(g[1]) and np.isfinite(per[[0, 2]]).all()
    assert np.isnan(ASYM(np.zeros(3), p))


def test_the_functions_get_read_only_arrays_of_the_computation_dtype():
    seen = {}

    def spy(y, p):
        seen["dtypes"] = (y.dtype, p.dtype)
        seen["writeable"] = (y.flags.writeable, p.flags.writeable)
        return (p - y) ** 2

    def meddle(y, p):
        p *= 2
        return p

    loss = fl.custom("spy", spy, lambda y, p: 2.0 * (p - y))  # float64 result for float32
    y = np.zeros(4, np.float32)
    p = np.ones(4, np.float32)
    v, g = loss.loss_grad(y, p)
    assert seen == {"dtypes": (np.float32, np.float32), "writeable": (False, False)}
    assert v.dtype == np.float32 and g.dtype == np.float32
    with pytest.raises(ValueError, match="read-only"):
        fl.custom("meddle", spy, meddle).grad(y, p)
    assert np.all(p == 1)


def test_results_never_alias_arrays_the_functions_keep():
    kept = {}

    def remembering_grad(y, p):
        kept["g"] = np.full_like(p, 3.0)
        return kept["g"]

    loss = fl.custom("keeps", asym_loss, remembering_grad)
    g = loss.grad(np.zeros(4), np.ones(4))
    assert g is not kept["g"] and np.all(kept["g"] == 3.0)
    np.testing.assert_array_equal(g, np.full(4, 3.0 / 4))
    cached = np.full(4, 5.0)
    loss2 = fl.custom("cached", asym_loss, lambda y, p: cached)
    g2 = loss2.grad(np.zeros(4), np.ones(4))
    assert not np.shares_memory(g2, cached) and np.all(cached == 5.0)


def test_custom_keywords_are_checked_and_passed_on():
    assert list(inspect.signature(ASYM).parameters) == ["y_true", "y_pred", "under", "over",
                                                        "sample_weight", "reduction"]
    with pytest.raises(TypeError, match="under must be a real number"):
        ASYM(np.zeros(2), np.ones(2), under="a lot")
    with pytest.raises(TypeError, match="unexpected keyword argument 'delta'"):
        ASYM(np.zeros(2), np.ones(2), delta=1.0)
    doc = ASYM.__doc__
    assert "asym_loss" in doc and "asym_grad" in doc and "under : default 2.0" in doc


def test_grad_hess_needs_a_hess_function():
    with pytest.raises(NotImplementedError, match="hess="):
        LOGCOSH.grad_hess(np.zeros(2), np.ones(2))


def test_custom_out_receives_the_gradient_and_a_failing_call_leaves_it_untouched():
    y, p = np.zeros(5), np.linspace(-1, 1, 5)
    out = np.full(5, 7.0)
    v, g = ASYM.loss_grad(y, p, out=out)
    assert g is out
    np.testing.assert_allclose(out, fl.asymmetric_squared.grad(y, p), rtol=1e-15)
    out[:] = 7.0
    bad = fl.custom("fails", asym_loss, lambda y, p: np.ones(2))
    with pytest.raises(ValueError):
        bad.grad(y, p, out=out)
    assert np.all(out == 7.0)


def test_custom_point_functions_must_be_callable():
    with pytest.raises(TypeError, match="grad must be a function"):
        fl.custom("x", asym_loss, 3.0)


# --- combine --------------------------------------------------------------------------


def test_combined_value_gradient_and_hessian_are_the_weighted_sums():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    w = rng.uniform(0.5, 2, 20)
    for reduction in ("mean", "sum", "none"):
        kw = {"sample_weight": w, "reduction": reduction}
        v, g = MSE_HUBER.loss_grad(y, p, **kw)
        v1, g1 = fl.mse.loss_grad(y, p, **kw)
        v2, g2 = fl.huber.loss_grad(y, p, delta=0.7, **kw)
        np.testing.assert_allclose(v, v1 + 0.5 * v2, rtol=1e-14)
        np.testing.assert_allclose(g, g1 + 0.5 * g2, rtol=1e-14)
    gh = MSE_HUBER.grad_hess(y, p, sample_weight=w)
    a, b = fl.mse.grad_hess(y, p, sample_weight=w), fl.huber.grad_hess(y, p, delta=0.7,
                                                                        sample_weight=w)
    np.testing.assert_allclose(gh[0], a[0] + 0.5 * b[0], rtol=1e-14)
    np.testing.assert_allclose(gh[1], a[1] + 0.5 * b[1], rtol=1e-14)


def test_combine_routes_keywords_to_the_parts_that_accept_them():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 30).astype(float)
    x = rng.normal(0, 2, 30)
    # from_logits bound for both parts, gamma (call time) reaches focal only
    v = FOCAL_BCE(y, x, gamma=1.5)
    want = (fl.focal(y, x, from_logits=True, gamma=1.5)
            + 0.5 * fl.bce(y, x, from_logits=True))
    np.testing.assert_allclose(v, want, rtol=1e-14)
    # call-time keywords override bound ones, in every part that takes them
    probs = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(FOCAL_BCE(y, probs, from_logits=False),
                               fl.focal(y, probs) + 0.5 * fl.bce(y, probs), rtol=1e-14)
    with pytest.raises(TypeError, match="no part accepts the keyword 'margin'"):
        fl.combine(fl.mse, fl.huber, margin=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'margin'"):
        MSE_HUBER(y, x, margin=1.0)
    with pytest.raises(ValueError, match="delta must be > 0"):
        fl.combine(fl.mse, (fl.huber, 1.0, {"delta": -1.0}))
    with pytest.raises(TypeError, match="delta"):
        fl.combine((fl.mse, 1.0, {"delta": 1.0}))
    sig = inspect.signature(FOCAL_BCE).parameters
    assert {"from_logits", "gamma", "alpha", "label_smoothing", "pos_weight"} <= set(sig)


def test_combine_rejects_losses_of_other_inputs_and_bad_parts():
    with pytest.raises(ValueError, match="same inputs"):
        fl.combine(fl.mse, fl.gaussian_kl)
    with pytest.raises(TypeError, match="part 1 must be a loss"):
        fl.combine(fl.mse, "huber")
    with pytest.raises(ValueError, match="weight of part 1"):
        fl.combine(fl.mse, (fl.huber, float("nan")))
    with pytest.raises(TypeError, match="at least one"):
        fl.combine()


def test_parts_of_different_units_have_no_per_unit_loss():
    # element-wise mse + row-wise categorical cross-entropy, on the same arrays
    rng = np.random.default_rng(3)
    y = np.eye(4)[rng.integers(0, 4, 10)]
    p = rng.normal(size=(10, 4))
    mixed = fl.combine(fl.mse, (fl.cce, 0.3), from_logits=True)
    np.testing.assert_allclose(mixed(y, p), fl.mse(y, p) + 0.3 * fl.cce(y, p, from_logits=True),
                               rtol=1e-14)
    with pytest.raises(ValueError, match="different units .*reduction='none'"):
        mixed(y, p, reduction="none")
    g, h = mixed.grad_hess(y, p)
    np.testing.assert_allclose(g, fl.mse.grad_hess(y, p)[0]
                               + 0.3 * fl.cce.grad_hess(y, p, from_logits=True)[0], rtol=1e-14)
    assert "mixed" in mixed.unit


def test_combined_out_is_written_last():
    y, p = np.zeros(6), np.linspace(-2, 2, 6)
    out = np.full(6, 7.0)
    v, g = MSE_HUBER.loss_grad(y, p, out=out)
    assert g is out
    np.testing.assert_allclose(out, fl.mse.grad(y, p) + 0.5 * fl.huber.grad(y, p, delta=0.7),
                               rtol=1e-15)
    # a part that fails after the first has run leaves out untouched
    out[:] = 7.0
    probs = fl.combine(fl.mse, fl.bce)
    with pytest.raises(ValueError, match="y_pred must lie in"):
        probs.grad(np.zeros(6), p, out=out)
    assert np.all(out == 7.0)


def test_combined_losses_are_documented():
    doc = FOCAL_BCE.__doc__
    assert "1 * binary_focal_crossentropy" in doc and "0.5 * binary_crossentropy" in doc
    assert "fastloss.combine" in doc
    assert FOCAL_BCE.name == "focal_bce"
    assert fl.combine(fl.mse, (fl.huber, 2.0)).name == "1 * mean_squared_error + 2 * huber"
