"""pytest-benchmark suite: fastloss against its NumPy reference, per loss.

Run for real with
    pytest benchmarks --benchmark-enable --benchmark-only --benchmark-warmup=on
(the tests' default options disable benchmarking, so plain `pytest` only
smoke-tests this file).  Each group is one case; compare rows within a group.
Cases come from fastloss._bench, shared with `python -m fastloss bench`.
"""

import os

import numpy as np
import pytest

from fastloss import _bench
from fastloss._core.samples import draw

SIZES = os.environ.get("FASTLOSS_BENCH_SIZES", "small,large").split(",")
PEERS = bool(os.environ.get("FASTLOSS_BENCH_PEERS"))

CASES = [pytest.param(size, loss, params, shape,
                      id=f"{loss.name}-{'x'.join(map(str, np.ravel(shape)))}")
         for size, loss, params, shape in _bench.cases(SIZES)]


def _impl_names():
    names = ["fastloss", "numpy"]
    if PEERS:
        names += ["sklearn", "torch", "jax", "torchvision", "fastloss.torch"]
    return names


@pytest.mark.parametrize("impl", _impl_names())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("size,loss,params,shape", CASES)
def test_loss_grad(benchmark, size, loss, params, shape, dtype, impl):
    impls = _bench.implementations(loss, params, peers=PEERS)
    if impl not in impls:
        pytest.skip(f"{impl} has no equivalent of {loss.name} here")
    inputs = draw(loss, params, shape, np.dtype(dtype))
    benchmark.group = f"{loss.name} {dtype} {'x'.join(map(str, np.ravel(shape)))}"
    value, grad = benchmark(impls[impl], *inputs)
    grads = grad if isinstance(grad, tuple) else (grad,)
    want = dict(zip(loss.inputs, inputs, strict=True))
    assert [g.shape for g in grads] == [np.shape(want[w]) for w in loss.wrt]
    assert np.isfinite(value)
