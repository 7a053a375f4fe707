"""Peers of the segmentation (overlap) losses: the PyTorch composite a user
writes without a library (as MONAI computes it, batch=False): probabilities
through torch.sigmoid or torch.softmax, per-sample (per-class) sums, the
ratio, the class average, the batch mean, then autograd's backward.
"""

_SCORES = {  # (k_I, alpha, beta) of N = k_I I + sn, M = k_I I + alpha FP + beta FN + sd
    "dice": lambda prm: (2.0, 1.0, 1.0),
    "jaccard": lambda prm: (1.0, 1.0, 1.0),
    "tversky": lambda prm: (1.0, prm.get("alpha", 0.5), prm.get("beta", 0.5)),
}


def _class_factors(torch, C, prm, dtype):
    cw = prm.get("class_weight")
    if isinstance(cw, dict):
        cw = [cw.get(c, 1.0) for c in range(C)]
    f = torch.ones(C, dtype=dtype) if cw is None else torch.tensor(cw, dtype=dtype)
    if not prm.get("include_background", True):
        f[0] = 0
        return f / (C - 1)
    return f / C


def _torch(name, prm):
    try:
        import torch
    except ImportError:
        return None
    k_i, alpha, beta = _SCORES[name](prm)
    smooth = prm.get("smooth", 1.0)
    sn = smooth if prm.get("smooth_nr") is None else prm["smooth_nr"]
    sd = smooth if prm.get("smooth_dr") is None else prm["smooth_dr"]
    logits = prm.get("from_logits", False)

    def run(y, p):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        x = torch.from_numpy(p).requires_grad_(True)
        ax = prm.get("channel_axis")
        if ax is None:
            prob = torch.sigmoid(x) if logits else x
            t = torch.from_numpy(y.astype(p.dtype, copy=False))
            dims = tuple(range(1, p.ndim))
            f = torch.ones(1, dtype=x.dtype)
        else:
            ax %= p.ndim
            C = p.shape[ax]
            if not logits:
                prob = x
            elif C == 1 or prm.get("multilabel"):
                prob = torch.sigmoid(x)
            else:
                prob = torch.softmax(x, dim=ax)
            if y.shape == p.shape:
                t = torch.from_numpy(y.astype(p.dtype, copy=False))
            else:  # a label map: one-hot on the class axis
                lab = torch.from_numpy(y.reshape(p.shape[:ax] + p.shape[ax + 1:]).astype("int64"))
                t = torch.nn.functional.one_hot(lab, C).movedim(-1, ax).to(x.dtype)
            dims = tuple(d for d in range(1, p.ndim) if d != ax)
            f = _class_factors(torch, C, prm, x.dtype)
        tp = (t * prob).sum(dims).reshape(p.shape[0], -1)
        fp = ((1 - t) * prob).sum(dims).reshape(p.shape[0], -1)
        fn = (t * (1 - prob)).sum(dims).reshape(p.shape[0], -1)
        score = (k_i * tp + sn) / (k_i * tp + alpha * fp + beta * fn + sd)
        value = ((1 - score) * f).sum(1).mean()
        value.backward()
        return value.item(), x.grad.numpy()

    return run


def for_loss(loss, params):
    """name -> f(y_true, y_pred) -> (loss, grad) for each available peer."""
    if loss.name not in _SCORES:
        return {}
    fn = _torch(loss.name, params)
    return {} if fn is None else {"torch": fn}
