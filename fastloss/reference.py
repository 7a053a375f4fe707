"""Plain NumPy reference implementations of every fastloss loss.

Written to be read, not to be fast: each loss is a function of
``(y_true, y_pred, **params)`` returning ``(loss, grad)`` per unit, where a
unit is an element (element-wise losses) or a row (row-wise losses), and
``grad`` is d loss_unit / d y_pred with the shape of y_pred.  Where a
hessian is defined, ``<name>_hess`` returns the diagonal second derivative.
`loss_grad` and `grad_hess` apply sample weights and reductions exactly as
the compiled losses do.

The tests check the compiled kernels against these functions (and both
against finite differences and independent libraries); the benchmarks use
them as the NumPy baseline.  Computation is in float64 unless the inputs are
float32.
"""

import numpy as np

# --- regression (element-wise) -------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    d = y_pred - y_true
    return d * d, 2 * d


def mean_squared_error_hess(y_true, y_pred):
    return np.full_like(y_pred, 2)


def mean_absolute_error(y_true, y_pred):
    d = y_pred - y_true
    return np.abs(d), np.sign(d)


def huber(y_true, y_pred, delta=1.0):
    d = y_pred - y_true
    a = np.abs(d)
    loss = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return loss, np.clip(d, -delta, delta)


def huber_hess(y_true, y_pred, delta=1.0):
    return (np.abs(y_pred - y_true) <= delta).astype(y_pred.dtype)


def log_cosh(y_true, y_pred):
    # log(cosh(d)) = |d| + log1p(exp(-2|d|)) - log(2): no overflow for any d.
    d = y_pred - y_true
    a = np.abs(d)
    return a + np.log1p(np.exp(-2 * a)) - np.log(2), np.tanh(d)


def log_cosh_hess(y_true, y_pred):
    return 1 / np.cosh(y_pred - y_true) ** 2


def quantile(y_true, y_pred, quantile=0.5):
    d = y_true - y_pred
    loss = np.maximum(quantile * d, (quantile - 1) * d)
    grad = np.where(d > 0, -quantile, 1 - quantile)
    return loss, grad.astype(y_pred.dtype)


def poisson(y_true, y_pred, log_input=False, eps=1e-8):
    if log_input:
        rate = np.exp(y_pred)
        return rate - y_true * y_pred, rate - y_true
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(y_true == 0, 0, y_true * np.log(y_pred + eps))
    return y_pred - log_term, 1 - y_true / (y_pred + eps)


def poisson_hess(y_true, y_pred, log_input=False, eps=1e-8):
    if log_input:
        return np.exp(y_pred)
    return y_true / (y_pred + eps) ** 2


def mean_squared_log_error(y_true, y_pred):
    r = np.log1p(y_pred) - np.log1p(y_true)
    return r * r, 2 * r / (1 + y_pred)


def mean_squared_log_error_hess(y_true, y_pred):
    r = np.log1p(y_pred) - np.log1p(y_true)
    return 2 * (1 - r) / (1 + y_pred) ** 2


# --- reductions --------------------------------------------------------------------


def _as_float(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    floats = [a.dtype for a in (y_true, y_pred) if a.dtype.kind == "f"]
    dtype = np.float32 if floats and all(d.itemsize <= 4 for d in floats) else np.float64
    return y_true, y_pred.astype(dtype, copy=False)


def _unit_weights(sample_weight, loss_shape, grad_shape):
    """Weights broadcast to the per-unit loss and to the gradient."""
    if sample_weight is None:
        return np.ones(loss_shape), np.ones(grad_shape)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != loss_shape and w.ndim == 1:
        # one weight per row, applied to every element of the row
        w = w.reshape((-1,) + (1,) * (len(loss_shape) - 1))
    w_loss = np.broadcast_to(w, loss_shape)
    w_grad = w_loss.reshape(w_loss.shape + (1,) * (len(grad_shape) - len(loss_shape)))
    return w_loss, np.broadcast_to(w_grad, grad_shape)


def loss_grad(name, y_true, y_pred, *, sample_weight=None, reduction="mean", **params):
    """(loss, grad) of loss `name` with the given reduction, like fastloss."""
    y_true, y_pred = _as_float(y_true, y_pred)
    fn = globals()[name]
    if y_true.dtype.kind in "fb":
        y_true = y_true.astype(y_pred.dtype, copy=False)
    out = fn(y_true, y_pred, **params)
    loss, grad = out[0], out[1]
    if sample_weight is None and len(out) == 2:
        # the common case, kept as lean as NumPy code written by hand
        if reduction == "none":
            return loss, grad
        if reduction == "sum":
            return np.sum(loss), grad
        return np.mean(loss), grad / loss.size
    # A loss may return a third array: per-unit weights it applies itself
    # (class weights, ignored rows); they count in the 'mean' denominator.
    unit_w = out[2] if len(out) > 2 else np.ones(loss.shape)
    w_loss, w_grad = _unit_weights(sample_weight, loss.shape, grad.shape)
    w_loss = w_loss * unit_w
    w_grad = w_grad * unit_w.reshape(unit_w.shape + (1,) * (grad.ndim - unit_w.ndim))
    wl = w_loss * loss
    wg = w_grad * grad
    if reduction == "none":
        return wl.astype(y_pred.dtype), wg.astype(y_pred.dtype)
    if reduction == "sum":
        return np.sum(wl), wg.astype(y_pred.dtype)
    total = np.sum(w_loss)
    return np.sum(wl) / total, (wg / total).astype(y_pred.dtype)


def grad_hess(name, y_true, y_pred, *, sample_weight=None, **params):
    """Per-unit (grad, hess) of w_i * l_i, like fastloss's grad_hess."""
    y_true, y_pred = _as_float(y_true, y_pred)
    y_true = y_true.astype(y_pred.dtype) if y_true.dtype.kind in "fb" else y_true
    _, grad = globals()[name](y_true, y_pred, **params)[:2]
    hess = globals()[name + "_hess"](y_true, y_pred, **params)
    _, w_grad = _unit_weights(sample_weight, grad.shape, grad.shape)
    return (w_grad * grad).astype(y_pred.dtype), (w_grad * hess).astype(y_pred.dtype)
