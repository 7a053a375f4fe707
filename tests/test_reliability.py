"""Reliability of every registered loss: what issue 6 promises.

- bad input raises ValueError/TypeError naming the argument (and before any
  unchecked kernel runs);
- unusual but valid input gives the reference answer;
- NaN propagates, infinite logits give the exact limits;
- concurrent calls from many Python threads equal serial calls, and results
  do not depend on the thread count;
- repeated calls (valid and failing) do not grow memory;
- index arithmetic is 64-bit safe (the > 2**31-element tests are opt-in:
  FASTLOSS_BIG_TESTS=1, they need ~9 GB of free RAM).

Everything is parametrised over the registry (helpers.cases), and driven by
each loss's declared value domains, so a new loss is covered on registration.
Checks already made for every loss by test_losses.py (contiguous reference
values, the common layouts, one bad value of each argument) are not repeated.
"""

import ctypes
import os
import sys
import threading
import time

import numpy as np
import pytest
from helpers import (
    LOSSES,
    cases,
    draw,
    each,
    pair_cases,
    row_weights,
    shapes_for,
    tol,
    unit_weights,
)

import fastloss as fl
from fastloss import reference
from fastloss._core import config as _config
from fastloss._core import dispatch as _dispatch

# The value-kind tests reason about (y_true, y_pred) domains; the ones that
# hold for every loss (reductions, leaks) run over ALL_CASES.
CASES = pair_cases()
ALL_CASES = cases()
REDUCTIONS = ["mean", "sum", "none"]
BIG = os.environ.get("FASTLOSS_BIG_TESTS", "0") not in ("0", "")

# Bugs found by these tests in code outside the validation layer, with the
# cases they break: (test name, case id) -> reason.  Strict xfails, so a fix
# shows up as XPASS: then delete the entry.
KNOWN_BUGS = {}  # e.g. {("test_name", "case-id" or "*"): "what is wrong; the fix"}


def known(test, params):
    """`params` with the KNOWN_BUGS of `test` marked as strict xfails."""
    out = []
    for c in params:
        reason = KNOWN_BUGS.get((test, c.id)) or KNOWN_BUGS.get((test, "*"))
        marks = list(c.marks) + ([pytest.mark.xfail(strict=True, reason=reason)]
                                 if reason else [])
        out.append(pytest.param(*c.values, id=c.id, marks=marks))
    return out


def _kinds(loss, params):
    return loss.domain(**params)


def _sparse(loss, params):
    return _kinds(loss, params)[0] == "int_labels"


def _ref(name, y, p, **kw):
    """The NumPy reference in float64 (integer class labels kept as integers)."""
    y = np.asarray(y)
    sparse = _sparse(LOSSES[name], {k: v for k, v in kw.items()
                                    if k not in ("sample_weight", "reduction")})
    y = y if sparse else y.astype(np.float64)
    return reference.loss_grad(name, y, np.asarray(p, dtype=np.float64), **kw)


def _assert_close_to_ref(got, want, dtype):
    np.testing.assert_allclose(got[0], want[0], **tol(dtype))
    np.testing.assert_allclose(got[1], want[1], **tol(dtype))


# --- bad input: the error names the argument and the fix ---------------------------


@pytest.mark.parametrize("name,params", CASES)
def test_transposed_2d_input_is_a_shape_error(name, params):
    loss = LOSSES[name]
    shape = (7, 3)
    y, p = draw(loss, params, shape)
    if y.ndim == 2:
        with pytest.raises(ValueError, match=r"y_true.*shape.*\(7, 3\).*\(3, 7\)"):
            loss(y, p.T, **params)
        with pytest.raises(ValueError, match="transposed"):
            loss.grad(y.T, p, **params)
    else:  # integer labels (n,) against scores (C, n)
        with pytest.raises(ValueError, match=r"y_true.*shape"):
            loss(y, p.T, **params)


@pytest.mark.parametrize("reduction", [None, 1, "Mean", "avg", b"mean", ("mean",)])
def test_unknown_reduction_lists_the_choices(reduction):
    for loss in LOSSES.values():
        inputs = draw(loss, loss.examples[0], shapes_for(loss)[-1])
        with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum'"):
            loss(*inputs, reduction=reduction, **loss.examples[0])


@pytest.mark.parametrize("name,params", CASES)
def test_unknown_keyword_is_named_and_the_accepted_ones_listed(name, params):
    loss = LOSSES[name]
    y, p = draw(loss, params, shapes_for(loss)[-1])
    with pytest.raises(TypeError) as info:
        loss.grad(y, p, weights=np.ones(len(p)), **params)
    msg = str(info.value)
    assert "'weights'" in msg and name in msg
    for accepted in ["sample_weight", "reduction"] + [q.name for q in loss.params]:
        assert accepted in msg


def test_grad_hess_rejects_reduction_without_claiming_to_accept_it():
    loss = next(v for v in LOSSES.values() if v.has_hessian)
    y, p = draw(loss, loss.examples[0], (4,))
    with pytest.raises(TypeError) as info:
        loss.grad_hess(y, p, reduction="sum")
    msg = str(info.value)
    assert "takes no reduction" in msg and "per-sample" in msg


# Values no parameter of any loss may take: not a real number, or NaN.
BAD_PARAM_VALUES = [float("nan"), "0.5", object(), complex(1, 1), [1.0, 2.0]]


