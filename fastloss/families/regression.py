"""Regression losses: one prediction per target, element-wise kernels."""

from functools import partial

from fastloss._core import validation as V
from fastloss._core.loops import ElementwiseLoss
from fastloss._core.loss import Param
from fastloss._core.registry import register

_Y = "Targets (any real numbers; integers and booleans accepted)."
_P = "Predictions, the same shape as y_true."

open_unit = partial(V.real_param, low=0.0, high=1.0, low_open=True, high_open=True)


mean_squared_error = register(ElementwiseLoss(
    "mean_squared_error", aliases=("mse",), kernel="mse",
    summary="Mean squared error.",
    formula="l = (y_pred - y_true)^2;  dl/dy_pred = 2 (y_pred - y_true);  hessian 2.",
    y_true_doc=_Y, y_pred_doc=_P,
    equivalents="keras.losses.MeanSquaredError, torch.nn.functional.mse_loss, "
                "sklearn.metrics.mean_squared_error.",
))

mean_absolute_error = register(ElementwiseLoss(
    "mean_absolute_error", aliases=("mae",), kernel="mae", hessian=False,
    summary="Mean absolute error.",
    formula="l = |y_pred - y_true|;  dl/dy_pred = sign(y_pred - y_true) (0 where equal).",
    y_true_doc=_Y, y_pred_doc=_P,
    equivalents="keras.losses.MeanAbsoluteError, torch.nn.functional.l1_loss, "
                "sklearn.metrics.mean_absolute_error.",
))

huber = register(ElementwiseLoss(
    "huber", kernel=lambda prm: ("huber", (prm["delta"],)),
    params=(Param("delta", 1.0, V.positive,
                  "Where the loss turns from quadratic to linear (> 0)."),),
    examples=({}, {"delta": 0.3}),
    summary="Huber loss: quadratic near zero, linear in the tails.",
    formula="d = y_pred - y_true;  l = d^2 / 2 if |d| <= delta else "
            "delta (|d| - delta / 2);\ndl/dy_pred = clip(d, -delta, delta);  "
            "hessian 1 inside, 0 outside.",
    y_true_doc=_Y, y_pred_doc=_P,
    equivalents="torch.nn.functional.huber_loss(input, target, delta=delta), "
                "keras.losses.Huber(delta). (torch's smooth_l1_loss is huber / beta.)",
))

log_cosh = register(ElementwiseLoss(
    "log_cosh", aliases=("logcosh",), kernel="log_cosh",
    summary="Log-cosh loss: like d^2/2 near zero and |d| - log 2 far out.",
    formula="d = y_pred - y_true;  l = log(cosh(d));  dl/dy_pred = tanh(d);  "
            "hessian 1 - tanh(d)^2.",
    y_true_doc=_Y, y_pred_doc=_P,
    notes="Computed without overflow for any |d| (log1p(2 sinh(|d|/2)^2) below 40, "
          "|d| - log 2 above) and with full relative accuracy near 0.",
    equivalents="keras.losses.LogCosh.",
))

quantile = register(ElementwiseLoss(
    "quantile", aliases=("pinball",), hessian=False,
    kernel=lambda prm: ("quantile", (prm["quantile"],)),
    params=(Param("quantile", 0.5, open_unit,
                  "The quantile level q in (0, 1); q = 0.5 is half the absolute error."),),
    examples=({}, {"quantile": 0.9}),
    summary="Quantile (pinball) loss: under-prediction costs q, over-prediction 1 - q.",
    formula="d = y_true - y_pred;  l = q max(d, 0) + (1 - q) max(-d, 0);\n"
            "dl/dy_pred = -q if d > 0 else 1 - q.",
    y_true_doc=_Y, y_pred_doc=_P,
    equivalents="sklearn.metrics.mean_pinball_loss(alpha=q), "
                "sklearn's PinballLoss, LightGBM objective='quantile'.",
))


def _poisson_bounds(prm):
    counts = V.Bound("y_true", low=0.0, why=" (Poisson targets are counts)")
    if prm["log_input"]:
        return (counts,)
    return (counts, V.Bound("y_pred", low=0.0,
                            why=" (a Poisson rate; pass log_input=True for log-rates)"))


poisson = register(ElementwiseLoss(
    "poisson",
    kernel=lambda prm: (("poisson_log", ()) if prm["log_input"]
                        else ("poisson", (prm["eps"],))),
    bounds=_poisson_bounds,
    domain=lambda prm: ("count", "real" if prm["log_input"] else "positive"),
    examples=({}, {"log_input": True}),
    params=(Param("log_input", False, V.bool_param,
                  "If True, y_pred holds log-rates and the loss is exp(p) - y p."),
            Param("eps", 1e-8, V.non_negative,
                  "Added to the rate inside the log when log_input=False (torch's default).")),
    summary="Poisson negative log-likelihood (without the log(y!) term).",
    formula="log_input=False: l = p - y log(p + eps), dl/dp = 1 - y / (p + eps),\n"
            "hessian y / (p + eps)^2;  log_input=True: l = exp(p) - y p, "
            "dl/dp = exp(p) - y, hessian exp(p).",
    y_true_doc="Observed counts (>= 0).",
    y_pred_doc="Rates (>= 0), or log-rates with log_input=True.",
    equivalents="torch.nn.functional.poisson_nll_loss(input, target, log_input, "
                "full=False, eps=eps); keras.losses.Poisson uses eps=1e-7.",
))


_MSLE_BOUNDS = (V.Bound("y_true", low=-1.0, low_open=True, why=" (log1p needs values > -1)"),
                V.Bound("y_pred", low=-1.0, low_open=True, why=" (log1p needs values > -1)"))


mean_squared_log_error = register(ElementwiseLoss(
    "mean_squared_log_error", aliases=("msle",), kernel="msle",
    bounds=lambda prm: _MSLE_BOUNDS,
    domain=("positive", "positive"),
    summary="Mean squared logarithmic error.",
    formula="r = log1p(y_pred) - log1p(y_true);  l = r^2;  dl/dy_pred = 2 r / (1 + y_pred);\n"
            "hessian 2 (1 - r) / (1 + y_pred)^2.",
    y_true_doc="Targets > -1.", y_pred_doc="Predictions > -1, the same shape as y_true.",
    notes="Values <= -1 raise ValueError (as in scikit-learn); Keras instead clips "
          "y_pred at 0, which differs for predictions in (-1, 0).",
    equivalents="sklearn.metrics.mean_squared_log_error, keras.losses.MeanSquaredLogarithmicError.",
))
