"""Segmentation (overlap) losses: Dice, Jaccard (soft IoU) and Tversky.

A unit is a sample, the first axis of y_pred: each sample's loss sums over
every other axis, so (n, H, W), (n, 1, H, W) and (n, D, H, W) masks all
work.  With `channel_axis` the sums are taken per class along that axis and
the class scores averaged.  A sample's gradient needs its sums before any of
its elements, so these losses have a loop shape of their own, OverlapLoss,
with two passes per sample (fastloss/_kernels/_overlap.pyx.tp).
"""

import math

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loss import Loss, Param, outputs, result, value
from fastloss._core.registry import register
from fastloss.families.classification import class_weight_param

# Kernel activations (_overlap.pyx.tp).
_NONE, _SIGMOID, _SOFTMAX = 0, 1, 2


class LabelMap(tuple):
    """A y_pred shape whose sample (`loss.sample`) takes an integer label map
    as y_true (one label per pixel) instead of dense targets, when the keywords
    name a channel_axis: a shape entry of OverlapLoss.SHAPES."""

    __slots__ = ()


def _channel_axis(value, name):
    return V.int_param(value, name, allow_none=True)


def _optional_smooth(value, name):
    return V.real_param(value, name, low=0.0, allow_none=True)


def _sample(rng, shape, dtype, prm):
    """(y_true, y_pred) for a y_pred of `shape`: logits or probabilities, and
    targets in [0, 1] (half of them exactly 0 or 1), or for a LabelMap shape
    with a channel_axis, integer labels."""
    ax = prm["channel_axis"]
    p = (rng.normal(0, 2, size=shape) if prm["from_logits"]
         else rng.uniform(0.02, 0.98, size=shape)).astype(dtype)
    if isinstance(shape, LabelMap) and ax is not None:
        ax %= len(shape)
        labels_shape = shape[:ax] + shape[ax + 1:]
        return rng.integers(0, shape[ax], size=labels_shape), p
    soft = rng.uniform(0, 1, size=shape)
    hard = rng.integers(0, 2, size=shape)
    return np.where(rng.uniform(size=shape) < 0.5, hard, soft).astype(dtype), p


