"""Peers of the box losses: torchvision's generalized_box_iou_loss,
distance_box_iou_loss and complete_box_iou_loss with autograd (and for the
plain IoU loss, which torchvision lacks, the same composite written with
torch operations), each on xyxy boxes made with torchvision's box_convert
from the format given, as a user of torchvision would: reduction "mean",
gradient w.r.t. y_pred in that format.
"""

#: fastloss name -> torchvision.ops function name
_TORCHVISION = {
    "box_giou": "generalized_box_iou_loss",
    "box_diou": "distance_box_iou_loss",
    "box_ciou": "complete_box_iou_loss",
}


def _iou_loss(torch):
    """1 - I / (U + eps) from torch operations (torchvision's intersection:
    zero unless both extents are positive)."""

    def f(boxes1, boxes2, reduction="mean", eps=1e-7):
        x1, y1, x2, y2 = boxes1.unbind(-1)
        X1, Y1, X2, Y2 = boxes2.unbind(-1)
        iw = torch.minimum(x2, X2) - torch.maximum(x1, X1)
        ih = torch.minimum(y2, Y2) - torch.maximum(y1, Y1)
        inter = torch.where((iw > 0) & (ih > 0), iw * ih, torch.zeros_like(iw))
        union = (x2 - x1) * (y2 - y1) + (X2 - X1) * (Y2 - Y1) - inter
        return (1 - inter / (union + eps)).mean()

    return f


def for_loss(loss, params):
    """{"torchvision": f} (or {"torch": f} for box_iou) where installed."""
    if loss.kind != "box":
        return {}
    try:
        import torch
        import torchvision.ops as tv
    except ImportError:
        return {}
    fmt = params.get("box_format", "xyxy")
    eps = params.get("eps", 1e-7)
    if loss.name == "box_iou":
        fn, key = _iou_loss(torch), "torch"
    elif loss.name in _TORCHVISION:
        if loss.name == "box_ciou" and eps != 1e-7:
            return {}  # torchvision's complete_box_iou_loss uses eps in alpha only
        fn, key = getattr(tv, _TORCHVISION[loss.name]), "torchvision"
    else:
        return {}

    def run(y, p):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        pt = torch.from_numpy(p).requires_grad_(True)
        yt = torch.from_numpy(y.astype(p.dtype, copy=False))
        if fmt != "xyxy":
            pb, yb = tv.box_convert(pt, fmt, "xyxy"), tv.box_convert(yt, fmt, "xyxy")
        else:
            pb, yb = pt, yt
        value = fn(pb.reshape(-1, 4), yb.reshape(-1, 4), reduction="mean", eps=eps)
        value.backward()
        return value.item(), pt.grad.numpy()

    return {key: run}
