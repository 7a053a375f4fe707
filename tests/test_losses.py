"""Every registered loss, against the NumPy reference and finite differences.

Parametrised over the registry (helpers.cases): a newly registered loss is
covered by every test here without edits.
"""

import numpy as np
import pytest
from helpers import LOSSES, cases, draw, row_weights, shapes_for, tol

from fastloss import reference

CASES = cases()
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", CASES)
def test_loss_grad_matches_reference(name, params, reduction, dtype):
    loss = LOSSES[name]
    for shape in shapes_for(loss):
        y, p = draw(loss, params, shape, dtype)
        for w in [None, row_weights(shape)]:
            got_l, got_g = loss.loss_grad(y, p, sample_weight=w, reduction=reduction, **params)
            ref_l, ref_g = reference.loss_grad(name, y, p.astype(np.float64),
                                               sample_weight=w, reduction=reduction, **params)
            assert np.asarray(got_l).dtype == dtype
            assert got_g.dtype == dtype and got_g.shape == p.shape
            np.testing.assert_allclose(got_l, ref_l, **tol(dtype))
            np.testing.assert_allclose(got_g, ref_g, **tol(dtype))


@pytest.mark.parametrize("name,params", CASES)
def test_elementwise_full_shape_weights(name, params):
    loss = LOSSES[name]
    if loss.kind != "elementwise":
        pytest.skip("full-shape weights apply to element-wise losses")
    y, p = draw(loss, params, (6, 3))
    w = np.random.default_rng(3).uniform(0, 2, size=(6, 3))
    for reduction in REDUCTIONS:
        got = loss.loss_grad(y, p, sample_weight=w, reduction=reduction, **params)
        ref = reference.loss_grad(name, y, p, sample_weight=w, reduction=reduction, **params)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,params", CASES)
def test_methods_agree(name, params, dtype):
    """loss_grad == (loss(...), grad(...)) exactly, for every reduction."""
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, dtype)
    w = row_weights(shape)
    for reduction in REDUCTIONS:
        kw = dict(sample_weight=w, reduction=reduction, **params)
        l2, g2 = loss.loss_grad(y, p, **kw)
        np.testing.assert_array_equal(loss(y, p, **kw), l2)
        np.testing.assert_array_equal(loss.loss(y, p, **kw), l2)
        np.testing.assert_array_equal(loss.grad(y, p, **kw), g2)


def _fd_grad(f, p, h):
    """Central differences of the scalar function f at every element of p."""
    g = np.empty_like(p)
    flat, gf = p.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        up, dn = flat.copy(), flat.copy()
        up[i] += h
        dn[i] -= h
        gf[i] = (f(up.reshape(p.shape)) - f(dn.reshape(p.shape))) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,params", CASES)
def test_grad_matches_finite_differences(name, params, reduction):
    loss = LOSSES[name]
    shape = (5, 4) if loss.kind != "elementwise" else (12,)
    y, p = draw(loss, params, shape, seed=7)
    w = row_weights(shape)
    kw = dict(sample_weight=w, reduction=reduction, **params)
    g = loss.grad(y, p, **kw)
    fd = _fd_grad(lambda q: float(loss(y, q, **kw)), p, 1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,params", CASES)
def test_hessian_matches_finite_differences_of_grad(name, params):
    loss = LOSSES[name]
    if not loss.has_hessian:
        with pytest.raises(NotImplementedError):
            loss.grad_hess(*draw(loss, params, (4,)), **params)
        return
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, seed=11)
    w = row_weights(shape)
    g, h = loss.grad_hess(y, p, sample_weight=w, **params)
    ref_g, ref_h = reference.grad_hess(name, y, p, sample_weight=w, **params)
    np.testing.assert_allclose(g, ref_g, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h, ref_h, rtol=1e-10, atol=1e-12)
    # Diagonal hessian = derivative of each gradient entry w.r.t. its own input.
    step = 1e-5
    fd = np.empty_like(p)
    for idx in np.ndindex(p.shape):
        up, dn = p.copy(), p.copy()
        up[idx] += step
        dn[idx] -= step
        fd[idx] = (loss.grad_hess(y, up, sample_weight=w, **params)[0][idx]
                   - loss.grad_hess(y, dn, sample_weight=w, **params)[0][idx]) / (2 * step)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,params", CASES)