class OverlapLoss(Loss):
    """A per-sample overlap loss of y_pred (n, ...) against dense targets of
    its shape or, with a channel_axis, an integer label map.

    `coef(prm)` returns the score's (k_I, alpha, beta): N = k_I I + smooth_nr
    and M = k_I I + alpha FP + beta FN + smooth_dr (see _overlap.pyx.tp).
    """

    kind = "overlap"
    unit = "sample"
    no_hessian_reason = ("every element of a sample enters its sums, so the hessian is not "
                         "diagonal")
    SHAPES = {"test": [(3, 7), (2, 3, 4, 5), LabelMap((2, 4, 6, 3))],
              "fd": (2, 3, 5), "empty": (0, 3, 4), "threads": (3, 2, 110, 110),
              "leak": LabelMap((4, 3, 8, 8)),
              "simd": [(3, 5, 37), LabelMap((2, 3, 41)), (2, 50, 3)],
              "small": (2, 1, 16, 16), "minibatch": (16, 1, 256, 256),
              "large": (8, 21, 256, 256)}

    def __init__(self, name, *, coef, **kw):
        super().__init__(name, hessian=False, sampler=_sample, unit="sample", **kw)
        self._coef = coef

    def _layout(self, yp, prm):
        """(outer, C, inner, class axis or None) of y_pred's samples."""
        if yp.ndim == 0:
            raise ValueError("y_pred must have a first axis of samples, shape (n, ...); "
                             "got a scalar")
        ax = prm["channel_axis"]
        if ax is None:
            for key in ("class_weight", "multilabel"):
                if prm[key] is not None and prm[key] is not False:
                    raise ValueError(f"{key} needs channel_axis (the axis of y_pred that "
                                     "holds the classes)")
            if not prm["include_background"]:
                raise ValueError("include_background=False needs channel_axis (the axis of "
                                 "y_pred that holds the classes, class 0 the background)")
            return 1, 1, math.prod(yp.shape[1:]), None
        if not -yp.ndim <= ax < yp.ndim or ax % yp.ndim == 0:
            raise ValueError(
                f"channel_axis={ax} must name an axis of y_pred other than the first (the "
                f"samples); y_pred has shape {yp.shape}")
        ax %= yp.ndim
        C = yp.shape[ax]
        if C == 0:
            raise ValueError(f"y_pred has no classes: axis {ax} (channel_axis) of shape "
                             f"{yp.shape} is empty")
        if not prm["include_background"] and C < 2:
            raise ValueError("include_background=False leaves no class: y_pred has one class "
                             f"along channel_axis (shape {yp.shape})")
        outer = math.prod(yp.shape[1:ax])
        inner = math.prod(yp.shape[ax + 1:])
        return outer, C, inner, ax

    def _targets(self, y_true, yp, ax, C):
        """('dense', array) or ('labels', array) for y_true against y_pred."""
        yt = V.as_numeric(y_true, "y_true")
        if yt.shape == yp.shape:
            return "dense", yt
        if ax is not None:
            without = yp.shape[:ax] + yp.shape[ax + 1:]
            single = yp.shape[:ax] + (1,) + yp.shape[ax + 1:]
            if yt.shape == without or (C > 1 and yt.shape == single):
                return "labels", yt
            raise ValueError(
                f"y_true must have the shape of y_pred {yp.shape} (dense targets) or, as a "
                f"label map, {without} (y_pred's shape without channel_axis={ax}); got "
                f"shape {yt.shape}")
        V.check_same_shape(yt, yp)

    def _class_factors(self, prm, C):
        """cw_c / classes counted, 0 for a class left out (float64, (C,))."""
        cw = prm["class_weight"]
        if cw is None and prm["include_background"]:
            return np.full(C, 1.0 / C)
        if isinstance(cw, dict):
            cw = V.class_weights_from_dict(cw, C)
        if cw is None:
            cw = np.ones(C)
        elif cw.shape != (C,):
            raise ValueError(
                f"class_weight must hold one weight per class, shape ({C},) for y_pred with "
                f"{C} classes along channel_axis; got shape {cw.shape}")
        cw = np.array(cw, dtype=np.float64)
        if not prm["include_background"]:
            cw[0] = 0.0
            if not np.any(cw > 0):
                raise ValueError("class_weight gives every class but the background (left out "
                                 "by include_background=False) weight 0")
        return cw / (C if prm["include_background"] else C - 1)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        y_true, y_pred = arrays
        yp = V.as_numeric(y_pred, "y_pred")
        outer, C, inner, ax = self._layout(yp, prm)
        kind, yt = self._targets(y_true, yp, ax, C)
        n = yp.shape[0]
        if kind == "dense":
            dtype = V.float_dtype(yt, yp)
            y, lab = V.contiguous(yt, dtype), None
        else:
            dtype = V.float_dtype(yp)
            y, lab = None, V.int_labels(yt, C, "y_true")
        if lab is not None and dtype == np.float32 and C > 2**24:
            # the kernel compares labels as floats, exact below 2**24
            raise ValueError(f"a label map of {C} classes (more than 2**24) needs float64 "
                             "scores: pass y_pred as float64")
        p = V.contiguous(yp, dtype)
        cwk = self._class_factors(prm, C)
        logits = prm["from_logits"]
        act = (_NONE if not logits else
               _SIGMOID if C == 1 or prm["multilabel"] else _SOFTMAX)
        # Value checks ride along in the kernel's pass 1, except with out=:
        # then they run first, so a failing call never writes into out.
        fused = out is None
        prm["_labels"] = lab is not None
        bounds = self._check_values({"y_true": y, "y_pred": p}, prm, fused=fused)
        if lab is not None and not fused and lab.size:
            _check_labels((lab.min(), lab.max()), C)
        w, total = V.unit_weights(sample_weight, (n,), dtype, reduction)
        lo = np.empty(n, dtype) if reduction == "none" else None
        grads, _ = outputs(out, mode, self, (yp.shape,), dtype,
                           arrays + (sample_weight, y, lab, p, w))
        g = None if grads is None else grads[0]
        mean = reduction == "mean"
        gscale = 1.0 / total if mean and total > 0 else 1.0
        sn, sd = _smoothing(prm)
        K = dispatch.kernels("_overlap")
        r = K.run(0 if g is None else 1, p, y, lab, n, outer, C, inner, act,
                  tuple(self._coef(prm)) + (sn, sd), cwk, w, lo,
                  None if g is None else g.reshape(-1), gscale,
                  config.threads_for(p.size), fused)
        if fused:
            s, y_range, p_range, l_range = r
            V.check_found(bounds, {"y_true": y_range, "y_pred": p_range})
            if lab is not None:
                _check_labels(l_range, C)
        else:
            s = r
        return result(mode, self, value(s, total, mean, dtype, lo), grads, None)


