"""NumPy references of the generative, reconstruction and asymmetric losses.

The GAN discriminator's units come in two independent groups (real and fake
logits): its function returns the pair of per-element losses and the pair of
gradients, and fastloss.reference reduces each group on its own (see
`loss_grad` there).  The per-sample losses sum their element terms over every
axis but the first.
"""

import numpy as np

from fastloss.reference._common import sigmoid, softplus


def _features(x):
    """The axes summed per sample: every axis but the first."""
    return tuple(range(1, np.ndim(x)))


# --- GAN ------------------------------------------------------------------------------


def gan_discriminator(real_logits, fake_logits, kind="minimax"):
    r, f = real_logits, fake_logits
    if kind == "minimax":
        # -log D(x) - log(1 - D(G(z))) with D = sigmoid
        return (softplus(-r), softplus(f)), (-sigmoid(-r), sigmoid(f))
    if kind == "hinge":
        return ((np.maximum(0, 1 - r), np.maximum(0, 1 + f)),
                (np.where(1 - r > 0, -1.0, 0.0).astype(r.dtype),
                 np.where(1 + f > 0, 1.0, 0.0).astype(f.dtype)))
    if kind == "wasserstein":
        return (-r, f), (-np.ones_like(r), np.ones_like(f))
    if kind == "least_squares":
        return ((r - 1) ** 2 / 2, f ** 2 / 2), (r - 1, f)
    raise ValueError(kind)


def gan_discriminator_hess(real_logits, fake_logits, kind="minimax"):
    r, f = real_logits, fake_logits
    if kind == "minimax":
        return sigmoid(r) * sigmoid(-r), sigmoid(f) * sigmoid(-f)
    if kind == "least_squares":
        return np.ones_like(r), np.ones_like(f)
    return np.zeros_like(r), np.zeros_like(f)


def gan_generator(fake_logits, kind="non_saturating"):
    f = fake_logits
    if kind == "non_saturating":
        return softplus(-f), -sigmoid(-f)        # -log D(G(z))
    if kind == "minimax":
        return -softplus(f), -sigmoid(f)         # log(1 - D(G(z)))
    if kind in ("hinge", "wasserstein"):
        return -f, -np.ones_like(f)
    if kind == "least_squares":
        return (f - 1) ** 2 / 2, f - 1
    raise ValueError(kind)


def gan_generator_hess(fake_logits, kind="non_saturating"):
    f = fake_logits
    v = sigmoid(f) * sigmoid(-f)
    if kind == "non_saturating":
        return v
    if kind == "minimax":
        return -v
    if kind == "least_squares":
        return np.ones_like(f)
    return np.zeros_like(f)


# --- VAE and autoencoders -------------------------------------------------------------


def gaussian_kl(mu, logvar):
    # KL(N(mu, sigma^2) || N(0, 1)) summed over the latent dimensions
    loss = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=_features(mu))
    return loss, (mu, 0.5 * (np.exp(logvar) - 1))


def gaussian_kl_hess(mu, logvar):
    return np.ones_like(mu), 0.5 * np.exp(logvar)


def _reconstruction_terms(x, x_hat, kind, from_logits, eps):
    """Element terms (loss, d/dx_hat, d2/dx_hat2) of a reconstruction loss."""
    d = x_hat - x
    if kind == "mse":
        return d ** 2, 2 * d, np.full_like(d, 2)
    if kind == "mae":
        return np.abs(d), np.sign(d), np.zeros_like(d)
    if from_logits:
        s = sigmoid(x_hat)
        return (x * softplus(-x_hat) + (1 - x) * softplus(x_hat), s - x, s * (1 - s))
    c = np.clip(x_hat, eps, 1 - eps)
    inside = (x_hat > eps) & (x_hat < 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = -(np.where(x != 0, x * np.log(c), 0) + np.where(x != 1, (1 - x) * np.log1p(-c), 0))
    grad = np.where(inside, -x / c + (1 - x) / (1 - c), 0)
    hess = np.where(inside, x / c ** 2 + (1 - x) / (1 - c) ** 2, 0)
    return loss, grad, hess


def reconstruction(x, x_hat, kind="mse", from_logits=False, eps=1e-7):
    loss, grad, _ = _reconstruction_terms(x, x_hat, kind, from_logits, eps)
    return np.sum(loss, axis=_features(x_hat)), grad.astype(x_hat.dtype)


def reconstruction_hess(x, x_hat, kind="mse", from_logits=False, eps=1e-7):
    return _reconstruction_terms(x, x_hat, kind, from_logits, eps)[2].astype(x_hat.dtype)


# --- asymmetric regression ------------------------------------------------------------


def asymmetric_squared(y_true, y_pred, under=2.0, over=0.5):
    e = y_true - y_pred
    c = np.where(e > 0, e.dtype.type(under), e.dtype.type(over))
    return c * e ** 2, -2 * c * e


def asymmetric_squared_hess(y_true, y_pred, under=2.0, over=0.5):
    e = y_true - y_pred
    return np.where(e > 0, e.dtype.type(2 * under), e.dtype.type(2 * over))
