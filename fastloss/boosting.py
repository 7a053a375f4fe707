"""fastloss losses as XGBoost and LightGBM objectives and metrics:
``import fastloss.boosting``.

::

    from fastloss.boosting import init_margin, lightgbm_objective, xgboost_objective
    obj = xgboost_objective("huber", delta=2.0)
    m = init_margin("huber", y, delta=2.0)          # the best constant start
    booster = xgb.train(params, xgb.DMatrix(X, y, base_margin=np.full(len(y), m)), obj=obj)
    model = lgb.LGBMRegressor(objective=lightgbm_objective("huber", delta=2.0))

Every objective is one callable for both of its library's APIs: the native
one (``xgb.train(obj=f)``, ``lgb.train(params={"objective": f})``, called as
``f(margins, dataset)``) and the scikit-learn one (``XGBRegressor(objective=f)``,
``LGBMRegressor(objective=f)``, called as ``f(y_true, margins, weights)``).
It returns the per-sample first and diagonal second derivatives of the
*summed*, weighted loss with respect to the raw margins (``loss.grad_hess``):
the boosters apply no weights to a custom objective's derivatives, and
compare ``min_child_weight`` / ``min_sum_hessian_in_leaf`` with sums of
these hessians.  The arrays are float32 and shaped as each library wants:
XGBoost (n,) or (n, K); LightGBM (n,) or (n, K) in Fortran order (its own
layout, so it neither copies nor converts them).

Margins are raw scores, so use losses on logits or log-rates
(``from_logits=True``, ``log_input=True``).  Multiclass softmax is
``sparse_categorical_crossentropy`` with ``from_logits=True`` and
``num_class`` / ``n_classes`` set in the booster.

The starting margin.  With a custom objective neither library estimates the
intercept: XGBoost starts from ``base_score`` (0.5) mapped through the link
of the objective it is configured with, LightGBM from 0 (it skips
``boost_from_average``; lightgbm#7193).  ``init_margin`` gives the best
constant; pass it as XGBoost's ``base_margin`` (per row, in the DMatrix, and
again at predict time) or as ``base_score`` where the configured objective
has an identity link (``xgb.train(obj=...)`` and ``XGBRegressor``); for
LightGBM pass ``init_score`` (``Dataset(init_score=...)`` or
``fit(init_score=...)``) and add it to ``predict(raw_score=True)`` yourself:
the model does not store it.

The hessian of a softmax over K classes is not diagonal, and its diagonal
alone overshoots in a Newton step; both libraries scale it in their own
softmax objectives (XGBoost by 2, LightGBM by K / (K - 1)).  Row-wise losses
get the same scale by default (``hessian_scale=None``), so a fastloss
softmax objective trains the same trees as ``multi:softprob`` /
``multiclass``; pass ``hessian_scale=1.0`` for the plain diagonal.
"""

import numpy as np

from fastloss._core import registry as _registry
from fastloss._core.loss import Loss as _FastLoss

__all__ = ["init_margin", "lightgbm_metric", "lightgbm_objective", "xgboost_metric",
           "xgboost_objective"]

#: Where each prediction kind of fastloss's samplers (a loss's `domain`)
#: starts the search for the best constant: a value inside the domain
#: ("probrows": 1 / K, set where K is known).
_START = {"real": 0.0, "logit": 0.0, "positive": 1.0, "prob": 0.5, "probrows": None}
#: Prediction kinds that are not raw margins (what the objectives refuse).
_NOT_MARGINS = {"positive": "positive rates", "prob": "probabilities",
                "probrows": "probability rows"}


def _loss(loss):
    loss = loss if isinstance(loss, _FastLoss) else _registry.get(loss)
    if len(loss.inputs) != 2 or loss.wrt != loss.inputs[1:]:
        raise ValueError(
            f"{loss.name} takes inputs {loss.inputs} with gradients for {loss.wrt}; a "
            "boosting objective needs a loss of (y_true, y_pred) differentiated with "
            "respect to y_pred")
    return loss


def _require(module, extra):
    try:
        __import__(module)
    except ImportError as e:
        raise ImportError(
            f"fastloss.boosting: this needs {module}; install it with "
            f"`pip install \"fastloss[{extra}]\"`") from e


def _weights(w):
    """A dataset's weights as fastloss takes them (None when there are none)."""
    if w is None:
        return None
    w = np.asarray(w)
    return None if w.size == 0 else w


