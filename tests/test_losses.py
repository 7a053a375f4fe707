"""Every registered loss, against the NumPy reference and finite differences.

Parametrised over the registry (helpers.cases) and generic over a loss's
inputs: each loss declares its positional `inputs`, the `wrt` inputs it
returns gradients for and a sampler of valid inputs, and every test here
follows from that declaration.  A newly registered loss, of two inputs or of
several, is covered by every test here without edits.  Per-unit losses and
weights are handled through helpers.parts / helpers.each, so losses whose
units come in several groups (`loss.unit_groups`, e.g. a GAN
discriminator's real and fake logits) are covered too.
"""

import numpy as np
import pytest
from helpers import (
    LOSSES,
    cases,
    draw,
    each,
    float_inputs,
    grads,
    parts,
    row_weights,
    shapes_for,
    tol,
    unit_weights,
    wrt_index,
)

import fastloss as fl
from fastloss import reference

CASES = cases()
REDUCTIONS = ["mean", "sum", "none"]


def _ref64(loss, inputs):
    """The inputs as the float64 reference sees them (labels kept)."""
    return tuple(np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else a
                 for a in inputs)


def _assert_grads(got, want, loss, **kw):
    got, want = grads(got), grads(want)
    assert len(got) == len(want) == len(loss.wrt)
    for g, r, name in zip(got, want, loss.wrt, strict=True):
        np.testing.assert_allclose(g, r, err_msg=f"gradient w.r.t. {name}", **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", CASES)
def test_loss_grad_matches_reference(name, params, reduction, dtype):
    loss = LOSSES[name]
    for shape in shapes_for(loss):
        inputs = draw(loss, params, shape, dtype)
        for w in [None, unit_weights(loss, inputs, params)]:
            got_l, got_g = loss.loss_grad(*inputs, sample_weight=w, reduction=reduction,
                                          **params)
            ref_l, ref_g = reference.loss_grad(name, *_ref64(loss, inputs), sample_weight=w,
                                               reduction=reduction, **params)
            assert len(parts(got_l)) == len(parts(ref_l))
            for a, b in zip(parts(got_l), parts(ref_l), strict=True):
                assert np.asarray(a).dtype == dtype
                np.testing.assert_allclose(a, b, **tol(dtype))
            assert len(grads(got_g)) == len(loss.wrt)
            for g, i in zip(grads(got_g), wrt_index(loss), strict=True):
                assert g.dtype == dtype and g.shape == np.shape(inputs[i])
            _assert_grads(got_g, ref_g, loss, **tol(dtype))


@pytest.mark.parametrize("name,params", cases(lambda loss: loss.kind == "elementwise"))
def test_elementwise_full_shape_and_row_weights(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, (6, 3))
    for w in (np.random.default_rng(3).uniform(0, 2, size=(6, 3)), row_weights((6, 3))):
        for reduction in REDUCTIONS:
            got = loss.loss_grad(*inputs, sample_weight=w, reduction=reduction, **params)
            ref = reference.loss_grad(name, *inputs, sample_weight=w, reduction=reduction,
                                      **params)
            np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=1e-14)
            _assert_grads(got[1], ref[1], loss, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,params", CASES)
def test_methods_agree(name, params, dtype):
    """loss_grad == (loss(...), grad(...)) exactly, for every reduction."""
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1], dtype)
    w = unit_weights(loss, inputs, params)
    for reduction in REDUCTIONS:
        kw = dict(sample_weight=w, reduction=reduction, **params)
        l2, g2 = loss.loss_grad(*inputs, **kw)
        for a, b, c in zip(parts(loss(*inputs, **kw)), parts(loss.loss(*inputs, **kw)),
                           parts(l2), strict=True):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, c)
        for a, b in zip(grads(loss.grad(*inputs, **kw)), grads(g2), strict=True):
            np.testing.assert_array_equal(a, b)


