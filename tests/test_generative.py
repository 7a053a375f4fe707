"""The generative family: GAN terms against PyTorch, their extremes, the
discriminator's pair structure, the VAE KL's closed forms and range, the
reconstruction sums against Keras's per-feature means, and the asymmetric
loss against expectile regression.  (The generic tests of test_losses.py
cover these losses too, from the registry.)"""

import math

import mpmath
import numpy as np
import pytest

import fastloss as fl


def _torch():
    return pytest.importorskip("torch")


D_KINDS = ["minimax", "hinge", "wasserstein", "least_squares"]
G_KINDS = ["non_saturating", "minimax", "hinge", "wasserstein", "least_squares"]


def _d_torch(t, kind, r, f):
    F = t.nn.functional
    return {"minimax": (F.softplus(-r), F.softplus(f)),
            "hinge": (F.relu(1 - r), F.relu(1 + f)),
            "wasserstein": (-r, f),
            "least_squares": ((r - 1) ** 2 / 2, f ** 2 / 2)}[kind]


def _g_torch(t, kind, f):
    F = t.nn.functional
    return {"non_saturating": F.softplus(-f), "minimax": -F.softplus(f), "hinge": -f,
            "wasserstein": -f, "least_squares": (f - 1) ** 2 / 2}[kind]


