"""Property-based tests (hypothesis) over the registry.

For every registered loss and example keyword set, hypothesis draws shapes
(including empty and 0-d), dtypes, memory layouts, sample weights and
values, and checks invariants that need no hand-picked expected numbers:

- loss_grad agrees with the NumPy reference and with (loss, grad) bitwise;
  inputs are untouched and outputs own their memory;
- reduction identities: sum == mean * sum(w), sum == sum(none),
  grad(sum) == grad(mean) * sum(w), grad(none) == grad(sum);
- float32 results are close to float64 results;
- gradients (and hessians) agree with central differences wherever the loss
  is locally smooth (both one-sided differences agree);
- arbitrary values, in or out of the domain: an error naming an argument,
  or a finite answer, and nothing in between (no NaN, no inf, no warning).

Runs are deterministic (derandomize=True, no example database) and small,
so CI sees the same examples every time.
"""

import warnings

import numpy as np
import pytest
from helpers import LOSSES, draw, pair_cases, tol
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastloss import reference
from fastloss._core.validation import float_dtype

# Value-kind based: the (y_true, y_pred) losses (helpers.is_pair).
CASES = pair_cases()
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
# Bugs these properties found outside the validation layer: (test, case id)
# -> reason.  Strict xfails: a fix shows as XPASS; then delete the entry.
KNOWN_BUGS = {}  # e.g. {("test_name", "case-id"): "what is wrong; the fix"}
LAYOUTS = ["C", "F", "strided", "reversed", "swapped", "readonly", "list", "transposed"]


def _sparse(loss, params):
    return loss.domain(**params)[0] == "int_labels"


def relayout(a, layout):
    """The same values as `a` in another memory layout (or as a list)."""
    a = np.asarray(a)
    if a.ndim == 0 and layout in ("F", "transposed"):
        return a  # asfortranarray and ascontiguousarray make 0-d arrays 1-d
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
        big[1::2] = a
        return big[1::2]
    if layout == "reversed" and a.ndim:
        return a[::-1].copy()[::-1]
    if layout == "swapped":
        return a.astype(a.dtype.newbyteorder())
    if layout == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if layout == "list" and (a.size or a.ndim == 1):
        return a.tolist()
    if layout == "transposed" and a.ndim:
        return np.ascontiguousarray(a.T).T
    return a


@st.composite
def problems(draw_, name, params, dtypes=(np.float32, np.float64), weighted=True,
             min_size=0):
    """(y_true, y_pred, sample_weight, reduction) for one loss, in random layouts."""
    loss = LOSSES[name]
    if loss.kind == "elementwise":
        shape = tuple(draw_(st.lists(st.integers(min_size, 6), min_size=0, max_size=3)))
    else:
        lead = draw_(st.lists(st.integers(min_size, 6), min_size=1, max_size=2))
        shape = tuple(lead) + (draw_(st.integers(1, 6)),)
    dtype = draw_(st.sampled_from(dtypes))
    seed = draw_(st.integers(0, 2**32 - 1))
    y, p = draw(loss, params, shape, dtype, seed=seed)
    units = shape if loss.kind == "elementwise" else shape[:-1]
    rng = np.random.default_rng(seed)
    wkind = draw_(st.sampled_from(["none", "row", "full", "scalar"] if weighted else ["none"]))
    if wkind == "row" and len(units) >= 1:
        w = rng.uniform(0.1, 2.0, units[0])
    elif wkind == "full" or (wkind == "row" and not units):
        w = rng.uniform(0.1, 2.0, units)
    elif wkind == "scalar":
        w = float(rng.uniform(0.1, 2.0))
    else:
        w = None
    lay = [draw_(st.sampled_from(LAYOUTS)) for _ in range(3)]
    yl, pl = relayout(y, lay[0]), relayout(p, lay[1])
    wl = relayout(w, lay[2]) if isinstance(w, np.ndarray) else w
    reduction = draw_(st.sampled_from(["mean", "sum", "none"]))
    return yl, pl, wl, reduction


def computed_dtype(y, p):
    return float_dtype(np.asarray(y), np.asarray(p))


