"""NumPy references of the box losses: per box (loss, dl/dy_pred).

The boxes are turned into corners (x1, y1, x2, y2) as torchvision does, the
loss is computed the way torchvision writes it, and the gradient comes from
a reverse pass written out by hand: the adjoint (d loss / d quantity) of
every intermediate, from the loss back to the corners and then to the four
numbers of the box format.  max and min split their gradient half and half
at ties, as torch's do; the intersection passes gradient only where both of
its extents are positive.  (The kernels use closed-form coefficients of
their own; these are the independent check.)
"""

import numpy as np

#: 4 / pi^2, the scale of CIoU's aspect term
_V_SCALE = 4 / np.pi**2


def _corners(b, box_format):
    """(x1, y1, x2, y2) of boxes in a format."""
    a, b_, c, d = (b[..., i] for i in range(4))
    if box_format == "xyxy":
        return a, b_, c, d
    if box_format == "xywh":
        return a, b_, a + c, b_ + d
    return a - 0.5 * c, b_ - 0.5 * d, a + 0.5 * c, b_ + 0.5 * d  # cxcywh


def _to_format(g_x1, g_y1, g_x2, g_y2, box_format):
    """Gradients w.r.t. the corners -> w.r.t. the four numbers of the format
    (the chain rule through _corners)."""
    if box_format == "xyxy":
        cols = (g_x1, g_y1, g_x2, g_y2)
    elif box_format == "xywh":
        cols = (g_x1 + g_x2, g_y1 + g_y2, g_x2, g_y2)
    else:
        cols = (g_x1 + g_x2, g_y1 + g_y2, 0.5 * (g_x2 - g_x1), 0.5 * (g_y2 - g_y1))
    return np.stack(cols, axis=-1)


def _d_max(a, b):
    """d max(a, b) / da: 1 where a > b, 0 where a < b, 1/2 at a tie."""
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def _aspect_angle_difference(w, h, W, H):
    """atan(W/H) - atan(w/h), with atan(x/0) = pi/2, and 0 when either box
    has zero width and zero height (it has no aspect ratio)."""
    point = ((w == 0) & (h == 0)) | ((W == 0) & (H == 0))
    return np.where(point, 0.0, np.arctan2(W, H) - np.arctan2(w, h))