@pytest.mark.parametrize("bad", BAD_PARAM_VALUES,
                         ids=["nan", "str", "object", "complex", "list"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_invalid_parameter_values_name_the_parameter(name, bad):
    loss = LOSSES[name]
    if not loss.params:
        pytest.skip("no parameters")
    params = loss.examples[0]
    inputs = draw(loss, params, shapes_for(loss)[-1])
    for prm in loss.params:
        with pytest.raises((ValueError, TypeError), match=prm.name):
            loss(*inputs, **{**params, prm.name: bad})


@pytest.mark.parametrize("name,kw", [
    ("huber", {"delta": 0.0}), ("huber", {"delta": -1.0}), ("huber", {"delta": np.inf}),
    ("quantile", {"quantile": 0.0}), ("quantile", {"quantile": 1.0}),
    ("quantile", {"quantile": -0.1}), ("poisson", {"eps": -1e-8}),
    ("poisson", {"log_input": "yes"}), ("poisson", {"log_input": 1}),
])
def test_out_of_range_parameters_are_rejected(name, kw):
    loss = LOSSES[name]
    y, p = draw(loss, {}, (5,))
    (key,) = kw
    with pytest.raises((ValueError, TypeError), match=key):
        loss(y, p, **kw)


@pytest.mark.parametrize("bad,exc,match", [
    (lambda a: a.astype(complex), TypeError, "complex"),
    (lambda a: a.astype(str), TypeError, "numbers"),
    (lambda a: a.astype(bytes), TypeError, "numbers"),
    (lambda a: a.astype(object), TypeError, "numbers"),
    (lambda a: np.zeros(a.shape, "datetime64[s]"), TypeError, "numbers"),
    (lambda a: None, TypeError, "numbers"),
    (lambda a: [[1.0, 2.0], [3.0]], ValueError, ""),
], ids=["complex", "str", "bytes", "object", "datetime", "None", "ragged"])
@pytest.mark.parametrize("which", ["y_true", "y_pred", "sample_weight"])
@pytest.mark.parametrize("name,params", CASES)
def test_non_numeric_arrays_are_rejected_by_name(name, params, which, bad, exc, match):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape)
    args = {"y_true": y, "y_pred": p, "sample_weight": row_weights(shape)}
    args[which] = bad(args[which])
    if which == "sample_weight" and args[which] is None:
        pytest.skip("sample_weight=None means unweighted")
    with pytest.raises(exc, match=f"{_input_name(loss, which)}.*{match}"):
        loss(args["y_true"], args["y_pred"], sample_weight=args["sample_weight"], **params)


@pytest.mark.parametrize("name,params", CASES)
def test_bad_sample_weights_are_named_with_the_expected_shape(name, params):
    loss = LOSSES[name]
    shape = (6, 4)
    y, p = draw(loss, params, shape)
    units = shape if loss.kind == "elementwise" else shape[:-1]
    for w in [np.ones(units[::-1]) if len(units) == 2 else np.ones((2, 3)),
              np.ones(units + (1,)), np.ones(shape[0] - 1), np.ones((1, shape[0]))]:
        with pytest.raises(ValueError, match=rf"sample_weight must have shape .*\({shape[0]},\)"):
            loss(y, p, sample_weight=w, **params)
    w = row_weights(shape)
    w[2] = -np.inf
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        loss(y, p, sample_weight=w, **params)
    with pytest.raises(ValueError, match=r"sample_weight.*reduction='sum'"):
        loss.grad(y, p, sample_weight=0.0, **params)
    with pytest.raises(ValueError, match="non-negative"):
        loss(y, p, sample_weight=-1, reduction="sum", **params)


# A value outside each declared domain kind (None: every finite value is valid).
# Integer labels are handled separately below.
BAD_VALUES = {
    "real": None, "logit": None,
    "positive": [-5.0],            # rates, log1p arguments (> -1)
    "count": [-1.0],
    "prob": [-0.25, 1.25],
    "label01": [-0.5, 1.5],
    "softlabel": [-0.5, 1.5],
    "pm1": [3.0],
    "onehot": [-0.5, 1.5],
    "probrows": [-0.5, 1.5],
}


def _input_name(loss, which):
    """The name a pair loss gives its input `which` ("y_true" or "y_pred" by
    position; e.g. contrastive's second input is "distance")."""
    return dict(zip(("y_true", "y_pred"), loss.inputs, strict=False)).get(which, which)


def _domain_cases():
    out = []
    for case in CASES:
        name, params = case.values
        kinds = _kinds(LOSSES[name], params)
        for which, kind in zip(("y_true", "y_pred"), kinds, strict=True):
            for v in BAD_VALUES.get(kind) or []:
                out.append(pytest.param(name, params, which, v,
                                        id=f"{case.id}-{which}={v}"))
    return out


@pytest.mark.parametrize("name,params,which,value", _domain_cases())
def test_values_outside_the_domain_are_rejected_by_name(name, params, which, value):
    loss = LOSSES[name]
    y, p = draw(loss, params, (5, 3))
    a = (y if which == "y_true" else p).copy()
    a[3, 1] = value
    args = (a, p) if which == "y_true" else (y, a)
    for call in (loss, loss.grad, loss.loss_grad):
        with pytest.raises(ValueError, match=_input_name(loss, which)):
            call(*args, **params)


@pytest.mark.parametrize("name,params,which,value", _domain_cases())
def test_a_bad_value_anywhere_in_a_large_input_is_rejected_and_out_is_untouched(
        name, params, which, value):
    # Element-wise kernels check the bounds on the ranges they gather in
    # their own (parallel, blocked) pass: a bad value in any block, under any
    # thread count, must still raise.  With out= the bounds are checked
    # before the kernel runs, so the caller's buffer keeps its contents.
    loss = LOSSES[name]
    shape = (6000, 7) if loss.kind == "elementwise" else (3000, 7)
    y, p = draw(loss, params, shape)
    rng = np.random.default_rng(len(name))
    for pos in (0, int(rng.integers(1, y.size - 1)), y.size - 1):
        a = (y if which == "y_true" else p).copy()
        a.flat[pos] = value
        args = (a, p) if which == "y_true" else (y, a)
        named = _input_name(loss, which)
        for n_threads in (1, 2):
            with fl.threads(n_threads):
                with pytest.raises(ValueError, match=named):
                    loss.loss_grad(*args, **params)
                with pytest.raises(ValueError, match=named):
                    loss(*args, reduction="none", **params)
        out = np.full(p.shape, 7.0, dtype=p.dtype)
        with pytest.raises(ValueError, match=named):
            loss.loss_grad(*args, out=out, **params)
        assert (out == 7.0).all()


def test_every_domain_kind_has_a_bad_value_entry():
    """A new kind must say here which values are invalid (or None)."""
    for name, loss in LOSSES.items():
        for params in loss.examples:
            for kind in _kinds(loss, params):
                assert kind == "int_labels" or kind in BAD_VALUES, (name, kind)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 65536 * 3 + 5, 2_000_003])
