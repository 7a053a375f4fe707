"""Classification losses: binary (element-wise kernels) and categorical (row-wise).

Binary losses take one score per element, so they reuse the element-wise loop
(_kernels/_pointwise.pxd); categorical losses take a row of C class scores
(_kernels/_rowpoint.pxd, _kernels/_rowwise.pyx.tp).

Value kinds used in `domain` (generators in fastloss/_core/samples.py):
"label01" labels in {0, 1}; "softlabel" labels in [0, 1]; "pm1" labels in
{-1, 1}; "prob" probabilities in [0, 1]; "logit"/"real" any real score;
"onehot" one-hot rows; "probrows" non-negative rows summing to 1;
"int_labels" integer class labels in [0, C) of shape y_pred.shape[:-1].
"""

from functools import partial

import numpy as np

from fastloss._core import dispatch
from fastloss._core import validation as V
from fastloss._core.loops import (
    ColumnParamLoss,
    ElementwiseLoss,
    RowwiseLoss,
    SparseRowwiseLoss,
)
from fastloss._core.loss import Param
from fastloss._core.registry import register

unit = partial(V.real_param, low=0.0, high=1.0)
clip_eps = partial(V.real_param, low=0.0, high=0.5, high_open=True)
optional_unit = partial(V.real_param, low=0.0, high=1.0, allow_none=True)

#: Keras's backend.epsilon(): probabilities are clipped to [eps, 1 - eps].
EPS = 1e-7

_EPS_DOC = ("Probability clip when from_logits=False: p is clipped to [eps, 1 - eps] "
            "before the log (Keras's epsilon), so probabilities of exactly 0 or 1 give "
            "finite losses; the gradient is 0 where the clip is active.")
_LOGITS_DOC = "If True, y_pred holds raw scores (logits) and the gradient is w.r.t. them."
_LS_DOC = ("Label smoothing in [0, 1]: targets become (1 - ls) t + ls / K "
           "(K = 2 for binary, C classes for categorical), as in Keras and PyTorch.")


def pos_weight_param(value, name):
    """None, a positive scalar, or a 1-d array of positive per-column weights."""
    if value is None:
        return None
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        return V.positive(value, name)
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.ndim != 1:
        raise ValueError(f"{name} must be a positive scalar or a 1-d array with one "
                         f"weight per column; got {value!r}")
    a = a.astype(np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name} must hold finite values > 0; got {value!r}")
    return a


def class_weight_param(value, name):
    """None, a 1-d array of finite non-negative weights, one per class, or a
    dict {class label: weight} (classes it leaves out weigh 1, as in
    scikit-learn; expanded to an array once the number of classes is known)."""
    if value is None:
        return None
    if isinstance(value, dict):
        out = {}
        for key, w in value.items():
            label = V.int_param(key, f"a {name} key")
            if label < 0:
                raise ValueError(f"{name} keys must be class labels >= 0; got {key!r}")
            weight = V.real_param(w, f"{name}[{key!r}]", low=0.0)
            out[label] = weight
        return out
    a = np.asarray(value)
    if a.dtype.kind not in "fiub" or a.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array with one weight per class; "
                         f"got {value!r}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must hold finite, non-negative weights; got {value!r}")
    if a.size and not np.any(a > 0):
        raise ValueError(f"{name} must have at least one positive weight; got {value!r}")
    return a


def ignore_index_param(value, name):
    v = V.int_param(value, name, allow_none=True)
    info = np.iinfo(np.intp)
    if v is not None and not info.min <= v <= info.max:
        raise ValueError(f"{name} must fit a label (an int in [{info.min}, {info.max}]); "
                         f"got {value!r}")
    return v


def _labels01(what="labels"):
    return V.Bound("y_true", 0.0, 1.0, why=f" ({what} in [0, 1])")


_PROBS = V.Bound("y_pred", 0.0, 1.0,
                 why=" (probabilities; pass from_logits=True for raw scores)")


# --- binary (element-wise) --------------------------------------------------------------


def _binary_bounds(prm):
    return (_labels01(),) if prm["from_logits"] else (_labels01(), _PROBS)


def _pw(prm):
    pw = prm["pos_weight"]
    return 1.0 if pw is None else pw


