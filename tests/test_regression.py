"""Regression losses: closed forms, extreme values, parameters and domains."""

import math

import mpmath
import numpy as np
import pytest

import fastloss as fl


def _logcosh(x):
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.cosh(mpmath.mpf(float(x)))))


def test_huber_matches_torch_definition():
    # torch.nn.functional.huber_loss: 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)
    d = np.array([-3.0, -1.0, -0.2, 0.0, 0.7, 1.0, 5.0])
    for delta in (0.5, 1.0, 2.0):
        want = [0.5 * x * x if abs(x) < delta else delta * (abs(x) - 0.5 * delta) for x in d]
        got = fl.huber(np.zeros_like(d), d, delta=delta, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-15)


@pytest.mark.parametrize("d", [1e4, -1e4, 800.0, 41.0, 39.0])
def test_log_cosh_large_residuals_do_not_overflow(d):
    loss, grad = fl.log_cosh.loss_grad([0.0], [d], reduction="none")
    want = _logcosh(d)
    assert loss[0] == pytest.approx(want, rel=1e-15)
    assert grad[0] == np.sign(d)


def test_log_cosh_relative_accuracy_near_zero():
    d = np.logspace(-12, 1.5, 200)
    got = fl.log_cosh(np.zeros_like(d), d, reduction="none")
    want = np.array([_logcosh(x) for x in d])
    np.testing.assert_allclose(got, want, rtol=4e-15)
    g = fl.log_cosh.grad(np.zeros_like(d), d, reduction="none")
    np.testing.assert_allclose(g, np.tanh(d), rtol=4e-15)


def test_log_cosh_float32_extremes():
    d = np.array([-1e4, -50, -1e-6, 0, 3e-3, 20, 1e4], dtype=np.float32)
    loss, grad = fl.log_cosh.loss_grad(np.zeros_like(d), d, reduction="none")
    want = np.array([_logcosh(x) for x in d])
    np.testing.assert_allclose(loss, want, rtol=3e-6, atol=1e-30)
    np.testing.assert_allclose(grad, np.tanh(d.astype(float)), rtol=3e-6)


def test_quantile_is_asymmetric():
    # under-prediction (y > p) costs q per unit, over-prediction 1 - q
    under = fl.quantile([1.0], [0.0], quantile=0.9)
    over = fl.quantile([0.0], [1.0], quantile=0.9)
    assert under == pytest.approx(0.9) and over == pytest.approx(0.1)
    assert fl.pinball.grad([1.0], [0.0], quantile=0.9)[0] == pytest.approx(-0.9)


def test_quantile_half_is_half_mae():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=100), rng.normal(size=100)
    assert fl.quantile(y, p, quantile=0.5) == pytest.approx(0.5 * fl.mae(y, p), rel=1e-14)


def test_poisson_matches_torch_formula():
    y = np.array([0.0, 1.0, 3.0, 7.0])
    p = np.array([0.0, 0.5, 2.5, 9.0])
    want = p - y * np.log(p + 1e-8)
    np.testing.assert_allclose(fl.poisson(y, p, reduction="none"), want, rtol=1e-15)
    lp = np.log(p[1:])
    np.testing.assert_allclose(fl.poisson(y[1:], lp, log_input=True, reduction="none"),
                               np.exp(lp) - y[1:] * lp, rtol=1e-14)


def test_msle_closed_form():
    y, p = np.array([0.0, 1.0, 10.0]), np.array([1.0, 1.0, 3.0])
    want = (np.log1p(p) - np.log1p(y)) ** 2
    np.testing.assert_allclose(fl.msle(y, p, reduction="none"), want, rtol=1e-15)


@pytest.mark.parametrize("loss,kw,exc", [
    ("huber", {"delta": 0.0}, ValueError),
    ("huber", {"delta": -1.0}, ValueError),
    ("huber", {"delta": float("nan")}, ValueError),
    ("huber", {"delta": "1"}, TypeError),
    ("quantile", {"quantile": 0.0}, ValueError),
    ("quantile", {"quantile": 1.0}, ValueError),
    ("quantile", {"quantile": 1.5}, ValueError),
    ("poisson", {"log_input": 1}, TypeError),
    ("poisson", {"eps": -1e-3}, ValueError),
])
def test_invalid_parameters_raise(loss, kw, exc):
    with pytest.raises(exc, match=next(iter(kw))):
        fl.get(loss)([1.0, 2.0], [1.0, 2.0], **kw)


def test_domain_errors_name_the_argument():
    with pytest.raises(ValueError, match="y_true"):
        fl.poisson([-1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="y_pred"):
        fl.poisson([1.0, 2.0], [-1.0, 2.0])
    fl.poisson([1.0, 2.0], [-1.0, 2.0], log_input=True)  # log-rates may be negative
    with pytest.raises(ValueError, match="y_pred"):
        fl.msle([1.0, 2.0], [-1.0, 2.0])
    with pytest.raises(ValueError, match="y_true"):
        fl.msle([-2.0, 2.0], [1.0, 2.0])


def test_integer_and_boolean_targets_are_accepted():
    p = np.array([0.2, 0.9, 1.4], dtype=np.float32)
    got = fl.mse(np.array([0, 1, 1]), p)
    assert got.dtype == np.float32
    assert got == pytest.approx(np.mean((p - [0, 1, 1]) ** 2), rel=1e-6)
    assert fl.mse(np.array([False, True, True]), p) == got


def test_mixed_precision_computes_in_float64():
    y = np.array([1.0, 2.0], dtype=np.float32)
    p = np.array([1.5, 2.5], dtype=np.float64)
    loss, grad = fl.mse.loss_grad(y, p)
    assert loss.dtype == np.float64 and grad.dtype == np.float64


def test_zero_dimensional_inputs():
    loss, grad = fl.huber.loss_grad(1.0, 3.0, reduction="none")
    assert loss.shape == () and grad.shape == ()
    assert loss == 1.5 and grad == 1.0
    assert fl.mse(2.0, 5.0) == 9.0


def test_scalar_sample_weight_scales_sum_not_mean():
    y, p = np.zeros(4), np.arange(4.0)
    assert fl.mse(y, p, sample_weight=3.0, reduction="sum") == 3 * fl.mse(y, p, reduction="sum")
    assert fl.mse(y, p, sample_weight=3.0) == fl.mse(y, p)


def test_row_weights_apply_to_every_element_of_the_row():
    y, p = np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w = np.array([1.0, 0.0])
    # weighted mean over elements: row 0 only, each of its 3 elements counts once
    assert fl.mse(y, p, sample_weight=w) == pytest.approx((1 + 4 + 9) / 3)
    g = fl.mse.grad(y, p, sample_weight=w)
    np.testing.assert_allclose(g, [[2 / 3, 4 / 3, 2.0], [0, 0, 0]])


def test_sum_of_ten_million_terms_is_accurate():
    # Blocked + pairwise summation: within 1e-14 of the exactly rounded sum.
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, size=10_000_000)
    terms = p * p                                   # exactly the kernel's terms
    exact = math.fsum(terms.tolist())
    got = fl.mse(np.zeros_like(p), p, reduction="sum")
    assert abs(got - exact) <= 1e-14 * exact