def test_reduction_identities(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, seed=3)
    w = row_weights(shape)
    per_unit = loss(y, p, sample_weight=w, reduction="none", **params)
    total = loss(y, p, sample_weight=w, reduction="sum", **params)
    mean = loss(y, p, sample_weight=w, reduction="mean", **params)
    np.testing.assert_allclose(per_unit.sum(), total, rtol=1e-12)
    # unweighted: sum == mean * number of units
    n_units = loss(y, p, reduction="none", **params).size
    np.testing.assert_allclose(loss(y, p, reduction="sum", **params),
                               loss(y, p, reduction="mean", **params) * n_units, rtol=1e-12)
    # grad of sum == grad of mean * (sum of mean's denominator) for uniform weights
    g_sum = loss.grad(y, p, reduction="sum", **params)
    g_none = loss.grad(y, p, reduction="none", **params)
    np.testing.assert_allclose(g_sum, g_none, rtol=1e-12)
    assert np.isfinite(mean)


@pytest.mark.parametrize("name,params", CASES)
def test_float32_close_to_float64(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y64, p64 = draw(loss, params, shape, np.float64, seed=4)
    l32, g32 = loss.loss_grad(y64.astype(np.float32) if y64.dtype.kind == "f" else y64,
                              p64.astype(np.float32), **params)
    l64, g64 = loss.loss_grad(y64, p64, **params)
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    np.testing.assert_allclose(l32, l64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,params", CASES)
def test_layouts_give_identical_results(name, params):
    """Strided, Fortran-ordered, transposed-back, read-only, byte-swapped
    and list inputs are all the same numbers as contiguous arrays."""
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape, seed=9)
    want = loss.loss_grad(y, p, reduction="none", **params)

    def variants(a):
        yield np.asfortranarray(a)
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        yield big[::2]
        yield np.ascontiguousarray(a.T).T
        ro = a.copy()
        ro.flags.writeable = False
        yield ro
        if a.dtype.kind == "f":
            yield a.astype(a.dtype.newbyteorder())
        yield a.tolist()

    for yv, pv in zip(variants(y), variants(p)):
        got = loss.loss_grad(yv, pv, reduction="none", **params)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("name,params", CASES)
def test_inputs_unchanged_and_outputs_fresh(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape)
    w = row_weights(shape)
    copies = [a.copy() for a in (y, p, w)]
    outs = list(loss.loss_grad(y, p, sample_weight=w, reduction="none", **params))
    if loss.has_hessian:
        outs += list(loss.grad_hess(y, p, sample_weight=w, **params))
    for a, c in zip((y, p, w), copies):
        np.testing.assert_array_equal(a, c)
    for out in outs:
        for a in (y, p, w):
            assert not np.shares_memory(out, a)


@pytest.mark.parametrize("name,params", CASES)
def test_empty_input(name, params):
    loss = LOSSES[name]
    shape = (0,) + shapes_for(loss)[-1][1:]
    y, p = draw(loss, params, shape)
    assert np.isnan(loss(y, p, **params))
    assert loss(y, p, reduction="sum", **params) == 0
    assert loss(y, p, reduction="none", **params).size == 0
    assert loss.grad(y, p, **params).shape == p.shape


@pytest.mark.parametrize("name,params", CASES)
def test_nan_propagates(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape)
    p[1] = np.nan
    per_unit, g = loss.loss_grad(y, p, reduction="none", **params)
    assert np.all(np.isnan(per_unit.reshape(shape[0], -1)[1]))
    assert np.all(np.isfinite(np.delete(per_unit.reshape(shape[0], -1), 1, axis=0)))
    assert np.isnan(g[1]).any()
    assert np.isnan(loss(y, p, **params))


@pytest.mark.parametrize("name,params", CASES)
def test_bad_inputs_raise(name, params):
    loss = LOSSES[name]
    shape = shapes_for(loss)[-1]
    y, p = draw(loss, params, shape)
    with pytest.raises(ValueError, match="reduction"):
        loss(y, p, reduction="avg", **params)
    with pytest.raises(ValueError, match="shape"):
        loss(y, p[:-1], **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(y, p, sample_weight=-row_weights(shape), **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(y, p, sample_weight=np.zeros(shape[0]), **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(y, p, sample_weight=np.ones(shape[0] + 1), **params)
    with pytest.raises(TypeError, match="unexpected keyword"):
        loss(y, p, not_a_keyword=1, **params)
    with pytest.raises(TypeError, match="complex"):
        loss(y, p.astype(complex), **params)
    with pytest.raises(TypeError, match="numbers"):
        loss(y, p.astype(str), **params)
    # all-zero weights are fine for 'sum' and 'none'
    assert loss(y, p, sample_weight=np.zeros(shape[0]), reduction="sum", **params) == 0


@pytest.mark.parametrize("name,params", CASES)
def test_results_do_not_depend_on_thread_count(name, params):
    import fastloss as fl

    loss = LOSSES[name]
    big = (50_000,) if loss.kind == "elementwise" else (5_000, 12)
    y, p = draw(loss, params, big, seed=2)
    with fl.threads(1):
        one = loss.loss_grad(y, p, **params)
    with fl.threads(2):
        two = loss.loss_grad(y, p, **params)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])