class _Objective:
    """Per-sample derivatives of the summed, weighted loss at the margins."""

    library = None
    extra = None

    def __init__(self, loss, *, scale=1.0, hessian_scale=None, constant_hessian=False,
                 **params):
        self.loss = _loss(loss)
        _require(self.library, self.extra)
        self.loss._parse(dict(params))  # unknown or invalid keywords raise now
        kind = self.loss.domain(**params)[1]
        if kind in _NOT_MARGINS:
            raise ValueError(
                f"{self.loss.name} with these keywords takes {_NOT_MARGINS[kind]} as "
                "y_pred, but a booster's margins are unbounded raw scores: use its "
                "from_logits=True or log_input=True form")
        if not self.loss.has_hessian and not constant_hessian:
            raise ValueError(
                f"{self.loss.name} has no hessian (it is zero almost everywhere), which a "
                "Newton boosting step needs; use a smooth loss (huber, log_cosh, ...) or "
                "pass constant_hessian=True for a unit hessian (each sample's hessian "
                "is then its weight, and leaf values are damped mean gradients)")
        if not (scale > 0) or not (hessian_scale is None or hessian_scale > 0):
            raise ValueError("scale and hessian_scale must be positive")
        self.scale = float(scale)
        self.hessian_scale = hessian_scale
        self.constant_hessian = bool(constant_hessian)
        self.params = params
        self.__name__ = self.loss.name

    def __reduce__(self):
        # picklable (a fitted scikit-learn model keeps its objective)
        return (_rebuild, (type(self), self.loss.name, self.scale, self.hessian_scale,
                           self.constant_hessian, self.params))

    def __repr__(self):
        kw = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__[1:]}({self.loss.name!r}{kw})"

    def _row_scale(self, n_classes):
        """The library's own hessian scale of a softmax over n_classes."""
        raise NotImplementedError

    def derivatives(self, y_true, margins, sample_weight=None):
        """(grad, hess) as float64 arrays shaped like `margins`."""
        loss = self.loss
        if self.constant_hessian:
            g = loss.grad(y_true, margins, sample_weight=sample_weight, reduction="none",
                          **self.params)
            h = np.ones_like(g) if sample_weight is None else np.broadcast_to(
                _per_row(np.asarray(sample_weight, g.dtype), g.ndim), g.shape).copy()
        else:
            g, h = loss.grad_hess(y_true, margins, sample_weight=sample_weight, **self.params)
        hs = self.hessian_scale
        if hs is None:
            hs = self._row_scale(g.shape[-1]) if loss.unit == "row" and g.ndim > 1 else 1.0
        if self.scale != 1.0:
            g *= self.scale
        if self.scale * hs != 1.0:
            h *= self.scale * hs
        return g, h


def _per_row(w, ndim):
    return w.reshape(w.shape + (1,) * (ndim - w.ndim))


def _rebuild(cls, name, scale, hessian_scale, constant_hessian, params):
    return cls(name, scale=scale, hessian_scale=hessian_scale,
               constant_hessian=constant_hessian, **params)


class _XGBoostObjective(_Objective):
    library, extra = "xgboost", "xgboost"

    def _row_scale(self, n_classes):
        return 2.0  # multi:softprob's hessian 2 p (1 - p)

    def __call__(self, a, b, sample_weight=None):
        """Native API: f(margins, dtrain); scikit-learn API: f(y_true, margins,
        sample_weight=...)."""
        if hasattr(b, "get_label"):
            y, margins, sample_weight = b.get_label(), a, b.get_weight()
        else:
            y, margins = a, b
        g, h = self.derivatives(y, margins, _weights(sample_weight))
        return (np.asarray(g, dtype=np.float32, order="K"),
                np.asarray(h, dtype=np.float32, order="K"))


class _LightGBMObjective(_Objective):
    library, extra = "lightgbm", "lightgbm"

    def _row_scale(self, n_classes):
        # LightGBM's multiclass objective: K / (K - 1) p (1 - p)
        return n_classes / (n_classes - 1.0) if n_classes > 1 else 1.0

    def __call__(self, a, b, weight=None):
        """Native API: f(margins, train_set); scikit-learn API: f(y_true,
        margins, weight) (three parameters, so LightGBM passes the weights)."""
        if hasattr(b, "get_label"):
            y, margins, weight = b.get_label(), a, b.get_weight()
        else:
            y, margins = a, b
        g, h = self.derivatives(y, margins, _weights(weight))
        return np.asfortranarray(g, dtype=np.float32), np.asfortranarray(h, dtype=np.float32)


