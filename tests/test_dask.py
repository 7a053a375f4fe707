"""fastloss.dask: every loss on dask arrays equals the NumPy call, lazily.

Generic over the registry (every loss, every example keyword set, every
reduction, with and without weights, on inputs chunked differently along
every axis), plus the mechanisms one at a time: chunk alignment, whole
units per block, exact and (where the blocks line up) bitwise means, the
denominator of the gradient, losses that cannot be blocked, laziness, the
schedulers (synchronous, threads, distributed on loopback) and a
bounded-memory run in a subprocess.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from helpers import LOSSES, cases, draw, grads, unit_weights, wrt_index

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
fld = pytest.importorskip("fastloss.dask")

import fastloss as fl  # noqa: E402
from fastloss._core.loss import Input, Loss, result, value  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _chunked(inputs):
    """Dask versions of the inputs, each chunked differently along every axis
    (so no two inputs' blocks line up unless fastloss.dask aligns them)."""
    out = []
    for k, a in enumerate(inputs):
        a = np.asarray(a)
        out.append(da.from_array(a, chunks=tuple(max(1, s // (k + 2)) for s in a.shape)))
    return out


def _tol(dtype):
    # float32: a few ulps of the largest entry (the blocks' gradients are
    # rescaled from their own denominator to the whole one: one more rounding,
    # which cancellation in e.g. a softmax gradient can make visible on the
    # small entries)
    return {"rtol": 2e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-15}


def _close_grads(got, want, loss, dtype):
    got, want = grads(got), grads(want)
    assert len(got) == len(want) == len(loss.wrt)
    for g, r, name in zip(got, want, loss.wrt, strict=True):
        assert g.dtype == r.dtype
        scale = max(float(np.max(np.abs(r))), 1e-300) if r.size else 1.0
        np.testing.assert_allclose(np.asarray(g) / scale, r / scale, err_msg=name, **_tol(dtype))


# -- every registered loss -----------------------------------------------------------------

def _split(loss):
    """Losses fastloss.dask splits: not those whose units come in groups
    (loss.unit_groups), which it refuses (test_grouped_losses_are_refused)."""
    return loss.unit_groups is None


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", cases(_split))
def test_every_loss_matches_numpy(name, params, reduction, dtype):
    loss = LOSSES[name]
    for shape in loss.shapes["test"]:
        inputs = draw(loss, params, shape, dtype)
        for w in (None, unit_weights(loss, inputs, params)):
            want_v, want_g = loss.loss_grad(*inputs, sample_weight=w, reduction=reduction,
                                            **params)
            dw = None if w is None else da.from_array(w, chunks=max(1, len(w) // 3))
            v, g = fld.loss_grad(name, *_chunked(inputs), sample_weight=dw,
                                 reduction=reduction, **params)
            assert isinstance(v, da.Array) and all(isinstance(a, da.Array) for a in grads(g))
            for a, i in zip(grads(g), wrt_index(loss), strict=True):
                assert a.shape == np.shape(inputs[i])
            got_v, got_g = dask.compute(v, g)
            if reduction == "none":
                for u, r in zip(grads(got_v), grads(want_v), strict=True):
                    np.testing.assert_allclose(u, r, **_tol(dtype))
            else:
                assert v.shape == () and v.dtype == np.asarray(want_v).dtype
                np.testing.assert_allclose(got_v, want_v, **_tol(dtype))
            _close_grads(got_g, want_g, loss, dtype)


@pytest.mark.parametrize("name,params", cases(lambda loss: loss.has_hessian and _split(loss)))
def test_grad_hess_matches_numpy(name, params):
    loss = LOSSES[name]
    inputs = draw(loss, params, loss.shapes["test"][-1])
    w = unit_weights(loss, inputs, params)
    want = loss.grad_hess(*inputs, sample_weight=w, **params)
    got = dask.compute(fld.grad_hess(name, *_chunked(inputs), sample_weight=w, **params))[0]
    for g, r in zip(got, want, strict=True):
        _close_grads(g, r, loss, np.float64)


def test_grouped_losses_are_refused():
    for name, loss in LOSSES.items():
        if not _split(loss):
            inputs = [da.from_array(a) for a in draw(loss, loss.examples[0],
                                                     loss.shapes["test"][0])]
            with pytest.raises(NotImplementedError, match=f"does not split {name}.*groups"):
                fld.loss(name, *inputs)


def test_separate_calls_agree_with_loss_grad():
    y, p = fl.huber.sample({}, (500, 3))
    Y, P = _chunked((y, p))
    v, g = fld.loss_grad(fl.huber, Y, P, delta=0.5)
    assert fld.loss("huber", Y, P, delta=0.5).compute() == v.compute()
    np.testing.assert_array_equal(fld.grad("huber", Y, P, delta=0.5).compute(), g.compute())


# -- how the work is split -----------------------------------------------------------------

def test_unequal_chunkings_are_aligned_not_paired_by_position():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=100), rng.normal(size=100)
    w = rng.uniform(0.5, 2.0, size=100)
    # the same number of blocks with different boundaries: pairing blocks by
    # position (as map_blocks does) would pair y[0:30] with p[0:50]
    Y = da.from_array(y, chunks=((30, 70),))
    P = da.from_array(p, chunks=((50, 50),))
    W = da.from_array(w, chunks=((10, 90),))
    v, g = fld.loss_grad("mse", Y, P, sample_weight=W, reduction="sum")
    assert g.chunks == ((10, 20, 20, 50),)          # the common refinement
    want_v, want_g = fl.mse.loss_grad(y, p, sample_weight=w, reduction="sum")
    assert v.compute() == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_array_equal(g.compute(), want_g)


def test_rowwise_blocks_hold_whole_rows():
    y, p = fl.scce.sample({"from_logits": True}, (200, 7))
    Y = da.from_array(y, chunks=33)
    P = da.from_array(p, chunks=(50, 3))           # classes split across blocks
    g = fld.grad("scce", Y, P, from_logits=True)
    assert g.chunks[1] == (7,)                     # rechunked: each block holds whole rows
    units = fld.loss("scce", Y, P, from_logits=True, reduction="none")
    assert units.shape == (200,) and units.chunks == g.chunks[:1]
    np.testing.assert_allclose(g.compute(), fl.scce.grad(y, p, from_logits=True), rtol=1e-13)


def test_elementwise_blocks_split_every_axis():
    y, p = fl.mae.sample({}, (40, 30))
    g = fld.grad("mae", da.from_array(y, chunks=(10, 7)), da.from_array(p, chunks=(20, 15)))
    assert len(g.chunks[0]) > 1 and len(g.chunks[1]) > 1
    np.testing.assert_allclose(g.compute(), fl.mae.grad(y, p), rtol=1e-14)


def test_per_column_keyword_keeps_columns_whole():
    y, p = fl.bce.sample({"from_logits": True}, (60, 4))
    pw = np.array([0.5, 1.0, 2.0, 3.0])
    Y, P = da.from_array(y, chunks=(7, 2)), da.from_array(p, chunks=(9, 3))
    v, g = fld.loss_grad("bce", Y, P, from_logits=True, pos_weight=pw)
    assert g.chunks[1] == (4,)
    want_v, want_g = fl.bce.loss_grad(y, p, from_logits=True, pos_weight=pw)
    assert v.compute() == pytest.approx(want_v, rel=1e-13)
    np.testing.assert_allclose(g.compute(), want_g, rtol=1e-13)


def test_row_weights_of_an_elementwise_loss_follow_their_rows():
    y, p = fl.huber.sample({}, (50, 6))
    w = np.random.default_rng(2).uniform(0.1, 2, size=50)
    v, g = fld.loss_grad("huber", da.from_array(y, chunks=(8, 4)), da.from_array(p, chunks=5),
                         sample_weight=da.from_array(w, chunks=13))
    want_v, want_g = fl.huber.loss_grad(y, p, sample_weight=w)
    assert v.compute() == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_allclose(g.compute(), want_g, rtol=1e-13)


# -- exact reductions ----------------------------------------------------------------------

@pytest.mark.parametrize("name,params,shape,chunk", [
    ("mean_squared_error", {}, (1 << 18,), 1 << 16),
    ("huber", {"delta": 0.7}, (1 << 18,), 1 << 16),
    ("log_cosh", {}, (1 << 19,), 1 << 16),
    ("binary_crossentropy", {"from_logits": True}, (1 << 18,), 1 << 16),
    ("sparse_categorical_crossentropy", {"from_logits": True}, (1 << 16, 16), 1 << 14),
    ("categorical_crossentropy", {"from_logits": True}, (1 << 15, 16), 1 << 13),
])
def test_mean_is_bitwise_equal_where_blocks_line_up(name, params, shape, chunk, dtype):
    """Equal chunks of whole kernel blocks, a power-of-two number of them: the
    tree of block partials is the kernel's own pairwise tree."""
    loss = fl.get(name)
    inputs = loss.sample(params, shape, dtype)
    dx = [da.from_array(a, chunks=(chunk,) + a.shape[1:]) for a in inputs]
    assert fld.loss(name, *dx, **params).compute() == loss(*inputs, **params)
    assert fld.loss(name, *dx, reduction="sum", **params).compute() == loss(
        *inputs, reduction="sum", **params)


def test_mean_is_exact_for_any_chunks_not_a_mean_of_block_means():
    rng = np.random.default_rng(5)
    y, p = rng.normal(size=10_001), rng.normal(size=10_001) * 3
    Y = da.from_array(y, chunks=((1, 9_000, 1_000),))
    P = da.from_array(p, chunks=((1, 9_000, 1_000),))
    block_means = np.mean([fl.mse(y[s], p[s]) for s in (slice(0, 1), slice(1, 9001),
                                                            slice(9001, None))])
    want = fl.mse(y, p)
    assert not np.isclose(block_means, want)
    assert fld.loss("mse", Y, P).compute() == pytest.approx(want, rel=1e-15)


def test_float32_stays_float32():
    y, p = fl.log_cosh.sample({}, (1000,), np.float32)
    v, g = fld.loss_grad("log_cosh", da.from_array(y, chunks=300), da.from_array(p, chunks=300))
    assert v.dtype == np.float32 and g.dtype == np.float32
    got_v, got_g = dask.compute(v, g)
    assert got_v.dtype == np.float32 and got_g.dtype == np.float32
    want_v, want_g = fl.log_cosh.loss_grad(y, p)
    assert got_v == pytest.approx(want_v, rel=1e-6)
    np.testing.assert_allclose(got_g, want_g, rtol=2e-6)


def test_a_block_of_zero_weights_is_fine_but_all_zero_weights_are_not():
    y, p = fl.mse.sample({}, (100,))
    w = np.ones(100)
    w[:50] = 0
    Y, P, W = (da.from_array(a, chunks=50) for a in (y, p, w))
    v, g = fld.loss_grad("mse", Y, P, sample_weight=W)
    want_v, want_g = fl.mse.loss_grad(y, p, sample_weight=w)
    assert v.compute() == pytest.approx(want_v, rel=1e-15)
    np.testing.assert_allclose(g.compute(), want_g, rtol=1e-15)
    zero = da.zeros(100, chunks=50)
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        fld.loss("mse", Y, P, sample_weight=zero).compute()
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        fld.grad("mse", Y, P, sample_weight=zero).compute()


def test_empty_input_gives_nan_mean_and_zero_sum():
    e = da.zeros((0,), chunks=1)
    assert np.isnan(fld.loss("mse", e, e).compute())
    assert fld.loss("mse", e, e, reduction="sum").compute() == 0


# -- the denominator of the gradient -------------------------------------------------------

def _block_layers(collection, name):
    """The layers of fastloss block tasks for loss `name` in a dask graph."""
    graph = collection.__dask_graph__()
    return {k: len(v) for k, v in graph.layers.items()
            if k.startswith(f"fastloss-{name}-blocks")}


def test_nothing_is_computed_until_asked():
    y, p = fl.huber.sample({}, (1000,))
    seen = []

    def read(x):
        seen.append(x.size)
        return x

    Y = da.from_array(y, chunks=100).map_blocks(read, meta=np.empty((0,)))
    P = da.from_array(p, chunks=100).map_blocks(read, meta=np.empty((0,)))
    v, g = fld.loss_grad("huber", Y, P)
    units = fld.loss("huber", Y, P, reduction="none")
    assert seen == []
    dask.compute(v, g, units)
    assert sum(seen) == 2 * 1000


def test_value_and_gradient_of_the_mean_come_from_one_pass():
    y, p = fl.huber.sample({}, (1000,))
    Y, P = da.from_array(y, chunks=100), da.from_array(p, chunks=100)
    v, g = fld.loss_grad("huber", Y, P)
    layers = _block_layers(g, "huber")
    assert list(layers.values()) == [10]          # one task per block...
    assert _block_layers(v, "huber") == layers    # ...gives the value too
    got_v, got_g = dask.compute(v, g)
    assert got_v == pytest.approx(fl.huber(y, p), rel=1e-15)
    np.testing.assert_allclose(got_g, fl.huber.grad(y, p), rtol=1e-15)


@pytest.mark.parametrize("params", [{"ignore_index": 1}, {"class_weight": [0.5, 1, 2, 4]}])
def test_data_weighted_denominator_comes_from_a_first_pass(params):
    y, p = fl.scce.sample({"from_logits": True}, (300, 4))
    assert fl.scce.weighs_data(**params) and not fl.scce.weighs_data()
    Y, P = da.from_array(y, chunks=70), da.from_array(p, chunks=(70, 4))
    v, g = fld.loss_grad("scce", Y, P, from_logits=True, **params)
    layers = _block_layers(g, "sparse_categorical_crossentropy")
    assert sorted(k.split("-")[3] for k in layers) == ["pass1", "pass2"]
    got_v, got_g = dask.compute(v, g)
    want_v, want_g = fl.scce.loss_grad(y, p, from_logits=True, **params)
    assert got_v == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-13, atol=1e-17)


# -- test-only losses with the declarations no registered loss of main has yet -------------

class _NumpyLoss(Loss):
    """A loop shape written in NumPy (for these tests only): fn(*arrays, w)
    returns the per-unit losses and the gradients of sum(w_i l_i), and an
    optional den(*arrays, w) the denominator of "mean"."""

    kind = "test"

    def __init__(self, name, fn, den=None, **kw):
        super().__init__(name, hessian=False, **kw)
        self._fn, self._den = fn, den

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        units, _ = self._fn(*arrays, None)
        w = (np.ones(units.shape) if sample_weight is None
             else np.broadcast_to(np.asarray(sample_weight, np.float64), units.shape))
        units, gs = self._fn(*arrays, w)
        den = float(w.sum()) if self._den is None else float(self._den(*arrays, w))
        scale = 1.0 / den if reduction == "mean" and den > 0 else 1.0
        lo = w * units if reduction == "none" else None
        val = value(float(np.sum(w * units)), den, reduction == "mean", np.dtype(np.float64),
                    lo)
        return result(mode, self, val, [g * scale for g in gs], None)


def _centred(y, p, w):
    # l_i = (p_i - mean(p) - y_i)^2: each unit depends on the whole batch
    r = p - (p.mean() if p.size else 0.0) - y
    if w is None:
        return r * r, ()
    s = 2 * w * r
    return r * r, (s - (s.sum() / p.size if p.size else 0.0),)


BATCH_CENTRED = _NumpyLoss("batch_centred", _centred, unit="sample")
BATCH_CENTRED.unit_local = False


def _time_major(x, y, w):
    # a per-sequence loss of a time-major (T, n) input: l_i = sum_t (x_ti - y_i)^2
    d = x - np.expand_dims(y, 0)
    if w is None:
        return np.sum(d * d, axis=0), ()
    return np.sum(d * d, axis=0), (2 * d * np.expand_dims(w, 0),)


TIME_MAJOR = _NumpyLoss("time_major", _time_major, unit="sequence", wrt=("x",),
                        inputs=(Input("x", "(T, n)"), Input("y", "(n,)")),
                        unit_axes={"x": 1})


def _skip_negative(y, p, w):
    d = p - y
    keep = y >= 0
    if w is None:
        return np.where(keep, d * d, 0.0), ()
    return np.where(keep, d * d, 0.0), (np.where(keep, 2 * d * w, 0.0),)


def _skip_den(y, p, w):
    return np.sum(w * (y >= 0))


UNDECLARED = _NumpyLoss("undeclared", _skip_negative, den=_skip_den)
DECLARED = _NumpyLoss("declared", _skip_negative, den=_skip_den, data_weights=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_whose_units_interact_run_in_one_task(reduction):
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=90), rng.normal(size=90)
    Y, P = da.from_array(y, chunks=20), da.from_array(p, chunks=30)
    v, g = fld.loss_grad(BATCH_CENTRED, Y, P, reduction=reduction)
    assert g.numblocks == (1,)
    want_v, want_g = BATCH_CENTRED.loss_grad(y, p, reduction=reduction)
    got_v, got_g = dask.compute(v, g)
    np.testing.assert_array_equal(got_v, want_v)        # the NumPy call itself
    np.testing.assert_array_equal(got_g, want_g)
    # a blockwise evaluation would have centred each block on its own mean
    blocks = sum(BATCH_CENTRED(y[i:i + 30], p[i:i + 30], reduction="sum")
                 for i in range(0, 90, 30))
    assert not np.isclose(blocks, BATCH_CENTRED(y, p, reduction="sum"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_declared_unit_axis_keeps_time_major_sequences_whole(reduction):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 40)), rng.normal(size=40)
    X = da.from_array(x, chunks=(5, 9))                  # time axis split too
    Y = da.from_array(y, chunks=15)
    w = rng.uniform(0.5, 1.5, size=40)
    v, g = fld.loss_grad(TIME_MAJOR, X, Y, sample_weight=w, reduction=reduction)
    assert g.chunks[0] == (12,) and len(g.chunks[1]) > 1
    want_v, want_g = TIME_MAJOR.loss_grad(x, y, sample_weight=w, reduction=reduction)
    got_v, got_g = dask.compute(v, g)
    np.testing.assert_allclose(got_v, want_v, rtol=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-14)


def test_an_input_without_its_unit_axis_runs_in_one_task():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12,)), np.float64(0.5)      # one unbatched sequence
    v = fld.loss(TIME_MAJOR, da.from_array(x, chunks=4), y, reduction="sum")
    assert v.compute() == pytest.approx(np.sum((x - y) ** 2), rel=1e-14)


def test_data_dependent_denominator_must_be_declared():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=60), rng.normal(size=60)
    Y, P = da.from_array(y, chunks=20), da.from_array(p, chunks=20)
    with pytest.raises(RuntimeError, match="data_weights"):
        fld.grad(UNDECLARED, Y, P).compute()
    with pytest.raises(RuntimeError, match="data_weights"):
        fld.loss(UNDECLARED, Y, P).compute()
    want_v, want_g = DECLARED.loss_grad(y, p)
    got_v, got_g = dask.compute(*fld.loss_grad(DECLARED, Y, P))
    assert got_v == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-14)


class _MeanOfParts(Loss):
    """A loss whose value is the sum of two means over different units (as a
    weighted sum of losses can be): not one ratio of sums, so not blockable."""

    kind = "test"

    def __init__(self, name, reports):
        super().__init__(name, hessian=False)
        self._reports = reports

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        y, p = (np.asarray(a, dtype=np.float64) for a in arrays)
        d = p - y
        v = np.mean(d * d) + np.mean(np.abs(d)) if d.size else 0.0
        g = 2 * d / max(d.size, 1) + np.sign(d) / max(d.size, 1)
        if reduction == "none":
            return result(mode, self, d * d + np.abs(d), [2 * d + np.sign(d)], None)
        if self._reports:   # passes a finished value to value(), denominator 1
            v = value(v, 1.0, reduction == "mean", np.dtype(np.float64), None)
        return result(mode, self, np.float64(v), [g], None)


@pytest.mark.parametrize("reports", [False, True], ids=["no-parts", "finished-value"])
def test_losses_without_block_partials_run_in_one_task(reports):
    L = _MeanOfParts("mean_of_parts", reports)
    rng = np.random.default_rng(6)
    y, p = rng.normal(size=50), rng.normal(size=50)
    v, g = fld.loss_grad(L, da.from_array(y, chunks=10), da.from_array(p, chunks=10))
    assert g.numblocks == (1,)
    want_v, want_g = L.loss_grad(y, p)
    got_v, got_g = dask.compute(v, g)
    assert got_v == want_v
    np.testing.assert_array_equal(got_g, want_g)


# -- laziness, the API, errors -------------------------------------------------------------

def test_reduction_none_is_a_lazy_array_of_units():
    y, p = fl.huber.sample({}, (100, 3))
    units = fld.loss("huber", da.from_array(y, chunks=(30, 2)), da.from_array(p, chunks=25),
                     reduction="none")
    assert isinstance(units, da.Array) and units.shape == (100, 3)
    np.testing.assert_allclose(units.compute(), fl.huber(y, p, reduction="none"), rtol=1e-15)


def test_inputs_by_name_numpy_inputs_and_scalar_weights():
    y, p = fl.mse.sample({}, (64,))
    v = fld.loss("mse", y_true=da.from_array(y, chunks=10), y_pred=p, sample_weight=2.0)
    assert v.compute() == pytest.approx(fl.mse(y, p, sample_weight=2.0), rel=1e-15)


def test_errors_are_raised_when_the_graph_is_built():
    y = da.zeros(10, chunks=5)
    with pytest.raises(ValueError, match="same number of units"):
        fld.loss("mse", y, da.zeros(11, chunks=5))
    with pytest.raises(ValueError, match="same shape"):
        fld.loss("mse", da.zeros((10, 2), chunks=5), da.zeros((10, 3), chunks=5))
    with pytest.raises(TypeError, match="unexpected keyword argument 'delt'"):
        fld.loss("huber", y, y, delt=1.0)
    with pytest.raises(ValueError, match="delta"):
        fld.loss("huber", y, y, delta=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        fld.loss("mse", y, y, reduction="avg")
    with pytest.raises(TypeError, match="out="):
        fld.grad("mse", y, y, out=np.empty(10))
    with pytest.raises(TypeError, match="loss must be"):
        fld.loss(len, y, y)
    with pytest.raises(ValueError, match="unknown loss"):
        fld.loss("no_such_loss", y, y)
    with pytest.raises(NotImplementedError):
        fld.grad_hess("mae", y, y)
    with pytest.raises(ValueError, match="sample_weight"):
        fld.loss("mse", y, y, sample_weight=da.ones(9, chunks=3))
    unknown = y[y > 0.5]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fld.loss("mse", unknown, unknown)


def test_a_bad_value_is_reported_at_compute_time_by_the_loss():
    p = da.from_array(np.array([0.2, 0.5, 1.5, 0.4]), chunks=2)
    v = fld.loss("bce", da.from_array(np.array([0.0, 1.0, 1.0, 0.0]), chunks=2), p)
    with pytest.raises(ValueError, match="y_pred"):
        v.compute()


def test_missing_dask_gives_a_clear_message():
    code = textwrap.dedent("""
        import sys
        sys.modules["dask"] = None
        try:
            import fastloss.dask
        except ImportError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert 'pip install "fastloss[dask]"' in out


# -- schedulers ----------------------------------------------------------------------------

def _case():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 5, size=20_000)
    p = rng.normal(size=(20_000, 5))
    return y, p, da.from_array(y, chunks=3_000), da.from_array(p, chunks=(4_000, 2))


def _check_case(compute):
    y, p, Y, P = _case()
    v, g = fld.loss_grad("scce", Y, P, from_logits=True)
    got_v, got_g = compute(v, g)
    want_v, want_g = fl.scce.loss_grad(y, p, from_logits=True)
    assert got_v == pytest.approx(want_v, rel=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-13, atol=1e-18)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_local_schedulers(scheduler):
    _check_case(lambda *xs: dask.compute(*xs, scheduler=scheduler, num_workers=2))


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_distributed_local_cluster_on_loopback(processes):
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        # no network: distributed's inproc transport looks for an IP and warns
        warnings.filterwarnings("ignore", message="Couldn't detect a suitable IP address",
                                category=RuntimeWarning)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                      host="127.0.0.1" if processes else None,
                                      dashboard_address=None, silence_logs=40) as cluster, \
                distributed.Client(cluster) as client:
            _check_case(lambda *xs: client.compute(list(xs), sync=True))


# -- bounded memory ------------------------------------------------------------------------

BOUNDED = """
import numpy as np
import dask, dask.array as da
import fastloss as fl, fastloss.dask as fld

N, C = {n}, {chunk}
def block(kind, block_id=None):
    rng = np.random.default_rng((kind, block_id[0]))
    return rng.standard_normal(C) * (1.0 + kind)

def lazy(kind):  # generated block by block, never held whole
    return da.map_blocks(block, kind, chunks=((C,) * (N // C),), dtype=np.float64)

def peak_rss_kib():
    # VmHWM: this process's peak resident memory (ru_maxrss would carry over
    # the parent's peak across fork and exec)
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1])

base = peak_rss_kib()
v, g = fld.loss_grad("huber", lazy(0), lazy(1), delta=0.5)
value, g2 = dask.compute(v, (g * g).sum(), scheduler="threads", num_workers=2)
peak = peak_rss_kib()
# the same sums block by block in NumPy, as the reference
s = q = 0.0
for b in range(N // C):
    y, p = block(0, (b,)), block(1, (b,))
    s += fl.huber(y, p, delta=0.5, reduction="sum")
    q += float(np.sum(fl.huber.grad(y, p, delta=0.5, reduction="sum") ** 2))
print(base, peak, value, s / N, g2, q / N ** 2)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_bounded_memory_loss_and_gradient_norm():
    n, chunk = 1 << 26, 1 << 19                 # 3 arrays of 512 MB: y, p and the gradient
    out = subprocess.run([sys.executable, "-P", "-c", BOUNDED.format(n=n, chunk=chunk)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    base, peak, value, want_value, g2, want_g2 = map(float, out.stdout.split())
    allowed_mb, data_mb = 256, 3 * n * 8 / 2**20      # 1536 MB of data in 256 MB
    peak_mb, base_mb = peak / 1024, base / 1024
    assert peak_mb < allowed_mb and data_mb >= 6 * allowed_mb, (base_mb, peak_mb)
    assert value == pytest.approx(want_value, rel=1e-12)
    assert g2 == pytest.approx(want_g2, rel=1e-12)
