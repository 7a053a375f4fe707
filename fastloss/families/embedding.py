"""Embedding and ranking losses: rows of features, pairs or triplets of them,
and softmax contrastive losses over a batch.

Three loop shapes live here, beside the entries that use them:

- `FeatureRowLoss`: inputs of rows of d features (the last axis), two or
  three of one shape, and optionally one label per row; one fused pass over
  the rows computes the norms, dots or distances, the loss and every
  gradient (fastloss/_kernels/_embedding.pyx.tp, row functions in
  _embedpoint.pxd).
- `TernaryElementwiseLoss`: element-wise losses of three inputs of one shape
  (margin ranking: x1, x2 and a label).
- `SoftmaxContrastiveLoss`: InfoNCE and NT-Xent, whose units interact (each
  row's softmax runs over the whole batch).  The logits are formed one block
  of rows at a time by matrix products (NumPy's matmul, i.e. its BLAS), the
  softmax cross-entropy of the block runs in a compiled kernel that writes
  the gradient of the logits in place, the input gradients are accumulated
  by matrix products, and the chain rule through the normalisation closes
  the call: memory O(block x n), never the n x n logits.

`contrastive` (on given distances) is an ordinary element-wise loss
(_pointwise.pxd, _elementwise.pyx.tp).
"""

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loops import ElementwiseLoss
from fastloss._core.loss import Input, Loss, Param, outputs, result, value
from fastloss._core.registry import register

# --- shared checks -----------------------------------------------------------------------


def _pm1_labels(arrays, prm, name="y", meaning="1 (similar) or -1 (dissimilar)"):
    """Raise unless every (non-NaN) label is 1 or -1 (torch silently scores
    any other label 0)."""
    y = arrays[name]
    bits = dispatch.kernels("_elementwise").label_kinds(y) if y.size else 0
    if bits & (1 | 8):
        bad = y[(y != 1) & (y != -1) & ~np.isnan(y)].flat[0]
        raise ValueError(f"{name} must hold {meaning} labels; found {bad!r}")


_RANKING = "1 (x1 should rank higher) or -1 (x2 should)"


_LABEL01 = V.Bound("y", 0.0, 1.0, why=" (1 similar, 0 dissimilar)")


def norm_degree(value, name):
    """The p of a p-norm: a finite real >= 1."""
    return V.real_param(value, name, low=1.0)


# --- rows of features --------------------------------------------------------------------


