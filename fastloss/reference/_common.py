"""Helpers shared by the NumPy references of several families."""

import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow (from exp(-|x|))."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(0, x)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, with the maximum subtracted first."""
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
