"""Peers of the regression and classification losses.

Each computes the same value and gradient as fastloss (mean reduction,
gradient w.r.t. y_pred) the way a user of that library would: scikit-learn's
Cython `_loss` module (per-sample loss and gradient, then the mean), PyTorch
autograd, and `jax.jit(jax.value_and_grad(...))`.
"""

import numpy as np


def _sklearn(name, params):
    try:
        from sklearn._loss import loss as sk
    except ImportError:
        return None
    # (sklearn loss, factor making it ours): sklearn's "half" losses are l/2.
    table = {
        "mean_squared_error": lambda: (sk.HalfSquaredError(), 2.0),
        "mean_absolute_error": lambda: (sk.AbsoluteError(), 1.0),
        "quantile": lambda: (sk.PinballLoss(quantile=params.get("quantile", 0.5)), 1.0),
        "huber": lambda: (sk.HuberLoss(delta=params.get("delta", 1.0)), 1.0),
    }
    if name == "poisson" and params.get("log_input"):
        table["poisson"] = lambda: (sk.HalfPoissonLoss(), 1.0)
    if name == "binary_crossentropy" and params.get("from_logits") and len(params) == 1:
        table[name] = lambda: (sk.HalfBinomialLoss(), 1.0)
    if name not in table:
        return None
    loss, factor = table[name]()

    def run(y, p):
        yy = y.astype(p.dtype, copy=False)
        lo, g = loss.loss_gradient(yy.reshape(-1), p.reshape(-1), n_threads=1)
        n = lo.size
        return factor * lo.mean(), (g * (factor / n)).reshape(p.shape)

    return run


def _sparse_ce_sklearn(params):
    if not (params.get("from_logits") and len(params) == 1):
        return None
    try:
        from sklearn._loss import loss as sk
    except ImportError:
        return None

    def run(y, p):
        loss = sk.HalfMultinomialLoss(n_classes=p.shape[1])
        lo, g = loss.loss_gradient(y.astype(p.dtype), p, n_threads=1)
        return lo.mean(), g / lo.size

    return run


def _torch(name, params):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    fns = {
        "mean_squared_error": lambda p, y: F.mse_loss(p, y),
        "mean_absolute_error": lambda p, y: F.l1_loss(p, y),
        "huber": lambda p, y: F.huber_loss(p, y, delta=params.get("delta", 1.0)),
        "poisson": lambda p, y: F.poisson_nll_loss(
            p, y, log_input=params.get("log_input", False), eps=params.get("eps", 1e-8)),
    }
    if name == "binary_crossentropy" and params.get("from_logits") and len(params) == 1:
        fns[name] = lambda p, y: F.binary_cross_entropy_with_logits(p, y)
    if name == "sparse_categorical_crossentropy" and params.get("from_logits") and len(params) == 1:
        fns[name] = lambda p, y: F.cross_entropy(p, y)
    if name not in fns:
        return None
    f = fns[name]

    def run(y, p):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        pt = torch.from_numpy(p).requires_grad_(True)
        yt = torch.from_numpy(y if y.dtype.kind in "iu" else y.astype(p.dtype, copy=False))
        value = f(pt, yt)
        value.backward()
        return value.item(), pt.grad.numpy()

    return run


def _jax(name, params):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    fns = {
        "mean_squared_error": lambda p, y: jnp.mean((p - y) ** 2),
        "mean_absolute_error": lambda p, y: jnp.mean(jnp.abs(p - y)),
    }
    if name == "binary_crossentropy" and params.get("from_logits") and len(params) == 1:
        fns[name] = lambda p, y: jnp.mean(jax.nn.softplus(p) - y * p)
    if name == "sparse_categorical_crossentropy" and params.get("from_logits") and len(params) == 1:
        fns[name] = lambda p, y: -jnp.mean(
            jnp.take_along_axis(jax.nn.log_softmax(p, axis=1), y[:, None], axis=1))
    if name not in fns:
        return None
    vg = jax.jit(jax.value_and_grad(fns[name]))

    def run(y, p):
        yy = y if y.dtype.kind in "iu" else y.astype(p.dtype, copy=False)
        value, grad = vg(p, yy)
        grad = np.asarray(grad.block_until_ready())
        return float(value), grad

    return run


def for_loss(loss, params):
    """name -> f(y_true, y_pred) -> (loss, grad) for each available peer."""
    out = {}
    sk = (_sparse_ce_sklearn(params) if loss.name == "sparse_categorical_crossentropy"
          else _sklearn(loss.name, params))
    for key, fn in (("sklearn", sk), ("torch", _torch(loss.name, params)),
                    ("jax", _jax(loss.name, params))):
        if fn is not None:
            out[key] = fn
    return out
