"""fastloss.boosting: XGBoost and LightGBM objectives, metrics and init_margin.

Real models are trained on a small synthetic data set: with fastloss's
objective for squared error, logistic and softmax loss and the same starting
margin, predictions equal those of the libraries' built-in objectives; focal
and Huber models train and improve their metric.  Tests of a library skip
without it; init_margin needs neither.
"""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from helpers import LOSSES, cases

import fastloss as fl
from fastloss.boosting import (
    init_margin,
    lightgbm_metric,
    lightgbm_objective,
    xgboost_metric,
    xgboost_objective,
)

N, ROUNDS = 400, 12


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 5))
    signal = X[:, 0] * 2 + np.sin(X[:, 1])
    return {
        "X": X,
        "regression": signal + rng.normal(0, 0.3, N) + 3.0,
        "binary": (signal + rng.normal(0, 1.0, N) > 0.5).astype(float),
        "multiclass": np.digitize(signal + rng.normal(0, 0.5, N), [-1.0, 1.0]).astype(float),
        "weight": rng.uniform(0.2, 2.0, N),
    }


@pytest.fixture
def xgb():
    return pytest.importorskip("xgboost")


@pytest.fixture
def lgb():
    return pytest.importorskip("lightgbm")


#: (task, xgboost objective, lightgbm objective, fastloss loss, its keywords,
#: objective keywords): the built-in objectives fastloss reproduces.
#: The libraries' squared error is half fastloss's (scale=0.5).
BUILTINS = [
    ("regression", "reg:squarederror", "regression", "mean_squared_error", {}, {"scale": 0.5}),
    ("binary", "binary:logistic", "binary", "binary_crossentropy", {"from_logits": True}, {}),
    ("multiclass", "multi:softprob", "multiclass", "sparse_categorical_crossentropy",
     {"from_logits": True}, {}),
]


def _start(task, y, name, params, weight=None):
    """init_margin's constant, and it spread over every row (n,) or (n, K)."""
    k = 3 if task == "multiclass" else None
    m = init_margin(name, y, sample_weight=weight, n_classes=k, **params)
    return m, (np.full(len(y), m) if k is None else np.tile(m, (len(y), 1)))


def _task(data, task, name, params, weighted):
    """X, y, weights (or None), the start (constant, per row) and the
    booster keywords of a task (num_class for the multiclass one)."""
    y, w = data[task], data["weight"] if weighted else None
    extra = {"num_class": 3} if task == "multiclass" else {}
    return data["X"], y, w, _start(task, y, name, params, w), extra


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task,xgb_obj,lgb_obj,name,params,okw", BUILTINS,
                         ids=[b[0] for b in BUILTINS])
def test_xgboost_native_matches_builtin(xgb, data, task, xgb_obj, lgb_obj, name, params, okw,
                                        weighted):
    X, y, w, (_, base), extra = _task(data, task, name, params, weighted)
    common = dict(max_depth=3, eta=0.3, tree_method="hist", nthread=1, **extra)
    d_builtin = xgb.DMatrix(X, y, weight=w, base_margin=base)
    d_ours = xgb.DMatrix(X, y, weight=w, base_margin=base)
    builtin = xgb.train(dict(common, objective=xgb_obj), d_builtin, ROUNDS)
    ours = xgb.train(common, d_ours, ROUNDS, obj=xgboost_objective(name, **okw, **params))
    want = builtin.predict(d_builtin, output_margin=True)
    got = ours.predict(d_ours, output_margin=True)
    assert np.ptp(want) > 0.5  # the trees did something
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task,xgb_obj,lgb_obj,name,params,okw", BUILTINS,
                         ids=[b[0] for b in BUILTINS])
def test_lightgbm_native_matches_builtin(lgb, data, task, xgb_obj, lgb_obj, name, params, okw,
                                         weighted):
    X, y, w, (m, base), extra = _task(data, task, name, params, weighted)
    common = dict(num_leaves=7, learning_rate=0.3, verbose=-1, num_threads=1,
                  boost_from_average=False, **extra)
    builtin = lgb.train(dict(common, objective=lgb_obj),
                        lgb.Dataset(X, y, weight=w, init_score=base), ROUNDS)
    ours = lgb.train(dict(common, objective=lightgbm_objective(name, **okw, **params)),
                     lgb.Dataset(X, y, weight=w, init_score=base), ROUNDS)
    want = builtin.predict(X, raw_score=True) + m  # init_score is not in the model
    got = ours.predict(X, raw_score=True) + m
    assert np.ptp(want) > 0.5
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_xgboost_sklearn_api_with_weights(xgb, data):
    X, y, w = data["X"], data["regression"], data["weight"]
    m = init_margin("mse", y, sample_weight=w)
    kw = dict(n_estimators=ROUNDS, max_depth=3, learning_rate=0.3, n_jobs=1, base_score=m)
    builtin = xgb.XGBRegressor(objective="reg:squarederror", **kw).fit(X, y, sample_weight=w)
    ours = xgb.XGBRegressor(objective=xgboost_objective("mse", scale=0.5), **kw)
    ours.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.predict(X), builtin.predict(X), rtol=0, atol=1e-5)


