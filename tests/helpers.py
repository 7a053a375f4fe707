"""Shared test helpers (imported as `helpers`; tests/ is on pytest's pythonpath).

Every registered loss is tested for every keyword set in its `examples`,
with inputs from its own sampler (`loss.sample`, or for (y_true, y_pred)
losses arrays of the value domains it declares, `loss.domain(...)`), so a
new loss is covered the moment it is registered.
"""

import numpy as np
import pytest

from fastloss._core.registry import LOSSES
from fastloss._core.samples import KINDS, draw  # noqa: F401 (re-exported for tests)


def cases(select=None, first_only=False):
    """(name, params) for every registered loss (for which select(loss) holds)
    and example keyword set (only the first, the defaults, with first_only:
    for what the keywords cannot change, e.g. an operator's registration)."""
    return [pytest.param(name, params, id=f"{name}-{_pid(params)}")
            for name, loss in sorted(LOSSES.items())
            for params in (loss.examples[:1] if first_only else loss.examples)
            if select is None or select(loss)]


def is_pair(loss):
    """A (y_true, y_pred)-style loss whose inputs come from value domains:
    the tests that reason about value kinds (labels, probabilities, counts)
    apply to these."""
    return loss._sampler is None and len(loss.inputs) == 2 and loss.kind in (
        "elementwise", "rowwise")


def pair_cases():
    return cases(is_pair)


def _pid(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) or "default"


def shapes_for(loss):
    """Shapes worth testing for a loss (its sampler's notion of a shape)."""
    return loss.shapes["test"]


def row_weights(shape, seed=1):
    """Positive weights, one per row (first axis)."""
    return np.random.default_rng(seed).uniform(0.2, 2.0, size=shape[0])


def unit_weights(loss, inputs, params, seed=1):
    """Positive weights for `loss` on `inputs`: one per unit of the first
    axis of its per-unit losses (every unit structure accepts (n,)); for a
    loss with unit groups (`loss.unit_groups`) a tuple of such weights, one
    per group."""
    rng = np.random.default_rng(seed)
    per_unit = parts(loss(*inputs, reduction="none", **params))
    w = tuple(rng.uniform(0.2, 2.0, size=np.shape(v)[:1]) for v in per_unit)
    return w if loss.unit_groups is not None else w[0]


def grads(g):
    """A gradient result as a tuple (one entry per wrt input)."""
    return g if isinstance(g, tuple) else (g,)


def parts(v):
    """A per-unit loss or a sample_weight as a tuple with one entry per unit
    group (one entry unless the loss declares `unit_groups`)."""
    return v if isinstance(v, tuple) else (v,)


def each(f, w):
    """f applied to the weights of each unit group (w a tuple of them, or one
    array), keeping the structure: e.g. each(np.negative, w)."""
    return tuple(f(x) for x in w) if isinstance(w, tuple) else f(w)


def wrt_index(loss):
    """Positions of the wrt inputs among the inputs."""
    return [loss.inputs.index(w) for w in loss.wrt]


def float_inputs(loss, inputs):
    """Indices of the float inputs (those a dtype change or NaN applies to)."""
    return [i for i, a in enumerate(inputs) if np.asarray(a).dtype.kind == "f"]


def tol(dtype):
    """rtol/atol for comparisons against the float64 NumPy reference."""
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-13}


def central_differences(f, p, h=1e-6):
    """Central differences of the scalar f(p) w.r.t. every element of the array p."""
    g = np.empty_like(p)
    for idx in np.ndindex(p.shape):
        up, dn = p.copy(), p.copy()
        up[idx] += h
        dn[idx] -= h
        g[idx] = (f(up) - f(dn)) / (2 * h)
    return g