def test_inputs_bind_by_name_as_well_as_by_position():
    for loss in LOSSES.values():
        params = loss.examples[0]
        inputs = draw(loss, params, shapes_for(loss)[0])
        want = loss(*inputs, **params)
        by_name = dict(zip(loss.inputs, inputs, strict=True))
        assert loss(**by_name, **params) == want
        assert loss(*inputs[:1], **dict(list(by_name.items())[1:]), **params) == want
        with pytest.raises(TypeError, match="missing required input"):
            loss(*inputs[:-1], **params)
        with pytest.raises(TypeError, match="positional inputs"):
            loss(*inputs, inputs[0], **params)
        with pytest.raises(TypeError, match="multiple values"):
            loss(*inputs, **{loss.inputs[0]: inputs[0]}, **params)


def _fd_grad(f, arrays, i, h):
    """Central differences of the scalar f(*arrays) w.r.t. every element of
    arrays[i]."""
    x = arrays[i]
    g = np.empty_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for j in range(flat.size):
        up, dn = flat.copy(), flat.copy()
        up[j] += h
        dn[j] -= h
        a_up = list(arrays)
        a_dn = list(arrays)
        a_up[i], a_dn[i] = up.reshape(x.shape), dn.reshape(x.shape)
        gf[j] = (f(*a_up) - f(*a_dn)) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name,params", CASES)
def test_grad_matches_finite_differences(name, params, reduction):
    loss = LOSSES[name]
    inputs = draw(loss, params, loss.shapes["fd"], seed=7)
    w = unit_weights(loss, inputs, params)
    kw = dict(sample_weight=w, reduction=reduction, **params)
    g = grads(loss.grad(*inputs, **kw))
    # a loss whose gradient holds part of its value constant (a stop-gradient)
    # is differentiated with that part frozen at `inputs` (reference.SURROGATES)
    surrogate = reference.SURROGATES.get(name)
    value = (surrogate(inputs, params) if surrogate else
             lambda *a, **k: loss(*a, **k, **params))
    for gi, i in zip(g, wrt_index(loss), strict=True):
        fd = _fd_grad(lambda *a: float(value(*a, sample_weight=w, reduction=reduction)),
                      inputs, i, 1e-6)
        np.testing.assert_allclose(gi, fd, rtol=1e-5, atol=1e-7,
                                   err_msg=f"w.r.t. {loss.inputs[i]}")


@pytest.mark.parametrize("name,params", CASES)
def test_hessian_matches_finite_differences_of_grad(name, params):
    loss = LOSSES[name]
    if not loss.has_hessian:
        with pytest.raises(NotImplementedError):
            loss.grad_hess(*draw(loss, params, shapes_for(loss)[0]), **params)
        return
    inputs = draw(loss, params, shapes_for(loss)[-1], seed=11)
    w = unit_weights(loss, inputs, params)
    g, h = loss.grad_hess(*inputs, sample_weight=w, **params)
    ref_g, ref_h = reference.grad_hess(name, *inputs, sample_weight=w, **params)
    _assert_grads(g, ref_g, loss, rtol=1e-11, atol=1e-13)
    _assert_grads(h, ref_h, loss, rtol=1e-10, atol=1e-12)
    # Diagonal hessian = derivative of each gradient entry w.r.t. its own input.
    step = 1e-5
    for k, i in enumerate(wrt_index(loss)):
        x = inputs[i]
        fd = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            up, dn = list(inputs), list(inputs)
            up[i], dn[i] = x.copy(), x.copy()
            up[i][idx] += step
            dn[i][idx] -= step
            fd[idx] = (grads(loss.grad_hess(*up, sample_weight=w, **params)[0])[k][idx]
                       - grads(loss.grad_hess(*dn, sample_weight=w, **params)[0])[k][idx]
                       ) / (2 * step)
        np.testing.assert_allclose(grads(h)[k], fd, rtol=1e-5, atol=1e-6,
                                   err_msg=f"w.r.t. {loss.inputs[i]}")