def xgboost_objective(loss, *, scale=1.0, hessian_scale=None, constant_hessian=False,
                      **params):
    """An XGBoost objective: ``xgb.train(params, dtrain, obj=f)`` or
    ``XGBRegressor(objective=f)`` / ``XGBClassifier(objective=f)``.

    loss: a fastloss loss of (y_true, y_pred) (name, alias or object) with
    its keywords in `params`; y_pred is the raw margin.  Returns float32
    (grad, hess) of the summed loss, weighted by the DMatrix's (or fit's)
    sample weights, shaped like the margins ((n,) or (n, K)).

    scale: multiplies the loss (and so both derivatives); XGBoost's
    ``reg:squarederror`` is half fastloss's mean_squared_error, so
    ``scale=0.5`` reproduces it.  hessian_scale: multiplies the hessian only
    (default: 2 for row-wise losses, as ``multi:softprob``; 1 otherwise).
    constant_hessian: for losses without a hessian (absolute error,
    quantile, hinge), use hessian 1 per unit of weight instead of raising.

    XGBoost starts from ``base_score`` (0.5 through the configured link), not
    from the data: pass ``init_margin(loss, y, ...)`` as ``base_margin``
    (``xgb.DMatrix(X, y, base_margin=np.full(n, m))``, and the same when
    predicting) or, for an identity link, as ``base_score``.
    """
    return _XGBoostObjective(loss, scale=scale, hessian_scale=hessian_scale,
                             constant_hessian=constant_hessian, **params)


def lightgbm_objective(loss, *, scale=1.0, hessian_scale=None, constant_hessian=False,
                       **params):
    """A LightGBM objective: ``lgb.train({"objective": f, ...}, train_set)`` or
    ``LGBMRegressor(objective=f)`` / ``LGBMClassifier(objective=f)``.

    As `xgboost_objective`, with LightGBM's layouts: (n,) or (n, K) float32
    in Fortran order (LightGBM 4 passes (n, K) margins for K classes).  The
    default hessian_scale of row-wise losses is K / (K - 1), as LightGBM's
    ``multiclass`` objective; ``regression`` is half the squared error
    (``scale=0.5``).

    LightGBM starts from 0 with a custom objective (``boost_from_average``
    is skipped): pass ``init_margin(loss, y, ...)`` as ``init_score`` (one per
    row, or (n, K)) and add it to ``predict(X, raw_score=True)``, which does
    not include it.
    """
    return _LightGBMObjective(loss, scale=scale, hessian_scale=hessian_scale,
                              constant_hessian=constant_hessian, **params)


class _Metric:
    """The weighted mean loss at the margins."""

    library = extra = None

    def __init__(self, loss, *, name=None, **params):
        self.loss = _loss(loss)
        _require(self.library, self.extra)
        self.loss._parse(dict(params))
        self.params = params
        self.__name__ = name or self.loss.name

    def __reduce__(self):
        return (_rebuild_metric, (type(self), self.loss.name, self.__name__, self.params))

    def __repr__(self):
        kw = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__[1:]}({self.loss.name!r}{kw})"

    def value(self, y_true, margins, sample_weight=None):
        return float(self.loss(y_true, margins, sample_weight=_weights(sample_weight),
                               **self.params))


def _rebuild_metric(cls, name, label, params):
    return cls(name, name=label, **params)


class _XGBoostMetric(_Metric):
    library = extra = "xgboost"

    def __call__(self, a, b, sample_weight=None):
        """Native API: m(margins, dmatrix) -> (name, value); scikit-learn API
        (``eval_metric=m``): m(y_true, margins, sample_weight=...) -> value."""
        if hasattr(b, "get_label"):
            return self.__name__, self.value(b.get_label(), a, b.get_weight())
        return self.value(a, b, sample_weight)


class _LightGBMMetric(_Metric):
    library = extra = "lightgbm"

    def __call__(self, a, b, weight=None):
        """Native API (``feval=m``): m(margins, dataset); scikit-learn API
        (``eval_metric=m``): m(y_true, margins, weight).  Both return
        (name, value, is_higher_better=False)."""
        if hasattr(b, "get_label"):
            return self.__name__, self.value(b.get_label(), a, b.get_weight()), False
        return self.__name__, self.value(a, b, weight), False


def xgboost_metric(loss, *, name=None, **params):
    """An XGBoost evaluation metric: the weighted mean loss at the raw margins
    (``xgb.train(..., custom_metric=m)``, ``XGBRegressor(eval_metric=m)``), a
    cost to minimise.  XGBoost passes raw margins to a custom metric when the
    objective is custom; with a built-in objective it passes transformed
    predictions (probabilities), so pair this with a fastloss objective."""
    return _XGBoostMetric(loss, name=name, **params)


def lightgbm_metric(loss, *, name=None, **params):
    """A LightGBM evaluation metric (``lgb.train(..., feval=m)``,
    ``LGBMRegressor(...).fit(..., eval_metric=m)``): the weighted mean loss at
    the raw margins, lower is better.  With a custom objective LightGBM adds
    no metric of its own; this is one."""
    return _LightGBMMetric(loss, name=name, **params)