def test_xgboost_classifier_starts_from_base_score_through_its_link(xgb, data):
    # XGBClassifier configures binary:logistic even with a callable objective,
    # so base_score is a probability: sigmoid of init_margin.
    X, y = data["X"], data["binary"]
    m = init_margin("bce", y, from_logits=True)
    kw = dict(n_estimators=ROUNDS, max_depth=3, learning_rate=0.3, n_jobs=1,
              base_score=1 / (1 + np.exp(-m)))
    builtin = xgb.XGBClassifier(**kw).fit(X, y)
    ours = xgb.XGBClassifier(objective=xgboost_objective("bce", from_logits=True), **kw)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), builtin.predict_proba(X), atol=1e-5)


def test_lightgbm_sklearn_api_with_weights(lgb, data):
    X, y, w = data["X"], data["multiclass"], data["weight"]
    m, base = _start("multiclass", y, "scce", {"from_logits": True}, w)
    kw = dict(n_estimators=ROUNDS, num_leaves=7, learning_rate=0.3, verbose=-1, n_jobs=1,
              boost_from_average=False)
    builtin = lgb.LGBMClassifier(objective="multiclass", **kw)
    builtin.fit(X, y, sample_weight=w, init_score=base)
    ours = lgb.LGBMClassifier(objective=lightgbm_objective("scce", from_logits=True), **kw)
    ours.fit(X, y, sample_weight=w, init_score=base)
    want = builtin.predict(X, raw_score=True)
    got = ours.predict(X, raw_score=True)  # a custom objective: raw scores
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def _outliers(data):
    y = data["regression"].copy()
    y[::25] += 40.0  # gross outliers: where Huber beats squared error
    return y


def test_huber_model_improves_its_metric(xgb, data):
    X, y = data["X"], _outliers(data)
    params = dict(max_depth=3, eta=0.3, nthread=1, disable_default_eval_metric=True)
    m = init_margin("huber", y, delta=1.0)
    d = xgb.DMatrix(X, y, base_margin=np.full(N, m))
    log = {}
    huber = xgb.train(params, d, 30, obj=xgboost_objective("huber", delta=1.0),
                      evals=[(d, "train")], custom_metric=xgboost_metric("huber", delta=1.0),
                      evals_result=log, verbose_eval=False)
    curve = log["train"]["huber"]
    start = fl.huber(y, np.full(N, m), delta=1.0)
    # the outliers' linear part stays; the curve need not fall monotonically:
    # Huber's hessian is 0 in its linear part, so Newton leaves can overshoot
    assert curve[-1] < 0.7 * start
    # and the constant was the best one: moving it raises the loss
    for step in (-0.1, 0.1):
        assert fl.huber(y, np.full(N, m + step), delta=1.0) > start
    # Huber ignores the outliers where squared error chases them
    d2 = xgb.DMatrix(X, y, base_margin=np.full(N, y.mean()))
    mse = xgb.train(params, d2, 30, obj=xgboost_objective("mse", scale=0.5))
    clean = np.ones(N, bool)
    clean[::25] = False
    err = {k: np.mean(np.abs(b.predict(dm, output_margin=True) - y)[clean])
           for k, b, dm in (("huber", huber, d), ("mse", mse, d2))}
    assert err["huber"] < 0.8 * err["mse"]


def test_focal_model_improves_its_metric(lgb, data):
    X, y = data["X"], data["binary"]
    kw = {"from_logits": True, "gamma": 2.0, "alpha": 0.25}
    m = init_margin("focal", y, **kw)
    log = {}
    train = lgb.Dataset(X, y, init_score=np.full(N, m))
    lgb.train(dict(objective=lightgbm_objective("focal", **kw), num_leaves=7,
                   learning_rate=0.2, verbose=-1, num_threads=1, metric="None"),
              train, 30, valid_sets=[train], valid_names=["train"],
              feval=lightgbm_metric("focal", **kw), callbacks=[lgb.record_evaluation(log)])
    curve = log["train"]["binary_focal_crossentropy"]
    start = fl.focal(y, np.full(N, m), **kw)
    assert curve[-1] < 0.6 * start
    # the metric saw raw scores plus nothing: LightGBM passes init_score-free
    # predictions to feval on the training set it built with init_score
    assert curve[0] < start


