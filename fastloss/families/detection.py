"""Box-regression losses: IoU, GIoU, DIoU and CIoU of pairs of boxes.

Unit: a box.  y_true and y_pred hold boxes of four numbers on their last
axis, shape (n, 4) or (..., 4), paired element by element; the loss of each
pair and its gradient w.r.t. the predicted box come from one fused pass
(fastloss/_kernels/_boxes.pyx.tp), in the box format given.
"""

import math

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loss import Input, Loss, Param, outputs, result, value
from fastloss._core.registry import register

#: The box formats, with torchvision's names (torchvision.ops.box_convert).
FORMATS = {
    "xyxy": "corners (x1, y1, x2, y2)",
    "xywh": "top-left corner and size (x1, y1, w, h)",
    "cxcywh": "centre and size (cx, cy, w, h); Ultralytics calls this xywh",
}


def box_format_param(value, name):
    """One of FORMATS (case-insensitive)."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in FORMATS:
        hint = ""
        if key in ("center_xywh", "cxcy", "ccwh"):
            hint = " (centre and size is 'cxcywh')"
        elif key in ("yxyx", "center_yxhw"):
            hint = " (swap the coordinates to x first)"
        raise ValueError(f"{name} must be one of {', '.join(map(repr, FORMATS))}; got "
                         f"{value!r}{hint}")
    return key


class BoxLoss(Loss):
    """A loss of pairs of boxes: y_true and y_pred of one shape (..., 4).

    `kernel` names the box kernel of fastloss/_kernels/_boxes.pyx.tp;
    `reduction="none"` returns one loss per box, shape y_pred.shape[:-1], and
    sample_weight holds one weight per box.  Boxes of negative width or
    height are rejected (they would have a negative area).
    """

    kind = "box"
    unit = "box"
    SHAPES = {"test": [(37, 4), (3, 5, 4)], "fd": (6, 4), "empty": (0, 4),
              "threads": (20_000, 4), "leak": (2048, 4), "simd": [(1031, 4), (3, 7, 4)],
              "peers": (1000, 4),
              "small": (16, 4), "minibatch": (512, 4), "large": (1_000_000, 4)}

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        yname, pname = self.inputs
        yt = V.as_numeric(arrays[0], yname)
        yp = V.as_numeric(arrays[1], pname)
        if yp.ndim == 0 or yp.shape[-1] != 4:
            raise ValueError(f"{pname} must hold boxes of 4 numbers on its last axis, shape "
                             f"(n, 4) or (..., 4); got shape {yp.shape}")
        V.check_same_shape(yt, yp, f"{yname} and {pname}")
        dtype = V.float_dtype(yt, yp)
        units = yp.shape[:-1]
        y = V.contiguous(yt, dtype)
        p = V.contiguous(yp, dtype)
        w, total = V.unit_weights(sample_weight, units, dtype, reduction)
        fmt = prm["box_format"]
        K = dispatch.kernels("_boxes")
        lo = np.empty(units, dtype) if reduction == "none" else None
        grads, _ = outputs(out, mode, self, (yp.shape,), dtype,
                           arrays + (sample_weight, y, p, w))
        if out is not None:
            # a call that fails must not write into the caller's buffer
            for name, a in ((yname, y), (pname, p)):
                if K.count_degenerate(a, K.FORMAT_IDS[fmt]):
                    _degenerate(name, a, yp.shape, fmt)
        g = None if grads is None else grads[0]
        mean = reduction == "mean"
        s, bad = K.run(K.KERNEL_IDS[self._kernel], K.FORMAT_IDS[fmt], mode, y, p, w,
                       prm["eps"], None if lo is None else lo.reshape(-1),
                       None if g is None else g.reshape(-1),
                       1.0 / total if mean and total > 0 else 1.0,
                       config.threads_for(p.size))
        if bad:
            for name, a in ((yname, y), (pname, p)):
                _degenerate(name, a, yp.shape, fmt)
        return result(mode, self, value(s, total, mean, dtype, lo), grads, None)


def _degenerate(name, a, shape, fmt):
    """Raise ValueError naming the first box of `a` (contiguous, of `shape`)
    with a negative width or height, if there is one."""
    b = a.reshape(-1, 4)
    if fmt == "xyxy":
        bad, what = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]), "x2 < x1 or y2 < y1"
    else:
        bad, what = (b[:, 2] < 0) | (b[:, 3] < 0), "a negative width or height"
    idx = np.flatnonzero(bad)
    if idx.size == 0:
        return
    i = int(idx[0])
    where = tuple(int(j) for j in np.unravel_index(i, shape[:-1]))
    where = where[0] if len(where) == 1 else where
    raise ValueError(
        f"{name} has {idx.size} degenerate box{'es' if idx.size > 1 else ''} ({what}); "
        f"the first is {name}[{where}] = {b[i].tolist()} in box_format={fmt!r}. Boxes "
        "need a width and height >= 0 (a negative one would give a negative area); "
        + ("if these are (x, y, w, h) boxes pass box_format='xywh', or 'cxcywh' for "
           "(centre, size)" if fmt == "xyxy" else
           "predict sizes through a non-negative map (exp, softplus) or clamp them"))


def sample_boxes(rng, shape, dtype, prm):
    """(y_true, y_pred) of `shape` (..., 4) in prm["box_format"]: true boxes
    with centres in [0, 100]^2 and sides in [4, 40]; half of the predictions
    overlap their target (centre off by at most 0.3 of the smaller side, each
    side within a factor e^0.4), the other half are disjoint from it (apart
    by at least 1 along x or y).  No corner of a prediction lies within 0.01
    of its target's, so no test sits on a tie or a kink (finite differences
    step far less)."""
    units = tuple(shape[:-1])
    n = math.prod(units)
    centre = rng.uniform(0, 100, (n, 2))
    size = rng.uniform(4, 40, (n, 2))
    p_size = size * np.exp(rng.uniform(-0.4, 0.4, (n, 2)))
    p_centre = centre + rng.uniform(-0.3, 0.3, (n, 2)) * np.minimum(size, p_size)
    apart = np.arange(n) % 2 == 1
    axis = rng.integers(0, 2, n)
    gap = (size + p_size)[np.arange(n), axis] / 2 + rng.uniform(1, 20, n)
    p_centre[apart, axis[apart]] = (centre[apart, axis[apart]]
                                    + rng.choice([-1, 1], apart.sum()) * gap[apart])
    t = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    p = np.concatenate([p_centre - p_size / 2, p_centre + p_size / 2], axis=1)
    # keep corners off ties: move a prediction with a near-tie corner by 0.05
    # along that axis (both of its corners, so it keeps its size), until none
    # is left (a move can bring its other corner near)
    for _ in range(100):
        near = np.abs(p - t) < 0.01
        if not near.any():
            break
        shift = np.where(near[:, :2] | near[:, 2:], 0.05, 0.0)
        p = p + np.concatenate([shift, shift], axis=1)
    return tuple(_from_xyxy(b, prm["box_format"]).reshape(units + (4,)).astype(dtype)
                 for b in (t, p))


def _from_xyxy(b, fmt):
    x1, y1, x2, y2 = b.T
    if fmt == "xyxy":
        return b
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


_Y = ("Target boxes, shape (n, 4) or (..., 4), in box_format (integers accepted); "
      "width and height >= 0.")
_P = ("Predicted boxes, the shape of y_true, in the same format; the gradient is "
      "w.r.t. these four numbers.")
_PARAMS = (
    Param("box_format", "xyxy", box_format_param,
          "'xyxy' (x1, y1, x2, y2), 'xywh' (x1, y1, w, h) or 'cxcywh' (cx, cy, w, h: "
          "what Ultralytics calls xywh), torchvision's names; the gradient is w.r.t. "
          "the numbers in this format."),
    Param("eps", 1e-7, V.non_negative,
          "Added to the denominators (union, enclosing area or squared diagonal, "
          "CIoU's alpha), as in torchvision; in squared coordinate units, so with "
          "normalised coordinates (boxes of area ~1e-4) use a smaller one.  0 is "
          "allowed (two zero-area boxes then give NaN)."),
)
_NOTES = """\
Ties (a predicted corner equal to the target's) split the gradient of each
max and min half and half, as torch's autograd does, so results equal
torchvision's there too; identical boxes get a gradient of zero (up to eps
terms).  The intersection passes gradient only where both of its extents are
positive (touching boxes get the disjoint side's gradient), as in
torchvision.  Boxes with a negative width or height (x2 < x1 in 'xyxy', w < 0
otherwise) in either input raise ValueError naming the first one; zero-size
boxes are allowed: a zero-area box overlaps nothing, so two identical
zero-area boxes have IoU 0 (loss 1, as in torchvision).  NaN or inf in a box
gives NaN for that box's loss and gradient only."""
_EQUIV = ("torchvision.ops.{tv}(y_pred, y_true, eps=eps) on xyxy boxes "
          "(box_convert first for the other formats): values and autograd gradients. "
          "{extra}")
_FORMULA_IOU = """\
I = area of the intersection (0 unless both extents are positive),
U = area(y_true) + area(y_pred) - I;  IoU = I / (U + eps)"""


def _box(name, kernel, aliases, summary, formula, tv, extra, notes=_NOTES):
    return register(BoxLoss(
        name, kernel=kernel, aliases=aliases, hessian=False,
        inputs=(Input("y_true", _Y), Input("y_pred", _P)), params=_PARAMS,
        sampler=sample_boxes,
        examples=({}, {"box_format": "xywh"}, {"box_format": "cxcywh"}),
        summary=summary, formula=_FORMULA_IOU + "\n" + formula, notes=notes,
        equivalents=_EQUIV.format(tv=tv, extra=extra) if tv else extra,
    ))


box_iou = _box(
    "box_iou", "iou", ("iou_loss",), "IoU loss of pairs of boxes: 1 - IoU.",
    "l = 1 - IoU", None,
    "torchvision has no IoU loss (1 - box_iou(y_true, y_pred).diagonal() is this "
    "with eps=0); Ultralytics 1 - bbox_iou(y_pred, y_true, xywh=True) on cxcywh "
    "boxes; mmdet IoULoss(mode='linear') clamps the IoU at eps first.")

box_giou = _box(
    "box_giou", "giou", ("giou_loss", "generalized_box_iou_loss"),
    "Generalized IoU loss (Rezatofighi et al., 2019): IoU plus the share of the "
    "smallest enclosing box the union leaves empty.",
    "C = area of the smallest box enclosing both;  l = 1 - IoU + (C - U) / (C + eps)",
    "generalized_box_iou_loss",
    "Ultralytics 1 - bbox_iou(y_pred, y_true, xywh=True, GIoU=True) on cxcywh "
    "boxes; mmdet GIoULoss places its eps slightly differently (default 1e-6).")

box_diou = _box(
    "box_diou", "diou", ("diou_loss", "distance_box_iou_loss"),
    "Distance IoU loss (Zheng et al., 2020): IoU plus the squared distance of the "
    "centres over the squared diagonal of the enclosing box.",
    "rho^2 = squared distance of the two centres, c^2 = squared diagonal of the smallest "
    "enclosing box;\nl = 1 - IoU + rho^2 / (c^2 + eps)",
    "distance_box_iou_loss",
    "Ultralytics 1 - bbox_iou(y_pred, y_true, xywh=True, DIoU=True) on cxcywh "
    "boxes; mmdet DIoULoss (default eps 1e-6).")

box_ciou = _box(
    "box_ciou", "ciou", ("ciou_loss", "complete_box_iou_loss"),
    "Complete IoU loss (Zheng et al., 2020): DIoU plus an aspect-ratio term.",
    "v = 4 / pi^2 (atan(w_t / h_t) - atan(w_p / h_p))^2,  alpha = v / (1 - IoU + v + eps);\n"
    "l = 1 - IoU + rho^2 / (c^2 + eps) + alpha v.  The gradient holds alpha constant "
    "(as torchvision,\nmmdet and Ultralytics do), so it is not the derivative of l "
    "where v > 0.",
    "complete_box_iou_loss",
    "(torchvision applies its eps argument to alpha only, and 1e-7 elsewhere.) "
    "Ultralytics 1 - bbox_iou(y_pred, y_true, xywh=True, CIoU=True) on cxcywh boxes (its xyxy "
    "branch adds eps to the heights); mmdet 3.x CIoULoss weighs v only where IoU > 0.5.",
    notes=_NOTES + """

The aspect angles' difference is computed as one atan, atan((w_t h_p - w_p h_t) /
(h_t h_p + w_t w_p)) (no cancellation), which is defined for boxes of zero
height (atan(w/0) = pi/2, where torchvision's gradient is NaN); a box of zero
width and height has no aspect ratio: v = 0 for it.""")
