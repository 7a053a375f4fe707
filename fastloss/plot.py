"""Pictures of the losses: each loss and its gradient along one variable.

`python -m fastloss plot [NAME ...]` (or `fastloss.plot.draw(...)`) draws
every registered loss (or the ones named) as curves of the loss and of its
derivative against the variable that tells losses apart (the residual of a
regression, the margin of a classifier, the distance between embeddings, the
offset of a box, ...), one figure per family, written as PNG and SVG.  Needs
matplotlib (`pip install "fastloss[plot]"`).

The curves are computed by the losses themselves (`reduction="none"`, so one
unit per point) and the derivative is the loss's own gradient projected on
the direction the inputs move in as the variable grows (for a residual, the
gradient with respect to y_pred).  A loss whose units interact (a softmax
over the batch) or whose value depends on a whole sequence has no such curve;
`views()` says which losses are left out and why.
"""

import math
import os
import sys
from typing import NamedTuple

import numpy as np

from fastloss._core.registry import LOSSES, get

__all__ = ["Curve", "views", "curve_values", "draw", "main"]

N_POINTS = 401


class View(NamedTuple):
    """How to draw a loss along one variable: the family figure and row it
    goes to (its x-axis label), the x values, and build(x) -> (inputs, tangents):
    the loss's inputs for one unit per x value, and d input / dx for each
    input in `wrt` (None for an input that does not move)."""

    family: str
    xlabel: str
    x: np.ndarray
    build: object


class Curve(NamedTuple):
    """One curve: a loss, its keywords, the label in the legend, its view."""

    loss: object
    params: dict
    label: str
    view: View

    @property
    def name(self):
        return self.loss.name


# -- views of the (y_true, y_pred) losses, from their value domains --------------------

FAMILY_TITLES = {
    "regression": "Regression: robustness to large residuals",
    "counts": "Counts and positive targets",
    "binary": "Binary classification: margins",
    "categorical": "Multi-class classification",
    "embedding": "Embeddings and ranking",
    "segmentation": "Segmentation (overlap losses)",
    "detection": "Detection (box losses)",
    "generative": "Generative models",
}


def _pair(y, p, tangent=1.0):
    return (y, p), (np.broadcast_to(np.asarray(tangent, float), np.shape(p)),)


def _residual_view():
    x = np.linspace(-3, 3, N_POINTS)
    return View("regression", "residual  y_pred - y_true", x,
                lambda x: _pair(np.zeros_like(x), x))


def _positive_view():
    x = np.linspace(0.3, 8, N_POINTS)
    return View("counts", "prediction (target 3)", x, lambda x: _pair(np.full_like(x, 3.0), x))


def _margin_view():
    """Binary losses of a score: the margin y*s of the score s for the label
    y = +1 (labels in {-1, 1}) or 1 (labels in {0, 1})."""
    x = np.linspace(-4, 4, N_POINTS)
    return View("binary", "margin  (score of the true class; > 0 is correct)", x,
                lambda x: _pair(np.ones_like(x), x))


def _probability_view():
    x = np.linspace(0.005, 0.995, N_POINTS)
    return View("binary", "predicted probability of the true class", x,
                lambda x: _pair(np.ones_like(x), x))


def _rows(x, sparse, C=3):
    # true class 0 scored x, the other classes 0
    p = np.zeros((x.size, C))
    p[:, 0] = x
    t = np.zeros((x.size, C))
    t[:, 0] = 1
    tangent = np.zeros((x.size, C))
    tangent[:, 0] = 1
    y = np.zeros(x.size, dtype=np.int64) if sparse else t
    return (y, p), (tangent,)


def _class_logit_view(sparse):
    x = np.linspace(-4, 6, N_POINTS)
    return View("categorical", "logit of the true class (3 classes, the others 0)", x,
                lambda x: _rows(x, sparse))


def _pair_view(loss, params):
    """The view of a (y_true, y_pred) loss from its value domain, or None."""
    if loss._sampler is not None or len(loss.inputs) != 2 or len(loss.wrt) != 1:
        return None
    y_kind, p_kind = loss.domain(**params)
    if loss.kind == "rowwise" or loss.unit == "row":
        if p_kind in ("logit", "real") and y_kind in ("onehot", "int_labels"):
            return _class_logit_view(y_kind == "int_labels")
        return None
    if loss.unit != "element":
        return None
    if y_kind == "real" and p_kind == "real":
        return _residual_view()
    if y_kind in ("count", "positive") and p_kind == "positive":
        return _positive_view()
    if y_kind in ("label01", "softlabel", "pm1"):
        if p_kind in ("logit", "real"):
            return _margin_view()
        if p_kind == "prob":
            return _probability_view()
    return None