binary_crossentropy = register(ColumnParamLoss(
    "binary_crossentropy", aliases=("bce", "log_loss"), column_param="pos_weight",
    kernel=lambda prm: (("bce_logit", (prm["label_smoothing"], _pw(prm))) if prm["from_logits"]
                        else ("bce_prob", (prm["label_smoothing"], _pw(prm), prm["eps"]))),
    bounds=_binary_bounds,
    domain=lambda prm: ("softlabel", "logit" if prm["from_logits"] else "prob"),
    examples=({"from_logits": True}, {},
              {"from_logits": True, "label_smoothing": 0.1, "pos_weight": 2.0},
              {"label_smoothing": 0.2, "pos_weight": 0.5}),
    params=(Param("from_logits", False, V.bool_param, _LOGITS_DOC),
            Param("label_smoothing", 0.0, unit, _LS_DOC),
            Param("pos_weight", None, pos_weight_param,
                  "Weight of the positive term (torch's pos_weight): a scalar > 0, or "
                  "for 2-d input one weight per column (shape (k,))."),
            Param("eps", EPS, clip_eps, _EPS_DOC)),
    summary="Binary cross-entropy (log loss), on probabilities or logits.",
    formula="t = (1 - ls) y + ls / 2;  logits x, s = sigmoid(x):\n"
            "l = pw t softplus(-x) + (1 - t) softplus(x),  dl/dx = (1 - t) s - pw t (1 - s),\n"
            "hessian ((1 - t) + pw t) s (1 - s).\n"
            "probabilities p, c = clip(p, eps, 1 - eps):\n"
            "l = -(pw t log c + (1 - t) log(1 - c)),  dl/dp = -pw t / c + (1 - t) / (1 - c).",
    y_true_doc="Labels in [0, 1] (soft labels allowed; integers and booleans accepted).",
    y_pred_doc="Probabilities in [0, 1], or logits with from_logits=True; same shape.",
    notes="With logits the loss uses softplus (log1p(exp(-|x|)) forms): any finite "
          "logit, and +-inf, gives the exact value and gradient (torch gives NaN at "
          "+-inf).  Probabilities are clipped to [eps, 1 - eps] (Keras); torch's "
          "binary_cross_entropy instead clamps log(p) at -100.",
    equivalents="torch.nn.functional.binary_cross_entropy_with_logits(x, t, "
                "pos_weight=pw) (reduction='none'/'mean'/'sum'); "
                "keras.losses.binary_crossentropy before its mean over the last axis; "
                "sklearn.metrics.log_loss (for labels in {0, 1}).",
))


def _check_hinge(arrays, prm):
    # Keras: labels that are all in {0, 1} are converted to 2y - 1; otherwise
    # they must be -1/+1 (the kernel maps 0 to -1, which is both rules).  NaN
    # labels propagate.  One pass over y (a kernel scan) decides; the offending
    # value is looked up only to report it.
    y = arrays["y_true"]
    kinds = dispatch.kernels("_elementwise").label_kinds(y)
    if kinds & 8 or (kinds & 1 and kinds & 4):
        bad = y[(y != -1) & (y != 1) & ~np.isnan(y)]
        raise ValueError(
            "y_true for a hinge loss must hold labels in {-1, 1} or in {0, 1} (not a mix "
            f"of 0 and -1); found {bad[0]!r}")


# the compiled call path runs this check itself (_kernels/_elementwise.pyx.tp)
_check_hinge.compiled = "labels_pm1_or_01"


def _hinge_kernel(kernel):
    return lambda prm: (kernel, ())


hinge = register(ElementwiseLoss(
    "hinge", kernel=_hinge_kernel("hinge"), check=_check_hinge, hessian=False,
    domain=("pm1", "real"),
    summary="Hinge loss for binary labels.",
    formula="t = 2 y - 1 if every label is in {0, 1}, else y (labels +-1);\n"
            "l = max(0, 1 - t p);  dl/dp = -t where 1 - t p > 0, else 0.",
    y_true_doc="Labels in {-1, 1} or in {0, 1} (converted to -1/1 like Keras).",
    y_pred_doc="Real scores (decision function values), same shape.",
    equivalents="keras.losses.hinge (before its mean over the last axis); "
                "sklearn.metrics.hinge_loss for one score per sample.",
))

squared_hinge = register(ElementwiseLoss(
    "squared_hinge", kernel=_hinge_kernel("squared_hinge"), check=_check_hinge,
    domain=("pm1", "real"),
    summary="Squared hinge loss for binary labels.",
    formula="t = 2 y - 1 if every label is in {0, 1}, else y (labels +-1);\n"
            "l = max(0, 1 - t p)^2;  dl/dp = -2 t max(0, 1 - t p);  hessian 2 where 1 - t p > 0.",
    y_true_doc="Labels in {-1, 1} or in {0, 1} (converted to -1/1 like Keras).",
    y_pred_doc="Real scores, same shape.",
    equivalents="keras.losses.squared_hinge (before its mean over the last axis).",
))


