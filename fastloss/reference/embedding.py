"""NumPy references of the embedding and ranking losses.

Row losses take rows of d features (the last axis) and return one loss per
row and the gradient rows; `contrastive` and `margin_ranking` are
element-wise.  InfoNCE and NT-Xent form the whole logit matrix (the compiled
versions work in blocks): their units interact, so their functions return
the gradient of the *sum* of the unit losses, and their weighted reductions
are in REDUCTIONS.
"""

import numpy as np

from fastloss.reference._common import log_softmax

#: Keras's clamp of squared norms (tf.math.l2_normalize's epsilon)
KERAS_EPS = 1e-12
#: added to each squared norm by torch's cosine_embedding_loss: 1e-12 as a
#: float32 constant (9.99999996e-13), also in float64
TORCH_COS_EPS = float(np.float32(1e-12))
#: the norm clamp of torch.nn.functional.normalize
NORMALIZE_EPS = 1e-12


def _rowdot(a, b):
    return np.sum(a * b, axis=-1)


def cosine_similarity(y_true, y_pred):
    st, sp, c = _rowdot(y_true, y_true), _rowdot(y_pred, y_pred), _rowdot(y_true, y_pred)
    a = 1 / np.sqrt(np.maximum(st, KERAS_EPS))
    b = 1 / np.sqrt(np.maximum(sp, KERAS_EPS))
    cos = c * a * b
    # d(-cos)/dp; the norm of p is constant where its clamp is active
    k = np.where(sp >= KERAS_EPS, c * b * b, 0.0)
    grad = -(a * b)[..., None] * (y_true - k[..., None] * y_pred)
    return -cos, grad


def cosine_embedding(x1, x2, y, margin=0.0):
    s1 = _rowdot(x1, x1) + TORCH_COS_EPS
    s2 = _rowdot(x2, x2) + TORCH_COS_EPS
    D = np.sqrt(s1 * s2)
    cos = _rowdot(x1, x2) / D
    loss = np.where(y == 1, 1 - cos, np.maximum(cos - margin, 0))
    # dl/dcos: -1 for similar pairs, 1 for dissimilar ones above the margin
    f = np.where(y == 1, -1.0, (cos - margin > 0).astype(float))[..., None]
    g1 = f * (x2 / D[..., None] - (cos / s1)[..., None] * x1)
    g2 = f * (x1 / D[..., None] - (cos / s2)[..., None] * x2)
    return loss, (g1, g2)


def contrastive(y_true, distance, margin=1.0):
    h = np.maximum(margin - distance, 0)
    loss = y_true * distance**2 + (1 - y_true) * h**2
    return loss, 2 * y_true * distance - 2 * (1 - y_true) * h


def contrastive_hess(y_true, distance, margin=1.0):
    return 2 * y_true + 2 * (1 - y_true) * (distance < margin)


def _pairwise_distance(x, y, eps, p=2.0):
    """torch's pairwise_distance: ||x - y + eps||_p, and u = x - y + eps."""
    u = x - y + eps
    return np.sum(np.abs(u) ** p, axis=-1) ** (1 / p), u