# -- views of the losses of several inputs (by their inputs' meaning) ---------------------

def _angle_pair(x):
    a = np.stack([np.ones_like(x), np.zeros_like(x)], axis=1)
    b = np.stack([np.cos(x), np.sin(x)], axis=1)
    db = np.stack([-np.sin(x), np.cos(x)], axis=1)
    return a, b, db


def _cosine(x):
    a, b, db = _angle_pair(x)
    return (a, b), (db,)


def _cosine_embedding(sign):
    def build(x):
        a, b, db = _angle_pair(x)
        return (a, b, np.full(x.size, sign)), (None, db)
    return build


def _embedding_distance(similar):
    def build(x):
        a = np.zeros((x.size, 2))
        b = np.stack([x, np.zeros_like(x)], axis=1)
        db = np.stack([np.ones_like(x), np.zeros_like(x)], axis=1)
        return (a, b, np.full(x.size, similar)), (None, db)
    return build


def _distance(similar):
    return lambda x: ((np.full(x.size, similar), x), (np.ones_like(x),))


def _triplet(x):
    # anchor at 0, positive at distance 1, negative at distance 1 + x
    z = np.zeros((x.size, 2))
    pos = z + [1.0, 0.0]
    neg = np.stack([1.0 + x, np.zeros_like(x)], axis=1)
    dneg = np.stack([np.ones_like(x), np.zeros_like(x)], axis=1)
    return (z, pos, neg), (None, None, dneg)


def _ranking(x):
    return (x, np.zeros_like(x), np.ones_like(x)), (np.ones_like(x), None)