# -- what the callables hand back ----------------------------------------------------------


def test_xgboost_shapes_dtypes_and_weights(xgb, data):
    X, y, w = data["X"], data["multiclass"], data["weight"]
    obj = xgboost_objective("scce", from_logits=True)
    margins = np.random.default_rng(1).normal(size=(N, 3)).astype(np.float32)
    d = xgb.DMatrix(X, y, weight=w)
    g, h = obj(margins, d)
    assert g.shape == h.shape == (N, 3) and g.dtype == h.dtype == np.float32
    g0, h0 = fl.scce.grad_hess(y, margins, from_logits=True)
    # per-sample derivatives of the summed, weighted loss (hessian x2, as XGBoost)
    np.testing.assert_allclose(g, g0 * w[:, None], rtol=1e-6)
    np.testing.assert_allclose(h, 2 * h0 * w[:, None], rtol=1e-6)
    # the scikit-learn call gives the same
    g2, h2 = obj(y, margins, sample_weight=w)
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_array_equal(h, h2)


def test_lightgbm_shapes_layout_and_weights(lgb, data):
    y, w = data["multiclass"], data["weight"]
    obj = lightgbm_objective("scce", from_logits=True)
    margins = np.asfortranarray(np.random.default_rng(1).normal(size=(N, 3)))
    g, h = obj(y, margins, w)
    assert g.shape == (N, 3) and g.dtype == np.float32 and g.flags.f_contiguous
    assert h.flags.f_contiguous and h.dtype == np.float32
    g0, h0 = fl.scce.grad_hess(y, margins, from_logits=True)
    np.testing.assert_allclose(g, g0 * w[:, None], rtol=1e-6)
    np.testing.assert_allclose(h, 1.5 * h0 * w[:, None], rtol=1e-6)  # K / (K - 1)
    g1, h1 = lightgbm_objective("mse")(y, margins[:, 0], None)
    assert g1.shape == (N,) and g1.dtype == np.float32
    np.testing.assert_allclose(g1, 2 * (margins[:, 0] - y), rtol=1e-6)
    np.testing.assert_allclose(h1, 2.0)


def test_metrics_for_both_apis(xgb, lgb, data):
    X, y, w = data["X"], data["regression"], data["weight"]
    p = y + np.random.default_rng(2).normal(size=N)
    want = fl.huber(y, p, sample_weight=w)
    xm = xgboost_metric("huber")
    assert xm.__name__ == "huber"
    d = xgb.DMatrix(X, y, weight=w)
    name, value = xm(p.astype(np.float32), d)
    assert name == "huber" and value == pytest.approx(want, rel=1e-6)
    assert xm(y, p, sample_weight=w) == pytest.approx(want, rel=1e-12)
    lm = lightgbm_metric("huber", name="h")
    assert lm(y, p, w) == ("h", pytest.approx(want, rel=1e-12), False)
    ds = lgb.Dataset(X, y, weight=w).construct()
    assert lm(p, ds)[1] == pytest.approx(want, rel=1e-6)