def ref_loss_grad(name, y, p, w, reduction, params):
    """The float64 NumPy reference (integer labels stay integers)."""
    y = np.asarray(y)
    y = y if _sparse(LOSSES[name], params) else y.astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reference.loss_grad(name, y, np.asarray(p, dtype=np.float64),
                                   sample_weight=None if w is None else np.asarray(w, float),
                                   reduction=reduction, **params)


def unit_weights(loss, p, w):
    """The weight of every unit (element or row), shape of the per-unit loss."""
    p = np.asarray(p)
    units = p.shape if loss.kind == "elementwise" else p.shape[:-1]
    w = np.ones(()) if w is None else np.asarray(w, dtype=np.float64)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(units) - w.ndim)), units)


def total_weight(loss, p, w):
    """sum(w) over the units the mean divides by."""
    return float(unit_weights(loss, p, w).sum())


def assert_close_where_ref_finite(got, want, **tolerance):
    """Compare where the reference is finite.  Plain NumPy formulas give NaN
    at some exact limits the kernels get right (e.g. (1 - p)^(gamma - 1) at
    p = 1 with one class); there the kernel must be finite or agree (the
    mean of nothing is NaN on both sides)."""
    got, want = np.asarray(got), np.asarray(want)
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], **tolerance)
    g, w = got[~ok], want[~ok]
    assert np.all(np.isfinite(g) | (g == w) | (np.isnan(g) & np.isnan(w))), (g, w)


def given_case(strategy_factory):
    """Parametrise over the registry, and draw a problem for each case."""
    def wrap(test):
        marked = []
        for c in CASES:
            reason = KNOWN_BUGS.get((test.__name__, c.id))
            marked.append(pytest.param(*c.values, id=c.id, marks=[
                pytest.mark.xfail(strict=True, reason=reason)] if reason else []))

        @pytest.mark.parametrize("name,params", marked)
        @SETTINGS
        @given(data=st.data())
        def run(name, params, data):
            test(name, params, data.draw(strategy_factory(name, params)))
        run.__name__ = test.__name__
        run.__doc__ = test.__doc__
        return run
    return wrap


# --- agreement with the reference, and with itself -----------------------------------


@given_case(problems)
def test_random_layouts_match_the_reference(name, params, problem):
    loss = LOSSES[name]
    y, p, w, reduction = problem
    snapshot = [np.array(a, copy=True) for a in (y, p, w)]
    kw = dict(sample_weight=w, reduction=reduction, **params)
    l, g = loss.loss_grad(y, p, **kw)
    dtype = computed_dtype(y, p)
    assert np.asarray(l).dtype == dtype and g.dtype == dtype
    assert g.shape == np.shape(p) and g.dtype.isnative
    ref_l, ref_g = ref_loss_grad(name, y, p, w, reduction, params)
    assert_close_where_ref_finite(l, ref_l, **tol(dtype))
    assert_close_where_ref_finite(g, ref_g, **tol(dtype))
    # the fused pass equals the separate calls, bit for bit
    np.testing.assert_array_equal(loss(y, p, **kw), l)
    np.testing.assert_array_equal(loss.grad(y, p, **kw), g)
    outs = [np.asarray(l), g]
    if loss.has_hessian:
        gh = loss.grad_hess(y, p, sample_weight=w, **params)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgh = reference.grad_hess(
                name, np.asarray(y) if _sparse(loss, params) else np.asarray(y, float),
                np.asarray(p, float), **params)
        uw = unit_weights(loss, p, w)
        uw = uw if loss.kind == "elementwise" else uw[..., None]
        for got, want in zip(gh, rgh, strict=True):
            want = uw * want
            assert got.dtype == dtype and got.shape == np.shape(p)
            assert_close_where_ref_finite(got, want, rtol=10 * tol(dtype)["rtol"],
                                          atol=10 * tol(dtype)["atol"])
        outs += list(gh)
    # inputs untouched, outputs own their memory
    for a, before in zip((y, p, w), snapshot, strict=True):
        np.testing.assert_array_equal(np.asarray(a), before)
        if isinstance(a, np.ndarray):
            for out in outs:
                assert not np.shares_memory(out, a)