class FeatureRowLoss(Loss):
    """A loss of rows of d features: two or three feature inputs of one shape
    (..., d) and, for some losses, a label per row (shape (...)).

    `reduction="none"` returns one loss per row (shape x.shape[:-1]) and
    sample_weight holds one weight per row.  `kernel(prm)` returns (kernel
    name, tuple of float parameters) for the compiled row loop; `label` names
    the label input (None when there is none).
    """

    kind = "feature_rows"
    unit = "row"
    SHAPES = {"test": [(2, 3, 4), (7, 5)], "fd": (4, 3), "empty": (0, 4),
              "threads": (600, 64), "leak": (256, 16), "simd": [(33, 17), (9, 128)],
              "peers": (31, 9), "small": (1, 16), "minibatch": (256, 128),
              "large": (65_536, 128)}

    def __init__(self, name, *, kernel, label=None, **kw):
        super().__init__(name, hessian=False, **kw)
        self._kernel = kernel
        self._label = label
        # the feature inputs, in order; the kernel returns the gradients of
        # the wrt inputs among them, in wrt order
        self._features = tuple(i for i in self.inputs if i != label)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        given = dict(zip(self.inputs, arrays, strict=True))
        feats = [V.as_numeric(given[n], n) for n in self._features]
        first, fname = feats[0], self._features[0]
        if first.ndim == 0 or first.shape[-1] == 0:
            raise ValueError(
                f"{fname} must have a last axis of features, shape (n, d) with d >= 1; "
                f"got shape {first.shape}")
        for a, name in zip(feats[1:], self._features[1:], strict=True):
            if a.shape != first.shape:
                raise ValueError(f"{name} must have the shape of {fname}, {first.shape}; "
                                 f"got shape {a.shape}")
        units, d = first.shape[:-1], first.shape[-1]
        label = None
        if self._label is not None:
            label = V.as_numeric(given[self._label], self._label)
            if label.shape != units:
                raise ValueError(
                    f"{self._label} must hold one label per row of {fname}, shape {units}; "
                    f"got shape {label.shape}")
        dtype = V.float_dtype(*feats, label)
        xs = [V.contiguous(a, dtype) for a in feats]
        y = None if label is None else V.contiguous(label, dtype)
        if y is not None:
            self._check_values({self._label: y}, prm)
        w, total = V.unit_weights(sample_weight, units, dtype, reduction)
        lo = np.empty(units, dtype) if reduction == "none" else None
        grads, _ = outputs(out, mode, self, (first.shape,) * len(self.wrt), dtype,
                           arrays + (sample_weight, y, w, *xs))
        g = [None, None, None]
        if grads is not None:
            for k, gk in enumerate(grads):
                g[k] = gk.reshape(-1)
        mean = reduction == "mean"
        kname, kparams = self._kernel(prm)
        K = dispatch.kernels("_embedding")
        s = K.rows(K.ROW_KERNEL_IDS[kname], mode, xs[0], xs[1],
                   xs[2] if len(xs) > 2 else None, y, d, w, kparams,
                   None if lo is None else lo.reshape(-1), g[0], g[1], g[2],
                   1.0 / total if mean and total > 0 else 1.0,
                   config.threads_for(first.size))
        return result(mode, self, value(s, total, mean, dtype, lo), grads, None)


def _normal_rows(rng, shape, dtype):
    return rng.normal(0, 1, size=shape).astype(dtype)


def _near(rng, x, lo, hi):
    """x plus noise whose norm per row is spread over about [lo, hi]."""
    d = x.shape[-1]
    scale = rng.uniform(lo, hi, size=x.shape[:-1] + (1,)) / np.sqrt(d)
    return x + rng.normal(0, 1, size=x.shape) * scale


_ROWS = "Rows of features, shape (n, d) (any leading axes; the last holds the features)."
_SAME = "Rows of features, the shape of {}."


cosine_similarity = register(FeatureRowLoss(
    "cosine_similarity", aliases=("cosine",), kernel=lambda prm: ("cosine_similarity", ()),
    inputs=(Input("y_true", _ROWS), Input("y_pred", _SAME.format("y_true"))),
    sampler=lambda rng, shape, dtype, prm: (_normal_rows(rng, shape, dtype),
                                            _normal_rows(rng, shape, dtype)),
    summary="Negative cosine similarity of each row pair (Keras's CosineSimilarity).",
    formula="l = -cos = -(t . p) / (sqrt(max(t . t, 1e-12)) sqrt(max(p . p, 1e-12))), "
            "in [-1, 1];\ndl/dp = -(t - (t . p) b^2 p) a b with a, b the two inverse norms "
            "(the p term only where p . p >= 1e-12).",
    notes="Lower is better (-1 for parallel rows).  A zero vector gives 0 and a finite "
          "gradient (its norm is clamped at sqrt(1e-12) = 1e-6), never NaN.",
    equivalents="keras.losses.CosineSimilarity(axis=-1) (Keras 3 clamps the squared "
                "norm at 1e-14 instead of 1e-12: the two differ only for rows of "
                "squared norm below 1e-12); -torch.nn.functional.cosine_similarity "
                "clamps the norms themselves (at 1e-8).",
))