def _overlap(x, pixels=16):
    # one sample per x: half the pixels are foreground; the prediction is x
    # on the foreground and 0 on the background
    t = np.zeros((x.size, pixels))
    t[:, : pixels // 2] = 1
    return (t, t * x[:, None]), (t.copy(),)


def _box_offset(x):
    target = np.tile([0.0, 0.0, 1.0, 1.0], (x.size, 1))
    pred = target + np.stack([x, np.zeros_like(x), x, np.zeros_like(x)], axis=1)
    tangent = np.tile([1.0, 0.0, 1.0, 0.0], (x.size, 1))
    return (target, pred), (tangent,)


def _gan_generator(x):
    return (x,), (np.ones_like(x),)


def _kl_mu(x):
    return (x[:, None], np.zeros((x.size, 1))), (np.ones((x.size, 1)), np.zeros((x.size, 1)))


def _kl_logvar(x):
    return (np.zeros((x.size, 1)), x[:, None]), (np.zeros((x.size, 1)), np.ones((x.size, 1)))


def _lin(a, b):
    return np.linspace(a, b, N_POINTS)


_ANGLE = "angle between the vectors (radians)"
_EMB_D = "distance between the embeddings"
#: name -> [(label suffix, keywords, View)] for losses whose inputs a domain
#: does not describe.  Entries for losses not registered are skipped.
MULTI = {
    "cosine_similarity": [("", {}, View("embedding", _ANGLE, _lin(0, math.pi), _cosine))],
    "cosine_embedding": [
        (" (y = 1)", {}, View("embedding", _ANGLE, _lin(0, math.pi), _cosine_embedding(1.0))),
        (" (y = -1)", {}, View("embedding", _ANGLE, _lin(0, math.pi),
                               _cosine_embedding(-1.0)))],
    "contrastive": [
        (" (similar)", {}, View("embedding", _EMB_D, _lin(0, 2.5), _distance(1.0))),
        (" (dissimilar)", {}, View("embedding", _EMB_D, _lin(0, 2.5), _distance(0.0)))],
    "contrastive_embedding": [
        (" (similar)", {}, View("embedding", _EMB_D, _lin(0.01, 2.5),
                                _embedding_distance(1.0))),
        (" (dissimilar)", {}, View("embedding", _EMB_D, _lin(0.01, 2.5),
                                   _embedding_distance(0.0)))],
    "triplet": [("", {}, View("embedding", "d(anchor, negative) - d(anchor, positive)",
                              _lin(-0.95, 2.5), _triplet))],
    "margin_ranking": [(" (margin 0.5)", {"margin": 0.5},
                        View("embedding", "x1 - x2 (x1 should rank higher)", _lin(-3, 3),
                             _ranking))],
    "dice": [("", {}, View("segmentation", "predicted probability on the foreground "
                           "(background 0)", _lin(0, 1), _overlap))],
    "jaccard": [("", {}, View("segmentation", "predicted probability on the foreground "
                              "(background 0)", _lin(0, 1), _overlap))],
    "tversky": [(" (alpha 0.3, beta 0.7)", {"alpha": 0.3, "beta": 0.7},
                 View("segmentation", "predicted probability on the foreground "
                      "(background 0)", _lin(0, 1), _overlap))],
    **{name: [("", {}, View("detection", "horizontal offset of a unit box from its target",
                            _lin(-2.5, 2.5), _box_offset))]
       for name in ("box_iou", "box_giou", "box_diou", "box_ciou")},
    "gan_generator": [(f" ({k})", {"kind": k}, View("generative", "discriminator logit of a "
                                                   "fake sample", _lin(-5, 5), _gan_generator))
                      for k in ("non_saturating", "minimax", "hinge", "least_squares")],
    "gaussian_kl": [
        (" vs mu (logvar 0)", {}, View("generative", "mu, or logvar (the other 0)",
                                       _lin(-3, 3), _kl_mu)),
        (" vs logvar (mu 0)", {}, View("generative", "mu, or logvar (the other 0)",
                                       _lin(-3, 3), _kl_logvar))],
}

#: Keyword sets drawn for the built-in (y_true, y_pred) losses (default: the
#: first example that has a view).
PICKS = {
    "huber": [{"delta": 1.0}],
    "quantile": [{"quantile": 0.5}, {"quantile": 0.9}],
    "binary_crossentropy": [{"from_logits": True}],
    "binary_focal_crossentropy": [{"from_logits": True, "gamma": 2.0},
                                  {"from_logits": True, "gamma": 5.0}],
    "categorical_crossentropy": [{"from_logits": True},
                                 {"from_logits": True, "label_smoothing": 0.1}],
    "categorical_focal_crossentropy": [{"from_logits": True, "gamma": 2.0}],
    "asymmetric_squared": [{"under": 2.0, "over": 0.5}],
    "poisson": [{}],
}

#: Losses drawn nowhere, and why.
LEFT_OUT = {
    "sparse_categorical_crossentropy": "the same curve as categorical_crossentropy "
                                       "(integer labels instead of one-hot rows)",
    "kl_divergence": "with a one-hot target it is categorical_crossentropy; its other "
                     "targets have no one-variable picture",
    "info_nce": "each row's loss is a softmax over the whole batch (its units interact): "
                "no curve of one input describes it",
    "nt_xent": "each row's loss is a softmax over the whole batch (its units interact): "
               "no curve of one input describes it",
    "ctc": "its value sums over every alignment of a label sequence with a (T, C) score "
           "matrix: no one-variable curve describes it",
    "gan_discriminator": "its real term is gan_generator's non-saturating curve of the real "
                         "logit and its fake term the same curve mirrored",
    "reconstruction": "per-sample sums of mse, mae or binary_crossentropy: the curves of "
                      "those losses",
}


def _label(name, params, suffix=""):
    shown = {k: v for k, v in params.items() if k != "from_logits"}
    keys = ", ".join(f"{k}={v}" for k, v in shown.items())
    return name + (f" ({keys})" if keys else "") + suffix


def views(names=None):
    """(curves, left_out): the curves to draw for the losses named (default:
    every registered loss; names, aliases or loss objects) and a dict
    {name: why} of the losses that have none."""
    losses = ([get(n) if isinstance(n, str) else n for n in names] if names
              else [LOSSES[n] for n in sorted(LOSSES)])
    curves, left = [], {}
    for loss in losses:
        name = loss.name
        if name in MULTI:
            curves += [Curve(loss, dict(prm), name + suffix, view)
                       for suffix, prm, view in MULTI[name]]
            continue
        if name in LEFT_OUT:
            left[name] = LEFT_OUT[name]
            continue
        picks = PICKS.get(name) or [e for e in loss.examples if _pair_view(loss, e)][:1]
        found = [(p, _pair_view(loss, p)) for p in picks]
        found = [(p, v) for p, v in found if v is not None]
        if not found:
            left[name] = ("its units interact (a softmax over the batch)"
                          if not loss.unit_local else "no one-variable view of its inputs")
        for p, v in found:
            curves.append(Curve(loss, dict(p), _label(name, p), v))
    return curves, left


def curve_values(curve):
    """(x, loss, slope): the loss of each unit along the curve's variable and
    its derivative along it (the loss's gradient projected on the direction
    its inputs move in)."""
    x = curve.view.x
    inputs, tangents = curve.view.build(x)
    value, grad = curve.loss.loss_grad(*inputs, reduction="none", **curve.params)
    grads = grad if isinstance(grad, tuple) else (grad,)
    slope = np.zeros(x.size)
    for g, t in zip(grads, tangents, strict=True):
        if t is not None:
            slope += np.sum((np.asarray(g) * t).reshape(x.size, -1), axis=1)
    return x, np.asarray(value, dtype=float).reshape(x.size), slope


# -- drawing --------------------------------------------------------------------------

def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('fastloss.plot needs matplotlib, which is not installed: '
                          'pip install "fastloss[plot]" (or pip install matplotlib)') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(family, curves):
    """A matplotlib Figure of one family: a row per x variable, the loss on
    the left and its derivative on the right."""
    plt = _pyplot()
    rows = list(dict.fromkeys(c.view.xlabel for c in curves))
    fig, axes = plt.subplots(len(rows), 2, figsize=(10, 3.4 * len(rows) + 0.6), squeeze=False)
    for r, xlabel in enumerate(rows):
        ax_l, ax_g = axes[r]
        drawn = ([], [])
        for c in (c for c in curves if c.view.xlabel == xlabel):
            x, v, s = curve_values(c)
            (line,) = ax_l.plot(x, v, label=c.label, lw=1.6)
            ax_g.plot(x, s, color=line.get_color(), lw=1.6)
            drawn[0].append(v)
            drawn[1].append(s)
        _robust_limits(ax_l, drawn[0])
        _robust_limits(ax_g, drawn[1])
        for ax, what in ((ax_l, "loss"), (ax_g, "derivative of the loss")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(what)
            ax.axhline(0, color="0.6", lw=0.6)
            ax.axvline(0, color="0.6", lw=0.6)
            ax.grid(alpha=0.25)
        ax_l.legend(fontsize=8)
    fig.suptitle(FAMILY_TITLES.get(family, family))
    fig.tight_layout()
    return fig


def _robust_limits(ax, ys):
    """Keep one steep curve (squared error, squared hinge) from flattening
    the others: limit the axis to 2.5x the typical curve's extent."""
    if len(ys) < 3:
        return
    hi = np.array([np.nanmax(y) for y in ys])
    lo = np.array([np.nanmin(y) for y in ys])
    top, bottom = hi.max(), lo.min()
    cap_hi, cap_lo = 2.5 * np.median(np.maximum(hi, 0)), 2.5 * np.median(np.minimum(lo, 0))
    if top > cap_hi > 0 or bottom < cap_lo < 0:
        pad = 0.05 * (min(top, cap_hi or top) - max(bottom, cap_lo or bottom))
        ax.set_ylim(max(bottom, cap_lo or bottom) - pad, min(top, cap_hi or top) + pad)


def draw(names=None, out_dir=".", formats=("png", "svg"), dpi=110):
    """Write one figure per family (out_dir/losses_<family>.<format>);
    returns (paths written, {left-out name: why})."""
    plt = _pyplot()
    curves, left = views(names)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    # SVG with fixed element ids and no date, so that redrawing changes nothing
    with plt.rc_context({"svg.hashsalt": "fastloss"}):
        for family in dict.fromkeys(c.view.family for c in curves):
            fig = figure(family, [c for c in curves if c.view.family == family])
            for fmt in formats:
                path = os.path.join(out_dir, f"losses_{family}.{fmt}")
                fig.savefig(path, dpi=dpi, metadata={"Date": None} if fmt == "svg" else {})
                paths.append(path)
            plt.close(fig)
    return paths, left


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m fastloss plot",
        description="Draw each loss and its derivative against its residual, margin, "
                    "distance, ... (one figure per family; needs matplotlib).")
    ap.add_argument("names", nargs="*", help="losses to draw (default: every loss)")
    ap.add_argument("--out", default=".", help="directory for the figures (default: .)")
    ap.add_argument("--format", default="png,svg", help="comma list of png, svg, pdf")
    ap.add_argument("--dpi", type=int, default=110)
    ap.add_argument("--list", action="store_true",
                    help="only list the curves and the losses left out")
    args = ap.parse_args(argv)
    try:
        if args.list:
            curves, left = views(args.names or None)
            for c in curves:
                print(f"{c.view.family:13s} {c.label}")
        else:
            paths, left = draw(args.names or None, args.out,
                               [f for f in args.format.split(",") if f], args.dpi)
            for p in paths:
                print(f"wrote {p}")
    except (ImportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, why in left.items():
        print(f"left out {name}: {why}")
    return 0