# --- GAN ------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", D_KINDS)
def test_discriminator_equals_torch_with_batches_of_different_sizes(kind, weighted):
    t = _torch()
    rng = np.random.default_rng(1)
    r, f = rng.normal(0, 3, (13, 3)), rng.normal(0, 3, 29)
    wr, wf = rng.uniform(0.1, 2, 13), rng.uniform(0.1, 2, 29)
    rt, ft = t.tensor(r, requires_grad=True), t.tensor(f, requires_grad=True)
    lr, lf = _d_torch(t, kind, rt, ft)
    if weighted:
        wrt_, wft = t.tensor(wr)[:, None], t.tensor(wf)
        want = (wrt_ * lr).sum() / (wrt_.sum() * 3) + (wft * lf).sum() / wft.sum()
        kw = {"sample_weight": (wr, wf)}
    else:
        want, kw = lr.mean() + lf.mean(), {}
    want.backward()
    got, (gr, gf) = fl.gan_discriminator.loss_grad(r, f, kind=kind, **kw)
    np.testing.assert_allclose(got, want.item(), rtol=1e-13)
    np.testing.assert_allclose(gr, rt.grad.numpy(), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(gf, ft.grad.numpy(), rtol=1e-12, atol=1e-16)
    per_r, per_f = fl.gan_discriminator(r, f, kind=kind, reduction="none")
    np.testing.assert_allclose(per_r, lr.detach().numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(per_f, lf.detach().numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_equals_torch(kind):
    t = _torch()
    f = np.random.default_rng(2).normal(0, 3, (7, 5))
    ft = t.tensor(f, requires_grad=True)
    want = _g_torch(t, kind, ft).mean()
    want.backward()
    got, g = fl.gan_generator.loss_grad(f, kind=kind)
    np.testing.assert_allclose(got, want.item(), rtol=1e-13)
    np.testing.assert_allclose(g, ft.grad.numpy(), rtol=1e-12, atol=1e-17)


def test_minimax_discriminator_is_binary_cross_entropy_with_logits():
    # real labelled 1, fake labelled 0: the two BCE means of the same logits
    rng = np.random.default_rng(3)
    r, f = rng.normal(0, 4, 50), rng.normal(0, 4, 20)
    want = (fl.bce(np.ones(50), r, from_logits=True)
            + fl.bce(np.zeros(20), f, from_logits=True))
    np.testing.assert_allclose(fl.gan_discriminator(r, f), want, rtol=1e-14)
    ns = fl.bce(np.ones(20), f, from_logits=True)
    np.testing.assert_allclose(fl.gan_generator(f), ns, rtol=1e-14)


# Exact values at the extremes: softplus(x) = x + log1p(exp(-x)) is x to rounding
# for x = 1e4, exp(-1e4) underflows to 0, and the limits at +-inf.
_D_EDGE = {
    # kind: (real logits, fake logits, real losses, fake losses, d/dr, d/df)
    "minimax": ([1e4, -1e4, np.inf, -np.inf], [1e4, -1e4, np.inf, -np.inf],
                [0, 1e4, 0, np.inf], [1e4, 0, np.inf, 0], [0, -1, 0, -1], [1, 0, 1, 0]),
    "hinge": ([1e4, -1e4, np.inf, -np.inf], [1e4, -1e4, np.inf, -np.inf],
              [0, 1 + 1e4, 0, np.inf], [1 + 1e4, 0, np.inf, 0], [0, -1, 0, -1], [1, 0, 1, 0]),
    "wasserstein": ([1e4, -1e4, np.inf, -np.inf], [1e4, -1e4, np.inf, -np.inf],
                    [-1e4, 1e4, -np.inf, np.inf], [1e4, -1e4, np.inf, -np.inf],
                    [-1, -1, -1, -1], [1, 1, 1, 1]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", sorted(_D_EDGE))
def test_discriminator_is_exact_at_huge_and_infinite_logits(kind, dtype):
    r, f, lr, lf, gr, gf = (np.array(v, dtype) for v in _D_EDGE[kind])
    (got_r, got_f), (g_r, g_f) = fl.gan_discriminator.loss_grad(
        r, f, kind=kind, reduction="none")
    np.testing.assert_array_equal(got_r, lr)
    np.testing.assert_array_equal(got_f, lf)
    np.testing.assert_array_equal(g_r, gr)
    np.testing.assert_array_equal(g_f, gf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_generator_is_exact_at_huge_and_infinite_logits(dtype):
    f = np.array([1e4, -1e4, np.inf, -np.inf], dtype)
    cases = {"non_saturating": ([0, 1e4, 0, np.inf], [0, -1, 0, -1]),
             "minimax": ([-1e4, 0, -np.inf, 0], [-1, 0, -1, 0]),
             "hinge": ([-1e4, 1e4, -np.inf, np.inf], [-1, -1, -1, -1])}
    for kind, (want_l, want_g) in cases.items():
        got, g = fl.gan_generator.loss_grad(f, kind=kind, reduction="none")
        np.testing.assert_array_equal(got, np.array(want_l, dtype), err_msg=kind)
        np.testing.assert_array_equal(g, np.array(want_g, dtype), err_msg=kind)


def test_softplus_terms_keep_full_accuracy_in_both_tails():
    x = np.array([-700.0, -40.0, -1e-8, 0.0, 3e-5, 25.0, 700.0])
    got = fl.gan_discriminator(x, x, reduction="none")
    for xi, a, b in zip(x, *got, strict=True):
        np.testing.assert_allclose(a, float(mpmath.log1p(mpmath.exp(-mpmath.mpf(xi)))),
                                   rtol=2e-16)
        np.testing.assert_allclose(b, float(mpmath.log1p(mpmath.exp(mpmath.mpf(xi)))),
                                   rtol=2e-16)


def test_discriminator_mean_is_the_real_mean_plus_the_fake_mean():
    rng = np.random.default_rng(4)
    r, f = rng.normal(size=100), rng.normal(size=10)
    per_r, per_f = fl.gan_discriminator(r, f, reduction="none")
    np.testing.assert_allclose(fl.gan_discriminator(r, f), per_r.mean() + per_f.mean(),
                               rtol=1e-14)
    np.testing.assert_allclose(fl.gan_discriminator(r, f, reduction="sum"),
                               per_r.sum() + per_f.sum(), rtol=1e-14)
    # one weight entry may be None (unweighted) and scalars weigh a whole batch
    got = fl.gan_discriminator(r, f, sample_weight=(None, 3.0), reduction="sum")
    np.testing.assert_allclose(got, per_r.sum() + 3 * per_f.sum(), rtol=1e-14)


def test_discriminator_weights_must_be_a_pair():
    r, f = np.zeros(4), np.zeros(3)
    for bad in (np.ones(4), [np.ones(4), np.ones(3)], (np.ones(4),), 1.0):
        with pytest.raises(TypeError, match="sample_weight .*tuple of 2"):
            fl.gan_discriminator(r, f, sample_weight=bad)
    with pytest.raises(ValueError, match=r"sample_weight\[1\] \(for fake_logits\).*shape"):
        fl.gan_discriminator(r, f, sample_weight=(np.ones(4), np.ones(4)))
    with pytest.raises(ValueError, match=r"sample_weight\[0\].*sums to zero"):
        fl.gan_discriminator(r, f, sample_weight=(np.zeros(4), None))


def test_discriminator_docstring_describes_the_pair():
    doc = fl.gan_discriminator.__doc__
    assert "tuple of 2 entries" in doc and "real_logits, fake_logits" in doc
    assert fl.gan_discriminator.unit_groups == (("real_logits",), ("fake_logits",))
    assert fl.gan_generator.unit_groups is None


def test_unknown_gan_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="kind must be one of 'minimax', 'hinge'"):
        fl.gan_discriminator(np.zeros(2), np.zeros(2), kind="non_saturating")
    with pytest.raises(ValueError, match="'non_saturating'"):
        fl.gan_generator(np.zeros(2), kind="wgan")


# --- VAE KL ---------------------------------------------------------------------------


def test_gaussian_kl_closed_forms():
    # N(0, 1) against itself: 0; per dimension KL = (mu^2 + s^2 - 1 - log s^2) / 2
    z = np.zeros((3, 4))
    assert np.all(fl.gaussian_kl(z, z, reduction="none") == 0)
    mu = np.array([[1.0, -2.0], [0.0, 0.5]])
    s2 = np.array([[4.0, 0.25], [1.0, 2.0]])
    want = 0.5 * np.sum(mu ** 2 + s2 - 1 - np.log(s2), axis=1)
    np.testing.assert_allclose(fl.vae_kl(mu, np.log(s2), reduction="none"), want, rtol=1e-14)
    assert fl.vae_kl is fl.gaussian_kl


def test_gaussian_kl_equals_torch_distributions():
    t = _torch()
    rng = np.random.default_rng(5)
    mu, lv = rng.normal(size=(6, 2, 3)), rng.normal(size=(6, 2, 3))
    mt, lt = t.tensor(mu, requires_grad=True), t.tensor(lv, requires_grad=True)
    D = t.distributions
    kl = D.kl_divergence(D.Normal(mt, (0.5 * lt).exp()), D.Normal(0.0, 1.0)).sum((1, 2))
    kl.mean().backward()
    got, (g_mu, g_lv) = fl.gaussian_kl.loss_grad(mu, lv)
    np.testing.assert_allclose(fl.gaussian_kl(mu, lv, reduction="none"),
                               kl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got, kl.mean().item(), rtol=1e-13)
    np.testing.assert_allclose(g_mu, mt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_lv, lt.grad.numpy(), rtol=1e-11, atol=1e-16)


def test_gaussian_kl_logvar_up_to_700_does_not_overflow():
    mu = np.array([[0.5, -1.0], [2.0, 0.0]])
    lv = np.array([[700.0, -700.0], [-700.0, 700.0]])
    per, (g_mu, g_lv) = fl.gaussian_kl.loss_grad(mu, lv, reduction="none")
    assert np.all(np.isfinite(per)) and np.all(np.isfinite(g_lv))
    for i in range(2):
        want = sum(0.5 * (mpmath.mpf(m) ** 2 + mpmath.exp(v) - 1 - v)
                   for m, v in zip(mu[i], lv[i], strict=True))
        np.testing.assert_allclose(per[i], float(want), rtol=1e-14)
    np.testing.assert_allclose(g_lv, 0.5 * np.expm1(lv), rtol=1e-14)
    np.testing.assert_array_equal(g_mu, mu)
    _, (h_mu, h_lv) = fl.gaussian_kl.grad_hess(mu, lv)
    np.testing.assert_allclose(h_lv, 0.5 * np.exp(lv), rtol=1e-14)
    assert np.all(h_mu == 1)


def test_gaussian_kl_is_accurate_near_the_prior():
    # exp(lv) - 1 - lv ~ lv^2 / 2: computed from expm1, not against the 1
    lv = np.array([[1e-7, -3e-6, 2e-4, 0.1]])
    mu = np.zeros_like(lv)
    got = fl.gaussian_kl(mu, lv, reduction="none")[0]
    want = sum(0.5 * (mpmath.expm1(mpmath.mpf(v)) - v) for v in lv[0])
    np.testing.assert_allclose(got, float(want), rtol=1e-10)
    per_dim = [float(fl.gaussian_kl(mu[:, j:j + 1], lv[:, j:j + 1], reduction="sum"))
               for j in range(4)]
    for v, g in zip(lv[0], per_dim, strict=True):
        np.testing.assert_allclose(g, float(0.5 * (mpmath.expm1(mpmath.mpf(v)) - v)),
                                   rtol=1e-9)


# --- reconstruction -------------------------------------------------------------------


def _keras_mean(t, kind, x, xh, from_logits=False, eps=1e-7):
    """Keras's per-sample value: the element terms averaged over the last axis
    (keras.losses.mean_squared_error / mean_absolute_error / binary_crossentropy),
    written with torch's element-wise functions (Keras is not a test dependency)."""
    F = t.nn.functional
    x, xh = t.tensor(x), t.tensor(xh)
    if kind == "mse":
        e = F.mse_loss(xh, x, reduction="none")
    elif kind == "mae":
        e = F.l1_loss(xh, x, reduction="none")
    elif from_logits:
        e = F.binary_cross_entropy_with_logits(xh, x, reduction="none")
    else:
        e = F.binary_cross_entropy(xh.clamp(eps, 1 - eps), x, reduction="none")
    return e.mean(-1).numpy()


@pytest.mark.parametrize("kind,from_logits", [("mse", False), ("mae", False), ("bce", False),
                                              ("bce", True)])
def test_reconstruction_is_keras_mean_times_the_feature_count(kind, from_logits):
    t = _torch()
    rng = np.random.default_rng(6)
    n, d = 8, 17
    if kind == "bce":
        x = rng.uniform(0, 1, (n, d))
        xh = rng.normal(0, 3, (n, d)) if from_logits else rng.uniform(0.01, 0.99, (n, d))
    else:
        x, xh = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    got = fl.reconstruction(x, xh, kind=kind, from_logits=from_logits, reduction="none")
    np.testing.assert_allclose(got, d * _keras_mean(t, kind, x, xh, from_logits), rtol=1e-12)
    # more feature axes: each sample sums over all of them
    x3, xh3 = x.reshape(n, 1, d), xh.reshape(n, 1, d)
    np.testing.assert_allclose(
        fl.reconstruction(x3, xh3, kind=kind, from_logits=from_logits, reduction="none"),
        got, rtol=1e-14)


def test_reconstruction_bce_clips_probabilities_like_binary_crossentropy():
    x = np.array([[0.0, 1.0, 1.0, 0.3]])
    xh = np.array([[0.0, 1.0, 0.0, 0.5]])
    per = fl.reconstruction(x, xh, kind="bce", reduction="none")
    want = fl.bce(x, xh, reduction="none").sum()
    np.testing.assert_allclose(per[0], want, rtol=1e-14)
    assert np.isfinite(per[0])


def test_reconstruction_argument_errors():
    x = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match="from_logits=True applies to kind='bce'"):
        fl.reconstruction(x, x, kind="mse", from_logits=True)
    with pytest.raises(ValueError, match=r"x must lie in \[0.0, 1.0\]"):
        fl.reconstruction(x + 1, x, kind="bce")
    with pytest.raises(ValueError, match=r"x_hat must lie in \[0.0, 1.0\].*from_logits"):
        fl.reconstruction(x, x - 1, kind="bce")
    fl.reconstruction(x, x - 1, kind="bce", from_logits=True)  # logits: any value
    with pytest.raises(ValueError, match="batch axis"):
        fl.reconstruction(1.0, 2.0)
    with pytest.raises(ValueError, match="x and x_hat must have the same shape"):
        fl.reconstruction(x, x[:, :2])


def test_reconstruction_mean_is_the_batch_mean_of_sample_sums():
    rng = np.random.default_rng(7)
    x, xh = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    sums = ((xh - x) ** 2).sum(axis=1)
    np.testing.assert_allclose(fl.reconstruction(x, xh), sums.mean(), rtol=1e-14)
    np.testing.assert_allclose(fl.reconstruction(x, xh), 4 * fl.mse(x, xh), rtol=1e-14)
    w = rng.uniform(0.5, 2, 5)
    np.testing.assert_allclose(fl.reconstruction(x, xh, sample_weight=w),
                               (w * sums).sum() / w.sum(), rtol=1e-14)


# --- asymmetric squared ---------------------------------------------------------------


def _expectile(y, tau):
    """The tau-expectile of a sample: the root t of
    tau * sum(max(y - t, 0)) = (1 - tau) * sum(max(t - y, 0)), by bisection."""
    lo, hi = float(np.min(y)), float(np.max(y))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        excess = tau * np.maximum(y - mid, 0).sum() - (1 - tau) * np.maximum(mid - y, 0).sum()
        lo, hi = (mid, hi) if excess > 0 else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("under,over", [(2.0, 0.5), (0.5, 3.0), (1.0, 1.0)])
def test_asymmetric_squared_is_minimised_by_the_expectile(under, over):
    y = np.random.default_rng(8).gamma(2.0, 1.5, size=2001)
    tau = under / (under + over)
    t = _expectile(y, tau)
    # the mean gradient over a constant prediction vanishes at the expectile...
    g = fl.asymmetric_squared.grad(y, np.full_like(y, t), under=under, over=over).sum()
    assert abs(g) < 1e-9
    # ...and the loss is larger on either side of it
    at = fl.asymmetric_squared(y, np.full_like(y, t), under=under, over=over)
    for step in (-1e-3, 1e-3):
        assert fl.asymmetric_squared(y, np.full_like(y, t + step), under=under,
                                     over=over) > at
    if under == over:
        np.testing.assert_allclose(t, y.mean(), rtol=1e-12)  # tau = 1/2: the mean


def test_asymmetric_squared_is_a_scaled_expectile_loss():
    rng = np.random.default_rng(9)
    y, p = rng.normal(size=50), rng.normal(size=50)
    under, over = 3.0, 0.7
    tau = under / (under + over)
    e = y - p
    expectile_loss = np.abs(tau - (e < 0)) * e ** 2
    np.testing.assert_allclose(fl.asymmetric_squared(y, p, under=under, over=over,
                                                     reduction="none"),
                               (under + over) * expectile_loss, rtol=1e-14)
    np.testing.assert_array_equal(fl.asymmetric_squared(y, p, under=1.0, over=1.0,
                                                        reduction="none"),
                                  fl.mse(y, p, reduction="none"))


def test_asymmetric_squared_hessian_is_piecewise_constant():
    y = np.array([1.0, 1.0, 1.0])
    p = np.array([0.0, 1.0, 2.0])  # under-, exact, over-prediction
    g, h = fl.asymmetric_squared.grad_hess(y, p)
    np.testing.assert_array_equal(g, [-4.0, 0.0, 1.0])
    np.testing.assert_array_equal(h, [4.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="under must be > 0"):
        fl.asymmetric_squared(y, p, under=0.0)


def test_float32_gan_and_kl_stay_float32_and_close():
    rng = np.random.default_rng(10)
    r, f = rng.normal(0, 3, 1000).astype(np.float32), rng.normal(0, 3, 700).astype(np.float32)
    v32, (gr, gf) = fl.gan_discriminator.loss_grad(r, f)
    v64 = fl.gan_discriminator(r.astype(float), f.astype(float))
    assert v32.dtype == np.float32 and gr.dtype == gf.dtype == np.float32
    assert math.isclose(v32, v64, rel_tol=1e-6)
    mu = rng.normal(size=(10, 8)).astype(np.float32)
    lv = np.full((10, 8), 80.0, np.float32)  # exp(80) ~ 5.5e34 fits float32
    per = fl.gaussian_kl(mu, lv, reduction="none")
    assert per.dtype == np.float32 and np.all(np.isfinite(per))
    np.testing.assert_allclose(per, fl.gaussian_kl(mu.astype(float), lv.astype(float),
                                                   reduction="none"), rtol=1e-6)