def _check_labels(found, C):
    lo, hi = found
    if lo < 0 or hi >= C:
        bad = lo if lo < 0 else hi
        raise ValueError(f"y_true holds class label {int(bad)}, outside [0, {C}) for y_pred "
                         f"with {C} classes along channel_axis")


def _smoothing(prm):
    sn, sd = prm["smooth_nr"], prm["smooth_dr"]
    return (prm["smooth"] if sn is None else sn), (prm["smooth"] if sd is None else sd)


def _bounds(prm):
    # prm["_labels"] (set by OverlapLoss._compute): y_true is a label map,
    # whose range the kernel reports separately.
    targets = () if prm.get("_labels") else (
        V.Bound("y_true", 0.0, 1.0, why=" (targets; pass integer labels as a label map "
                                        "without the channel axis)"),)
    if prm["from_logits"]:
        return targets
    return targets + (V.Bound("y_pred", 0.0, 1.0,
                              why=" (probabilities; pass from_logits=True for raw scores)"),)


_PARAMS = (
    Param("smooth", 1.0, V.non_negative,
          "Added to the numerator and denominator of the score (>= 0), so an empty target "
          "with an empty prediction costs 0."),
    Param("smooth_nr", None, _optional_smooth,
          "Numerator smoothing, if it differs from `smooth` (MONAI's smooth_nr; Keras: 0)."),
    Param("smooth_dr", None, _optional_smooth,
          "Denominator smoothing, if it differs from `smooth` (MONAI's smooth_dr; Keras: "
          "1e-7).  With 0, a class empty in target and prediction gives NaN (0 / 0)."),
    Param("from_logits", False, V.bool_param,
          "If True, y_pred holds raw scores: a sigmoid is applied (a softmax over "
          "channel_axis when it has several classes) and the gradient is w.r.t. the scores."),
    Param("channel_axis", None, _channel_axis,
          "The axis of y_pred holding classes (e.g. 1 for (n, C, H, W), -1 for (n, H, W, C)): "
          "each class is scored apart and the scores averaged.  None: one score per sample."),
    Param("multilabel", False, V.bool_param,
          "With from_logits and channel_axis: a sigmoid per class instead of a softmax over "
          "the classes (overlapping classes; MONAI's sigmoid=True)."),
    Param("class_weight", None, class_weight_param,
          "Weight of each class's score, shape (C,) or a dict {class: weight} (missing "
          "classes weigh 1): the sample's loss is sum_c w_c L_c / (classes counted), as in "
          "MONAI and Optax."),
    Param("include_background", True, V.bool_param,
          "If False, class 0 (the background) is left out of the average (MONAI's name)."),
)

_Y = ("Targets in [0, 1] of y_pred's shape (soft targets allowed; integers and booleans "
      "accepted), or with channel_axis an integer label map: y_pred's shape without the "
      "channel axis (or with it of length 1), labels in [0, C).")
_P = ("Probabilities in [0, 1], or raw scores with from_logits=True; shape (n, ...), "
      "the first axis the samples.")

_NOTES = """
reduction='none' returns one loss per sample (shape (n,)), averaged over the
classes with channel_axis; sample_weight holds one weight per sample.
Empty masks: with smooth > 0 an empty target and an empty prediction give
loss 0 (numerator = denominator = smooth), an empty target with a non-empty
prediction p gives 1 - smooth / (sum p + smooth).  With from_logits a sigmoid
(or softmax) is fused into the pass; 1 - p comes from the logit, so logits of
+-1e4 give exact values and gradients.  Label maps are one-hot encoded on the
fly, never materialised.  A class left out (include_background=False or a zero
class weight) does not enter the loss.  Sums accumulate in float64 in fixed
blocks: the result does not depend on the thread count.
"""

_EQUIV_NOTE = (
    "MONAI (channel-first, batch=False): channel_axis=1; its sigmoid=True / softmax=True "
    "are from_logits=True (multilabel=True for a sigmoid over several classes); "
    "to_onehot_y: pass the label map itself; include_background alike; weight=w is "
    "class_weight=w (with include_background=False MONAI's w has C - 1 entries: "
    "class_weight=[1, *w]).  Keras's axis=None pools the batch into one score: pass "
    "y_true[None], y_pred[None].")

