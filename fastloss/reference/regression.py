"""NumPy references of the regression losses (element-wise): per element
(loss, dl/dy_pred), and the diagonal hessian as `<name>_hess`."""

import numpy as np


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