def _focal_kernel(prm):
    al = prm["alpha"]
    ab = (prm["gamma"], 0.0 if al is None else al, 0.0 if al is None else 1.0)
    if prm["from_logits"]:
        return "focal_logit", ab
    return "focal_prob", ab + (prm["eps"],)


_GAMMA = Param("gamma", 2.0, V.non_negative,
               "Focusing parameter >= 0: the loss is scaled by (1 - p_t)^gamma.")

binary_focal_crossentropy = register(ElementwiseLoss(
    "binary_focal_crossentropy", aliases=("focal",), kernel=_focal_kernel,
    bounds=_binary_bounds,
    domain=lambda prm: ("label01", "logit" if prm["from_logits"] else "prob"),
    examples=({"from_logits": True}, {}, {"from_logits": True, "alpha": 0.25, "gamma": 1.5},
              {"alpha": 0.75, "gamma": 0.5}),
    params=(_GAMMA,
            Param("alpha", None, optional_unit,
                  "None: no class balancing; a float in [0, 1] weights positives by alpha "
                  "and negatives by 1 - alpha (torchvision's alpha; Keras's alpha with "
                  "apply_class_balancing=True)."),
            Param("from_logits", False, V.bool_param, _LOGITS_DOC),
            Param("eps", EPS, clip_eps, _EPS_DOC)),
    summary="Binary focal cross-entropy (Lin et al., 2017).",
    formula="p_t = p t + (1 - p)(1 - t),  a_t = alpha t + (1 - alpha)(1 - t) (1 without alpha):\n"
            "l = a_t (1 - p_t)^gamma ce,  ce the binary cross-entropy of (t, p).",
    y_true_doc="Labels in {0, 1} (soft labels in [0, 1] follow the same formula).",
    y_pred_doc="Probabilities in [0, 1], or logits with from_logits=True; same shape.",
    notes="With logits, 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x) and ce are computed "
          "from the logit (softplus forms), so the loss keeps full relative accuracy where "
          "p_t rounds to 1, and +-inf logits give the exact limits.  With probabilities, "
          "Keras's rule: ce uses p clipped to [eps, 1 - eps], (1 - p_t) the unclipped p.",
    equivalents="torchvision.ops.sigmoid_focal_loss(x, t, alpha, gamma) with from_logits=True "
                "(pass alpha=0.25 for torchvision's default; alpha=None is its alpha=-1); "
                "keras.losses.binary_focal_crossentropy(apply_class_balancing=alpha is not "
                "None) before its mean over the last axis.",
))


# --- categorical (row-wise) ------------------------------------------------------------


def _dense_bounds(prm):
    targets = _labels01("one-hot or probability targets")
    return (targets,) if prm["from_logits"] else (targets, _PROBS)


def _sparse_bounds(prm):
    return () if prm["from_logits"] else (_PROBS,)


def _wsum(prm, n_classes):
    cw = prm["class_weight"]
    return float(n_classes) if cw is None else float(np.sum(cw))


_CW_DOC = ("Non-negative weight per class: an array of shape (C,) (torch's `weight`), "
           "or a dict {class: weight} in which missing classes weigh 1 (scikit-learn); "
           "None weighs every class 1.")
_ROWS_NOTE = ("reduction='none' returns one loss per row (shape y_pred.shape[:-1]); "
              "sample_weight holds one weight per row.")
_LOGITS_NOTE = ("Logits: log-sum-exp with the row maximum, computed once per row and "
                "shared by loss and gradient; logits of +-1e4 are exact, and -inf logits "
                "(masked classes) get probability 0 and gradient 0 (the loss is infinite "
                "only if a masked class carries target weight, e.g. is the target, or any "
                "class with label_smoothing > 0, as in torch).  Probabilities: as Keras, "
                "each row is divided by its sum and clipped to [eps, 1 - eps].")