@pytest.mark.parametrize("threads", [1, 2])
def test_value_range_scan_matches_numpy(n, dtype, threads):
    # The compiled one-pass range scan behind every value check: NaN skipped,
    # the extremes found wherever they sit (vector lanes, tails, chunks).
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(dtype)
    a[rng.integers(0, n, size=max(1, n // 7))] = np.nan
    for pos in (0, n - 1, n // 2):
        b = a.copy()
        b[pos] = -1e30
        c = b.copy()
        c[(pos + 1) % n] = np.inf
        for arr in (a, b, c):
            got = _dispatch.kernels("_elementwise").value_range(arr, threads)
            if np.isnan(arr).all():
                assert got == (np.inf, -np.inf)
            else:
                assert got == (float(np.nanmin(arr)), float(np.nanmax(arr)))


SPARSE_CASES = [c for c in CASES if _sparse(LOSSES[c.values[0]], c.values[1])]
BAD_LABELS = [
    ("C", np.int64), (-1, np.int64), (2**31, np.int64), (2**32 + 1, np.int64),
    (2**40, np.int64), (-(2**40), np.int64), (np.iinfo(np.int64).max, np.int64),
    (np.iinfo(np.int64).min, np.int64), (np.iinfo(np.uint64).max, np.uint64),
    (2**63, np.uint64), (-1, np.int8), (1.5, np.float64), (np.nan, np.float64),
    (np.inf, np.float64), (2.0**63, np.float64), (1e30, np.float64),
]


@pytest.mark.parametrize("value,ltype", BAD_LABELS,
                         ids=[f"{v}-{t.__name__}" for v, t in BAD_LABELS])
@pytest.mark.parametrize("name,params", SPARSE_CASES or [
    pytest.param(None, None, marks=pytest.mark.skip("no sparse loss registered"))])
def test_integer_labels_out_of_range_or_not_integers_are_rejected(name, params, value, ltype):
    loss = LOSSES[name]
    n, C = 6, 4
    y, p = draw(loss, params, (n, C))
    value = C if value == "C" else value
    if params.get("ignore_index") is not None and value == params["ignore_index"]:
        pytest.skip("that label is the ignore_index")
    lab = y.astype(ltype)
    lab[4] = value
    for call in (loss, loss.grad, loss.loss_grad):
        with pytest.raises((ValueError, TypeError), match="y_true"):
            call(lab, p, **params)


# --- unusual but valid input --------------------------------------------------------


@pytest.mark.parametrize("name,params", CASES)
def test_zero_dimensional_inputs(name, params):
    loss = LOSSES[name]
    y, p = draw(loss, params, (1,) if loss.kind == "elementwise" else (1, 3), seed=5)
    if loss.kind != "elementwise":
        with pytest.raises(ValueError, match="y_pred"):
            loss(y[0, 0] if y.ndim == 2 else y[0], p[0, 0], **params)
        return
    y0, p0 = y[0], p[0]  # NumPy scalars; Python floats too
    for reduction in REDUCTIONS:
        want = _ref(name, np.array(y0), np.array(p0), reduction=reduction, **params)
        for yy, pp in [(y0, p0), (float(y0), float(p0)), (np.array(y0), np.array(p0))]:
            got = loss.loss_grad(yy, pp, reduction=reduction, **params)
            assert np.shape(got[0]) == () and got[1].shape == ()
            _assert_close_to_ref(got, want, np.float64)
        got = loss.loss_grad(y0, p0, sample_weight=2.0, reduction=reduction, **params)
        _assert_close_to_ref(got, _ref(name, np.array(y0), np.array(p0), sample_weight=2.0,
                                       reduction=reduction, **params), np.float64)


@pytest.mark.parametrize("name,params", CASES)
def test_integer_and_boolean_inputs(name, params):
    """Integer labels/targets (and integer scores where the domain allows)
    give the float64 reference answer; a float32 partner keeps float32."""
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, seed=6)
    ykind, pkind = _kinds(loss, params)
    variants = []
    if ykind in ("label01", "onehot", "pm1", "count", "int_labels"):
        variants += [y.astype(np.int64), y.astype(np.int32)]
        if np.all(y >= 0):
            variants.append(y.astype(np.uint8))
    if ykind in ("label01", "onehot"):
        variants.append(y.astype(bool))
    if ykind in ("real", "count"):
        variants.append(np.round(y).astype(np.int16))
    if not variants:
        pytest.skip(f"y_true of kind {ykind!r} has no integer form")
    for yi in variants:
        got = loss.loss_grad(yi, p, reduction="none", **params)
        assert got[1].dtype == np.float64
        _assert_close_to_ref(got, _ref(name, yi, p, reduction="none", **params), np.float64)
        got32 = loss.loss_grad(yi, p.astype(np.float32), **params)
        assert got32[0].dtype == np.float32 and got32[1].dtype == np.float32
    if pkind == "real":
        pi = np.round(p).astype(np.int64)
        got = loss.loss_grad(y, pi, **params)
        assert got[1].dtype == np.float64
        _assert_close_to_ref(got, _ref(name, y, pi, **params), np.float64)


@pytest.mark.parametrize("name,params", CASES)
def test_mixed_and_narrow_float_dtypes(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, seed=8)
    yf = y.dtype.kind == "f"
    # float32 with float64 computes in float64 (either way round)
    for yy, pp in [(y.astype(np.float32) if yf else y, p),
                   (y, p.astype(np.float32))] if yf else [(y, p)]:
        got = loss.loss_grad(yy, pp, **params)
        assert got[0].dtype == np.float64 and got[1].dtype == np.float64
        _assert_close_to_ref(got, _ref(name, yy, pp, **params), np.float64)
    # float16 inputs compute in float32, byte-swapped float32 stays float32
    for conv in (lambda a: a.astype(np.float16), lambda a: a.astype(">f4")):
        pp = conv(p)
        yy = conv(y) if yf else y
        got = loss.loss_grad(yy, pp, reduction="none", **params)
        assert got[0].dtype == np.float32 and got[1].dtype == np.float32
        assert got[0].dtype.isnative and got[1].flags.c_contiguous
        _assert_close_to_ref(got, _ref(name, yy, pp, reduction="none", **params), np.float32)


@pytest.mark.parametrize("name,params", CASES)
def test_unusual_layouts_and_weight_forms(name, params):
    """Negative strides, views of a transposed array, and sample_weight as a
    list, ints, bools, read-only, strided, byte-swapped or a scalar."""
    loss = LOSSES[name]
    shape = (8, 5)
    y, p = draw(loss, params, shape, seed=12)
    w = row_weights(shape)
    ro = w.copy()
    ro.flags.writeable = False
    weights = [w.tolist(), np.arange(1, 9), np.arange(8) % 3 == 0, ro,
               np.repeat(w, 3)[::3], w.astype(">f8"), 2.5, np.float32(0.5)]
    for ww in weights:
        for reduction in REDUCTIONS:
            got = loss.loss_grad(y, p, sample_weight=ww, reduction=reduction, **params)
            want = _ref(name, y, p, sample_weight=np.asarray(ww, dtype=np.float64),
                        reduction=reduction, **params)
            _assert_close_to_ref(got, want, np.float64)
    # reversed rows: the same per-unit numbers, reversed (checked bitwise
    # against the contiguous call, which test_losses compares with the reference)
    want = loss.loss_grad(y, p, reduction="none", **params)
    got = loss.loss_grad(y[::-1], p[::-1], reduction="none", **params)
    np.testing.assert_array_equal(got[0], want[0][::-1])
    np.testing.assert_array_equal(got[1], want[1][::-1])
    # a transposed-then-transposed-back view that is neither C nor F contiguous
    big_p = np.zeros((shape[1] * 2, shape[0] * 3))
    big_p[::2, ::3] = p.T
    view = big_p[::2, ::3].T
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    got = loss.loss_grad(y, view, reduction="none", **params)
    np.testing.assert_array_equal(got[0], loss(y, p, reduction="none", **params))


@pytest.mark.parametrize("name,params", CASES)
def test_nan_in_targets_and_weights_propagates(name, params):
    loss = LOSSES[name]
    shape = (6, 4)
    y, p = draw(loss, params, shape, seed=13)
    w = row_weights(shape)
    w[2] = np.nan
    per_unit = loss(y, p, sample_weight=w, reduction="none", **params).reshape(6, -1)
    assert np.all(np.isnan(per_unit[2])) and np.all(np.isfinite(np.delete(per_unit, 2, 0)))
    for reduction in ("mean", "sum"):
        assert np.isnan(loss(y, p, sample_weight=w, reduction=reduction, **params))
    if y.dtype.kind != "f":
        return
    y = y.copy()
    y[4, 1] = np.nan
    per_unit, g = loss.loss_grad(y, p, reduction="none", **params)
    per_unit = per_unit.reshape(6, -1)
    nan_unit = per_unit[4, 1] if loss.kind == "elementwise" else per_unit[4, 0]
    assert np.isnan(nan_unit)
    assert np.isnan(g[4]).any()
    assert np.isnan(loss(y, p, **params))


def _logit_cases():
    return [c for c in CASES if _kinds(LOSSES[c.values[0]], c.values[1])[1] == "logit"]


@pytest.mark.parametrize("name,params", _logit_cases() or [
    pytest.param(None, None, marks=pytest.mark.skip("no logit loss registered"))])
def test_infinite_logits_give_the_exact_limits(name, params):
    """At x = +-inf the loss is its limit (finite or +inf, never NaN) and the
    gradient is the (finite) limit of the gradient: compare with x = +-1e30
    (and +-1e4 in float32/float64) where the loss has converged."""
    loss = LOSSES[name]
    if loss.kind != "elementwise":
        pytest.skip("row-wise logits: see test_masked_logits_have_zero_probability")
    y, _ = draw(loss, params, (12,), seed=14)
    for dtype in (np.float32, np.float64):
        for sign in (1, -1):
            x_inf = np.full(12, sign * np.inf, dtype)
            l_inf, g_inf = loss.loss_grad(y.astype(dtype), x_inf, reduction="none", **params)
            l_big, g_big = loss.loss_grad(y.astype(dtype), np.full(12, sign * 1e30, dtype),
                                          reduction="none", **params)
            assert not np.isnan(l_inf).any() and np.all(np.isfinite(g_inf))
            np.testing.assert_array_equal(g_inf, g_big)
            finite = l_big < 1e20
            np.testing.assert_array_equal(l_inf[finite], l_big[finite])
            assert np.all(l_inf[~finite] == np.inf)


@pytest.mark.parametrize("name,params", known(
    "test_masked_logits_have_zero_probability",
    [c for c in _logit_cases() if LOSSES[c.values[0]].kind == "rowwise"])
    or [pytest.param(None, None, marks=pytest.mark.skip("no row-wise logit loss"))])
def test_masked_logits_have_zero_probability(name, params):
    """A -inf logit removes its class: the loss equals the loss on the other
    classes alone (a closed form check) and its gradient entry is 0."""
    loss = LOSSES[name]
    n, C = 6, 5
    y, p = draw(loss, params, (n, C), seed=15)
    if params.get("class_weight") is not None:
        pytest.skip("class weights are per class; removing a class changes them")
    if params.get("label_smoothing"):
        pytest.skip("label smoothing puts target mass on the masked class")
    masked = 1
    if _sparse(loss, params):
        y = np.where(y == 1, 0, y)  # no row targets class 1
        keep_y = np.where(y > 1, y - 1, y)
        if params.get("ignore_index") is not None:
            pytest.skip("labels are shifted")
    else:
        y = y.copy()
        y[:, 0] += y[:, 1]  # move class 1's target mass to class 0
        y[:, 1] = 0
        keep_y = np.delete(y, 1, axis=1)
    p = p.copy()
    p[:, masked] = -np.inf
    l_masked, g_masked = loss.loss_grad(y, p, reduction="none", **params)
    l_keep, g_keep = loss.loss_grad(keep_y, np.delete(p, masked, axis=1),
                                    reduction="none", **params)
    np.testing.assert_allclose(l_masked, l_keep, rtol=1e-12, atol=1e-14)
    assert np.all(g_masked[:, masked] == 0)
    np.testing.assert_allclose(np.delete(g_masked, masked, axis=1), g_keep,
                               rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(g_masked))


PROB_ROW_CASES = [c for c in CASES if LOSSES[c.values[0]].kind == "rowwise"
                  and _kinds(LOSSES[c.values[0]], c.values[1])[1] == "probrows"]


@pytest.mark.parametrize("name,params", known(
    "test_all_zero_probability_rows_are_an_error_or_finite", PROB_ROW_CASES))
def test_all_zero_probability_rows_are_an_error_or_finite(name, params):
    """A row of zero probabilities has no normalisation: raise, or clip to
    something finite; never NaN from NaN-free input."""
    loss = LOSSES[name]
    y, p = draw(loss, params, (4, 3), seed=16)
    p[1] = 0
    try:
        outs = loss.loss_grad(y, p, reduction="none", **params)
    except ValueError as e:
        assert "y_pred" in str(e)
        return
    assert all(np.all(np.isfinite(o)) for o in outs)


ROW_CASES = [c for c in CASES if LOSSES[c.values[0]].kind == "rowwise"]


@pytest.mark.parametrize("name,params", known(
    "test_rowwise_weights_of_the_first_axis_cover_every_unit_of_a_row", ROW_CASES))
def test_rowwise_weights_of_the_first_axis_cover_every_unit_of_a_row(name, params):
    """y_pred (a, b, C) with sample_weight (a,): row i's units all get w[i],
    as for element-wise losses.  Closed form: the weighted per-unit losses are
    the unweighted ones times w[i]."""
    loss = LOSSES[name]
    y, p = draw(loss, params, (3, 2, 4), seed=17)
    w = np.array([0.5, 2.0, 3.0])
    plain, g_plain = loss.loss_grad(y, p, reduction="none", **params)
    got, g = loss.loss_grad(y, p, sample_weight=w, reduction="none", **params)
    np.testing.assert_allclose(got, plain * w[:, None], rtol=1e-12)
    np.testing.assert_allclose(g, g_plain * w[:, None, None], rtol=1e-12, atol=1e-300)
    total = loss(y, p, sample_weight=w, reduction="sum", **params)
    np.testing.assert_allclose(total, np.sum(plain * w[:, None]), rtol=1e-12)


SPARSE_IGNORE = [pytest.param(c.values[0], c.values[1], id=c.id) for c in SPARSE_CASES
                 if any(q.name == "ignore_index" for q in LOSSES[c.values[0]].params)]


@pytest.mark.parametrize("name,params", known(
    "test_unsigned_labels_never_wrap_onto_ignore_index", SPARSE_IGNORE) or [
    pytest.param(None, None, marks=pytest.mark.skip("no loss with ignore_index"))])
@pytest.mark.parametrize("ignore", [-1, -100])
def test_unsigned_labels_never_wrap_onto_ignore_index(name, params, ignore):
    """uint64 labels 2**64 - 1 and 2**64 - 100 are huge, not -1 / -100."""
    loss = LOSSES[name]
    y, p = draw(loss, params, (5, 4))
    lab = y.astype(np.uint64)
    lab[2] = np.uint64(2**64 + ignore)
    with pytest.raises(ValueError, match="y_true"):
        loss(lab, p, ignore_index=ignore, **params)


@pytest.mark.parametrize("name,params", known(
    "test_ignore_index_must_fit_a_label", SPARSE_IGNORE) or [
    pytest.param(None, None, marks=pytest.mark.skip("no loss with ignore_index"))])
def test_ignore_index_must_fit_a_label(name, params):
    loss = LOSSES[name]
    y, p = draw(loss, params, (5, 4))
    for bad in (2**70, -(2**70), 1.5, "x", True):
        with pytest.raises((ValueError, TypeError), match="ignore_index"):
            loss(y, p, ignore_index=bad, **params)


@pytest.mark.parametrize("name,params", SPARSE_IGNORE or [
    pytest.param(None, None, marks=pytest.mark.skip("no loss with ignore_index"))])
def test_ignored_rows_count_for_nothing(name, params):
    """Closed form: with ignore_index, the loss equals the loss of the other
    rows (the mean divides by their weight only, as torch does) and ignored
    rows get zero gradient."""
    loss = LOSSES[name]
    y, p = draw(loss, params, (7, 4), seed=18)
    y = y.copy()
    y[[1, 4]] = -100
    keep = y != -100
    w = row_weights((7, 4))
    for reduction in ("sum", "mean"):
        got, g = loss.loss_grad(y, p, sample_weight=w, reduction=reduction,
                                ignore_index=-100, **params)
        want, g_keep = loss.loss_grad(y[keep], p[keep], sample_weight=w[keep],
                                      reduction=reduction, **params)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(g[keep], g_keep, rtol=1e-12, atol=1e-300)
        assert np.all(g[~keep] == 0)


# --- concurrency and thread counts ---------------------------------------------------


def _jobs(seed_base, big):
    """(loss, params, kwargs, y, p) for every case, with and without weights."""
    jobs = []
    for i, case in enumerate(CASES):
        name, params = case.values
        loss = LOSSES[name]
        if big:
            shape = (70_003,) if loss.kind == "elementwise" else (9_001, 7)
        else:
            shape = (37,) if loss.kind == "elementwise" else (9, 5)
        y, p = draw(loss, params, shape, np.float32 if i % 2 else np.float64,
                    seed=seed_base + i)
        for kw in ({"reduction": "mean"}, {"reduction": "none", "sample_weight":
                                              row_weights(shape, seed=i)}):
            jobs.append((loss, params, kw, y, p))
    return jobs


def _run_job(job):
    loss, params, kw, y, p = job
    out = list(loss.loss_grad(y, p, **kw, **params))
    if loss.has_hessian:
        out += list(loss.grad_hess(y, p, sample_weight=kw.get("sample_weight"), **params))
    return out


@pytest.mark.parametrize("big", [False, True], ids=["small", "parallel-size"])
def test_many_python_threads_match_serial_calls(big):
    from concurrent.futures import ThreadPoolExecutor

    jobs = _jobs(100, big)
    serial = [_run_job(j) for j in jobs]
    rounds = 2 if big else 20
    order = [k for _ in range(rounds) for k in range(len(jobs))]
    barrier = threading.Barrier(16, timeout=60)

    def work(k):
        if k < 16:
            barrier.wait()  # start the first calls together
        n_threads = 1 + k % 3 if _dispatch.HAVE_OPENMP else None
        with fl.threads(n_threads):
            return k, _run_job(jobs[k % len(jobs)])

    with ThreadPoolExecutor(max_workers=16) as ex:
        results = list(ex.map(work, order))
    for k, out in results:
        for got, want in zip(out, serial[k % len(jobs)], strict=True):
            np.testing.assert_array_equal(got, want)


def test_concurrent_failing_calls_raise_cleanly_and_do_not_disturb_others():
    from concurrent.futures import ThreadPoolExecutor

    loss = fl.mean_squared_error
    y, p = draw(loss, {}, (50_000,), seed=3)
    want = loss.loss_grad(y, p)

    def work(k):
        if k % 2:
            with pytest.raises(ValueError, match="shape"):
                loss(y, p[:-1])
            return None
        return loss.loss_grad(y, p)

    with ThreadPoolExecutor(max_workers=8) as ex:
        for out in ex.map(work, range(64)):
            if out is not None:
                assert out[0] == want[0]
                np.testing.assert_array_equal(out[1], want[1])


def test_kernels_release_the_gil():
    """While one thread runs a long kernel, another keeps running Python:
    the longest pause it sees is much shorter than the kernel call."""
    y, p = draw(fl.log_cosh, {}, (12_000_000,), np.float32, seed=1)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the GIL changes hands every 0.1 ms when wanted
    try:
        _check_gil_released(y, p)
    finally:
        sys.setswitchinterval(switch)


def _check_gil_released(y, p):
    for _attempt in range(3):
        done = threading.Event()
        span = []

        def long_call():
            with fl.threads(1):
                t0 = time.perf_counter()
                fl.log_cosh(y, p, reduction="sum")
                span.append(time.perf_counter() - t0)
            done.set()

        t = threading.Thread(target=long_call)
        last, worst = time.perf_counter(), 0.0
        t.start()
        while not done.is_set():
            now = time.perf_counter()
            worst, last = max(worst, now - last), now
        t.join()
        if worst < span[0] / 3:
            return
    pytest.fail(f"main thread stalled {worst * 1e3:.1f} ms during a "
                f"{span[0] * 1e3:.1f} ms kernel call: the GIL is held")


def test_thread_count_setting_is_per_python_thread():
    seen = {}
    ready, release = threading.Event(), threading.Event()

    def other():
        ready.wait()
        seen["other"] = fl.get_num_threads()
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with fl.threads(1):
        ready.set()
        release.wait()
        assert fl.get_num_threads() == 1
    t.join()
    assert seen["other"] == _config._default_threads()


# Sizes around the block edges (1024 elements; rows of C) and the serial threshold.
EDGE_SIZES = [1, 1023, 1024, 1025, _config.PARALLEL_MIN_ELEMENTS - 1,
              _config.PARALLEL_MIN_ELEMENTS, 3 * _config.PARALLEL_MIN_ELEMENTS + 17]


@pytest.mark.skipif(not _dispatch.HAVE_OPENMP, reason="built without OpenMP")
@pytest.mark.parametrize("name,params", CASES)
def test_thread_count_does_not_change_any_bit(name, params):
    loss = LOSSES[name]
    for size in EDGE_SIZES:
        shape = (size,) if loss.kind == "elementwise" else (max(1, size // 7), 7)
        y, p = draw(loss, params, shape, np.float32 if size % 2 else np.float64, seed=size)
        w = row_weights(shape, seed=size)
        results = []
        for n in (1, 2, 3, 5):
            with fl.threads(n):
                out = []
                for reduction in REDUCTIONS:
                    out += list(loss.loss_grad(y, p, sample_weight=w, reduction=reduction,
                                               **params))
                out.append(loss(y, p, **params))
                if loss.has_hessian:
                    out += list(loss.grad_hess(y, p, sample_weight=w, **params))
                results.append(out)
        for other in results[1:]:
            for a, b in zip(results[0], other, strict=True):
                np.testing.assert_array_equal(a, b)


# --- memory: no growth over many calls, including failing ones -----------------------


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def _heap_in_use():
    """Bytes malloc has handed out and not had back (glibc's mallinfo2), or
    the resident set size where that is unavailable.  Unlike RSS this sees a
    leak even when the leaked blocks reuse pages freed by earlier tests."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return _rss_bytes()
    fn.restype = _MallInfo2
    info = fn()
    return info.uordblks + info.hblkhd


def _leak_round(data):
    for loss, params, inputs, w, bad_calls in data:
        loss.loss_grad(*inputs, sample_weight=w, reduction="none", **params)
        loss(*inputs, **params)
        loss.grad(*inputs, sample_weight=w, **params)
        if loss.has_hessian:
            loss.grad_hess(*inputs, sample_weight=w, **params)
        for call in bad_calls:
            try:
                call()
            except (ValueError, TypeError):
                pass


def _bad_calls(loss, params, inputs, w):
    """Failing calls of every kind: shape, domain (where the loss has value
    kinds), weights, zero-weight mean, reduction, keyword, dtype."""
    i = loss.inputs.index(loss.wrt[0])

    def swap(value):
        bad = list(inputs)
        bad[i] = value
        return bad

    x = np.asarray(inputs[i])
    calls = [
        lambda: loss(*swap(x[:-1]), **params),                            # shape
        lambda: loss(*inputs, sample_weight=each(np.negative, w), **params),    # weights
        lambda: loss(*inputs, sample_weight=each(np.zeros_like, w), **params),  # zero mean
        lambda: loss(*inputs, reduction="avg", **params),                # reduction
        lambda: loss(*inputs, bogus=1, **params),                        # keyword
        lambda: loss(*swap(x.astype(complex)), **params),                # dtype
    ]
    if loss.kind in ("elementwise", "rowwise") and loss._sampler is None:
        bad_p = x.copy()
        bad_p.reshape(-1)[5] = (BAD_VALUES.get(_kinds(loss, params)[1]) or [np.nan])[0]
        calls.append(lambda: loss(*swap(bad_p), **params))             # domain
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan replaces malloc and quarantines freed memory")
def test_repeated_calls_including_errors_do_not_grow_memory():
    """Thousands of calls per loss after a warm-up.  Each call allocates
    inputs-sized outputs (tens of KiB per array) and a block-partials buffer,
    so leaking any of them once per call would add well over the bound."""
    data = []
    for i, case in enumerate(ALL_CASES):
        name, params = case.values
        loss = LOSSES[name]
        shape = loss.shapes.get("leak", shapes_for(loss)[-1])
        inputs = draw(loss, params, shape, seed=i)
        w = unit_weights(loss, inputs, params)
        data.append((loss, params, inputs, w, _bad_calls(loss, params, inputs, w)))
    for _ in range(10):
        _leak_round(data)
    # the measurement itself sees a leak: keeping 256 outputs of 64 KiB
    big = draw(fl.mse, {}, (8192,))
    before = _heap_in_use()
    kept = [fl.mse.grad(*big) for _ in range(256)]
    assert _heap_in_use() - before > 12 * 2**20
    del kept
    heap, blocks, rss = _heap_in_use(), sys.getallocatedblocks(), _rss_bytes()
    rounds = 60
    for _ in range(rounds):
        _leak_round(data)
    heap, blocks, rss = (_heap_in_use() - heap, sys.getallocatedblocks() - blocks,
                         _rss_bytes() - rss)
    calls = rounds * sum(4 + len(d[4]) for d in data)
    # Tens of thousands of calls: an output leaked per call would be
    # gigabytes; a 256-byte buffer lost per call (the block partials) is over
    # 4 MiB with the 7 regression losses alone, an object lost per call (an
    # exception's frame, a cached array) thousands of Python blocks.
    msg = f"over {calls} calls: heap {heap / 2**20:.2f} MiB, {blocks} Python blocks, " \
          f"RSS {rss / 2**20:.1f} MiB"
    assert heap < 4 * 2**20, msg
    assert blocks < 1000, msg
    assert rss < 16 * 2**20, msg


# --- 64-bit index arithmetic ---------------------------------------------------------


@pytest.mark.parametrize("name,params", CASES)
def test_shape_errors_come_before_any_copy_of_huge_inputs(name, params):
    """Zero-stride views of > 2**31 elements cost nothing; validation must
    reject mismatched shapes and weights before materialising them."""
    loss = LOSSES[name]
    y, p = draw(loss, params, (1, 4))
    if loss.kind == "elementwise":
        big = (2**31 + 5,)
        yb = np.broadcast_to(y[0, 0], big)
        pb = np.broadcast_to(p[0, 0], big)
        with pytest.raises(ValueError, match="shape"):
            loss(yb, pb[:-1], **params)
    else:
        big = (2**29 + 1, 4)
        pb = np.broadcast_to(p, big)
        yb = np.broadcast_to(y, big[:-1] if y.ndim == 1 else big)
        with pytest.raises(ValueError, match="shape"):
            loss(yb[:-1], pb, **params)


@pytest.mark.parametrize("name,params", CASES)
def test_zero_size_inputs_with_huge_dimensions(name, params):
    loss = LOSSES[name]
    if loss.kind != "elementwise":
        # no classes at all: an error naming y_pred, before anything is allocated
        p = np.empty((2**31 + 1, 0))
        y = (np.broadcast_to(np.int64(0), (2**31 + 1,)) if _sparse(loss, params)
             else np.empty((2**31 + 1, 0)))
        with pytest.raises(ValueError, match="y_pred"):
            loss(y, p, **params)
        shape = (0, 7)
    else:
        shape = (2**33, 0)
    y, p = draw(loss, params, shape)
    assert loss(y, p, reduction="sum", **params) == 0
    assert np.isnan(loss(y, p, **params))
    assert loss.grad(y, p, **params).shape == shape


def _mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.skipif(not BIG, reason="needs ~9 GB of RAM; set FASTLOSS_BIG_TESTS=1")
def test_elementwise_beyond_2_to_the_31_elements():
    """2**31 + 2**20 + 7 float32 elements.  y_true is y_pred itself (poisson with
    y = p = 0 is valid: loss 0, gradient 1), and the bulk is np.zeros, whose
    untouched pages cost no memory.  Random values sit across the 2**31
    boundary and at the very end, where a 32-bit index would wrap."""
    n = 2**31 + 2**20 + 7
    if _mem_available() < 10 * 2**30:
        pytest.skip("less than 10 GiB of memory available")
    loss = fl.poisson
    p = np.zeros(n, np.float32)
    rng = np.random.default_rng(0)
    spans = [slice(2**31 - 2000, 2**31 + 1000), slice(n - 3000, n)]
    for sl in spans:
        p[sl] = rng.uniform(0.5, 3.0, 3000).astype(np.float32)

    def ref(sl):
        x = p[sl].astype(np.float64)
        return reference.poisson(x, x)

    s = loss(p, p, reduction="sum")
    np.testing.assert_allclose(s, sum(ref(sl)[0].sum() for sl in spans), rtol=1e-6)
    for reduction, want_bulk, part in (("none", 0.0, 0), (None, 1.0, 1)):
        out = (loss(p, p, reduction="none") if reduction else
               loss.grad(p, p, reduction="sum"))
        for sl in spans:
            np.testing.assert_allclose(out[sl], ref(sl)[part], rtol=2e-5, atol=2e-6)
        chunk = 2**26
        for a in range(0, n, chunk):
            seg, ps = out[a:a + chunk], p[a:a + chunk]
            assert np.all(seg[ps == 0] == want_bulk), a
        del out


@pytest.mark.skipif(not BIG, reason="needs ~9 GB of RAM; set FASTLOSS_BIG_TESTS=1")
def test_rowwise_beyond_2_to_the_31_elements():
    """n * C > 2**31 scores with integer labels: the rows past the 2**31-th
    element are compared with the reference computed on those rows alone."""
    sparse = [c for c in SPARSE_CASES
              if c.values[1].get("from_logits") and set(c.values[1]) == {"from_logits"}]
    if not sparse:
        pytest.skip("no sparse row-wise loss with from_logits registered")
    name, params = sparse[0].values
    loss = LOSSES[name]
    if _mem_available() < 10 * 2**30:
        pytest.skip("less than 10 GiB of memory available")
    C = 2**16
    n = 2**15 + 3          # n * C = 2**31 + 3 * 2**16
    p = np.zeros((n, C), np.float32)   # untouched pages cost nothing
    rng = np.random.default_rng(1)
    tail, head = slice(n - 4, n), slice(0, 2)   # the tail starts past 2**31
    p[tail] = rng.normal(0, 3, (4, C)).astype(np.float32)
    p[head] = rng.normal(0, 3, (2, C)).astype(np.float32)
    labels = rng.integers(0, C, n)
    per_row, g = loss.loss_grad(labels, p, reduction="none", **params)
    for rows in (tail, head):
        # closed form (the reference builds a (C, C) one-hot matrix: 32 GiB here):
        # loss = logsumexp(x) - x[label], grad = softmax(x) - onehot(label)
        x = p[rows].astype(np.float64)
        m = x.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
        lab = labels[rows]
        want_l = lse - x[np.arange(len(lab)), lab]
        want_g = np.exp(x - lse[:, None])
        want_g[np.arange(len(lab)), lab] -= 1
        np.testing.assert_allclose(per_row[rows], want_l, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(g[rows], want_g, rtol=2e-4, atol=2e-7)
    # all-zero logits: loss log(C), gradient 1/C - onehot
    np.testing.assert_allclose(per_row[2:n - 4], np.log(C), rtol=1e-5)
    mid = n // 2
    want = np.full(C, 1.0 / C)
    want[labels[mid]] -= 1
    np.testing.assert_allclose(g[mid], want, rtol=1e-4, atol=1e-9)


def test_float64_weights_that_overflow_float32_raise():
    import fastloss as fl

    y = np.zeros(3, dtype=np.float32)
    p = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match="sample_weight"):
        fl.mse(y, p, sample_weight=np.array([1e39, 1.0, 1.0]))