def _norm_grad(u, dist, p):
    """d||u||_p / du, 0 where the norm is 0 (torch's norm backward)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.sign(u) * (np.abs(u) / dist[..., None]) ** (p - 1)
    return np.where(dist[..., None] > 0, g, 0.0)


def contrastive_embedding(x1, x2, y, margin=1.0, eps=1e-6):
    dist, u = _pairwise_distance(x1, x2, eps)
    h = np.maximum(margin - dist, 0)
    loss = y * dist**2 + (1 - y) * h**2
    dl_dd = 2 * y * dist - 2 * (1 - y) * h
    g1 = dl_dd[..., None] * _norm_grad(u, dist, 2.0)
    return loss, (g1, -g1)


def triplet(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False):
    d_ap, u_ap = _pairwise_distance(anchor, positive, eps, p)
    d_an, u_an = _pairwise_distance(anchor, negative, eps, p)
    G_ap, G_an = _norm_grad(u_ap, d_ap, p), _norm_grad(u_an, d_an, p)
    if swap:
        d_pn, u_pn = _pairwise_distance(positive, negative, eps, p)
        G_pn = _norm_grad(u_pn, d_pn, p)
        # torch.minimum's gradient: to the smaller one, half each at a tie
        s_an = np.where(d_an < d_pn, 1.0, np.where(d_an == d_pn, 0.5, 0.0))
        d_neg = np.minimum(d_an, d_pn)
    else:
        G_pn = np.zeros_like(G_an)
        s_an = np.ones_like(d_an)
        d_neg = d_an
    h = margin + d_ap - d_neg
    active = (h > 0).astype(float)
    c_an = (active * s_an)[..., None]
    c_pn = (active * (1 - s_an))[..., None]
    c_ap = active[..., None]
    g_a = c_ap * G_ap - c_an * G_an
    g_p = -c_ap * G_ap - c_pn * G_pn
    g_n = c_an * G_an + c_pn * G_pn
    return np.maximum(h, 0), (g_a, g_p, g_n)


def margin_ranking(x1, x2, y, margin=0.0):
    u = margin - y * (x1 - x2)
    g = np.where(u > 0, -y, 0.0)
    return np.maximum(u, 0), (g, -g)


# --- softmax contrastive losses --------------------------------------------------------


def _normalize(x, normalize):
    """(x / max(||x||, eps), and the backward map from d/dx_hat to d/dx)."""
    if not normalize:
        return x, lambda v: v
    r = np.sqrt(_rowdot(x, x))[:, None]
    m = np.maximum(r, NORMALIZE_EPS)
    xh = x / m

    def back(v):
        # through the norm where the clamp is inactive (torch's clamp_min)
        through = (v - xh * _rowdot(xh, v)[:, None]) / m
        return np.where(r >= NORMALIZE_EPS, through, v / NORMALIZE_EPS)

    return xh, back


def _info_nce_weighted(query, key, w, temperature=0.1, normalize=True, symmetric=False):
    """Row losses and the gradients of sum_i w_i l_i."""
    qh, back_q = _normalize(query, normalize)
    kh, back_k = _normalize(key, normalize)
    L = qh @ kh.T / temperature
    n = L.shape[0]
    eye = np.eye(n)
    lp_row = log_softmax(L, axis=1)
    loss = -np.diag(lp_row)
    G = w[:, None] * (np.exp(lp_row) - eye)
    if symmetric:
        lp_col = log_softmax(L, axis=0)
        loss = (loss - np.diag(lp_col)) / 2
        G = (G + w[None, :] * (np.exp(lp_col) - eye)) / 2
    gq = back_q(G @ kh / temperature)
    gk = back_k(G.T @ qh / temperature)
    return loss, gq, gk


def info_nce(query, key, temperature=0.1, normalize=True, symmetric=False):
    loss, gq, gk = _info_nce_weighted(query, key, np.ones(query.shape[0]), temperature,
                                      normalize, symmetric)
    return loss, (gq, gk)


def _nt_xent_weighted(z1, z2, w, temperature=0.1, normalize=True):
    n = z1.shape[0]
    z, back = _normalize(np.concatenate([z1, z2]), normalize)
    S = z @ z.T / temperature
    np.fill_diagonal(S, -np.inf)  # a row is not its own negative
    other = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    lp = log_softmax(S, axis=1)
    rows = np.arange(2 * n)
    loss = -lp[rows, other]
    target = np.zeros_like(S)
    target[rows, other] = 1
    G = w[:, None] * (np.exp(lp) - target)
    gz = back((G + G.T) @ z / temperature)
    return loss, gz[:n], gz[n:]


def nt_xent(z1, z2, temperature=0.1, normalize=True):
    loss, g1, g2 = _nt_xent_weighted(z1, z2, np.ones(2 * z1.shape[0]), temperature,
                                     normalize)
    return loss, (g1, g2)


def _interacting(weighted, n_units):
    """loss_grad for a loss whose units interact: the gradient of the weighted
    sum, divided by the sum of the weights for 'mean'."""

    def loss_grad(a, b, sample_weight=None, reduction="mean", **params):
        units = n_units(a)
        w = (np.ones(units) if sample_weight is None
             else np.broadcast_to(np.asarray(sample_weight, float), (units,)))
        loss, ga, gb = weighted(a, b, w, **params)
        wl = w * loss
        dtype = a.dtype
        if reduction == "none":
            return wl.astype(dtype), (ga.astype(dtype), gb.astype(dtype))
        if reduction == "sum":
            return np.sum(wl), (ga.astype(dtype), gb.astype(dtype))
        total = np.sum(w)
        return np.sum(wl) / total, ((ga / total).astype(dtype), (gb / total).astype(dtype))

    return loss_grad


REDUCTIONS = {
    "info_nce": _interacting(_info_nce_weighted, lambda a: a.shape[0]),
    "nt_xent": _interacting(_nt_xent_weighted, lambda a: 2 * a.shape[0]),
}
