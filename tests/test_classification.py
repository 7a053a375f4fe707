"""Classification losses: framework semantics, extreme inputs, label validation.

The registry-wide tests (test_losses.py) already compare every example
against fastloss.reference and finite differences; this file pins down what
they cannot: torch / torchvision / Keras semantics (written out from their
documentation, and against torch itself when it is installed), exact limits
at infinite logits, accuracy in the tails (against mpmath), class weights,
ignore_index and per-column pos_weight, and the validation messages.
"""

import mpmath
import numpy as np
import pytest
from helpers import central_differences as _fd
from helpers import tol

import fastloss as fl
from fastloss import reference

RNG = np.random.default_rng(20240611)


def _logits(n, c, scale=3.0, seed=0):
    return np.random.default_rng(seed).normal(0, scale, size=(n, c))


# --- torch's cross_entropy rules, written out (no torch needed) ---------------------


def _torch_cross_entropy(x, y, weight=None, ignore_index=-100, label_smoothing=0.0,
                         reduction="mean"):
    """torch.nn.functional.cross_entropy for class-index targets, from its
    documentation: per row (1 - ls) w_y nll + ls / C sum_c w_c (-log p_c), 0 for
    ignored rows; 'mean' divides by sum w_y over rows not ignored."""
    n, c = x.shape
    w = np.ones(c) if weight is None else np.asarray(weight, float)
    lp = x - x.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    valid = y != ignore_index
    yv = np.where(valid, y, 0)
    nll = -lp[np.arange(n), yv] * w[yv]
    smooth = -(lp * w).sum(1)
    row = np.where(valid, (1 - label_smoothing) * nll + label_smoothing / c * smooth, 0.0)
    if reduction == "none":
        return row
    if reduction == "sum":
        return row.sum()
    return row.sum() / (w[yv] * valid).sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_ce_follows_torch_rule(reduction, label_smoothing, weighted):
    x = _logits(40, 6)
    y = RNG.integers(0, 6, 40)
    y[::7] = -100
    cw = RNG.uniform(0.2, 3.0, 6) if weighted else None
    kw = dict(from_logits=True, class_weight=cw, ignore_index=-100,
              label_smoothing=label_smoothing, reduction=reduction)
    got = fl.sparse_categorical_crossentropy(y, x, **kw)
    want = _torch_cross_entropy(x, y, cw, -100, label_smoothing, reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    g = fl.sparse_categorical_crossentropy.grad(y, x, **kw)
    if reduction != "none":
        fd = _fd(lambda q: _torch_cross_entropy(q, y, cw, -100, label_smoothing, reduction), x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    assert np.all(g[y == -100] == 0)


def test_sparse_ce_class_weights_match_reference_with_sample_weights():
    x = _logits(30, 5, seed=2)
    y = RNG.integers(0, 5, 30)
    y[3] = y[11] = 7
    cw = RNG.uniform(0.5, 2.0, 5)
    sw = RNG.uniform(0.1, 2.0, 30)
    for from_logits, xx in [(True, x), (False, np.exp(x) / np.exp(x).sum(1, keepdims=True))]:
        for reduction in ["mean", "sum", "none"]:
            kw = dict(from_logits=from_logits, class_weight=cw, ignore_index=7,
                      label_smoothing=0.1, sample_weight=sw, reduction=reduction)
            got_l, got_g = fl.scce.loss_grad(y, xx, **kw)
            ref_l, ref_g = reference.loss_grad("sparse_categorical_crossentropy", y, xx, **kw)
            np.testing.assert_allclose(got_l, ref_l, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(got_g, ref_g, rtol=1e-11, atol=1e-14)


def test_sparse_ce_hessian_with_class_weights():
    x = _logits(8, 4, seed=5)
    y = RNG.integers(0, 4, 8)
    cw = np.array([1.0, 2.0, 0.5, 1.5])
    kw = dict(from_logits=True, class_weight=cw, label_smoothing=0.1)
    g, h = fl.scce.grad_hess(y, x, **kw)
    fd = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        up, dn = x.copy(), x.copy()
        up[idx] += 1e-5
        dn[idx] -= 1e-5
        fd[idx] = (fl.scce.grad_hess(y, up, **kw)[0][idx]
                   - fl.scce.grad_hess(y, dn, **kw)[0][idx]) / 2e-5
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        h, reference.sparse_categorical_crossentropy_hess(y, x, **kw), rtol=1e-12)


def test_sparse_and_dense_ce_agree_without_class_weights():
    x = _logits(20, 7, seed=3)
    y = RNG.integers(0, 7, 20)
    onehot = np.eye(7)[y]
    for kw in [dict(from_logits=True, label_smoothing=0.2), dict(label_smoothing=0.05)]:
        xx = x if kw.get("from_logits") else np.exp(x) / np.exp(x).sum(1, keepdims=True)
        a = fl.scce.loss_grad(y, xx, **kw)
        b = fl.cce.loss_grad(onehot, xx, **kw)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-15)


def test_dense_ce_class_weight_uses_torch_probability_target_rule():
    # torch: with probability targets the weighted loss is -sum_c w_c t_c log p_c
    # and 'mean' divides by the number of rows.
    x = _logits(25, 4, seed=4)
    t = RNG.dirichlet(np.ones(4), size=25)
    cw = np.array([0.5, 1.0, 2.0, 3.0])
    lp = x - np.log(np.exp(x).sum(1, keepdims=True))
    tt = 0.9 * t + 0.1 / 4
    want = -(cw * tt * lp).sum(1).mean()
    got = fl.cce(t, x, from_logits=True, class_weight=cw, label_smoothing=0.1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    g = fl.cce.grad(t, x, from_logits=True, class_weight=cw, label_smoothing=0.1)
    fd = _fd(lambda q: -(cw * tt * (q - np.log(np.exp(q).sum(1, keepdims=True)))).sum(1).mean(), x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_probability_rows_are_normalised_like_keras():
    p = RNG.uniform(0.05, 1.0, size=(10, 5))
    y = RNG.integers(0, 5, 10)
    pn = p / p.sum(1, keepdims=True)
    np.testing.assert_allclose(fl.scce(y, p * 0.3, reduction="none"),
                               -np.log(pn[np.arange(10), y]), rtol=1e-13)
    np.testing.assert_allclose(fl.cce(np.eye(5)[y], p), fl.scce(y, p), rtol=1e-13)


# --- torch itself, when installed ------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sparse_ce_equals_torch(reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = _logits(50, 7, seed=6)
    y = RNG.integers(0, 7, 50)
    y[::5] = 3  # ignore a valid class
    cw = RNG.uniform(0.3, 2.0, 7)
    for kw in [{}, {"weight": cw}, {"label_smoothing": 0.1},
               {"weight": cw, "label_smoothing": 0.2, "ignore_index": 3},
               {"ignore_index": 3, "label_smoothing": 0.3}]:
        xt = torch.tensor(x, requires_grad=True)
        tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        lt = F.cross_entropy(xt, torch.tensor(y), reduction=reduction, **tkw)
        lt.sum().backward()
        ours = dict(from_logits=True, reduction=reduction,
                    class_weight=kw.get("weight"), ignore_index=kw.get("ignore_index"),
                    label_smoothing=kw.get("label_smoothing", 0.0))
        got_l, got_g = fl.scce.loss_grad(y, x, **ours)
        np.testing.assert_allclose(got_l, lt.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got_g, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_dense_ce_equals_torch_probability_targets():
    torch = pytest.importorskip("torch")
    x = _logits(30, 5, seed=7)
    t = RNG.dirichlet(np.ones(5), size=30)
    cw = RNG.uniform(0.3, 2.0, 5)
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(cw),
                                           label_smoothing=0.1)
    lt.backward()
    l, g = fl.cce.loss_grad(t, x, from_logits=True, class_weight=cw, label_smoothing=0.1)
    np.testing.assert_allclose(l, lt.item(), rtol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("pos_weight", [None, 2.5, "columns"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_equals_torch(pos_weight, reduction):
    torch = pytest.importorskip("torch")
    x = _logits(40, 6, seed=8)
    t = RNG.uniform(0, 1, (40, 6))
    pw = RNG.uniform(0.2, 4.0, 6) if pos_weight == "columns" else pos_weight
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(t), reduction=reduction,
        pos_weight=None if pw is None else torch.as_tensor(pw, dtype=torch.float64))
    lt.sum().backward()
    l, g = fl.bce.loss_grad(t, x, from_logits=True, pos_weight=pw, reduction=reduction)
    np.testing.assert_allclose(l, lt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_kl_divergence_log_input_equals_torch_batchmean():
    torch = pytest.importorskip("torch")
    t = RNG.dirichlet(np.ones(6), size=20)
    t[0, 2] = 0.0
    x = np.log(RNG.dirichlet(np.ones(6), size=20))
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.kl_div(xt, torch.tensor(t), reduction="batchmean")
    lt.backward()
    l, g = fl.kld.loss_grad(t, x, log_input=True)
    np.testing.assert_allclose(l, lt.item(), rtol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)


# --- per-column pos_weight, without torch ----------------------------------------------------


@pytest.mark.parametrize("from_logits", [True, False])
def test_per_column_pos_weight_matches_reference(from_logits, dtype):
    x = _logits(33, 5, seed=9)
    p = x if from_logits else 1 / (1 + np.exp(-x))
    t = RNG.integers(0, 2, (33, 5)).astype(float)
    pw = np.array([0.5, 1.0, 2.0, 3.0, 0.25])
    sw = RNG.uniform(0.2, 2.0, 33)
    for w in [None, sw, RNG.uniform(0.2, 2.0, (33, 5))]:
        for reduction in ["mean", "sum", "none"]:
            kw = dict(from_logits=from_logits, pos_weight=pw, label_smoothing=0.1,
                      sample_weight=w, reduction=reduction)
            got = fl.bce.loss_grad(t.astype(dtype), p.astype(dtype), **kw)
            ref = reference.loss_grad("binary_crossentropy", t, p.astype(dtype).astype(float),
                                      **kw)
            tol = dict(rtol=1e-11, atol=1e-13) if dtype == np.float64 else dict(rtol=3e-5,
                                                                                 atol=1e-6)
            assert got[1].dtype == dtype
            np.testing.assert_allclose(got[0], ref[0], **tol)
            np.testing.assert_allclose(got[1], ref[1], **tol)
    g, h = fl.bce.grad_hess(t, p, from_logits=from_logits, pos_weight=pw)
    np.testing.assert_allclose(
        h, reference.binary_crossentropy_hess(t, p, from_logits=from_logits, pos_weight=pw),
        rtol=1e-11)


def test_per_column_pos_weight_equals_columnwise_scalar():
    x = _logits(7, 3, seed=10)
    t = RNG.uniform(0, 1, (7, 3))
    pw = np.array([0.5, 2.0, 4.0])
    full = fl.bce(t, x, from_logits=True, pos_weight=pw, reduction="none")
    for j in range(3):
        col = fl.bce(t[:, j], x[:, j], from_logits=True, pos_weight=pw[j], reduction="none")
        np.testing.assert_allclose(full[:, j], col, rtol=1e-15)


def test_pos_weight_validation():
    x, t = _logits(4, 3), np.ones((4, 3))
    with pytest.raises(ValueError, match="pos_weight"):
        fl.bce(t, x, from_logits=True, pos_weight=np.ones(4))
    with pytest.raises(ValueError, match="pos_weight"):
        fl.bce(t, x, from_logits=True, pos_weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="pos_weight"):
        fl.bce(t, x, from_logits=True, pos_weight=0.0)


# --- extreme inputs -------------------------------------------------------------------


def test_binary_logits_at_infinity_are_exact_limits():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, 1e4, -1e4])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    loss, grad = fl.bce.loss_grad(t, x, from_logits=True, reduction="none")
    np.testing.assert_array_equal(loss, [0, 0, np.inf, np.inf, 0, 1e4])
    np.testing.assert_array_equal(grad, [0, 0, 1, -1, 0, -1])
    g, h = fl.bce.grad_hess(t, x, from_logits=True)
    np.testing.assert_array_equal(h, 0)
    fl_, fg = fl.focal.loss_grad(t, x, from_logits=True, alpha=0.25, reduction="none")
    np.testing.assert_array_equal(fl_[:2], 0)
    assert np.all(np.isinf(fl_[2:4]))
    assert np.all(np.isfinite(fg))
    np.testing.assert_array_equal(fg[:2], 0)


def test_binary_probabilities_zero_and_one_are_finite():
    t = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 1.0, 1.0, 0.0])
    for loss in (fl.bce, fl.focal):
        l, g = loss.loss_grad(t, p, reduction="none")
        assert np.all(np.isfinite(l)) and np.all(np.isfinite(g))
    l = fl.bce(t, p, reduction="none")
    c = np.clip(p, 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(l, -(t * np.log(c) + (1 - t) * np.log1p(-c)), rtol=1e-14)


def test_softmax_ce_large_logits_exact():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 1.0]])
    y = np.array([0, 0])
    loss, grad = fl.scce.loss_grad(y, x, from_logits=True, reduction="none")
    np.testing.assert_array_equal(loss[0], 0.0)
    np.testing.assert_allclose(loss[1], 2e4 + np.log1p(np.exp(-1.0)), rtol=1e-15)
    p1 = np.exp(-1.0) / (1 + np.exp(-1.0))
    np.testing.assert_allclose(grad, [[0, 0, 0], [-1, 1 - p1, p1]], rtol=1e-14, atol=1e-300)
    x32 = x.astype(np.float32)
    l32 = fl.scce(y, x32, from_logits=True, reduction="none")
    assert l32.dtype == np.float32 and np.all(np.isfinite(l32))