categorical_crossentropy = register(RowwiseLoss(
    "categorical_crossentropy", aliases=("cce",),
    kernel=lambda prm, n_classes: (("cce_logit", (prm["label_smoothing"],))
                                   if prm["from_logits"] else
                                   ("cce_prob", (prm["label_smoothing"], prm["eps"]))),
    bounds=_dense_bounds,
    domain=lambda prm: ("onehot", "logit" if prm["from_logits"] else "probrows"),
    examples=({"from_logits": True}, {}, {"from_logits": True, "label_smoothing": 0.1},
              {"label_smoothing": 0.2}),
    params=(Param("from_logits", False, V.bool_param, _LOGITS_DOC),
            Param("label_smoothing", 0.0, unit, _LS_DOC),
            Param("class_weight", None, class_weight_param, _CW_DOC),
            Param("eps", EPS, clip_eps, _EPS_DOC)),
    summary="Categorical cross-entropy of one-hot or probability targets.",
    formula="tw_j = cw_j ((1 - ls) t_j + ls / C),  T = sum_j tw_j;\n"
            "logits x: l = -sum_j tw_j log softmax(x)_j,  dl/dx_j = T softmax(x)_j - tw_j,\n"
            "hessian T p_j (1 - p_j);\n"
            "probabilities p: q = p / sum(p), c = clip(q, eps, 1 - eps), l = -sum_j tw_j log c_j.",
    y_true_doc="One-hot or probability rows (n, C), values in [0, 1].",
    y_pred_doc="Probability rows (n, C), or logits with from_logits=True.",
    notes=_ROWS_NOTE + "  " + _LOGITS_NOTE + "  With class_weight the 'mean' divides by "
          "sum(sample_weight) (torch's rule for probability targets), not by the class "
          "weights of the targets (as sparse_categorical_crossentropy does).  A zero "
          "target times a -inf log-probability counts 0 (torch gives NaN).",
    equivalents="torch.nn.functional.cross_entropy(x, t, weight=cw, label_smoothing=ls) "
                "with probability targets t (from_logits=True); "
                "keras.losses.categorical_crossentropy(t, p, from_logits, label_smoothing).",
))

sparse_categorical_crossentropy = register(SparseRowwiseLoss(
    "sparse_categorical_crossentropy", aliases=("scce",),
    kernel=lambda prm, n_classes: (
        ("scce_logit", (prm["label_smoothing"], _wsum(prm, n_classes)))
        if prm["from_logits"] else
        ("scce_prob", (prm["label_smoothing"], _wsum(prm, n_classes), prm["eps"]))),
    bounds=_sparse_bounds,
    # class weights are looked up by label and ignored rows are not counted:
    # the denominator of "mean" then depends on the labels
    data_weights=lambda prm: prm["class_weight"] is not None or prm["ignore_index"] is not None,
    domain=lambda prm: ("int_labels", "logit" if prm["from_logits"] else "probrows"),
    examples=({"from_logits": True}, {}, {"from_logits": True, "label_smoothing": 0.1},
              {"label_smoothing": 0.2}),
    params=(Param("from_logits", False, V.bool_param, _LOGITS_DOC),
            Param("label_smoothing", 0.0, unit, _LS_DOC),
            Param("class_weight", None, class_weight_param, _CW_DOC),
            Param("ignore_index", None, ignore_index_param,
                  "A label value whose rows are skipped: no loss, zero gradient, and not "
                  "counted by reduction='mean' (torch uses -100; None ignores nothing)."),
            Param("eps", EPS, clip_eps, _EPS_DOC)),
    summary="Categorical cross-entropy of integer class labels.",
    formula="tw_j = (1 - ls) cw_y [j == y] + ls / C cw_j,  T = sum_j tw_j;\n"
            "logits x: l = -sum_j tw_j log softmax(x)_j,  dl/dx_j = T softmax(x)_j - tw_j,\n"
            "hessian T p_j (1 - p_j);  mean = sum_i w_i l_i / sum_i w_i cw_{y_i} over rows "
            "whose label is not ignore_index.",
    y_true_doc="Integer class labels in [0, C), shape y_pred.shape[:-1] (integral floats "
               "and a trailing axis of length 1 are accepted).",
    y_pred_doc="Probability rows (n, C), or logits with from_logits=True.",
    notes=_ROWS_NOTE + "  " + _LOGITS_NOTE + "  Labels outside [0, C) raise ValueError "
          "(they are checked before any score is read).",
    equivalents="torch.nn.functional.cross_entropy(x, y, weight=cw, ignore_index=ii, "
                "label_smoothing=ls) (from_logits=True, the same 'mean' rule); "
                "keras.losses.sparse_categorical_crossentropy(y, p, from_logits).",
))


