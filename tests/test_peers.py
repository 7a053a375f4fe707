"""fastloss against independent libraries (skipped where they are not installed).

Each peer of `python -m fastloss bench --peers` must compute the same value
and gradient as fastloss; this checks our semantics against PyTorch,
scikit-learn and JAX, and that the benchmark compares like with like.
"""

import numpy as np
import pytest
from helpers import LOSSES, cases, draw, grads, shapes_for

from fastloss import _lean
from fastloss import peers as _peers


@pytest.mark.parametrize("name,params", cases())
def test_peers_agree_with_fastloss(name, params):
    loss = LOSSES[name]
    peers = _peers.for_loss(loss, params)
    if not peers:
        pytest.skip("no installed peer has this loss")
    inputs = draw(loss, params, loss.shapes.get("peers", shapes_for(loss)[-1]), seed=21)
    want_l, want_g = loss.loss_grad(*inputs, **params)
    for peer, fn in peers.items():
        got_l, got_g = fn(*inputs)
        np.testing.assert_allclose(got_l, want_l, rtol=1e-12, err_msg=peer)
        for a, b in zip(grads(got_g), grads(want_g), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15, err_msg=peer)


def _handwritten():
    import sys
    from pathlib import Path

    bench_dir = str(Path(__file__).resolve().parent.parent / "benchmarks")
    if bench_dir not in sys.path:
        sys.path.insert(0, bench_dir)
    import compare

    return compare


@pytest.mark.parametrize("name,params", [
    ("mean_squared_error", {}),
    ("binary_crossentropy", {"from_logits": True}),
    ("sparse_categorical_crossentropy", {"from_logits": True}),
])
@pytest.mark.parametrize("reuse_out", [False, True])
def test_bench_implementations_agree_and_reuse_their_buffers(name, params, reuse_out):
    # What the bench command times, with and without --reuse-out: fastloss and
    # (where a C compiler and AVX2 exist) the hand-written C loops compute the
    # same numbers, and --reuse-out writes every call into one buffer.
    from fastloss import _bench

    compare = _handwritten()
    loss = LOSSES[name]
    y, p = draw(loss, params, (4099,) if loss.kind == "elementwise" else (257, 16), seed=5)
    want_l, want_g = loss.loss_grad(y, p, **params)
    impls = _bench.implementations(loss, params, reuse_out=reuse_out)
    impls.update(compare.handwritten_peer(loss, params, reuse_out))
    for impl, fn in impls.items():
        got_l, got_g = fn(y, p)
        np.testing.assert_allclose(got_l, want_l, rtol=1e-12, err_msg=impl)
        np.testing.assert_allclose(got_g, want_g, rtol=1e-10, atol=1e-15, err_msg=impl)
        again = fn(y, p)[1]
        if reuse_out and impl in ("fastloss", "handC", "handC512"):
            assert again is got_g, impl
        else:
            assert again is not got_g, impl


@pytest.mark.parametrize("name,params", [
    pytest.param(name, dict(items), id=name) for name, items in _lean.LEAN])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lean_numpy_expressions_agree_with_fastloss(name, params, dtype):
    # The bench's minibatch table times these as "numpy": they must compute
    # what fastloss computes (value and gradient, reduction="mean").
    loss = LOSSES[name]
    f = _lean.for_loss(loss, params)
    for shape in ((256,), (37, 3)) if loss.kind == "elementwise" else ((256, 10), (5, 3, 7)):
        inputs = draw(loss, params, shape, seed=11, dtype=dtype)
        want_l, want_g = loss.loss_grad(*inputs, **params)
        got_l, got_g = f(*inputs)
        rtol = 1e-5 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got_l, want_l, rtol=rtol, atol=rtol * 1e-3)
        assert np.shape(got_g) == np.shape(want_g)
        np.testing.assert_allclose(got_g, want_g, rtol=rtol * 10,
                                   atol=rtol * np.abs(want_g).max())