def _box_loss(kind, y_true, y_pred, box_format, eps, alpha=None):
    x1, y1, x2, y2 = _corners(y_pred, box_format)
    X1, Y1, X2, Y2 = _corners(y_true, box_format)
    w, h, W, H = x2 - x1, y2 - y1, X2 - X1, Y2 - Y1

    # -- forward, as torchvision writes it ---------------------------------------------
    ix1, iy1 = np.maximum(x1, X1), np.maximum(y1, Y1)
    ix2, iy2 = np.minimum(x2, X2), np.minimum(y2, Y2)
    iw, ih = ix2 - ix1, iy2 - iy1
    inside = (iw > 0) & (ih > 0)
    inter = np.where(inside, iw * ih, 0.0)
    union = w * h + W * H - inter
    iou = inter / (union + eps)
    loss = 1 - iou
    # adjoints of the intermediates, filled in as the terms are added
    d_iou = -np.ones_like(loss)
    d_union = np.zeros_like(loss)
    d_w, d_h = np.zeros_like(loss), np.zeros_like(loss)
    d_cw, d_ch = np.zeros_like(loss), np.zeros_like(loss)
    d_mx, d_my = np.zeros_like(loss), np.zeros_like(loss)   # centre of y_pred
    if kind != "iou":
        cw = np.maximum(x2, X2) - np.minimum(x1, X1)
        ch = np.maximum(y2, Y2) - np.minimum(y1, Y1)
    if kind == "giou":
        area_c = cw * ch
        loss = loss + (area_c - union) / (area_c + eps)
        d_area_c = (union + eps) / (area_c + eps) ** 2
        d_union = d_union - 1 / (area_c + eps)
        d_cw, d_ch = d_area_c * ch, d_area_c * cw
    if kind in ("diou", "ciou"):
        diag = cw**2 + ch**2 + eps
        dx = (x1 + x2) / 2 - (X1 + X2) / 2
        dy = (y1 + y2) / 2 - (Y1 + Y2) / 2
        dist = dx**2 + dy**2
        loss = loss + dist / diag
        d_diag = -dist / diag**2
        d_cw, d_ch = d_diag * 2 * cw, d_diag * 2 * ch
        d_mx, d_my = 2 * dx / diag, 2 * dy / diag
    if kind == "ciou":
        theta = _aspect_angle_difference(w, h, W, H)
        v = _V_SCALE * theta**2
        if alpha is None:
            alpha = v / (1 - iou + v + eps)     # a constant in the gradient
        loss = loss + alpha * v
        # d theta / dw = -h / (w^2 + h^2), d theta / dh = w / (w^2 + h^2)
        r2 = w**2 + h**2
        with np.errstate(divide="ignore", invalid="ignore"):
            d_theta = np.where(r2 == 0, 0.0, alpha * _V_SCALE * 2 * theta / r2)
        d_w, d_h = d_w - d_theta * h, d_h + d_theta * w

    # -- reverse pass -----------------------------------------------------------------
    # iou = inter / (union + eps)
    d_inter = d_iou / (union + eps)
    d_union = d_union - d_iou * inter / (union + eps) ** 2
    # union = w h + W H - inter
    d_w, d_h = d_w + d_union * h, d_h + d_union * w
    d_inter = d_inter - d_union
    # inter = iw ih where both are positive
    d_iw = np.where(inside, d_inter * ih, 0.0)
    d_ih = np.where(inside, d_inter * iw, 0.0)
    # corners: through the intersection (ix1 = max(x1, X1), ix2 = min(x2, X2)),
    # the enclosing box (min(x1, X1), max(x2, X2)), the size and the centre
    g_x1 = -d_iw * _d_max(x1, X1) - d_cw * _d_max(-x1, -X1) - d_w + d_mx / 2
    g_x2 = d_iw * _d_max(-x2, -X2) + d_cw * _d_max(x2, X2) + d_w + d_mx / 2
    g_y1 = -d_ih * _d_max(y1, Y1) - d_ch * _d_max(-y1, -Y1) - d_h + d_my / 2
    g_y2 = d_ih * _d_max(-y2, -Y2) + d_ch * _d_max(y2, Y2) + d_h + d_my / 2
    return loss, _to_format(g_x1, g_y1, g_x2, g_y2, box_format)


def box_iou(y_true, y_pred, box_format="xyxy", eps=1e-7):
    return _box_loss("iou", y_true, y_pred, box_format, eps)


def box_giou(y_true, y_pred, box_format="xyxy", eps=1e-7):
    return _box_loss("giou", y_true, y_pred, box_format, eps)


def box_diou(y_true, y_pred, box_format="xyxy", eps=1e-7):
    return _box_loss("diou", y_true, y_pred, box_format, eps)


def box_ciou(y_true, y_pred, box_format="xyxy", eps=1e-7, alpha=None):
    """alpha: None (computed per box), or the per-box values to hold it at
    (the finite-difference tests differentiate the loss with alpha fixed)."""
    return _box_loss("ciou", y_true, y_pred, box_format, eps, alpha)


def _ciou_alpha(y_true, y_pred, box_format="xyxy", eps=1e-7):
    """CIoU's alpha = v / (1 - IoU + v + eps) per box."""
    x1, y1, x2, y2 = _corners(y_pred, box_format)
    X1, Y1, X2, Y2 = _corners(y_true, box_format)
    iou = 1 - box_iou(y_true, y_pred, box_format, eps)[0]
    v = _V_SCALE * _aspect_angle_difference(x2 - x1, y2 - y1, X2 - X1, Y2 - Y1) ** 2
    return v / (1 - iou + v + eps)


def _ciou_surrogate(inputs, params):
    """CIoU with alpha held at its value for `inputs`: what its gradient
    differentiates (see fastloss.reference.SURROGATES)."""
    from fastloss import reference

    y_true, y_pred = (np.asarray(a, np.float64) for a in inputs)
    alpha = _ciou_alpha(y_true, y_pred, **params)

    def value(*args, sample_weight=None, reduction="mean"):
        return reference.loss_grad("box_ciou", *args, sample_weight=sample_weight,
                                   reduction=reduction, alpha=alpha, **params)[0]

    return value


SURROGATES = {"box_ciou": _ciou_surrogate}