@given_case(lambda name, params: problems(name, params, dtypes=(np.float64,)))
def test_reduction_identities(name, params, problem):
    loss = LOSSES[name]
    y, p, w, _ = problem
    kw = dict(sample_weight=w, **params)
    total = total_weight(loss, p, w)
    l_sum, g_sum = loss.loss_grad(y, p, reduction="sum", **kw)
    l_none, g_none = loss.loss_grad(y, p, reduction="none", **kw)
    np.testing.assert_array_equal(g_none, g_sum)
    # absolute slack: one rounding of the largest term (cancellation near 0)
    latol = 1e-14 * float(np.sum(np.abs(l_none)))
    gatol = 1e-15 * max(1.0, float(np.max(np.abs(g_sum), initial=0)))
    np.testing.assert_allclose(np.sum(l_none), l_sum, rtol=1e-12, atol=latol)
    if total == 0:
        assert np.isnan(loss(y, p, reduction="mean", **kw))
        return
    l_mean, g_mean = loss.loss_grad(y, p, reduction="mean", **kw)
    np.testing.assert_allclose(l_mean * total, l_sum, rtol=1e-12, atol=latol)
    np.testing.assert_allclose(g_mean * total, g_sum, rtol=1e-12, atol=gatol)


@given_case(lambda name, params: problems(name, params, dtypes=(np.float64,)))
def test_float32_is_close_to_float64(name, params, problem):
    loss = LOSSES[name]
    y, p, w, reduction = problem
    y, p = np.asarray(y), np.asarray(p)
    y32 = y if y.dtype.kind != "f" else y.astype(np.float32)
    # values that round to the domain boundary in float32 are a different input
    try:
        l32, g32 = loss.loss_grad(y32, p.astype(np.float32), sample_weight=w,
                                  reduction=reduction, **params)
    except ValueError:
        return
    l64, g64 = loss.loss_grad(y32.astype(y.dtype), p.astype(np.float32).astype(np.float64),
                              sample_weight=w, reduction=reduction, **params)
    assert g32.dtype == np.float32
    scale = max(1.0, float(np.max(np.abs(l64), initial=0)))
    np.testing.assert_allclose(l32, l64, rtol=1e-4, atol=1e-5 * scale)
    # a gradient entry is O(1) / (number of units) for "mean": float32 rounds
    # O(1) quantities to ~1e-7 before the division
    n_units = max(1, np.size(l64) if reduction == "none" else
                  int(np.prod(p.shape if loss.kind == "elementwise" else p.shape[:-1])))
    gscale = max(1.0 / n_units, float(np.max(np.abs(g64), initial=0)))
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * gscale)


# --- derivatives against central differences where smooth -----------------------------


def _per_entry_fd(loss, p, f):
    """Central differences d f_ij / d p_ij for every entry of p, where f maps
    scores to an array of p's shape whose entry ij depends on p only through
    row i (element-wise: through p_ij).  So one column of every row can move
    at once.  Also returns a mask of the entries where the left and right
    differences agree: there the function is smooth and the check is fair.
    Entries whose step leaves the domain (f raises) are neither; the fraction
    of valid entries that are smooth is returned too."""
    h = 1e-6 * np.maximum(1.0, np.abs(p))
    central = np.zeros_like(p)
    smooth = np.zeros(p.shape, bool)
    valid = np.zeros(p.shape, bool)

    def safe(q):
        try:
            return np.asarray(f(q), dtype=np.float64)
        except ValueError:  # the step left the domain (a probability above 1, ...)
            return np.full(q.shape, np.nan)

    cols = [np.ones(p.shape, bool)] if loss.kind == "elementwise" else [
        np.broadcast_to(np.arange(p.shape[-1]) == j, p.shape) for j in range(p.shape[-1])]
    f0 = safe(p)
    for col in cols:
        up, dn = p.copy(), p.copy()
        up[col] += h[col]
        dn[col] -= h[col]
        fu, fd = safe(up), safe(dn)
        c = (fu[col] - fd[col]) / (2 * h[col])
        left = (f0[col] - fd[col]) / h[col]
        right = (fu[col] - f0[col]) / h[col]
        central[col] = c
        valid[col] = np.isfinite(left) & np.isfinite(right)
        smooth[col] = np.abs(left - right) <= 1e-3 * (1 + np.abs(c))
    return central, smooth, (smooth.sum() / valid.sum()) if valid.any() else 1.0


