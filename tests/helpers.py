"""Shared test helpers (imported as `helpers`; tests/ is on pytest's pythonpath).

Every registered loss is tested for every keyword set in its `examples`,
with inputs drawn from the value domains it declares (`loss.domain(...)`),
so a new loss is covered the moment it is registered.
"""

import numpy as np
import pytest

import fastloss as fl
from fastloss._registry import LOSSES

# One generator per value-domain kind a loss may declare for y_true / y_pred.
# `shape` is the array's shape; `n_classes` the last axis of y_pred.


def _labels(rng, shape, n_classes):
    return rng.integers(0, n_classes, size=shape)


def _onehot(rng, shape, n_classes):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]


def _probrows(rng, shape, n_classes):
    x = rng.uniform(0.05, 1.0, size=shape)
    return x / x.sum(axis=-1, keepdims=True)


KINDS = {
    "real": lambda rng, shape, c: rng.normal(0, 2, size=shape),
    "positive": lambda rng, shape, c: rng.uniform(0.1, 3.0, size=shape),
    "count": lambda rng, shape, c: rng.poisson(3.0, size=shape).astype(float),
    "logit": lambda rng, shape, c: rng.normal(0, 3, size=shape),
    "prob": lambda rng, shape, c: rng.uniform(0.02, 0.98, size=shape),
    "label01": lambda rng, shape, c: rng.integers(0, 2, size=shape).astype(float),
    "softlabel": lambda rng, shape, c: rng.uniform(0, 1, size=shape),
    "pm1": lambda rng, shape, c: rng.choice([-1.0, 1.0], size=shape),
    "onehot": _onehot,
    "probrows": _probrows,
    "int_labels": _labels,
}


def cases():
    """(name, params) for every registered loss and example keyword set."""
    return [pytest.param(name, params, id=f"{name}-{_pid(params)}")
            for name, loss in sorted(LOSSES.items()) for params in loss.examples]


def _pid(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) or "default"


def shapes_for(loss):
    """Shapes of y_pred worth testing for a loss's loop shape."""
    if loss.kind == "elementwise":
        return [(37,), (9, 4)]
    return [(9, 5)]


def draw(loss, params, shape, dtype=np.float64, seed=0):
    """(y_true, y_pred) valid for `loss` with `params`, y_pred of `shape`."""
    rng = np.random.default_rng(seed)
    y_kind, p_kind = loss.domain(**params)
    n_classes = shape[-1]
    y_shape = shape[:-1] if y_kind == "int_labels" else shape
    y = KINDS[y_kind](rng, y_shape, n_classes)
    p = KINDS[p_kind](rng, shape, n_classes).astype(dtype)
    if y.dtype.kind == "f":
        y = y.astype(dtype)
    return y, p


def row_weights(shape, seed=1):
    """Positive weights, one per row (first axis)."""
    return np.random.default_rng(seed).uniform(0.2, 2.0, size=shape[0])


def tol(dtype):
    """rtol/atol for comparisons against the float64 NumPy reference."""
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-13}

