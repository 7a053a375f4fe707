"""The scripts in examples/ run, at a small size, and do what they say.

Each example is loaded from the repository's examples/ folder (next to
tests/) and its functions are called; a script that needs an optional
library, or a fastloss adapter not in this build, is skipped cleanly.
"""

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _example(name, *needs):
    """Import examples/<name>.py after checking its optional imports."""
    for module in needs:
        pytest.importorskip(module)
    path = EXAMPLES / f"{name}.py"
    assert path.exists(), f"{path} is missing (examples/ must ship with the tests)"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_example_has_a_test():
    tested = {"numpy_training", "dask_evaluation", "boosting_objectives", "torch_training",
              "asymmetric_loss"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested


# -- NumPy training loop ---------------------------------------------------------------------

def test_logistic_regression_reaches_scikit_learns_solution():
    ex = _example("numpy_training")
    sk = pytest.importorskip("sklearn.linear_model")
    for seed, C in ((0, 1.0), (3, 0.1)):
        X, y = ex.make_data(300, classes=2, seed=seed)
        w, b, _ = ex.fit_logistic(X, y, C)
        ref = sk.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
        np.testing.assert_allclose(w, ref.coef_[0], atol=1e-6)
        assert b == pytest.approx(ref.intercept_[0], abs=1e-6)


def test_softmax_model_reaches_scikit_learns_multinomial_solution():
    ex = _example("numpy_training")
    sk = pytest.importorskip("sklearn.linear_model")
    X, y = ex.make_data(300, classes=3, seed=1)
    W, b, _ = ex.fit_softmax(X, y, 3, C=0.5)
    ref = sk.LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(W, ref.coef_.T, atol=1e-6)
    np.testing.assert_allclose(b, ref.intercept_, atol=1e-6)


def test_history_records_the_loss_per_sample_and_the_cost_per_iteration():
    ex = _example("numpy_training")
    X, y = ex.make_data(200, classes=2, seed=2)
    w, b, h = ex.fit_logistic(X, y, C=1.0)
    cost, losses = np.array(h["cost"]), np.array(h["per_sample_loss"])
    assert losses.shape == (len(cost), 200)
    # the cost is the mean of the per-sample losses plus the penalty
    z = X @ w + b
    final = fl.bce(y, z, from_logits=True, reduction="none")
    assert np.mean(losses[0]) == pytest.approx(np.log(2), rel=1e-12)   # w = 0: p = 1/2
    assert cost[-1] == pytest.approx(np.mean(losses[-1]) + w @ w / (2 * 200), rel=1e-12)
    assert np.mean(final) < np.mean(losses[0])
    # gradient descent with step 1/L never increases a convex smooth cost
    assert np.all(np.diff(cost) <= 1e-15)


def test_training_history_plot(tmp_path):
    ex = _example("numpy_training", "matplotlib")
    X, y = ex.make_data(100, classes=3)
    h = ex.fit_softmax(X, y, 3, max_iter=50)[2]
    ex.plot_history({"softmax": h}, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes().startswith(b"\x89PNG")


def test_numpy_training_script_runs(tmp_path):
    r = subprocess.run([sys.executable, "-P", str(EXAMPLES / "numpy_training.py"), "--n", "150"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "logistic:" in r.stdout and "softmax:" in r.stdout


# -- Dask evaluation -------------------------------------------------------------------------

def test_dask_evaluation_equals_numpy_on_the_same_data():
    ex = _example("dask_evaluation", "dask.array")
    import dask

    X, y = ex.make_data(10_000, 3_000)
    assert X.numblocks == (4, 1)
    Xn, yn = dask.compute(X, y, scheduler="synchronous")
    w = np.full(ex.D, 0.1)
    got = dask.compute(ex.evaluate(X, y, w), scheduler="synchronous")[0]
    p = Xn @ w
    for name, value in got.items():
        assert value == pytest.approx(fl.get(name)(yn, p, **({"delta": 1.0} if name == "huber"
                                                             else {})), rel=1e-12)
    value, w_next = dask.compute(*ex.huber_step(X, y, w), scheduler="synchronous")
    want_v, g = fl.huber.loss_grad(yn, p, delta=1.0)
    assert value == pytest.approx(want_v, rel=1e-12)
    np.testing.assert_allclose(w_next, w - 1.0 * (Xn.T @ g), rtol=1e-12)


def test_dask_gradient_steps_lower_the_cost():
    ex = _example("dask_evaluation", "dask.array")
    import dask

    X, y = ex.make_data(20_000, 4_000)
    w, costs = np.zeros(ex.D), []
    for _ in range(4):
        cost, w = dask.compute(*ex.huber_step(X, y, w), scheduler="threads")
        costs.append(cost)
    assert all(b < a for a, b in zip(costs, costs[1:], strict=False))
    assert np.max(np.abs(w - ex.TRUE_W)) < 0.2


# -- examples of other adapters (they run once those adapters are in the build) -------------

def test_xgboost_focal_objective_trains():
    pytest.importorskip("xgboost")
    ex = _example("boosting_objectives", "fastloss.boosting")
    X, y = ex.imbalanced_classification(2000)
    p, start = ex.xgboost_focal(X[:1500], y[:1500], X[1500:], rounds=30)
    base = fl.binary_focal_crossentropy(y[1500:], np.full(500, 1 / (1 + np.exp(-start))))
    assert fl.binary_focal_crossentropy(y[1500:], p) < 0.8 * base
    pos, neg = p[y[1500:] == 1], p[y[1500:] == 0]
    auc = np.mean(pos[:, None] > neg[None, :])        # positives ranked above negatives
    assert auc > 0.9


def test_lightgbm_huber_objective_trains():
    pytest.importorskip("lightgbm")
    ex = _example("boosting_objectives", "fastloss.boosting")
    X, y = ex.regression_with_outliers(2000)
    pred, start = ex.lightgbm_huber(X[:1500], y[:1500], X[1500:], rounds=60)
    assert start == pytest.approx(np.median(y[:1500]), abs=1.0)
    assert fl.huber(y[1500:], pred) < 0.85 * fl.huber(y[1500:], np.full(500, start))


def test_torch_training_loop_follows_torchs_own():
    ex = _example("torch_training", "torch", "fastloss.torch")
    ours, theirs, acc = ex.main(steps=60)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert ours[-1] < 0.5 * ours[0] and acc > 0.8


def test_asymmetric_loss_built_in_and_custom_agree():
    if not hasattr(fl, "custom") or "asymmetric_squared" not in fl.available():
        pytest.skip("needs fastloss.custom and asymmetric_squared (the generative issue)")
    ex = _example("asymmetric_loss")
    X, y = ex.demand(500)
    p = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    built, mine = fl.asymmetric_squared, ex.custom_asymmetric()
    kw = {"under": ex.UNDER, "over": ex.OVER}
    for reduction in ("mean", "sum", "none"):
        a, b = built.loss_grad(y, p, reduction=reduction, **kw), mine.loss_grad(
            y, p, reduction=reduction)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-13)
    for u, v in zip(built.grad_hess(y, p, **kw), mine.grad_hess(y, p), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-13)


def test_asymmetric_forecast_is_the_expectile_and_runs_short_less_often():
    if "asymmetric_squared" not in fl.available():
        pytest.skip("needs asymmetric_squared (the generative issue)")
    ex = _example("asymmetric_loss")
    X, y = ex.demand(800)
    kw = {"under": ex.UNDER, "over": ex.OVER}
    w = ex.fit_linear(fl.asymmetric_squared, X, y, **kw)
    # first-order condition of the weighted least squares it solves
    r = y - X @ w
    np.testing.assert_allclose(X.T @ (np.where(r > 0, ex.UNDER, ex.OVER) * r), 0, atol=1e-8)
    # a constant forecast: the tau-expectile, tau = under / (under + over)
    c = ex.fit_linear(fl.asymmetric_squared, np.ones((800, 1)), y, **kw)[0]
    tau = ex.UNDER / (ex.UNDER + ex.OVER)
    assert tau * np.sum(np.maximum(y - c, 0)) == pytest.approx(
        (1 - tau) * np.sum(np.maximum(c - y, 0)), rel=1e-9)
    w_mse = ex.fit_linear(fl.mse, X, y)
    assert np.mean(y > X @ w) < np.mean(y > X @ w_mse) - 0.15