cosine_embedding = register(FeatureRowLoss(
    "cosine_embedding", aliases=("cosine_embedding_loss",), label="y",
    kernel=lambda prm: ("cosine_embedding", (prm["margin"],)),
    inputs=(Input("x1", _ROWS), Input("x2", _SAME.format("x1")),
            Input("y", "Labels, one per row (shape x1.shape[:-1]): 1 similar, -1 dissimilar.")),
    wrt=("x1", "x2"), check=_pm1_labels,
    params=(Param("margin", 0.0, V.real_param,
                  "Dissimilar pairs cost cos - margin above it (torch suggests 0 to 0.5)."),),
    examples=({}, {"margin": 0.25}),
    sampler=lambda rng, shape, dtype, prm: (
        _normal_rows(rng, shape, dtype), _normal_rows(rng, shape, dtype),
        rng.choice([-1.0, 1.0], size=shape[:-1]).astype(dtype)),
    summary="Cosine embedding loss (torch's cosine_embedding_loss).",
    formula="cos = x1 . x2 / sqrt((x1 . x1 + e) (x2 . x2 + e)), e = 1e-12 (as torch: "
            "its float32 value, 9.99999996e-13);\n"
            "l = 1 - cos if y = 1,  max(0, cos - margin) if y = -1;\n"
            "dcos/dx1 = x2 / D - cos x1 / s1 (s1 = x1 . x1 + 1e-12, D = sqrt(s1 s2)), and "
            "symmetrically for x2.",
    notes="Labels other than 1 and -1 raise ValueError (torch scores them 0); NaN "
          "labels propagate.  At cos == margin the hinge's gradient is 0, as in torch.",
    equivalents="torch.nn.functional.cosine_embedding_loss(x1, x2, y, margin).",
))


contrastive_embedding = register(FeatureRowLoss(
    "contrastive_embedding", label="y",
    kernel=lambda prm: ("contrastive_embedding", (prm["margin"], prm["eps"])),
    inputs=(Input("x1", _ROWS), Input("x2", _SAME.format("x1")),
            Input("y", "Labels, one per row (shape x1.shape[:-1]): 1 similar, 0 "
                       "dissimilar (soft labels in [0, 1] allowed).")),
    wrt=("x1", "x2"), bounds=lambda prm: (_LABEL01,),
    params=(Param("margin", 1.0, V.positive,
                  "Dissimilar pairs cost while their distance is below it (> 0)."),
            Param("eps", 1e-6, V.non_negative,
                  "Added to every coordinate difference before the norm (torch's "
                  "pairwise_distance), so identical rows have a small positive distance.")),
    examples=({}, {"margin": 2.0, "eps": 0.0}),
    sampler=lambda rng, shape, dtype, prm: _contrastive_pairs(rng, shape, dtype),
    summary="Contrastive loss (Hadsell, Chopra and LeCun 2006) on the distance of row pairs.",
    formula="D = ||x1 - x2 + eps||_2;  l = y D^2 + (1 - y) max(0, margin - D)^2;\n"
            "dl/dx1 = [2 y - 2 (1 - y) max(0, margin - D) / D] (x1 - x2 + eps) = -dl/dx2.",
    notes="The hinge term has no gradient at D = 0 (torch's norm backward) or at "
          "D >= margin.  Note pytorch-metric-learning's ContrastiveLoss is a different "
          "(unsquared, pair-mined) loss.",
    equivalents="torch: d = F.pairwise_distance(x1, x2, eps=eps); "
                "y * d**2 + (1 - y) * F.relu(margin - d)**2.",
))


def _contrastive_pairs(rng, shape, dtype):
    x1 = _normal_rows(rng, shape, np.float64)
    x2 = _near(rng, x1, 0.05, 2.0)
    y = rng.integers(0, 2, size=shape[:-1]).astype(dtype)
    return x1.astype(dtype), x2.astype(dtype), y


def _triplet_kernel(prm):
    p = prm["p"]
    kname = "triplet_l2" if p == 2 else ("triplet_l1" if p == 1 else "triplet_lp")
    return kname, (prm["margin"], p, prm["eps"], 1.0 if prm["swap"] else 0.0)


def _triplets(rng, shape, dtype):
    a = _normal_rows(rng, shape, np.float64)
    return (a.astype(dtype), _near(rng, a, 0.1, 1.5).astype(dtype),
            _near(rng, a, 0.1, 2.5).astype(dtype))