# -- the starting margin ----------------------------------------------------------------


def init_margin(loss, y_true, *, sample_weight=None, n_classes=None, max_iter=100,
                **params):
    """The constant margin that minimises the summed, weighted loss: the
    intercept a booster should start from.

    Returns a float for one margin per sample, or an array of one value per
    column (shape ``margins.shape[1:]``: per class for K classes, per target
    for several targets).  Margins have y_true's shape, or y_true.shape +
    (n_classes,) when `n_classes` is given (integer class labels).

    Found by a safeguarded Newton iteration with the loss's own
    ``grad_hess`` (steps halved until the summed loss decreases, so it
    converges for convex losses), or by bisection of the summed gradient for
    losses without a hessian (one margin per sample); the result is exact
    to rounding where closed forms exist (the weighted mean for squared
    error, logit of the weighted mean of the labels for logistic loss,
    log class frequencies for softmax up to a shared constant).
    """
    loss = _loss(loss)
    loss._parse(dict(params))
    y = np.asarray(y_true)
    shape = y.shape + ((int(n_classes),) if n_classes is not None else ())
    if len(shape) == 0 or shape[0] == 0:
        raise ValueError(f"y_true must hold at least one sample; got shape {y.shape}")
    w = _weights(sample_weight)
    start = _START.get(loss.domain(**params)[1], 0.0)
    if start is None:
        start = 1.0 / shape[-1]
    c = np.full(shape[1:], start, dtype=np.float64)

    def total(c):
        p = np.broadcast_to(c, shape)
        try:
            return float(loss(y, p, sample_weight=w, reduction="sum", **params))
        except ValueError:  # outside the loss's domain (e.g. a negative rate)
            return np.inf

    if loss.has_hessian:
        c = _newton(loss, y, w, params, c, shape, total, max_iter)
    elif c.ndim == 0 or loss.unit == "element":
        # element-wise: each column on its own (the summed loss separates)
        for k in np.ndindex(c.shape):
            c[k] = _bisect(loss, y, w, params, shape, c, k)
    else:
        raise NotImplementedError(
            f"init_margin: {loss.name} has no hessian and its units couple the columns; "
            "only element-wise losses without a hessian are solved (by bisection)")
    return float(c) if c.ndim == 0 else c


def _summed(loss, y, w, params, c, shape, hess=True):
    p = np.broadcast_to(c, shape)
    if hess:
        g, h = loss.grad_hess(y, p, sample_weight=w, **params)
        return g.sum(axis=0), h.sum(axis=0)
    return loss.grad(y, p, sample_weight=w, reduction="sum", **params).sum(axis=0)


def _newton(loss, y, w, params, c, shape, total, max_iter):
    f = total(c)
    for _ in range(max_iter):
        G, H = _summed(loss, y, w, params, c, shape)
        # Newton step on each coordinate; where the hessian vanishes, a
        # gradient step of unit length in its direction (the line search
        # below shortens it as needed).
        safe = H > 1e-300
        step = np.where(safe, -G / np.where(safe, H, 1.0), -np.sign(G))
        t = 1.0
        for _ in range(60):
            trial = c + t * step
            ft = total(trial)
            if ft <= f:
                break
            t *= 0.5
        else:
            return c  # no decrease along the step: optimal to rounding
        if not np.all(np.isfinite(trial)):
            break
        done = np.all(np.abs(trial - c) <= 1e-13 * (1.0 + np.abs(c)))
        c, f = trial, ft
        if done:
            return c
    raise ValueError(
        f"init_margin: no finite minimising constant found for {loss.name} "
        f"(after {max_iter} Newton steps it is at {c!r}): the summed loss keeps "
        "decreasing, e.g. because every label is the same class")


def _bisect(loss, y, w, params, shape, c, k):
    # The summed (sub)gradient of a convex loss is non-decreasing in the
    # constant: bracket its sign change, then halve the bracket.
    start = float(c[k])

    def G(v):
        x = c.copy()
        x[k] = v
        return float(_summed(loss, y, w, params, x, shape, hess=False)[k])

    lo, hi, width = start - 1.0, start + 1.0, 1.0
    while G(lo) > 0 and width < 1e300:
        width *= 2
        lo = start - width
    while G(hi) < 0 and width < 1e300:
        width *= 2
        hi = start + width
    if G(lo) > 0 or G(hi) < 0:
        raise ValueError(
            f"init_margin: no finite minimising constant found for {loss.name}: the "
            "summed loss keeps decreasing")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if G(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
