"""NumPy references of the classification losses.

Binary losses are element-wise; categorical losses are row-wise (a unit is a
row of C class scores; the loss has shape y_pred.shape[:-1]).  Probabilities
are clipped to [eps, 1 - eps] (Keras's epsilon) and the gradient is 0 where
the clip is active.
"""

import numpy as np

from fastloss.reference._common import log_softmax, sigmoid, softplus


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                        pos_weight=None, eps=1e-7):
    t = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight)
    if from_logits:
        # torch.nn.functional.binary_cross_entropy_with_logits
        s = sigmoid(y_pred)
        return (pw * t * softplus(-y_pred) + (1 - t) * softplus(y_pred),
                (1 - t) * s - pw * t * (1 - s))
    c = np.clip(y_pred, eps, 1 - eps)
    inside = (y_pred > eps) & (y_pred < 1 - eps)
    return (-(pw * t * np.log(c) + (1 - t) * np.log1p(-c)),
            np.where(inside, -pw * t / c + (1 - t) / (1 - c), 0.0))


def binary_crossentropy_hess(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             pos_weight=None, eps=1e-7):
    t = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight)
    if from_logits:
        s = sigmoid(y_pred)
        return ((1 - t) + pw * t) * s * (1 - s)
    c = np.clip(y_pred, eps, 1 - eps)
    inside = (y_pred > eps) & (y_pred < 1 - eps)
    return np.where(inside, pw * t / c**2 + (1 - t) / (1 - c) ** 2, 0.0)


def _pm1(y):
    # Keras: labels that are all in {0, 1} become -1/+1
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def hinge(y_true, y_pred):
    t = _pm1(y_true)
    u = 1 - t * y_pred
    return np.maximum(u, 0), np.where(u > 0, -t, 0.0)


def squared_hinge(y_true, y_pred):
    t = _pm1(y_true)
    m = np.maximum(1 - t * y_pred, 0)
    return m * m, -2 * t * m


def squared_hinge_hess(y_true, y_pred):
    t = _pm1(y_true)
    return np.where(1 - t * y_pred > 0, 2 * t * t, 0.0)


def _focal_parts(t, y_pred, alpha, from_logits, eps):
    """a_t, and q = 1 - p_t and ce with their first two derivatives in y_pred."""
    a_t = 1.0 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
    if from_logits:
        # torchvision.ops.sigmoid_focal_loss: p = sigmoid(x), ce = BCE with logits,
        # p_t = p t + (1 - p)(1 - t), loss = a_t (1 - p_t)^gamma ce.
        p = sigmoid(y_pred)
        v = p * (1 - p)  # dp/dx
        ce = t * softplus(-y_pred) + (1 - t) * softplus(y_pred)
        q = 1 - (p * t + (1 - p) * (1 - t))
        dq, d2q = (1 - 2 * t) * v, (1 - 2 * t) * v * (1 - 2 * p)
        dce, d2ce = p - t, v
    else:
        # Keras: ce on clipped p, (1 - p_t) on p itself.
        c = np.clip(y_pred, eps, 1 - eps)
        inside = (y_pred > eps) & (y_pred < 1 - eps)
        ce = -(t * np.log(c) + (1 - t) * np.log1p(-c))
        q = 1 - (t * y_pred + (1 - t) * (1 - y_pred))
        dq, d2q = 1 - 2 * t, 0.0
        dce = np.where(inside, -t / c + (1 - t) / (1 - c), 0.0)
        d2ce = np.where(inside, t / c**2 + (1 - t) / (1 - c) ** 2, 0.0)
    return a_t, q, dq, d2q, ce, dce, d2ce


def binary_focal_crossentropy(y_true, y_pred, gamma=2.0, alpha=None, from_logits=False,
                              eps=1e-7):
    a_t, q, dq, _, ce, dce, _ = _focal_parts(y_true, y_pred, alpha, from_logits, eps)
    return (a_t * q**gamma * ce,
            a_t * (gamma * q ** (gamma - 1) * dq * ce + q**gamma * dce))


def binary_focal_crossentropy_hess(y_true, y_pred, gamma=2.0, alpha=None, from_logits=False,
                                   eps=1e-7):
    # The product rule twice on a_t q^gamma ce.
    a_t, q, dq, d2q, ce, dce, d2ce = _focal_parts(y_true, y_pred, alpha, from_logits, eps)
    return a_t * (gamma * (gamma - 1) * q ** (gamma - 2) * dq**2 * ce
                  + gamma * q ** (gamma - 1) * (d2q * ce + 2 * dq * dce)
                  + q**gamma * d2ce)


def _ce_rows(tw, y_pred, from_logits, eps):
    """Loss, gradient, hessian of -sum_j tw_j log p_j per row."""
    tot = np.sum(tw, axis=-1, keepdims=True)
    if from_logits:
        lp = log_softmax(y_pred)
        p = np.exp(lp)
        return -np.sum(tw * lp, axis=-1), tot * p - tw, tot * p * (1 - p)
    # Keras: rows normalised, then clipped (an all-zero row counts as q = 0).
    s = np.sum(y_pred, axis=-1, keepdims=True)
    q = np.divide(y_pred, s, out=np.zeros_like(y_pred), where=s > 0)
    c = np.clip(q, eps, 1 - eps)
    k = (q > eps) & (q < 1 - eps)
    kk = np.sum(tw * k, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(k, tw / y_pred, 0.0)
        hd = np.where(k, tw / y_pred**2, 0.0)
    return -np.sum(tw * np.log(c), axis=-1), -a + kk / s, hd - kk / s**2


def _dense_tw(y_true, label_smoothing, class_weight):
    tw = (1 - label_smoothing) * y_true + label_smoothing / y_true.shape[-1]
    return tw if class_weight is None else tw * np.asarray(class_weight)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             class_weight=None, eps=1e-7):
    # torch cross_entropy with probability targets: the class weights enter the
    # row loss; the 'mean' is over rows (no class-weight denominator).
    tw = _dense_tw(y_true, label_smoothing, class_weight)
    return _ce_rows(tw, y_pred, from_logits, eps)[:2]


