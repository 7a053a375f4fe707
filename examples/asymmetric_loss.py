"""An asymmetric loss: when under-predicting costs more than over-predicting.

Stocking too little loses sales; stocking too much costs storage.  The
asymmetric squared loss weighs an under-prediction (y_true > y_pred) by
`under` and an over-prediction by `over`:

    l(y, p) = under * (y - p)^2  if y > p,  else  over * (y - p)^2

Its minimiser over a constant is the tau-expectile of y, tau = under / (under
+ over) (0.8 for the defaults 2 and 0.5): above the mean, as a cautious
forecast should be.  The loss is built in (`fastloss.asymmetric_squared`),
and the same loss written as three NumPy functions and turned into a loss
object by `fastloss.custom` gives the same numbers.

    python examples/asymmetric_loss.py
"""

import numpy as np

import fastloss as fl

UNDER, OVER = 2.0, 0.5


# -- the same loss, as your own ----------------------------------------------------------

def _weight(y_true, y_pred):
    return np.where(y_true > y_pred, UNDER, OVER)


def asym_loss(y_true, y_pred):
    e = y_true - y_pred
    return _weight(y_true, y_pred) * e * e


def asym_grad(y_true, y_pred):          # d loss / d y_pred
    return -2.0 * _weight(y_true, y_pred) * (y_true - y_pred)


def asym_hess(y_true, y_pred):          # d^2 loss / d y_pred^2
    return 2.0 * _weight(y_true, y_pred)


def custom_asymmetric():
    return fl.custom("my_asymmetric_squared", asym_loss, asym_grad, asym_hess)


# -- a forecast ----------------------------------------------------------------------------

def demand(n=2000, seed=0):
    """Daily demand: a weekly pattern plus skewed noise."""
    rng = np.random.default_rng(seed)
    day = np.arange(n)
    X = np.stack([np.ones(n), np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)], 1)
    y = X @ np.array([20.0, 4.0, -2.0]) + rng.gamma(2.0, 3.0, size=n)
    return X, y


def fit_linear(loss, X, y, iters=50, **params):
    """Newton's method on a linear forecast p = X w, with the loss's per-sample
    gradient and hessian (grad_hess): for a piecewise-quadratic loss it stops
    moving within a few steps."""
    w = np.linalg.lstsq(X, y, rcond=None)[0]            # start at the least-squares fit
    for _ in range(iters):
        g, h = loss.grad_hess(y, X @ w, **params)
        step = np.linalg.solve(X.T @ (h[:, None] * X), X.T @ g)
        w = w - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return w


def main():
    X, y = demand()
    built_in = fl.asymmetric_squared
    mine = custom_asymmetric()
    p = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    print(f"built in {built_in(y, p, under=UNDER, over=OVER):.6f}, custom {mine(y, p):.6f}")

    w_mse = fit_linear(fl.mse, X, y)
    w_asym = fit_linear(built_in, X, y, under=UNDER, over=OVER)
    for label, w in (("squared error", w_mse), ("asymmetric", w_asym)):
        short = np.mean(y > X @ w)
        print(f"{label:14s} forecast: mean {np.mean(X @ w):6.2f}, "
              f"days with too little stock {short:.0%}")


if __name__ == "__main__":
    main()