def test_masked_logits_get_zero_probability_and_gradient():
    x = np.array([[2.0, -np.inf, 0.5, -np.inf], [-np.inf, 1.0, -np.inf, 3.0]])
    y = np.array([2, 0])
    loss, grad = fl.scce.loss_grad(y, x, from_logits=True, reduction="none")
    np.testing.assert_allclose(loss[0], np.logaddexp(2.0, 0.5) - 0.5, rtol=1e-14)
    assert loss[1] == np.inf  # the target itself is masked
    assert grad[0, 1] == 0 and grad[0, 3] == 0
    assert grad[1, 0] == -1 and grad[1, 2] == 0
    # dense one-hot: zero target weight times -inf counts 0
    l2, g2 = fl.cce.loss_grad(np.eye(4)[[2, 1]], x, from_logits=True, reduction="none")
    np.testing.assert_allclose(l2, [loss[0], np.logaddexp(1.0, 3.0) - 1.0], rtol=1e-14)
    assert np.all(np.isfinite(g2)) and g2[0, 1] == 0
    lf = fl.categorical_focal_crossentropy(np.eye(4)[[2, 1]], x, from_logits=True,
                                           reduction="none")
    assert np.all(np.isfinite(lf))


def _mp_focal_logit(t, x, gamma, alpha=None):
    with mpmath.workdps(400):  # 1 - p ~ exp(-200) must not round away
        x = mpmath.mpf(x)
        p = 1 / (1 + mpmath.exp(-x))
        ce = -(t * mpmath.log(p) + (1 - t) * mpmath.log(1 - p))
        q = 1 - (p * t + (1 - p) * (1 - t))
        a = 1 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
        return float(a * q**gamma * ce)