@pytest.mark.parametrize("name,params", CASES)
def test_reduction_identities(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1], seed=3)
    w = unit_weights(loss, inputs, params)
    per_unit = parts(loss(*inputs, sample_weight=w, reduction="none", **params))
    total = loss(*inputs, sample_weight=w, reduction="sum", **params)
    mean = loss(*inputs, sample_weight=w, reduction="mean", **params)
    np.testing.assert_allclose(sum(v.sum() for v in per_unit), total, rtol=1e-12)
    if loss.mean_of_units:  # else a rule of its own, checked against the reference
        # unweighted: mean == sum / number of units (per unit group: the groups' means add)
        plain = parts(loss(*inputs, reduction="none", **params))
        np.testing.assert_allclose(loss(*inputs, reduction="mean", **params),
                                   sum(v.sum() / v.size for v in plain), rtol=1e-12)
        if len(plain) == 1:
            np.testing.assert_allclose(loss(*inputs, reduction="sum", **params),
                                       loss(*inputs, reduction="mean", **params) * plain[0].size,
                                       rtol=1e-12)
    # the gradient of the sum is the sum of the per-unit gradients
    g_sum = grads(loss.grad(*inputs, reduction="sum", **params))
    g_none = grads(loss.grad(*inputs, reduction="none", **params))
    for a, b in zip(g_sum, g_none, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert np.isfinite(mean)


@pytest.mark.parametrize("name,params", CASES)
def test_unit_shape_declares_the_none_result(name, params):
    # Loss.unit_shape describes reduction="none" without computing it (what
    # fastloss.torch's fake kernels and lazy adapters need): one shape, or a
    # list of shapes for a tuple result.
    loss = LOSSES[name]
    for shape in shapes_for(loss):
        inputs = draw(loss, params, shape)
        got = loss(*inputs, reduction="none", **params)
        declared = loss.unit_shape(*[np.shape(a) for a in inputs], **params)
        if isinstance(got, tuple):
            assert declared == [np.shape(g) for g in got]
        else:
            assert tuple(declared) == np.shape(got)


@pytest.mark.parametrize("name,params", CASES)
def test_float32_close_to_float64(name, params):
    loss = LOSSES[name]
    x64 = draw(loss, params, shapes_for(loss)[-1], np.float64, seed=4)
    x32 = tuple(a.astype(np.float32) if np.asarray(a).dtype.kind == "f" else a for a in x64)
    l32, g32 = loss.loss_grad(*x32, **params)
    l64, g64 = loss.loss_grad(*x64, **params)
    assert l32.dtype == np.float32
    for a, b in zip(grads(g32), grads(g64), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(l32, l64, rtol=1e-5, atol=1e-6)


def _variants(a):
    """The same values in other layouts: Fortran order, strided, transposed
    back, read-only, byte-swapped (floats) and a list."""
    a = np.asarray(a)
    yield np.asfortranarray(a)
    if a.ndim:
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        yield big[::2]
    else:
        yield a
    yield np.ascontiguousarray(a.T).T
    ro = a.copy()
    ro.flags.writeable = False
    yield ro
    yield a.astype(a.dtype.newbyteorder()) if a.dtype.kind == "f" else a
    yield a.tolist()


@pytest.mark.parametrize("name,params", CASES)
def test_layouts_give_identical_results(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1], seed=9)
    want = loss.loss_grad(*inputs, reduction="none", **params)
    for variant in zip(*(_variants(a) for a in inputs), strict=True):
        got = loss.loss_grad(*variant, reduction="none", **params)
        for a, b in zip(parts(got[0]), parts(want[0]), strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(grads(got[1]), grads(want[1]), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,params", CASES)
def test_inputs_unchanged_and_outputs_fresh(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1])
    w = unit_weights(loss, inputs, params)
    given = (*inputs, *parts(w))
    copies = [np.array(a, copy=True) for a in given]
    outs = list(parts(loss.loss_grad(*inputs, sample_weight=w, reduction="none",
                                     **params)[0]))
    outs += grads(loss.grad(*inputs, sample_weight=w, reduction="none", **params))
    if loss.has_hessian:
        g, h = loss.grad_hess(*inputs, sample_weight=w, **params)
        outs += grads(g) + grads(h)
    for a, c in zip(given, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    for out in outs:
        for a in given:
            assert not np.shares_memory(out, a)


@pytest.mark.parametrize("name,params", CASES)
def test_out_receives_the_gradients(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1])
    want_l, want_g = loss.loss_grad(*inputs, **params)
    outs = tuple(np.full_like(g, np.nan) for g in grads(want_g))
    out = outs[0] if len(outs) == 1 else outs
    got_l, got_g = loss.loss_grad(*inputs, out=out, **params)
    assert got_l == want_l
    for o, g, w in zip(outs, grads(got_g), grads(want_g), strict=True):
        assert o is g
        np.testing.assert_array_equal(o, w)
    if len(outs) > 1:
        with pytest.raises(TypeError, match="tuple of"):
            loss.grad(*inputs, out=outs[0], **params)
    with pytest.raises((TypeError, ValueError), match="out"):
        loss.grad(*inputs, out=tuple(o.astype(np.float32) for o in outs) if len(outs) > 1
                  else outs[0].astype(np.float32), **params)


@pytest.mark.parametrize("name,params", CASES)
def test_empty_input(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, loss.shapes["empty"])
    assert np.isnan(loss(*inputs, **params))
    assert loss(*inputs, reduction="sum", **params) == 0
    assert sum(v.size for v in parts(loss(*inputs, reduction="none", **params))) == 0
    for g, i in zip(grads(loss.grad(*inputs, **params)), wrt_index(loss), strict=True):
        assert g.shape == np.shape(inputs[i])


@pytest.mark.parametrize("name,params", CASES)
def test_nan_propagates(name, params):
    # NaN in one element of a wrt input: its unit's loss and the mean are NaN,
    # some gradient entry is NaN, and (for losses whose units do not interact)
    # every other unit is finite.
    loss = LOSSES[name]
    inputs = list(draw(loss, params, shapes_for(loss)[-1]))
    i = wrt_index(loss)[0]
    x = np.array(inputs[i], dtype=np.float64)
    x.reshape(-1)[x.size // 2] = np.nan
    inputs[i] = x
    per_unit, g = loss.loss_grad(*inputs, reduction="none", **params)
    n_nan = sum(int(np.isnan(v).sum()) for v in parts(per_unit))
    assert n_nan >= 1
    if loss.unit_local:
        assert n_nan == 1, f"{n_nan} units became NaN"
    assert any(np.isnan(gi).any() for gi in grads(g))
    assert np.isnan(loss(*inputs, **params))


@pytest.mark.parametrize("name,params", CASES)
def test_bad_inputs_raise(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, shapes_for(loss)[-1])
    w = unit_weights(loss, inputs, params)
    first = loss.inputs[wrt_index(loss)[0]]
    with pytest.raises(ValueError, match="reduction"):
        loss(*inputs, reduction="avg", **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(*inputs, sample_weight=each(np.negative, w), **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(*inputs, sample_weight=each(np.zeros_like, w), **params)
    with pytest.raises(ValueError, match="sample_weight"):
        loss(*inputs, sample_weight=each(lambda x: np.ones(x.size + 1), w), **params)
    with pytest.raises(TypeError, match="unexpected keyword"):
        loss(*inputs, not_a_keyword=1, **params)
    for i in float_inputs(loss, inputs):
        bad = list(inputs)
        bad[i] = np.asarray(inputs[i]).astype(complex)
        with pytest.raises(TypeError, match=f"{loss.inputs[i]} must be real"):
            loss(*bad, **params)
        bad[i] = np.asarray(inputs[i]).astype(str)
        with pytest.raises(TypeError, match=f"{loss.inputs[i]} must be an array of numbers"):
            loss(*bad, **params)
    # a wrt input of the wrong shape is named (where other inputs fix its shape:
    # those of its unit group)
    i = loss.inputs.index(first)
    group = next(g for g in (loss.unit_groups or (loss.inputs,)) if first in g)
    if len(group) > 1:
        bad = list(inputs)
        bad[i] = np.asarray(inputs[i])[:-1] if np.ndim(inputs[i]) else np.ones(3)
        with pytest.raises(ValueError, match="shape"):
            loss(*bad, **params)
    # all-zero weights are fine for 'sum' and 'none'
    assert loss(*inputs, sample_weight=each(np.zeros_like, w), reduction="sum",
                **params) == 0


@pytest.mark.parametrize("name,params", CASES)
def test_results_do_not_depend_on_thread_count(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, loss.shapes["threads"], seed=2)
    with fl.threads(1):
        one = loss.loss_grad(*inputs, **params)
    with fl.threads(2):
        two = loss.loss_grad(*inputs, **params)
    assert one[0] == two[0]
    for a, b in zip(grads(one[1]), grads(two[1]), strict=True):
        np.testing.assert_array_equal(a, b)