categorical_hinge = register(RowwiseLoss(
    "categorical_hinge", kernel=lambda prm, n_classes: ("cat_hinge", ()),
    bounds=lambda prm: (_labels01("one-hot targets"),),
    hessian=False, domain=("onehot", "real"),
    summary="Categorical hinge loss (Keras).",
    formula="pos = sum_j t_j x_j,  neg = max_j (1 - t_j) x_j;  l = max(0, 1 + neg - pos);\n"
            "where l > 0: dl/dx_j = -t_j + (1 - t_k) [j == k], k the (first) index of neg.",
    y_true_doc="One-hot rows (n, C).",
    y_pred_doc="Real scores (n, C).",
    notes=_ROWS_NOTE + "  As in Keras the target class enters neg as 0 (not excluded), "
          "so neg >= 0.",
    equivalents="keras.losses.categorical_hinge.",
))


def _kld_bounds(prm):
    targets = V.Bound("y_true", 0.0, 1.0, why=" (probability rows)")
    if prm["log_input"]:
        return (targets,)
    return (targets, V.Bound("y_pred", 0.0, 1.0, why=" (probability rows; pass "
                                                      "log_input=True for log-probabilities)"))


kl_divergence = register(RowwiseLoss(
    "kl_divergence", aliases=("kld", "kullback_leibler_divergence"),
    kernel=lambda prm, n_classes: (("kld_log", ()) if prm["log_input"]
                                   else ("kld", (prm["eps"],))),
    bounds=_kld_bounds,
    domain=lambda prm: ("probrows", "real" if prm["log_input"] else "probrows"),
    examples=({}, {"log_input": True}),
    params=(Param("log_input", False, V.bool_param,
                  "If True, y_pred holds log-probabilities (torch.nn.functional.kl_div's "
                  "input)."),
            Param("eps", EPS, clip_eps,
                  "y_pred probabilities are clipped below at eps inside the log (Keras)."),),
    summary="Kullback-Leibler divergence KL(y_true || y_pred) per row.",
    formula="l = sum_j t_j (log t_j - log max(p_j, eps))  (0 log 0 = 0),  "
            "dl/dp_j = -t_j / p_j, hessian t_j / p_j^2 (0 where p_j <= eps);\n"
            "log_input: l = sum_j t_j (log t_j - x_j),  dl/dx_j = -t_j,  hessian 0.",
    y_true_doc="Probability rows (n, C).",
    y_pred_doc="Probability rows (n, C), or log-probabilities with log_input=True.",
    notes=_ROWS_NOTE + "  Keras also clips y_true to [eps, 1], which adds about "
          "eps log(eps / p) per zero target; here zero targets contribute exactly 0.",
    equivalents="torch.nn.functional.kl_div(x, t, reduction='batchmean') equals "
                "reduction='mean' with log_input=True; keras.losses.kl_divergence.",
))


def _cfocal_kernel(prm, n_classes):
    al = 1.0 if prm["alpha"] is None else prm["alpha"]
    if prm["from_logits"]:
        return "cfocal_logit", (prm["gamma"], al)
    return "cfocal_prob", (prm["gamma"], al, prm["eps"])


categorical_focal_crossentropy = register(RowwiseLoss(
    "categorical_focal_crossentropy", kernel=_cfocal_kernel, bounds=_dense_bounds,
    hessian=False,
    domain=lambda prm: ("onehot", "logit" if prm["from_logits"] else "probrows"),
    examples=({"from_logits": True}, {}, {"from_logits": True, "gamma": 0.5, "alpha": 0.25},
              {"alpha": 0.25}),
    params=(_GAMMA,
            Param("alpha", None, optional_unit,
                  "None (1) or a float in [0, 1] scaling the loss (Keras's alpha; its "
                  "default is 0.25)."),
            Param("from_logits", False, V.bool_param, _LOGITS_DOC),
            Param("eps", EPS, clip_eps, _EPS_DOC)),
    summary="Categorical focal cross-entropy (Keras).",
    formula="l = -sum_j alpha t_j (1 - p_j)^gamma log p_j,  p = softmax(x) for logits, "
            "else the row normalised and clipped to [eps, 1 - eps].",
    y_true_doc="One-hot or probability rows (n, C).",
    y_pred_doc="Probability rows (n, C), or logits with from_logits=True.",
    notes=_ROWS_NOTE + "  With logits, log p_j and 1 - p_j = -expm1(log p_j) come from "
          "the logits (the log-sum-exp leaves out one maximal term so it is not rounded "
          "against 1): accurate where p_j rounds to 1.",
    equivalents="keras.losses.categorical_focal_crossentropy(t, p, alpha, gamma, "
                "from_logits).",
))