def test_losses_without_hessian_need_constant_hessian(xgb, lgb, data):
    with pytest.raises(ValueError, match="no hessian"):
        xgboost_objective("mae")
    with pytest.raises(ValueError, match="constant_hessian"):
        lightgbm_objective("quantile", quantile=0.9)
    X, y = data["X"], data["regression"]
    m = init_margin("mae", y)
    middle = np.sort(y)[N // 2 - 1:N // 2 + 1]  # any point between minimises
    assert middle[0] - 1e-12 <= m <= middle[1] + 1e-12
    obj = xgboost_objective("mae", constant_hessian=True)
    g, h = obj(y[:5], np.zeros(5))
    np.testing.assert_array_equal(h, 1.0)
    np.testing.assert_array_equal(g, -1.0)
    d = xgb.DMatrix(X, y, base_margin=np.full(N, m))
    booster = xgb.train(dict(max_depth=3, eta=0.3, nthread=1), d, 20, obj=obj)
    mae = np.mean(np.abs(booster.predict(d, output_margin=True) - y))
    assert mae < 0.6 * np.mean(np.abs(y - m))


def test_objectives_pickle(xgb, data):
    obj = xgboost_objective("huber", delta=0.7, scale=2.0)
    again = pickle.loads(pickle.dumps(obj))
    y, p = data["regression"][:20], np.zeros(20)
    for a, b in zip(obj(y, p), again(y, p), strict=True):
        np.testing.assert_array_equal(a, b)
    model = xgb.XGBRegressor(objective=obj, n_estimators=3, n_jobs=1).fit(data["X"], y.repeat(20))
    assert pickle.loads(pickle.dumps(model)).get_params()["objective"].params == {"delta": 0.7}


def test_bad_arguments():
    pytest.importorskip("xgboost")
    with pytest.raises(ValueError, match="from_logits=True"):
        xgboost_objective("bce")  # probabilities are not margins
    with pytest.raises(TypeError, match="unexpected keyword"):
        xgboost_objective("huber", delt=1.0)
    with pytest.raises(ValueError, match="positive"):
        xgboost_objective("huber", scale=0.0)
    with pytest.raises(ValueError, match="unknown loss"):
        xgboost_objective("no_such_loss")


def test_clear_message_without_the_library():
    code = ("import sys; sys.modules['lightgbm'] = None\n"
            "from fastloss.boosting import lightgbm_objective\n"
            "try:\n    lightgbm_objective('mse')\n"
            "except ImportError as e:\n    print(e)")
    r = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fastloss[lightgbm]" in r.stdout


# -- init_margin ---------------------------------------------------------------------------


def test_init_margin_closed_forms():
    rng = np.random.default_rng(5)
    y = rng.normal(2.0, 3.0, 500)
    w = rng.uniform(0.1, 3.0, 500)
    np.testing.assert_allclose(init_margin("mse", y, sample_weight=w), np.average(y, weights=w),
                               rtol=1e-12)
    labels = (rng.uniform(size=500) < 0.3).astype(float)
    pbar = np.average(labels, weights=w)
    np.testing.assert_allclose(init_margin("bce", labels, sample_weight=w, from_logits=True),
                               np.log(pbar / (1 - pbar)), rtol=1e-10)
    counts = rng.poisson(4.0, 500).astype(float)
    np.testing.assert_allclose(init_margin("poisson", counts, log_input=True),
                               np.log(counts.mean()), rtol=1e-10)
    np.testing.assert_allclose(init_margin("poisson", counts), counts.mean(), rtol=1e-6)
    cls = rng.integers(0, 4, 500)
    m = init_margin("scce", cls, n_classes=4, from_logits=True, sample_weight=w)
    freq = np.bincount(cls, weights=w, minlength=4) / w.sum()
    np.testing.assert_allclose(m - m.mean(), np.log(freq) - np.log(freq).mean(), atol=1e-9)
    # no hessian: bisection finds the weighted median / quantile
    q = init_margin("quantile", y, quantile=0.8)
    assert np.mean(y <= q) == pytest.approx(0.8, abs=1 / 500)
    # one constant per target column for several targets
    Y = np.stack([y, 2 * y + 1], axis=1)
    np.testing.assert_allclose(init_margin("mse", Y), Y.mean(axis=0), rtol=1e-12)


def test_init_margin_raises_without_a_finite_minimum():
    with pytest.raises(ValueError, match="no finite minimising constant"):
        init_margin("bce", np.ones(10), from_logits=True)


def _margin_cases():
    # (y_true, y_pred) losses on raw margins (real values or logits): those
    # a booster starts from a constant of
    pairs = cases(lambda loss: len(loss.inputs) == 2 and loss.wrt == loss.inputs[1:])
    return [c for c in pairs if LOSSES[c.values[0]].domain(**c.values[1])[1] in ("real", "logit")]


@pytest.mark.parametrize("name,params", _margin_cases())
def test_init_margin_is_a_minimum_for_every_loss(name, params):
    # Generic over the registry: where a finite best constant exists, moving
    # any coordinate of it raises the summed loss.
    loss = LOSSES[name]
    y, p = loss.sample(params, loss.shapes["test"][-1], seed=11)
    y = np.asarray(y)
    n_classes = p.shape[-1] if y.ndim < np.ndim(p) else None
    try:
        c = init_margin(name, y, n_classes=n_classes, **params)
    except ValueError as e:
        assert "no finite minimising constant" in str(e)
        return
    except NotImplementedError:
        assert not loss.has_hessian and loss.unit != "element"
        return
    c = np.asarray(c, dtype=np.float64)
    assert c.shape == np.shape(p)[1:]

    def total(c):
        return loss(y, np.broadcast_to(c, np.shape(p)), reduction="sum", **params)

    best = total(c)
    for k in np.ndindex(c.shape):
        for d in (-1e-3, 1e-3):
            moved = c.copy()
            moved[k] += d * (1 + abs(c[k]))
            assert total(moved) >= best - 1e-9 * abs(best)