triplet = register(FeatureRowLoss(
    "triplet", aliases=("triplet_margin",), kernel=_triplet_kernel,
    inputs=(Input("anchor", _ROWS), Input("positive", _SAME.format("anchor")),
            Input("negative", _SAME.format("anchor"))),
    wrt=("anchor", "positive", "negative"),
    params=(Param("margin", 1.0, V.positive, "The margin between the two distances (> 0)."),
            Param("p", 2.0, norm_degree, "The degree of the p-norm distance (>= 1)."),
            Param("eps", 1e-6, V.non_negative,
                  "Added to every coordinate difference before the norm (torch's "
                  "pairwise_distance)."),
            Param("swap", False, V.bool_param,
                  "Use min(D(a, n), D(p, n)) as the negative distance (Balntas et al. 2016).")),
    examples=({}, {"p": 1.0}, {"swap": True, "margin": 0.5}, {"p": 3.0, "eps": 0.0}),
    sampler=lambda rng, shape, dtype, prm: _triplets(rng, shape, dtype),
    summary="Triplet margin loss (torch's triplet_margin_loss).",
    formula="D(x, y) = ||x - y + eps||_p;  l = max(0, margin + D(a, p) - D_neg),\n"
            "D_neg = D(a, n), or min(D(a, n), D(p, n)) with swap;\n"
            "gradients from dD(x, y)/dx = sign(u) |u|^(p-1) / D^(p-1) (u = x - y + eps; "
            "u / D for p = 2), where l > 0.",
    notes="Subgradients as torch's autograd: 0 where l == 0 exactly (at the margin), a "
          "norm has gradient 0 at u = 0, and with swap a tie D(a, n) == D(p, n) splits "
          "the gradient evenly.  p must be >= 1 (a norm).",
    equivalents="torch.nn.functional.triplet_margin_loss(anchor, positive, negative, "
                "margin, p, eps, swap).  Optax's triplet_margin_loss puts eps inside the "
                "root instead.",
))


# --- element-wise: contrastive on distances, margin ranking --------------------------


contrastive = register(ElementwiseLoss(
    "contrastive", kernel=lambda prm: ("contrastive", (prm["margin"],)),
    inputs=(Input("y_true", "Labels in [0, 1]: 1 similar, 0 dissimilar (soft labels allowed)."),
            Input("distance", "Distances (>= 0), the shape of y_true.")),
    wrt=("distance",),
    bounds=lambda prm: (V.Bound("y_true", 0.0, 1.0, why=" (1 similar, 0 dissimilar)"),
                        V.Bound("distance", low=0.0, why=" (distances are non-negative)")),
    domain=("label01", "positive"),
    params=(Param("margin", 1.0, V.positive,
                  "Dissimilar pairs cost while their distance is below it (> 0)."),),
    examples=({}, {"margin": 2.0}),
    summary="Contrastive loss (Hadsell, Chopra and LeCun 2006) on given distances.",
    formula="l = y d^2 + (1 - y) max(0, margin - d)^2;\n"
            "dl/dd = 2 y d - 2 (1 - y) max(0, margin - d);  "
            "hessian 2 y + 2 (1 - y) [d < margin].",
    notes="contrastive_embedding computes the distances from row pairs itself, in the "
          "same pass.",
    equivalents="torch: y * d**2 + (1 - y) * F.relu(margin - d)**2.",
))


