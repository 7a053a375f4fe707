"""Shared test helpers (imported as `helpers`; tests/ is on pytest's pythonpath).

Every registered loss is tested for every keyword set in its `examples`,
with inputs drawn from the value domains it declares (`loss.domain(...)`),
so a new loss is covered the moment it is registered.
"""

import numpy as np
import pytest

from fastloss._registry import LOSSES
from fastloss._samples import KINDS, draw  # noqa: F401 (re-exported for tests)


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


def row_weights(shape, seed=1):
    """Positive weights, one per row (first axis)."""
    return np.random.default_rng(seed).uniform(0.2, 2.0, size=shape[0])


def tol(dtype):
    """rtol/atol for comparisons against the float64 NumPy reference."""
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-13}

