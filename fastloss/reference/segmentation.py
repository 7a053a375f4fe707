"""NumPy references of the segmentation (overlap) losses: Dice, Jaccard, Tversky.

A unit is a sample (the first axis): the sums run over every other axis,
per class when `channel_axis` names a class axis.  Each function returns the
per-sample loss (shape (n,)) and its gradient with respect to y_pred.

Written from the textbook forms, independently of the kernel's algebra:
the score is the ratio N / M, the loss 1 - N / M, and the gradient the
quotient rule dL/dp = (N dM/dp - M dN/dp) / M^2 followed by the chain rule
through the sigmoid or softmax.  Label maps are one-hot encoded here (the
kernel never materialises them).
"""

import numpy as np

from fastloss.reference._common import sigmoid


def _classes_first(a, channel_axis):
    """a (n, ...) as (n, C, Q): the class axis second, the pixels flattened."""
    n = a.shape[0]
    if channel_axis is None:
        return a.reshape(n, 1, -1)
    a = np.moveaxis(a, channel_axis % a.ndim, 1)
    return a.reshape(n, a.shape[1], -1)


def _targets(y_true, x, channel_axis):
    """Dense targets (n, C, Q) from y_true: dense of y_pred's shape, or a label
    map (y_pred's shape without the class axis, or with it of length 1)."""
    y = np.asarray(y_true)
    if y.shape == x.shape:
        return _classes_first(y.astype(np.float64), channel_axis)
    n, C = x.shape[0], x.shape[channel_axis % x.ndim]
    labels = y.reshape(n, -1).astype(np.int64)
    return (labels[:, None, :] == np.arange(C)[None, :, None]).astype(np.float64)


def _probabilities(x3, from_logits, multilabel):
    """(p, 1 - p, what turns dL/dp into dL/dx)."""
    C = x3.shape[1]
    if not from_logits:
        return x3, 1 - x3, lambda G: G
    if C == 1 or multilabel:
        p, q = sigmoid(x3), sigmoid(-x3)
        return p, q, lambda G: G * p * q
    e = np.exp(x3 - np.max(x3, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    # softmax Jacobian: dL/dx_c = p_c (G_c - sum_k G_k p_k)
    return p, 1 - p, lambda G: p * (G - np.sum(G * p, axis=1, keepdims=True))


def _class_factors(C, class_weight, include_background):
    """Weight of each class in the sample's loss: class_weight / classes counted."""
    cw = np.ones(C) if class_weight is None else np.array(
        [class_weight.get(c, 1.0) for c in range(C)] if isinstance(class_weight, dict)
        else class_weight, dtype=np.float64)
    if not include_background:
        cw[0] = 0.0
    counted = C if include_background else C - 1
    return cw / counted


def _overlap(y_true, y_pred, k_i, alpha, beta, smooth, smooth_nr, smooth_dr, from_logits,
             channel_axis, multilabel, class_weight, include_background):
    """Score N / M per sample and class, with N = k_i I + sn and
    M = k_i I + alpha FP + beta FN + sd; loss = sum_c f_c (1 - N_c / M_c)."""
    x = np.asarray(y_pred, dtype=np.float64)
    sn = smooth if smooth_nr is None else smooth_nr
    sd = smooth if smooth_dr is None else smooth_dr
    x3 = _classes_first(x, channel_axis)
    t = _targets(y_true, x, channel_axis)
    p, q, chain = _probabilities(x3, from_logits, multilabel)
    tp = np.sum(t * p, axis=2)
    fp = np.sum((1 - t) * p, axis=2)
    fn = np.sum(t * q, axis=2)
    N = k_i * tp + sn
    M = k_i * tp + alpha * fp + beta * fn + sd
    f = _class_factors(x3.shape[1], class_weight, include_background)
    counted = f != 0
    loss = np.sum(np.where(counted, f * (1 - N / M), 0.0), axis=1)
    dN = k_i * t                                      # dN/dp
    dM = k_i * t + alpha * (1 - t) - beta * t         # dM/dp
    N3, M3 = N[:, :, None], M[:, :, None]
    G = f[None, :, None] * (N3 * dM - M3 * dN) / M3**2
    g3 = chain(G)
    if channel_axis is None:
        return loss, g3.reshape(x.shape)
    ax = channel_axis % x.ndim
    moved = np.moveaxis(x, ax, 1).shape
    return loss, np.moveaxis(g3.reshape(moved), 1, ax)


def dice(y_true, y_pred, smooth=1.0, smooth_nr=None, smooth_dr=None, from_logits=False,
         channel_axis=None, multilabel=False, class_weight=None, include_background=True):
    # 1 - (2 I + sn) / (sum t + sum p + sd)  (sum t + sum p = 2 I + FP + FN)
    return _overlap(y_true, y_pred, 2.0, 1.0, 1.0, smooth, smooth_nr, smooth_dr, from_logits,
                    channel_axis, multilabel, class_weight, include_background)


def jaccard(y_true, y_pred, smooth=1.0, smooth_nr=None, smooth_dr=None, from_logits=False,
            channel_axis=None, multilabel=False, class_weight=None, include_background=True):
    # 1 - (I + sn) / (sum t + sum p - I + sd)  (= I + FP + FN + sd)
    return _overlap(y_true, y_pred, 1.0, 1.0, 1.0, smooth, smooth_nr, smooth_dr, from_logits,
                    channel_axis, multilabel, class_weight, include_background)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, smooth=1.0, smooth_nr=None, smooth_dr=None,
            from_logits=False, channel_axis=None, multilabel=False, class_weight=None,
            include_background=True):
    # 1 - (TP + sn) / (TP + alpha FP + beta FN + sd)
    return _overlap(y_true, y_pred, 1.0, alpha, beta, smooth, smooth_nr, smooth_dr, from_logits,
                    channel_axis, multilabel, class_weight, include_background)
