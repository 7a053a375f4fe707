"""Custom gradient-boosting objectives: a focal-loss XGBoost classifier and a
Huber LightGBM regressor, with fastloss computing gradients and hessians.

Boosters hand a custom objective raw margins and want per-sample first and
second derivatives of the summed loss; `fastloss.boosting` builds those
objectives from any loss with a hessian.  With a custom objective neither
booster estimates the starting margin, so it is set explicitly from
`init_margin` (the constant that minimises the loss) and added back at
prediction time.

    python examples/boosting_objectives.py
"""

import numpy as np

import fastloss as fl
from fastloss.boosting import init_margin, lightgbm_objective, xgboost_objective


def imbalanced_classification(n=4000, d=6, positive_rate=0.1, seed=0):
    """Features and {0, 1} labels with few positives (where focal loss helps)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    score = X @ rng.normal(size=d) + 0.5 * np.sin(3 * X[:, 0])
    y = (score > np.quantile(score, 1 - positive_rate)).astype(np.float64)
    flip = rng.random(n) < 0.03                       # a little label noise
    return X, np.where(flip, 1 - y, y)


def regression_with_outliers(n=4000, d=6, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + np.sin(2 * X[:, 1])
    outliers = rng.random(n) < 0.05
    return X, y + np.where(outliers, rng.normal(scale=30, size=n), 0.0)


def xgboost_focal(X, y, X_test, rounds=60, gamma=2.0):
    """Train XGBoost on the focal loss; returns the test probabilities."""
    import xgboost as xgb

    kw = {"from_logits": True, "gamma": gamma}       # XGBoost passes raw margins
    start = init_margin("binary_focal_crossentropy", y, **kw)
    dtrain = xgb.DMatrix(X, label=y, base_margin=np.full(len(y), start))
    booster = xgb.train({"max_depth": 3, "eta": 0.3, "verbosity": 0}, dtrain, rounds,
                        obj=xgboost_objective("binary_focal_crossentropy", **kw))
    dtest = xgb.DMatrix(X_test, base_margin=np.full(len(X_test), start))
    margin = booster.predict(dtest, output_margin=True)
    return 1 / (1 + np.exp(-margin)), start


def lightgbm_huber(X, y, X_test, rounds=100, delta=1.0):
    """Train LightGBM on the Huber loss; returns the test predictions."""
    import lightgbm as lgb

    start = init_margin("huber", y, delta=delta)
    train = lgb.Dataset(X, y, init_score=np.full(len(y), start))
    params = {"objective": lightgbm_objective("huber", delta=delta), "learning_rate": 0.1,
              "num_leaves": 15, "verbosity": -1}
    booster = lgb.train(params, train, rounds)
    # LightGBM does not store init_score: add it back to the raw predictions
    return booster.predict(X_test, raw_score=True) + start, start


def main():
    X, y = imbalanced_classification()
    p, start = xgboost_focal(X[:3000], y[:3000], X[3000:])
    focal = fl.binary_focal_crossentropy(y[3000:], p, gamma=2.0)
    base = fl.binary_focal_crossentropy(y[3000:], np.full(1000, 1 / (1 + np.exp(-start))),
                                        gamma=2.0)
    acc = np.mean((p > 0.5) == y[3000:])
    print(f"XGBoost focal: test focal loss {focal:.4f} (constant start {base:.4f}), "
          f"accuracy {acc:.3f}")

    X, y = regression_with_outliers()
    pred, start = lightgbm_huber(X[:3000], y[:3000], X[3000:])
    print(f"LightGBM huber: test huber {fl.huber(y[3000:], pred):.4f} "
          f"(constant start {fl.huber(y[3000:], np.full(1000, start)):.4f})")


if __name__ == "__main__":
    main()
