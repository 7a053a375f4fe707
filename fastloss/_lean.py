"""The leanest NumPy expression of each loss, for the bench's minibatch table.

`fastloss.reference` is written to be read and handles every keyword; these
are what a careful NumPy user would write for one loss with its bench
keywords (the first entry of its `examples`) and reduction="mean": the fewest
passes and temporaries, in-place updates, `np.dot` for sums of products, no
validation.  Each returns (loss, gradient with respect to y_pred) and
tests/test_peers.py checks it against fastloss.  Only the losses whose bench
keywords are listed in LEAN have one.
"""

import numpy as np

_LOG2 = float(np.log(2.0))


def mse(y, p):
    d = p - y
    n = d.size
    loss = np.vdot(d, d) / n
    d *= 2.0 / n
    return loss, d


def mae(y, p):
    d = p - y
    n = d.size
    loss = np.abs(d).sum() / n
    np.sign(d, out=d)
    d /= n
    return loss, d


def huber(y, p, delta=1.0):
    d = p - y
    n = d.size
    a = np.abs(d)
    loss = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta)).sum() / n
    np.clip(d, -delta, delta, out=d)
    d /= n
    return loss, d


def log_cosh(y, p):
    d = p - y
    n = d.size
    a = np.abs(d)
    loss = (a + np.log1p(np.exp(-2.0 * a))).sum() / n - _LOG2
    np.tanh(d, out=d)
    d /= n
    return loss, d


def quantile(y, p, q=0.5):
    d = y - p
    n = d.size
    loss = np.maximum(q * d, (q - 1.0) * d).sum() / n
    return loss, np.where(d > 0, -q / n, (1.0 - q) / n)


def poisson(y, p, eps=1e-8):
    n = p.size
    q = p + eps
    loss = (p.sum() - np.vdot(y, np.log(q))) / n
    g = y / q
    np.subtract(1.0, g, out=g)
    g /= n
    return loss, g


def msle(y, p):
    n = p.size
    r = np.log1p(p) - np.log1p(y)
    loss = np.vdot(r, r) / n
    r *= 2.0 / n
    r /= 1.0 + p
    return loss, r


def hinge(y, p):
    # labels -1 / +1
    n = p.size
    m = 1.0 - y * p
    loss = np.maximum(m, 0.0).sum() / n
    return loss, np.where(m > 0, -y / n, 0.0)


def squared_hinge(y, p):
    n = p.size
    m = np.maximum(1.0 - y * p, 0.0)
    loss = np.vdot(m, m) / n
    m *= y
    m *= -2.0 / n
    return loss, m


def bce_logits(t, x):
    n = x.size
    sp = np.logaddexp(0.0, x)             # softplus(x) = -log(1 - sigmoid(x))
    loss = (sp.sum() - np.vdot(t, x)) / n
    np.subtract(x, sp, out=sp)            # log sigmoid(x)
    np.exp(sp, out=sp)
    sp -= t
    sp /= n
    return loss, sp


def focal_logits(t, x, gamma=2.0):
    # torchvision's sigmoid_focal_loss without alpha: q^gamma ce, q = 1 - p_t
    n = x.size
    sp = np.logaddexp(0.0, x)             # -log(1 - s)
    s = np.exp(x - sp)                    # sigmoid(x)
    ce = sp - t * x                       # t (sp - x) + (1 - t) sp
    q = t + s - 2.0 * t * s               # t (1 - s) + (1 - t) s
    qg = q ** gamma
    loss = np.vdot(qg, ce) / n
    g = gamma * q ** (gamma - 1.0) * (1.0 - 2.0 * t) * (s * (1.0 - s)) * ce + qg * (s - t)
    g /= n
    return loss, g


def _log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    return z - np.log(s), e, s


def cce_logits(t, x):
    n = x.size // x.shape[-1]
    logp, e, s = _log_softmax(x)
    loss = -np.vdot(t, logp) / n
    e /= s
    e -= t
    e /= n
    return loss, e


def scce_logits(y, x):
    n = x.size // x.shape[-1]
    rows = np.arange(n)
    x2 = x.reshape(n, -1)
    logp, e, s = _log_softmax(x2)
    loss = -logp[rows, y.reshape(-1)].sum() / n
    e /= s
    e[rows, y.reshape(-1)] -= 1.0
    e /= n
    return loss, e.reshape(x.shape)


def cfocal_logits(t, x, gamma=2.0):
    # Keras categorical_focal_crossentropy(alpha=1): -sum t (1 - p)^gamma log p
    n = x.size // x.shape[-1]
    logp, e, s = _log_softmax(x)
    p = e / s
    q = 1.0 - p
    qg = q ** gamma
    loss = -np.vdot(t, qg * logp) / n
    d = -t * (qg - gamma * q ** (gamma - 1.0) * p * logp)   # d f_j / d log p_j
    g = d - p * d.sum(axis=-1, keepdims=True)
    g /= n
    return loss, g


def categorical_hinge(t, x):
    n = x.size // x.shape[-1]
    pos = (t * x).sum(axis=-1)
    tx = (1.0 - t) * x
    k = tx.argmax(axis=-1)
    neg = np.take_along_axis(tx, k[..., None], axis=-1)[..., 0]
    u = 1.0 + neg - pos
    on = u > 0
    loss = np.where(on, u, 0.0).sum() / n
    g = np.where(on[..., None], -t, 0.0)
    rows = np.nonzero(on.reshape(-1))[0]
    g2 = g.reshape(n, -1)
    kk = k.reshape(-1)[rows]
    g2[rows, kk] += 1.0 - t.reshape(n, -1)[rows, kk]
    g /= n
    return loss, g


def kl_divergence(t, p, eps=1e-7):
    n = p.size // p.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        tlogt = t * np.log(np.where(t > 0, t, 1.0))
        loss = (tlogt.sum() - np.vdot(t, np.log(np.maximum(p, eps)))) / n
        g = np.where(p > eps, -t / p, 0.0)
    g /= n
    return loss, g


#: (canonical name, bench keywords) -> lean function
LEAN = {
    ("mean_squared_error", ()): mse,
    ("mean_absolute_error", ()): mae,
    ("huber", ()): huber,
    ("log_cosh", ()): log_cosh,
    ("quantile", ()): quantile,
    ("poisson", ()): poisson,
    ("mean_squared_log_error", ()): msle,
    ("hinge", ()): hinge,
    ("squared_hinge", ()): squared_hinge,
    ("binary_crossentropy", (("from_logits", True),)): bce_logits,
    ("binary_focal_crossentropy", (("from_logits", True),)): focal_logits,
    ("categorical_crossentropy", (("from_logits", True),)): cce_logits,
    ("sparse_categorical_crossentropy", (("from_logits", True),)): scce_logits,
    ("categorical_focal_crossentropy", (("from_logits", True),)): cfocal_logits,
    ("categorical_hinge", ()): categorical_hinge,
    ("kl_divergence", ()): kl_divergence,
}


def for_loss(loss, params):
    """The lean NumPy function f(*inputs) -> (loss, grad) for a loss and its
    keywords, or None."""
    return LEAN.get((loss.name, tuple(sorted(params.items()))))