@given_case(lambda name, params: problems(name, params, dtypes=(np.float64,), min_size=1))
def test_gradient_matches_central_differences_where_smooth(name, params, problem):
    loss = LOSSES[name]
    y, p, w, _ = problem
    y, p = np.asarray(y), np.array(p, dtype=np.float64)
    g = loss.grad(y, p, sample_weight=w, reduction="none", **params)

    def per_unit(q):  # weighted per-unit losses, broadcast over the scores
        out = loss(y, q, sample_weight=w, reduction="none", **params)
        return np.broadcast_to(out[..., None] if loss.kind != "elementwise" else out, q.shape)

    central, smooth, frac = _per_entry_fd(loss, p, per_unit)
    assert frac >= 0.75, "the loss is not smooth at most random points"
    np.testing.assert_allclose(g[smooth], central[smooth], rtol=1e-5, atol=1e-6)


@given_case(lambda name, params: problems(name, params, dtypes=(np.float64,), min_size=1))
def test_hessian_matches_central_differences_of_the_gradient(name, params, problem):
    """grad_hess's hessian is the diagonal d g_ij / d p_ij."""
    loss = LOSSES[name]
    if not loss.has_hessian:
        return
    y, p, w, _ = problem
    y, p = np.asarray(y), np.array(p, dtype=np.float64)
    _, hess = loss.grad_hess(y, p, sample_weight=w, **params)
    central, smooth, _ = _per_entry_fd(
        loss, p, lambda q: loss.grad_hess(y, q, sample_weight=w, **params)[0])
    np.testing.assert_allclose(hess[smooth], central[smooth], rtol=1e-4, atol=1e-6)


# --- anything in: an error or a finite answer -----------------------------------------

SPECIAL = [0.0, 1.0, -1.0, 0.5, 1e-8, -1e-8, 1 - 1e-8, 2.0, -2.0, 30.0, -30.0, 1e-300]


@st.composite
def anything(draw_, name, params):
    loss = LOSSES[name]
    y, p, w, reduction = draw_(problems(name, params))
    y, p = np.array(y), np.array(p)
    seed = draw_(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    frac = draw_(st.sampled_from([0.0, 0.2, 1.0]))

    def scramble(a):
        pool = np.array(SPECIAL + list(rng.normal(0, 10, 4)))
        hit = rng.random(a.shape) < frac
        out = a.astype(np.float64) if a.dtype.kind != "f" else a.copy()
        out[hit] = rng.choice(pool, size=int(hit.sum()))
        return out.astype(a.dtype) if a.dtype.kind == "f" else out

    if _sparse(loss, params):
        C = p.shape[-1]
        hit = rng.random(y.shape) < frac
        y = y.copy()
        y[hit] = rng.integers(-2, C + 2, size=int(hit.sum()))
    else:
        y = scramble(y)
    p = scramble(p)
    if isinstance(w, np.ndarray) and draw_(st.booleans()):
        w = np.asarray(w, float).copy()
        w[rng.random(w.shape) < 0.3] = draw_(st.sampled_from([0.0, -1.0, 1e-8, 5.0]))
    return y, p, w, reduction


@given_case(anything)
def test_any_values_give_an_error_or_a_finite_answer(name, params, problem):
    loss = LOSSES[name]
    y, p, w, reduction = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            outs = list(loss.loss_grad(y, p, sample_weight=w, reduction=reduction, **params))
            if loss.has_hessian:
                outs += list(loss.grad_hess(y, p, sample_weight=w, **params))
        except (ValueError, TypeError) as e:
            assert any(arg in str(e) for arg in ("y_true", "y_pred", "sample_weight")), e
            return
    if reduction == "mean" and np.size(outs[1]) == 0:
        outs = outs[1:]  # the mean of nothing is NaN by definition
    for out in outs:
        assert np.all(np.isfinite(out)), (out, y, p, w)