def categorical_crossentropy_hess(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                                  class_weight=None, eps=1e-7):
    tw = _dense_tw(y_true, label_smoothing, class_weight)
    return _ce_rows(tw, y_pred, from_logits, eps)[2]


def _sparse_tw(y_true, y_pred, label_smoothing, class_weight, ignore_index):
    n_classes = y_pred.shape[-1]
    y = np.asarray(y_true).astype(np.int64)
    valid = np.ones(y.shape, bool) if ignore_index is None else y != ignore_index
    yv = np.where(valid, y, 0)
    cw = np.ones(n_classes) if class_weight is None else np.asarray(class_weight, float)
    onehot = np.eye(n_classes)[yv]
    cy = cw[yv]
    tw = ((1 - label_smoothing) * cy[..., None] * onehot
          + label_smoothing / n_classes * cw) * valid[..., None]
    return tw, cy * valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                                    class_weight=None, ignore_index=None, eps=1e-7):
    # torch cross_entropy: row loss -sum_j tw_j log p_j with
    # tw_j = (1 - ls) cw_y [j == y] + ls / C cw_j; 'mean' divides by sum cw_y over the
    # rows not ignored.  Returned per unit of that denominator: (loss / cw_y,
    # grad / cw_y, cw_y) (rows with cw_y == 0 and label smoothing are not
    # representable this way; the tests avoid them).
    tw, unit_w = _sparse_tw(y_true, y_pred, label_smoothing, class_weight, ignore_index)
    loss, grad, _ = _ce_rows(tw, y_pred, from_logits, eps)
    scale = np.divide(1.0, unit_w, out=np.zeros_like(unit_w), where=unit_w > 0)
    return loss * scale, grad * scale[..., None], unit_w


def sparse_categorical_crossentropy_hess(y_true, y_pred, from_logits=False,
                                         label_smoothing=0.0, class_weight=None,
                                         ignore_index=None, eps=1e-7):
    # Per row, without the class-weight normalisation (as grad_hess reports it).
    tw, _ = _sparse_tw(y_true, y_pred, label_smoothing, class_weight, ignore_index)
    return _ce_rows(tw, y_pred, from_logits, eps)[2]


def categorical_hinge(y_true, y_pred):
    # keras.losses.categorical_hinge
    pos = np.sum(y_true * y_pred, axis=-1)
    negs = (1 - y_true) * y_pred
    k = np.argmax(negs, axis=-1)
    neg = np.take_along_axis(negs, k[..., None], axis=-1)[..., 0]
    u = 1 + neg - pos
    at_k = np.eye(y_pred.shape[-1])[k] * (1 - np.take_along_axis(y_true, k[..., None], -1))
    return np.maximum(u, 0), np.where(u[..., None] > 0, -y_true + at_k, 0.0)


def _xlogx(t):
    return np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0.0)


def kl_divergence(y_true, y_pred, log_input=False, eps=1e-7):
    t = y_true
    if log_input:
        # torch.nn.functional.kl_div(y_pred, t, reduction='none').sum(-1)
        return np.sum(_xlogx(t) - t * y_pred, axis=-1), -t
    c = np.maximum(y_pred, eps)
    return (np.sum(_xlogx(t) - t * np.log(c), axis=-1),
            np.where(y_pred > eps, -t / c, 0.0))


def kl_divergence_hess(y_true, y_pred, log_input=False, eps=1e-7):
    if log_input:
        return np.zeros_like(y_pred)
    c = np.maximum(y_pred, eps)
    return np.where(y_pred > eps, y_true / c**2, 0.0)


def categorical_focal_crossentropy(y_true, y_pred, gamma=2.0, alpha=None, from_logits=False,
                                   eps=1e-7):
    # keras.losses.categorical_focal_crossentropy: -sum_j alpha t_j (1 - p_j)^g log p_j
    a = 1.0 if alpha is None else alpha
    t = y_true
    if from_logits:
        lp = log_softmax(y_pred)
        p = np.exp(lp)
        q = 1 - p
        # d/d(log p_j), then the softmax chain rule
        d = -a * t * (q**gamma - gamma * q ** (gamma - 1) * p * lp)
        grad = d - p * np.sum(d, axis=-1, keepdims=True)
        return -np.sum(a * t * q**gamma * lp, axis=-1), grad
    s = np.sum(y_pred, axis=-1, keepdims=True)
    qn = np.divide(y_pred, s, out=np.zeros_like(y_pred), where=s > 0)
    c = np.clip(qn, eps, 1 - eps)
    k = (qn > eps) & (qn < 1 - eps)
    e = np.where(k, -a * t * ((1 - c) ** gamma / c
                              - gamma * (1 - c) ** (gamma - 1) * np.log(c)), 0.0)
    grad = (e - np.sum(e * qn, axis=-1, keepdims=True)) / s
    return -np.sum(a * t * (1 - c) ** gamma * np.log(c), axis=-1), grad
