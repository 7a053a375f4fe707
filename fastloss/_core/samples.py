"""Valid example inputs for any registered loss (used by tests and benchmarks).

A loss of several inputs has a sampler of its own (`Loss(sampler=...)`,
beside its registry entry); a (y_true, y_pred) loss declares the value
domain of the pair as two kind names (`loss.domain(**params)`) and
`draw_pair` makes arrays of those kinds.  `draw(loss, params, shape)` is
`loss.sample(params, shape)`: valid inputs for any loss.
"""

import numpy as np


def _onehot(rng, shape):
    return np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]


def _probrows(rng, shape):
    x = rng.uniform(0.05, 1.0, size=shape)
    return x / x.sum(axis=-1, keepdims=True)


#: kind name -> generator(rng, shape); labels use shape[-1] of y_pred as C.
KINDS = {
    "real": lambda rng, shape: rng.normal(0, 2, size=shape),
    "positive": lambda rng, shape: rng.uniform(0.1, 3.0, size=shape),
    "count": lambda rng, shape: rng.poisson(3.0, size=shape).astype(float),
    "logit": lambda rng, shape: rng.normal(0, 3, size=shape),
    "prob": lambda rng, shape: rng.uniform(0.02, 0.98, size=shape),
    "label01": lambda rng, shape: rng.integers(0, 2, size=shape).astype(float),
    "softlabel": lambda rng, shape: rng.uniform(0, 1, size=shape),
    "pm1": lambda rng, shape: rng.choice([-1.0, 1.0], size=shape),
    "onehot": _onehot,
    "probrows": _probrows,
}


def draw_pair(rng, domain, shape, dtype=np.float64):
    """(y_true, y_pred) of the value kinds `domain` names; y_pred has `shape`.

    Integer class labels (kind "int_labels") have shape[:-1] and values in
    [0, shape[-1]).
    """
    y_kind, p_kind = domain
    if y_kind == "int_labels":
        y = rng.integers(0, shape[-1], size=shape[:-1])
    else:
        y = KINDS[y_kind](rng, shape).astype(dtype)
    p = KINDS[p_kind](rng, shape).astype(dtype)
    return y, p


def draw(loss, params, shape, dtype=np.float64, seed=0):
    """Valid inputs for `loss` with `params` (a tuple in `loss.inputs` order);
    `shape` is one of the loss's shapes (y_pred's shape for the wave-1 losses)."""
    return loss.sample(params, shape, dtype, seed)