class TernaryElementwiseLoss(Loss):
    """An element-wise loss of three inputs of one shape (x1, x2, y), with
    gradients for x1 and x2 (fastloss/_kernels/_embedding.pyx.tp, `ternary`).

    Units, weights and reductions are the element-wise loop's: one loss per
    element, and sample_weight of the inputs' shape, (n,) (one per row) or a
    scalar.  The labels y must be 1 or -1; the kernel checks them in its own
    pass (with `out=`, before anything is written).
    """

    kind = "elementwise"
    unit = "element"
    SHAPES = {**ElementwiseLoss.SHAPES, "peers": (9, 4)}

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, hessian=False, **kw)
        self._kernel = kernel

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        names = self.inputs
        arrs = [V.as_numeric(a, nm) for a, nm in zip(arrays, names, strict=True)]
        for a, nm in zip(arrs[1:], names[1:], strict=True):
            V.check_same_shape(arrs[0], a, f"{names[0]} and {nm}")
        shape = arrs[0].shape
        dtype = V.float_dtype(*arrs)
        x1, x2, y = (V.contiguous(a, dtype) for a in arrs)
        if out is not None:
            _pm1_labels({names[2]: y}, prm, names[2], _RANKING)
        w, k, total = V.weights(sample_weight, shape, dtype, reduction)
        lo = np.empty(shape, dtype) if reduction == "none" else None
        grads, _ = outputs(out, mode, self, (shape, shape), dtype,
                           arrays + (sample_weight, x1, x2, y, w))
        g1, g2 = (None, None) if grads is None else (grads[0].reshape(-1),
                                                     grads[1].reshape(-1))
        mean = reduction == "mean"
        kname, kparams = self._kernel(prm)
        K = dispatch.kernels("_embedding")
        s, bad = K.ternary(K.TERNARY_KERNEL_IDS[kname], mode, x1, x2, y, w, k, kparams,
                           None if lo is None else lo.reshape(-1), g1, g2,
                           1.0 / total if mean and total > 0 else 1.0,
                           config.threads_for(x1.size))
        if bad:
            _pm1_labels({names[2]: y}, prm, names[2], _RANKING)
        return result(mode, self, value(s, total, mean, dtype, lo), grads, None)


margin_ranking = register(TernaryElementwiseLoss(
    "margin_ranking", kernel=lambda prm: ("margin_ranking", (prm["margin"],)),
    inputs=(Input("x1", "Scores (any real numbers)."),
            Input("x2", "Scores, the shape of x1."),
            Input("y", "Labels, the shape of x1: 1 when x1 should rank higher, -1 when x2.")),
    wrt=("x1", "x2"),
    params=(Param("margin", 0.0, V.real_param, "The required score gap."),),
    examples=({}, {"margin": 0.5}),
    sampler=lambda rng, shape, dtype, prm: (
        rng.normal(0, 1, size=shape).astype(dtype), rng.normal(0, 1, size=shape).astype(dtype),
        rng.choice([-1.0, 1.0], size=shape).astype(dtype)),
    summary="Margin ranking loss (torch's margin_ranking_loss), element-wise.",
    formula="l = max(0, margin - y (x1 - x2));  dl/dx1 = -y where l > 0, else 0;  "
            "dl/dx2 = -dl/dx1.",
    notes="Labels other than 1 and -1 raise ValueError.  At l == 0 exactly the "
          "gradient is 0, as in torch.",
    equivalents="torch.nn.functional.margin_ranking_loss(x1, x2, y, margin).",
))


# --- softmax contrastive losses (InfoNCE, NT-Xent) ------------------------------------

#: The logits are formed BLOCK_BYTES at a time (about; rows of the block
#: times the batch), but never fewer than MIN_BLOCK_ROWS rows: below that
#: the matrix products lose speed (OpenBLAS repacks the whole key matrix for
#: every block).  At n = 32768 float64 that is 256 rows, 64 MiB of logits.
BLOCK_BYTES = 8 << 20
MIN_BLOCK_ROWS = 256