dice = register(OverlapLoss(
    "dice", aliases=("dice_loss",), coef=lambda prm: (2.0, 1.0, 1.0),
    params=_PARAMS, bounds=_bounds,
    examples=({"from_logits": True, "channel_axis": 1}, {"from_logits": True}, {},
              {"from_logits": True, "channel_axis": 1, "include_background": False,
               "class_weight": {1: 2.0}},
              {"channel_axis": -1, "smooth": 0.0, "smooth_dr": 1e-7}),
    summary="Soft Dice loss per sample (V-Net, Milletari et al. 2016).",
    formula="I = sum t p over the sample (per class with channel_axis);\n"
            "l = 1 - (2 I + smooth_nr) / (sum t + sum p + smooth_dr),  smooth_nr = "
            "smooth_dr = smooth by default;\ndl/dp = -2 t / M + (2 I + smooth_nr) / M^2,  "
            "M the denominator.",
    y_true_doc=_Y, y_pred_doc=_P, notes=_NOTES,
    equivalents="monai.losses.DiceLoss(smooth_nr=a, smooth_dr=b) is dice(smooth_nr=a, "
                "smooth_dr=b) (MONAI's default: smooth=1e-5); keras.losses.Dice is "
                "smooth=0, smooth_dr=1e-7; optax.losses.dice_loss(smooth=s) is dice with "
                "smooth=2 s (or tversky with smooth=s).  " + _EQUIV_NOTE,
))

jaccard = register(OverlapLoss(
    "jaccard", aliases=("soft_iou",), coef=lambda prm: (1.0, 1.0, 1.0),
    params=_PARAMS, bounds=_bounds,
    examples=({"from_logits": True, "channel_axis": 1}, {"from_logits": True},
              {"from_logits": True, "channel_axis": -1, "smooth_nr": 0.0, "smooth_dr": 1e-5}),
    summary="Soft Jaccard (IoU) loss per sample.",
    formula="I = sum t p;  l = 1 - (I + smooth_nr) / (sum t + sum p - I + smooth_dr);\n"
            "dl/dp = -t / M + (I + smooth_nr) (1 - t) / M^2,  M the denominator.",
    y_true_doc=_Y, y_pred_doc=_P, notes=_NOTES,
    equivalents="monai.losses.DiceLoss(jaccard=True, smooth_nr=a, smooth_dr=b) is jaccard "
                "with smooth_nr=a / 2, smooth_dr=b / 2 (MONAI doubles numerator and "
                "denominator); tversky(alpha=1, beta=1) is jaccard.  " + _EQUIV_NOTE,
))

_TVERSKY_PARAMS = (
    Param("alpha", 0.5, V.non_negative, "Weight of the false positives FP = sum (1 - t) p."),
    Param("beta", 0.5, V.non_negative, "Weight of the false negatives FN = sum t (1 - p)."),
) + _PARAMS

tversky = register(OverlapLoss(
    "tversky", coef=lambda prm: (1.0, prm["alpha"], prm["beta"]),
    params=_TVERSKY_PARAMS, bounds=_bounds,
    examples=({"from_logits": True, "alpha": 0.3, "beta": 0.7},
              {"from_logits": True, "channel_axis": 1, "multilabel": True},
              {"channel_axis": 1, "alpha": 0.7, "beta": 0.3, "smooth": 1e-5}),
    summary="Tversky loss per sample (Salehi et al. 2017).",
    formula="TP = sum t p, FP = sum (1 - t) p, FN = sum t (1 - p);\n"
            "l = 1 - (TP + smooth_nr) / (TP + alpha FP + beta FN + smooth_dr);\n"
            "dl/dp = -t / M + (TP + smooth_nr) (t + alpha (1 - t) - beta t) / M^2.",
    y_true_doc=_Y, y_pred_doc=_P, notes=_NOTES,
    equivalents="monai.losses.TverskyLoss(alpha, beta, smooth_nr, smooth_dr) alike; "
                "keras.losses.Tversky(alpha, beta) is smooth=0, smooth_dr=1e-7; "
                "optax.losses.dice_loss(alpha, beta, smooth, class_weights, "
                "ignore_background) is tversky with channel_axis=-1, from_logits=True, "
                "class_weight, include_background=not ignore_background.  alpha = beta = 0.5 "
                "with smooth s is dice with smooth 2 s; alpha = beta = 1 is jaccard.  "
                + _EQUIV_NOTE,
))