@pytest.mark.parametrize("x", [5.0, 20.0, 40.0, 200.0, -30.0])
def test_binary_focal_accurate_where_p_t_rounds_to_one(x):
    t = 1.0 if x > 0 else 0.0
    got = fl.focal(np.array([t]), np.array([x]), from_logits=True, gamma=2.0, alpha=0.25,
                   reduction="none")[0]
    want = _mp_focal_logit(t, x, 2.0, 0.25)
    assert want > 0
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("gamma", [0.5, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("x", [-700.0, -40.0, -5.0, 0.3, 5.0, 40.0, 700.0])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
def test_binary_focal_derivatives_match_mpmath_in_the_tails(t, x, gamma):
    # grad and hess of the focal loss on logits against the product rule
    # evaluated by mpmath at 400 digits: both stay finite and accurate where
    # p_t rounds to 1, also for gamma < 2, where the probability form
    # (1 - p_t)^(gamma - 2) blows up.
    with mpmath.workdps(400):
        z = mpmath.mpf(x)
        p = 1 / (1 + mpmath.exp(-z))
        v = p * (1 - p)  # dp/dx
        ce = -(t * mpmath.log(p) + (1 - t) * mpmath.log(1 - p))
        q = t * (1 - p) + (1 - t) * p
        a = 0.25 * t + 0.75 * (1 - t)
        dq, d2q = (1 - 2 * t) * v, (1 - 2 * t) * v * (1 - 2 * p)
        dce, d2ce = p - t, v
        want_g = float(a * (gamma * q ** (gamma - 1) * dq * ce + q**gamma * dce))
        want_h = float(a * (gamma * (gamma - 1) * q ** (gamma - 2) * dq**2 * ce
                            + gamma * q ** (gamma - 1) * (d2q * ce + 2 * dq * dce)
                            + q**gamma * d2ce))
    g, h = fl.focal.grad_hess(np.array([t]), np.array([x]), from_logits=True,
                              gamma=gamma, alpha=0.25)
    assert np.isfinite(g[0]) and np.isfinite(h[0])
    np.testing.assert_allclose(g[0], want_g, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(h[0], want_h, rtol=1e-11, atol=1e-300)


def test_categorical_focal_accurate_where_p_t_rounds_to_one():
    x = np.array([[40.0, 0.0, 1.0]])
    t = np.array([[1.0, 0.0, 0.0]])
    got = fl.categorical_focal_crossentropy(t, x, from_logits=True, gamma=2.0,
                                            reduction="none")[0]
    with mpmath.workdps(60):
        e = [mpmath.exp(mpmath.mpf(v)) for v in x[0]]
        p = e[0] / sum(e)
        want = float(-(1 - p) ** 2 * mpmath.log(p))
    assert want > 0
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_binary_focal_matches_torchvision_formula():
    # torchvision.ops.sigmoid_focal_loss, from its documented definition.
    x = _logits(50, 1, seed=12)[:, 0]
    t = RNG.integers(0, 2, 50).astype(float)
    for alpha in (0.25, None):
        p = 1 / (1 + np.exp(-x))
        ce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        p_t = p * t + (1 - p) * (1 - t)
        want = ce * (1 - p_t) ** 2
        if alpha is not None:
            want = want * (alpha * t + (1 - alpha) * (1 - t))
        got = fl.focal(t, x, from_logits=True, alpha=alpha, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-12)
        g = fl.focal.grad(t, x, from_logits=True, alpha=alpha, reduction="sum")
        fd = _fd(lambda q: fl.focal(t, q, from_logits=True, alpha=alpha, reduction="sum"), x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_binary_focal_with_gamma_zero_is_alpha_weighted_bce():
    x = _logits(20, 3, seed=13)
    t = RNG.integers(0, 2, (20, 3)).astype(float)
    a_t = 0.3 * t + 0.7 * (1 - t)
    np.testing.assert_allclose(
        fl.focal(t, x, from_logits=True, gamma=0.0, alpha=0.3, reduction="none"),
        a_t * fl.bce(t, x, from_logits=True, reduction="none"), rtol=1e-13)


# --- hinge family ------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [fl.hinge, fl.squared_hinge])
def test_hinge_converts_01_labels_like_keras(loss):
    p = RNG.normal(0, 2, (12, 3))
    y01 = RNG.integers(0, 2, (12, 3))
    a = loss.loss_grad(y01, p)
    b = loss.loss_grad(2.0 * y01 - 1, p)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(loss(y01.astype(bool), p), a[0])


@pytest.mark.parametrize("loss", [fl.hinge, fl.squared_hinge])
def test_hinge_rejects_other_labels(loss):
    p = np.zeros(4)
    for y in ([-1, 0, 1, 1], [0.5, 1, 1, 1], [2, 1, -1, 1]):
        with pytest.raises(ValueError, match="y_true"):
            loss(np.array(y, float), p)


def test_categorical_hinge_matches_keras_formula():
    x = RNG.normal(0, 1, (30, 5))
    t = np.eye(5)[RNG.integers(0, 5, 30)]
    pos = (t * x).sum(1)
    neg = ((1 - t) * x).max(1)
    want = np.maximum(0, neg - pos + 1)
    np.testing.assert_allclose(fl.categorical_hinge(t, x, reduction="none"), want, rtol=1e-14)
    g = fl.categorical_hinge.grad(t, x, reduction="sum")
    fd = _fd(lambda q: fl.categorical_hinge(t, q, reduction="sum"), x)
    np.testing.assert_allclose(g, fd, atol=1e-7)


# --- kl divergence ---------------------------------------------------------------------------


def test_kl_divergence_of_identical_rows_is_zero_and_zero_targets_count_zero():
    t = RNG.dirichlet(np.ones(5), size=6)
    t[:, 0] = 0
    t /= t.sum(1, keepdims=True)
    np.testing.assert_allclose(fl.kld(t, t, reduction="none"), 0, atol=1e-15)
    q = RNG.dirichlet(np.ones(5), size=6)
    want = np.sum(t[:, 1:] * np.log(t[:, 1:] / q[:, 1:]), axis=1)
    np.testing.assert_allclose(fl.kld(t, q, reduction="none"), want, rtol=1e-13)
    np.testing.assert_allclose(fl.kld(t, np.log(q), log_input=True, reduction="none"), want,
                               rtol=1e-12)


def test_kl_divergence_with_subnormal_targets_and_probabilities():
    # The terms are t log(t / c) with one log: subnormal operands must neither
    # round the quotient to a subnormal nor overflow it (eps=0 leaves c = p).
    # Reference: mpmath at 30 digits.
    t = np.array([[5e-324, 1 - 2**-53, 2**-53 - 5e-324], [1e-310, 0.5, 0.5 - 1e-310],
                  [1.0, 0.0, 0.0]])
    p = np.array([[0.3, 0.7, 0.0], [0.5, 1e-300, 0.5], [1e-310, 0.5, 0.5]])
    for eps in (1e-7, 0.0):
        got = fl.kld(t, p, eps=eps, reduction="none")
        with mpmath.workdps(30):
            want = [float(sum(mpmath.mpf(a) * mpmath.log(mpmath.mpf(a) / max(mpmath.mpf(b), eps))
                              if max(b, eps) > 0 else mpmath.inf
                              for a, b in zip(tr, pr, strict=True) if a > 0))
                    for tr, pr in zip(t, p, strict=True)]
        assert np.isinf(want[0]) == (eps == 0)   # c = 0 < t: +inf, as log t - log 0
        np.testing.assert_allclose(got, want, rtol=1e-14)


# --- validation -----------------------------------------------------------------------------


def test_sparse_labels_out_of_range_raise_before_reading():
    x = _logits(5, 4)
    for bad in (4, -1, 10**12):
        y = np.array([0, 1, bad, 2, 3])
        with pytest.raises(ValueError, match=r"y_true.*\[0, 4\)"):
            fl.scce(y, x, from_logits=True)
    with pytest.raises(ValueError, match="ignore_index=-100"):
        fl.scce(np.array([0, 1, -5, 2, 3]), x, from_logits=True, ignore_index=-100)
    # an ignored label may lie outside [0, C)
    fl.scce(np.array([0, 1, -100, 2, 3]), x, from_logits=True, ignore_index=-100)


def test_sparse_labels_must_be_integral():
    x = _logits(3, 4)
    with pytest.raises(ValueError, match="integer"):
        fl.scce(np.array([0.0, 1.5, 2.0]), x, from_logits=True)
    with pytest.raises(ValueError, match="integer"):
        fl.scce(np.array([0.0, np.nan, 2.0]), x, from_logits=True)
    np.testing.assert_array_equal(fl.scce(np.array([0.0, 1.0, 2.0]), x, from_logits=True),
                                  fl.scce(np.array([0, 1, 2]), x, from_logits=True))
    np.testing.assert_array_equal(fl.scce(np.array([[0], [1], [2]]), x, from_logits=True),
                                  fl.scce(np.array([0, 1, 2]), x, from_logits=True))
    with pytest.raises(ValueError, match="shape"):
        fl.scce(np.array([0, 1]), x, from_logits=True)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        fl.scce(np.eye(4)[[0, 1, 2]], x, from_logits=True)


def test_probabilities_outside_unit_interval_raise():
    with pytest.raises(ValueError, match="y_pred"):
        fl.bce(np.array([0.0, 1.0]), np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="y_true"):
        fl.bce(np.array([0.0, 2.0]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="y_pred"):
        fl.scce(np.array([0, 1]), np.array([[0.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="y_pred"):
        fl.cce(np.eye(2), np.array([[0.5, 1.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="y_pred"):
        fl.kld(np.eye(2), np.array([[0.5, 1.5], [0.5, 0.5]]))
    # logits are unrestricted
    fl.scce(np.array([0, 1]), np.array([[5.0, -5.0], [0.5, 0.5]]), from_logits=True)


def test_class_weight_validation():
    x = _logits(3, 4)
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"class_weight.*\(4,\)"):
        fl.scce(y, x, from_logits=True, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="class_weight"):
        fl.scce(y, x, from_logits=True, class_weight=[1.0, -2.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="class_weight"):
        fl.cce(np.eye(4)[y], x, from_logits=True, class_weight=[1.0, 1.0, np.nan, 1.0])


def test_rows_of_wrong_length_and_bad_parameters_raise():
    x = _logits(3, 4)
    with pytest.raises(ValueError, match="shape"):
        fl.cce(np.eye(5)[[0, 1, 2]], x, from_logits=True)
    with pytest.raises(ValueError, match="shape"):
        fl.scce(np.array([0, 1, 2]), x, from_logits=True, sample_weight=np.ones((3, 4)))
    with pytest.raises(ValueError, match="label_smoothing"):
        fl.scce(np.array([0, 1, 2]), x, from_logits=True, label_smoothing=1.5)
    with pytest.raises(ValueError, match="gamma"):
        fl.focal(np.ones(3), np.ones(3), gamma=-1.0, from_logits=True)
    with pytest.raises(ValueError, match="alpha"):
        fl.focal(np.ones(3), np.ones(3), alpha=2.0, from_logits=True)
    with pytest.raises(ValueError, match="eps"):
        fl.bce(np.ones(3), np.full(3, 0.5), eps=0.7)
    with pytest.raises(TypeError, match="ignore_index"):
        fl.scce(np.array([0, 1, 2]), x, from_logits=True, ignore_index=1.5)
    with pytest.raises(ValueError, match="y_pred"):
        fl.cce(np.zeros(()), np.zeros(()), from_logits=True)


# --- dtypes, layouts, aliasing, threads ------------------------------------------------------


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                  "kl_divergence", "categorical_focal_crossentropy",
                                  "categorical_hinge"])
def test_rowwise_float32_end_to_end_and_no_aliasing(name):
    loss = fl.get(name)
    x = RNG.dirichlet(np.ones(6), size=50).astype(np.float32)
    y = RNG.integers(0, 6, 50)
    t = y if name.startswith("sparse") else np.eye(6, dtype=np.float32)[y]
    x_before, t_before = x.copy(), t.copy()
    l, g = loss.loss_grad(t, x, reduction="none")
    assert l.dtype == np.float32 and l.shape == (50,)
    assert g.dtype == np.float32 and g.shape == x.shape
    assert not np.shares_memory(g, x) and not np.shares_memory(l, x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(t, t_before)
    x.setflags(write=False)
    xf = np.asfortranarray(x)
    np.testing.assert_array_equal(loss(t, xf, reduction="none"), l)
    assert loss(t, x).dtype == np.float32


def test_rowwise_leading_axes_and_single_row():
    x = _logits(12, 5, seed=14)
    y = RNG.integers(0, 5, 12)
    flat = fl.scce(y, x, from_logits=True, reduction="none")
    np.testing.assert_array_equal(
        fl.scce(y.reshape(3, 4), x.reshape(3, 4, 5), from_logits=True, reduction="none"),
        flat.reshape(3, 4))
    np.testing.assert_allclose(fl.scce(y[0], x[0], from_logits=True, reduction="none"), flat[0])


def test_results_do_not_depend_on_thread_count():
    x = _logits(20000, 9, seed=15)
    y = RNG.integers(0, 9, 20000)
    with fl.threads(1):
        a = fl.scce.loss_grad(y, x, from_logits=True, label_smoothing=0.1)
        c = fl.bce.loss_grad(np.eye(9)[y], x, from_logits=True, pos_weight=np.arange(1.0, 10))
    with fl.threads(2):
        b = fl.scce.loss_grad(y, x, from_logits=True, label_smoothing=0.1)
        d = fl.bce.loss_grad(np.eye(9)[y], x, from_logits=True, pos_weight=np.arange(1.0, 10))
    assert a[0] == b[0] and c[0] == d[0]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(c[1], d[1])


def test_all_rows_ignored_gives_nan_mean_and_zero_gradient():
    x = _logits(3, 4)
    y = np.full(3, -100)
    l, g = fl.scce.loss_grad(y, x, from_logits=True, ignore_index=-100)
    assert np.isnan(l)
    np.testing.assert_array_equal(g, 0)
    assert fl.scce(y, x, from_logits=True, ignore_index=-100, reduction="sum") == 0


@pytest.mark.parametrize("loss", [fl.sparse_categorical_crossentropy,
                                  fl.categorical_crossentropy])
def test_class_weight_dict_means_the_array_with_missing_classes_at_one(loss):
    # scikit-learn's convention: {class: weight}, classes left out weigh 1.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 5))
    labels = rng.integers(0, 5, 40)
    y = labels if loss is fl.scce else np.eye(5)[labels]
    as_dict = {0: 2.0, 3: 0.5, np.int64(4): 0}
    as_array = np.array([2.0, 1.0, 1.0, 0.5, 0.0])
    for kw in ({"from_logits": True}, {"from_logits": True, "label_smoothing": 0.1}):
        for method in (loss.loss_grad, loss.grad_hess):
            got = method(y, x, class_weight=as_dict, **kw)
            want = method(y, x, class_weight=as_array, **kw)
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(loss(y, x, class_weight=as_dict, reduction="none", **kw),
                                      loss(y, x, class_weight=as_array, reduction="none",
                                           **kw))


@pytest.mark.parametrize("cw,exc,match", [
    ({5: 1.0}, ValueError, "class 5, but y_pred has only 5 classes"),
    ({-1: 1.0}, ValueError, "keys must be class labels >= 0"),
    ({1.5: 1.0}, TypeError, "must be an integer"),
    ({1: -2.0}, ValueError, r"class_weight\[1\]"),
    ({1: float("nan")}, ValueError, r"class_weight\[1\]"),
    ({0: 0, 1: 0, 2: 0, 3: 0, 4: 0}, ValueError, "at least one class a positive weight"),
])
def test_bad_class_weight_dicts_are_named(cw, exc, match):
    x = np.zeros((3, 5))
    with pytest.raises(exc, match=match):
        fl.scce(np.array([0, 1, 2]), x, from_logits=True, class_weight=cw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("C", [8, 10, 13, 16])
def test_softmax_rows_eight_at_a_time_match_rows_one_at_a_time(dtype, C):
    # categorical_crossentropy from logits takes whole groups of eight rows of
    # 8 to 16 classes at once (one row per SIMD lane, _src/fl_softmax8.h) and
    # the rows left over one at a time.  A single row always goes the second
    # way: every row of a batch must match it, special values included.
    rng = np.random.default_rng(C)
    n = 11
    x = rng.normal(0.0, 3.0, (n, C))
    y = rng.dirichlet(np.ones(C), n)
    x[1, 2] = -np.inf          # a masked class without target mass
    y[1, 0] += y[1, 2]
    y[1, 2] = 0.0
    x[2, :] = -np.inf          # every class masked
    x[3, 4] = np.nan
    x[4, 0], x[4, 1] = 1e4, -1e4
    x[5, 3] = np.inf
    y[6] = np.eye(C)[1]        # one-hot, its class at a huge logit
    x[6, 1] = 700.0
    x[9, 5] = -np.inf          # a masked class in a row left over
    y[9, 0] += y[9, 5]
    y[9, 5] = 0.0
    x, y = x.astype(dtype), y.astype(dtype)
    w = rng.uniform(0.5, 2.0, n)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    for params in ({}, {"label_smoothing": 0.1, "class_weight": rng.uniform(0.5, 2.0, C)}):
        kw = dict(from_logits=True, **params)
        loss, grad = fl.cce.loss_grad(y, x, sample_weight=w, reduction="none", **kw)
        g2, hess = fl.cce.grad_hess(y, x, sample_weight=w, **kw)
        assert np.array_equal(fl.cce.loss(y, x, sample_weight=w, reduction="none", **kw),
                              loss, equal_nan=True)
        for i in range(n):
            one = dict(sample_weight=w[i:i + 1], **kw)
            l1, g1 = fl.cce.loss_grad(y[i:i + 1], x[i:i + 1], reduction="none", **one)
            gh1, h1 = fl.cce.grad_hess(y[i:i + 1], x[i:i + 1], **one)
            for got, want in ((loss[i], l1[0]), (grad[i], g1[0]), (g2[i], gh1[0]),
                              (hess[i], h1[0])):
                np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
                np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300,
                                           err_msg=f"row {i} {params}")
        # and the rows of finite logits against the NumPy reference (which
        # takes 0 * log 0 of a masked class as NaN)
        ok = np.isfinite(x).all(axis=1)
        assert ok.sum() == n - 5
        ref_l, ref_g = reference.loss_grad("categorical_crossentropy", y[ok].astype(float),
                                           x[ok].astype(float), sample_weight=w[ok],
                                           reduction="none", **kw)
        np.testing.assert_allclose(loss[ok], ref_l, **tol(dtype))
        np.testing.assert_allclose(grad[ok], ref_g, **tol(dtype))