def block_rows(n_rows, m, itemsize):
    """Rows of logits per block, for n_rows rows of m logits."""
    return max(1, min(n_rows, max(MIN_BLOCK_ROWS, BLOCK_BYTES // max(1, m * itemsize))))


class SoftmaxContrastiveLoss(Loss):
    """InfoNCE-style losses: two inputs of shape (n, d), row-normalised
    (normalize=True), logits of normalised rows over `temperature`, and a
    softmax cross-entropy per row whose target is a fixed column.

    `views=False` (InfoNCE): the logits are query x key^T, row i's target
    column i; units are the n rows (symmetric=True adds the same over the
    columns, CLIP's form).  `views=True` (NT-Xent): the 2n rows z = [z1; z2],
    logits z z^T without the diagonal, row i's target its other view; units
    are the 2n rows.

    The units interact (each softmax runs over the batch), so the gradient
    for reduction="none" is that of sum_i w_i l_i, as for "sum".
    """

    kind = "softmax_contrastive"
    unit = "row"
    unit_local = False
    SHAPES = {"test": [(9, 5)], "fd": (5, 3), "empty": (0, 4), "threads": (300, 16),
              "leak": (64, 8), "simd": [(33, 17), (20, 128)], "peers": (31, 9),
              "small": (8, 16), "minibatch": (256, 128), "large": (4096, 128)}

    def __init__(self, name, *, views, **kw):
        super().__init__(name, hessian=False, **kw)
        self._views = views

    def unit_shape(self, *shapes, **params):
        n = tuple(shapes[0])[0]
        return (2 * n,) if self._views else (n,)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        (an, bn) = self.inputs
        a = V.as_numeric(arrays[0], an)
        b = V.as_numeric(arrays[1], bn)
        if a.ndim != 2 or a.shape[1] == 0:
            raise ValueError(f"{an} must have shape (n, d) with d >= 1 (rows of features); "
                             f"got shape {a.shape}")
        if b.shape != a.shape:
            raise ValueError(f"{bn} must have the shape of {an}, {a.shape}; got shape {b.shape}")
        n, d = a.shape
        dtype = V.float_dtype(a, b)
        x = V.contiguous(a, dtype).reshape(n, d)
        z = V.contiguous(b, dtype).reshape(n, d)
        units = (2 * n,) if self._views else (n,)
        w, total = V.unit_weights(sample_weight, units, dtype, reduction)
        w = np.ones(units, dtype) if w is None else w
        grads, _ = outputs(out, mode, self, (a.shape, a.shape), dtype,
                           arrays + (sample_weight, x, z, w))
        mean = reduction == "mean"
        gs = 1.0 / total if mean and total > 0 else 1.0
        lo = np.empty(units, dtype)
        if n:
            run = _nt_xent if self._views else _info_nce
            run(x, z, w, gs, lo, grads, prm)
        lo_out = lo if reduction == "none" else None
        s = 0.0 if lo_out is not None else dispatch.kernels("_embedding").row_sum_total(lo)
        return result(mode, self, value(s, total, mean, dtype, lo_out), grads, None)


def _normalized(x, scale, normalize, K):
    """(scale * x / max(||x||, eps) row by row, the norms or None)."""
    out = np.empty_like(x)
    norms = np.empty(x.shape[0], x.dtype) if normalize else None
    K.normalize_rows(x, out, norms, x.shape[1], scale, normalize, config.threads_for(x.size))
    return out, norms


def _info_nce(q, k, w, gs, lo, grads, prm):
    """Row losses w_i l_i into lo and (grads given) the gradients of
    gs * sum_i w_i l_i into grads = [g_query, g_key]."""
    K = dispatch.kernels("_embedding")
    n, d = q.shape
    # L = q_hat k_hat^T / tau = qs ks^T with qs, ks = rows / sqrt(tau): one
    # scaled copy of each input, and the chain rule's factor is 1/sqrt(tau).
    s = 1.0 / np.sqrt(prm["temperature"])
    normalize = prm["normalize"]
    qs, nq = _normalized(q, s, normalize, K)
    ks, nk = _normalized(k, s, normalize, K)
    rows = block_rows(n, n, q.dtype.itemsize)
    L = np.empty((rows, n), q.dtype)
    nt = config.threads_for(rows * n)
    grad = grads is not None
    gq, gk = (None, None) if not grad else grads
    acc = np.empty_like(gk) if grad and rows < n else None
    if prm["symmetric"]:
        # Pass 1: row and column log-sum-exps (the columns' online, block by
        # block) and the diagonal; pass 2 recomputes each block for the gradient.
        rlse, diag = np.empty(n, q.dtype), np.empty(n, q.dtype)
        cmax, csum = np.full(n, -np.inf, q.dtype), np.zeros(n, q.dtype)
        scratch = np.empty(n, q.dtype)
        for r0 in range(0, n, rows):
            LB = L[:min(n, r0 + rows) - r0]
            np.matmul(qs[r0:r0 + LB.shape[0]], ks.T, out=LB)
            K.row_lse(LB, n, r0, rlse, diag, nt)
            K.col_stats(LB, n, cmax, csum, scratch, nt)
        clse = cmax + np.log(csum)
        np.multiply(w, ((rlse - diag) + (clse - diag)) * 0.5, out=lo)
        if not grad:
            return
    for r0 in range(0, n, rows):
        LB = L[:min(n, r0 + rows) - r0]
        r1 = r0 + LB.shape[0]
        if prm["symmetric"]:
            if rows < n:  # a single block is still in L from pass 1
                np.matmul(qs[r0:r1], ks.T, out=LB)
            K.sym_grad(LB, n, r0, rlse, clse, w, gs, nt)
        else:
            np.matmul(qs[r0:r1], ks.T, out=LB)
            K.softmax_ce(LB, n, r0, n, 0, False, w, gs, lo, grad, nt)
        if grad:
            np.matmul(LB, ks, out=gq[r0:r1])
            if r0 == 0:
                np.matmul(LB.T, qs[r0:r1], out=gk)
            else:
                np.matmul(LB.T, qs[r0:r1], out=acc)
                K.add_into(gk, acc, config.threads_for(acc.size))
    if grad:
        K.norm_grad(q, nq, gq, None, d, s, normalize, config.threads_for(q.size))
        K.norm_grad(k, nk, gk, None, d, s, normalize, config.threads_for(k.size))


def _nt_xent(z1, z2, w, gs, lo, grads, prm):
    """As _info_nce for NT-Xent: the 2n rows z = [z1; z2], grads = [g1, g2]."""
    K = dispatch.kernels("_embedding")
    n, d = z1.shape
    m = 2 * n
    s = 1.0 / np.sqrt(prm["temperature"])
    normalize = prm["normalize"]
    # one scaled, normalised copy of the 2n rows: the logits are zs zs^T
    zs = np.empty((m, d), z1.dtype)
    nz = np.empty(m, z1.dtype) if normalize else None
    for half, zh in ((0, z1), (n, z2)):
        K.normalize_rows(zh, zs[half:half + n], None if nz is None else nz[half:half + n],
                         d, s, normalize, config.threads_for(zh.size))
    # blocks never straddle the two views, so each block's own gradient rows
    # lie in one output
    rows = block_rows(n, m, z1.dtype.itemsize)
    L = np.empty((rows, m), z1.dtype)
    nt = config.threads_for(rows * m)
    grad = grads is not None
    if grad:
        acc = np.empty((m, d), z1.dtype)
        own = np.empty((rows, d), z1.dtype)
    first = True
    for half in (0, n):
        for r0 in range(half, half + n, rows):
            LB = L[:min(half + n, r0 + rows) - r0]
            r1 = r0 + LB.shape[0]
            np.matmul(zs[r0:r1], zs.T, out=LB)
            K.softmax_ce(LB, m, r0, m, n, True, w, gs, lo, grad, nt)
            if not grad:
                continue
            # d/dz of sum over the block's rows: G_B zs for the block's own
            # rows, G_B^T zs_B for every row; both accumulate into g1, g2
            np.matmul(LB.T, zs[r0:r1], out=acc)
            for gh, part in zip(grads, (acc[:n], acc[n:]), strict=True):
                if first:
                    np.copyto(gh, part)
                else:
                    K.add_into(gh, part, config.threads_for(part.size))
            first = False
            own_b = own[:LB.shape[0]]
            np.matmul(LB, zs, out=own_b)
            K.add_into(grads[half // n][r0 - half:r1 - half], own_b,
                       config.threads_for(own_b.size))
    if grad:
        for half, zh, gh in ((0, z1, grads[0]), (n, z2, grads[1])):
            K.norm_grad(zh, None if nz is None else nz[half:half + n], gh, None, d, s,
                        normalize, config.threads_for(zh.size))


_NORMALIZE_DOC = ("L2-normalise every row first (x / max(||x||, 1e-12), torch's "
                  "F.normalize); False uses the rows as given.")
_TEMPERATURE_DOC = "The logits are similarities divided by it (> 0)."


def _pairs_of_rows(rng, shape, dtype):
    a = _normal_rows(rng, shape, np.float64)
    return a.astype(dtype), _near(rng, a, 0.5, 2.0).astype(dtype)


info_nce = register(SoftmaxContrastiveLoss(
    "info_nce", aliases=("infonce",), views=False,
    inputs=(Input("query", "Query rows, shape (n, d)."),
            Input("key", "Key rows, shape (n, d): key i is query i's positive, the "
                         "other keys its negatives.")),
    wrt=("query", "key"),
    params=(Param("temperature", 0.1, V.positive, _TEMPERATURE_DOC),
            Param("normalize", True, V.bool_param, _NORMALIZE_DOC),
            Param("symmetric", False, V.bool_param,
                  "Average each row's loss with the same loss over column i (keys "
                  "against queries): CLIP's symmetric loss.")),
    examples=({}, {"symmetric": True}, {"normalize": False, "temperature": 2.0}),
    sampler=lambda rng, shape, dtype, prm: _pairs_of_rows(rng, shape, dtype),
    summary="InfoNCE: softmax cross-entropy of normalised similarities, the positive "
            "on the diagonal.",
    formula="L = q_hat k_hat^T / temperature (n x n);  l_i = logsumexp_j L_ij - L_ii;\n"
            "symmetric: l_i = (logsumexp_j L_ij + logsumexp_j L_ji) / 2 - L_ii.\n"
            "dl/dL = softmax(L) - I row by row, then through the matrix product and the "
            "normalisation.",
    notes="Computed in blocks of rows: the logits are never held whole (memory "
          "O(block x n)); the matrix products run in NumPy's BLAS, with its own "
          "threads.  A zero row is normalised to 0 (gradient v / 1e-12, as torch).  The "
          "units interact: reduction='none' returns each row's loss, and the gradient "
          "of their (weighted) sum.",
    equivalents="torch: F.cross_entropy(F.normalize(q) @ F.normalize(k).T / t, "
                "arange(n)); symmetric=True is open_clip's ClipLoss with logit_scale "
                "1/t.",
))


nt_xent = register(SoftmaxContrastiveLoss(
    "nt_xent", views=True,
    inputs=(Input("z1", "First views, shape (n, d)."),
            Input("z2", "Second views, shape (n, d): row i of z2 is the other view of "
                        "row i of z1.")),
    wrt=("z1", "z2"),
    params=(Param("temperature", 0.1, V.positive, _TEMPERATURE_DOC),
            Param("normalize", True, V.bool_param, _NORMALIZE_DOC)),
    examples=({}, {"temperature": 0.5}),
    # 2n = 4096 rows: SimCLR's batch of 2048 pairs
    shapes={"large": (2048, 128)},
    sampler=lambda rng, shape, dtype, prm: _pairs_of_rows(rng, shape, dtype),
    summary="NT-Xent (SimCLR): InfoNCE over the 2n rows of two views.",
    formula="z = [z1; z2] normalised (2n rows), S = z z^T / temperature;  for row i with "
            "other view j(i):\nl_i = logsumexp_{k != i} S_ik - S_i,j(i);  units: the 2n "
            "rows, z1's first.",
    notes="The mean is over the 2n rows (pytorch-metric-learning's NTXentLoss); "
          "SimCLR's objective sums the two halves' means, twice this.  Blocked as "
          "info_nce.",
    equivalents="pytorch-metric-learning NTXentLoss(temperature) on the 2n embeddings "
                "with pair labels; SimCLR's contrastive loss / 2.",
))

