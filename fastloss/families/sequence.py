"""Sequence losses: CTC (connectionist temporal classification).

Inputs follow PyTorch's `ctc_loss` (its argument order and layouts), so code
written for torch runs unchanged: log_probs time-major (T, n, C) or (T, C)
for one sequence, targets padded (n, S) or concatenated, one input and one
target length per sequence.  The unit of `reduction="none"` and
`sample_weight` is a sequence.  The loop (fastloss/_kernels/_ctc.pyx.tp) runs
one sequence per thread; the NumPy reference is fastloss.reference.sequence.
"""

from typing import NamedTuple

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loss import MODE_LOSS, Input, Loss, Param, outputs, result, value
from fastloss._core.registry import register


class _Batch(NamedTuple):
    """Validated CTC inputs, as the kernel takes them."""

    x: np.ndarray        # (T, n, C) scores, C-contiguous, flattened
    shape: tuple         # log_probs' own shape, (T, n, C) or (T, C)
    targets: np.ndarray  # int32, every sequence's labels at offsets[b]
    offsets: np.ndarray  # int64 (n,)
    il: np.ndarray       # int64 (n,) input lengths
    tl: np.ndarray       # int64 (n,) target lengths
    units: tuple         # (n,), or () for one sequence


def _ints(a, name, what):
    """An integer array-like as an int64 array (unsigned values that do not
    fit are refused, not wrapped)."""
    arr = V.as_numeric(a, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers ({what}); got dtype {arr.dtype} "
                        "(cast it with .astype(int) first)")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds {arr.max()}, too large for {what}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _lengths(a, name, n, shape, batched):
    arr = _ints(a, name, "one length per sequence")
    if arr.shape != (n,) and not (not batched and arr.shape == ()):
        want = f"({n},)" if batched else "() or (1,)"
        raise ValueError(f"{name} must hold one length per sequence, shape {want} for "
                         f"log_probs of shape {shape}; got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative; found {arr.min()} "
                         f"(sequence {int(np.argmin(arr))})")
    return arr


def _check_labels(targets, tl, padded, C, blank):
    """Every label a sequence uses must be a class in [0, C) other than blank
    (padding beyond a target's length is not read)."""
    if padded:
        used = np.arange(targets.shape[1]) < tl[:, None]
        flat = targets[used]
    else:
        flat = targets
    if not flat.size:
        return
    bad = (flat < 0) | (flat >= C) | (flat == blank)
    if not bad.any():
        return
    i = int(np.argmax(bad))
    if padded:
        b, j = (int(v) for v in np.argwhere(used)[i])
    else:
        b = int(np.searchsorted(np.cumsum(tl), i, side="right"))
        j = i - int(np.sum(tl[:b]))
    v = int(flat[i])
    where = f"(sequence {b}, position {j})"
    if v == blank:
        raise ValueError(f"targets holds the blank label {blank} {where}; target labels must "
                         "differ from blank (pass blank= the class your model uses for it)")
    raise ValueError(f"targets holds label {v} {where}, outside [0, {C}) for log_probs "
                     f"with {C} classes")


def ctc_inputs(log_probs, targets, input_lengths, target_lengths, blank):
    """Validate CTC inputs in torch's layouts; returns a _Batch."""
    x = V.as_numeric(log_probs, "log_probs")
    if x.ndim not in (2, 3) or x.shape[-1] < 1:
        raise ValueError(
            "log_probs must have shape (T, n, C) (time-major: frames, sequences, classes, "
            f"as torch's ctc_loss) or (T, C) for one sequence; got shape {x.shape}")
    batched = x.ndim == 3
    T, C = x.shape[0], x.shape[-1]
    n = x.shape[1] if batched else 1
    if not 0 <= blank < C:
        raise ValueError(f"blank must be a class index in [0, {C}) for log_probs with {C} "
                         f"classes; got {blank}")
    il = _lengths(input_lengths, "input_lengths", n, x.shape, batched)
    tl = _lengths(target_lengths, "target_lengths", n, x.shape, batched)
    if il.size and il.max() > T:
        raise ValueError(
            f"input_lengths must not exceed T = {T}, the frames of log_probs (shape "
            f"{x.shape}); found {il.max()} (sequence {int(np.argmax(il))})")
    tg = _ints(targets, "targets", "class labels")
    padded = tg.ndim == 2 or not batched
    if tg.ndim not in ((1, 2) if batched else (1,)):
        raise ValueError(
            "targets must be padded, shape (n, S), or concatenated, shape (sum of "
            "target_lengths,)" + ("" if batched else ", shape (S,) for one sequence")
            + f"; got shape {tg.shape}")
    if padded:
        rows = tg if batched else tg.reshape(1, -1)
        if batched and tg.shape[0] != n:
            raise ValueError(
                f"targets has {tg.shape[0]} rows but log_probs holds {n} sequences (shape "
                f"{x.shape}); padded targets have one row per sequence, shape ({n}, S)")
        S = rows.shape[1]
        if tl.size and tl.max() > S:
            raise ValueError(
                f"target_lengths must not exceed S = {S}, the width of the padded targets "
                f"(shape {tg.shape}); found {tl.max()} (sequence {int(np.argmax(tl))})")
        _check_labels(rows, tl, True, C, blank)
        offsets = np.arange(n, dtype=np.int64) * S
        flat = rows.reshape(-1)
    else:
        if tg.size != tl.sum():
            raise ValueError(
                f"targets holds {tg.size} labels but target_lengths add up to {tl.sum()} "
                "(concatenated targets hold every sequence's labels one after the other; "
                "pass a 2-d (n, S) array for padded targets)")
        _check_labels(tg, tl, False, C, blank)
        offsets = np.cumsum(tl) - tl
        flat = tg
    # labels are < C now, so int32 holds them (the kernel's gathers want it)
    return _Batch(x, x.shape, np.ascontiguousarray(flat, dtype=np.int32), offsets, il, tl,
                  (n,) if batched else ())


class SequenceLoss(Loss):
    """A loss of n sequences of T frames of C class scores, time-major like
    torch: `log_probs` (T, n, C) (or (T, C) for one sequence), integer
    targets and the lengths of every sequence.  One loss per sequence.

    The kernel computes each sequence's loss, its gradient rows and the
    (possibly per-sequence normalised) loss sum.
    """

    kind = "sequence"
    unit = "sequence"
    no_hessian_reason = ("every frame of a sequence enters the sum over its alignments, so "
                         "the hessian is not diagonal")
    # 'mean' divides each loss by its target length first (torch's rule)
    mean_of_units = False
    # the batch axis of (T, n, C) scores and of padded (n, S) targets
    unit_axes = {"log_probs": -2, "targets": -2}
    SHAPES = {
        # (T, n, C, L[, L_min]) (see _sample): the tests' target lengths vary
        # from 0 to L, the benchmarks' are all L
        "test": [(8, 3, 5, 3, 0), (10, 5, 6, 6, 0)], "fd": (5, 2, 4, 2, 0),
        "empty": (6, 0, 5, 3, 0), "threads": (60, 32, 20, 12, 0), "leak": (20, 8, 10, 6, 0),
        "simd": [(33, 5, 37, 13, 0), (17, 3, 1000, 7, 0)], "peers": (30, 6, 7, 8, 0),
        # bench sizes: warp-ctc's (T=150, L=40, 28 classes, n=64) and large-alphabet
        # (5000 classes) cases, a batch of 256 (vadimkantorov/ctc's example) and
        # ASR-like long sequences
        "small": (50, 1, 20, 10), "minibatch": (150, 64, 28, 40), "large": (128, 256, 32, 60),
        "wide": (150, 16, 5000, 20), "long": (1000, 16, 29, 150),
    }

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        blank = prm["blank"]
        batch = ctc_inputs(*arrays, blank)
        x = batch.x
        shape = batch.shape
        T, C = shape[0], shape[-1]
        n = batch.il.size
        dtype = V.float_dtype(x)
        xc = V.contiguous(x, dtype)
        w, total = V.unit_weights(sample_weight, batch.units, dtype, reduction)
        mean = reduction == "mean"
        lo = np.empty(batch.units, dtype) if reduction == "none" else None
        grads, _ = outputs(out, mode, self, (shape,), dtype, arrays + (sample_weight, xc, w))
        g = None if grads is None else grads[0].reshape(-1)
        # longest first: the longest sequences start while the rest fill in
        work = batch.il * (8 * (2 * batch.tl + 1) + C)
        order = np.argsort(-work, kind="stable").astype(np.int64)
        threads = config.threads_for(T * n * (C + 2 * int(batch.tl.max(initial=0)) + 1))
        K = dispatch.kernels("_ctc")
        s = K.run(0 if mode == MODE_LOSS else 1, xc, T, n, C, batch.targets, batch.offsets,
                  batch.il, batch.tl, order, blank, prm["from_logits"], prm["zero_infinity"],
                  w, mean, 1.0 / total if mean and total > 0 else 1.0,
                  None if lo is None else lo.reshape(-1), g, threads)
        return result(mode, self, value(s, total, mean, dtype, lo), grads, None)


def _repeats(labels):
    return int(np.sum(labels[1:] == labels[:-1]))


def _sample(rng, shape, dtype, prm):
    """Valid inputs of shape (T, n, C, L) or (T, n, C, L, L_min): n sequences of
    T frames over C classes (every input length T, so log_probs cut short is
    an error), padded targets of width L holding random labels other than
    blank, with lengths drawn from [L_min, L] (L_min = L by default: all of
    length L) and shortened where a target would not fit T frames (one per
    label and one more per repeat).  With zero_infinity=True the first of two
    or more sequences repeats one label L times, which no alignment fits when
    2 L - 1 > T."""
    T, n, C, L = shape[:4]
    lmin = shape[4] if len(shape) > 4 else L
    blank = prm["blank"]
    x = rng.normal(0.0, 2.0, size=(T, n, C))
    if not prm["from_logits"]:
        x = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    labels = rng.integers(0, max(C - 1, 1), size=(n, L))
    labels += labels >= blank
    lengths = rng.integers(lmin, L + 1, size=n)
    for b in range(n):
        while lengths[b] + _repeats(labels[b, :lengths[b]]) > T:
            lengths[b] -= 1
    if prm["zero_infinity"] and n >= 2 and L:
        labels[0] = labels[0, 0]
        lengths[0] = L
    targets = np.where(np.arange(L) < lengths[:, None], labels, blank)
    return x.astype(dtype), targets, np.full(n, T, dtype=np.int64), lengths


ctc = register(SequenceLoss(
    "ctc", aliases=("ctc_loss",), hessian=False,
    inputs=(Input("log_probs", "Log-probabilities (T, n, C): T frames (time-major), n "
                               "sequences, C classes (blank included), e.g. a "
                               "log_softmax over the last axis; (T, C) for one sequence. "
                               "With from_logits=True, raw scores instead."),
            Input("targets", "Integer labels in [0, C), never blank: padded, shape (n, S) "
                             "with S >= every target length (padding is not read), or "
                             "concatenated, shape (sum(target_lengths),); (S,) for one "
                             "sequence.  int32 or int64."),
            Input("input_lengths", "Frames of each sequence, (n,) integers in [0, T] (frames "
                                   "after it are not read and get a zero gradient)."),
            Input("target_lengths", "Labels of each sequence, (n,) integers >= 0.")),
    wrt=("log_probs",),
    params=(Param("blank", 0, V.int_param, "The class index of the blank label, in [0, C)."),
            Param("zero_infinity", False, V.bool_param,
                  "If True, a target no alignment fits costs 0 with a zero gradient "
                  "instead of +inf (torch's zero_infinity)."),
            Param("from_logits", False, V.bool_param,
                  "If True, log_probs holds raw scores: log_softmax over the classes is "
                  "applied inside and the gradient is with respect to the scores.")),
    sampler=_sample,
    examples=({"from_logits": True}, {},
              {"from_logits": True, "blank": 2, "zero_infinity": True}),
    summary="Connectionist temporal classification (CTC) loss, torch's semantics.",
    formula="l' = (blank, l_1, blank, ..., l_L, blank);  per sequence\n"
            "loss = -log p(l | x) = -log sum over alignments pi of l' of prod_t y_t(pi_t),\n"
            "computed by the log-space forward (alpha) and backward (beta) recursions.\n"
            "d loss / d log_probs_t(k) = -sum_{s: l'_s = k} gamma_t(s)  (gamma: the\n"
            "occupancy alpha_t(s) beta_t(s) / p, summing to 1 over s at every frame);\n"
            "from_logits=True: d loss / d x_t(k) = softmax(x_t)_k - sum_{s: l'_s = k} "
            "gamma_t(s).\n"
            "reduction='mean': sum_b w_b loss_b / max(L_b, 1) / sum_b w_b (torch's rule);\n"
            "'sum': sum_b w_b loss_b;  'none': w_b loss_b.",
    notes="The gradient is the exact partial derivative with respect to the array "
          "passed.  torch's ctc_loss backward returns instead softmax - occupancy, the "
          "gradient with respect to the scores before a log_softmax (correct only when "
          "one is in the graph; pytorch/pytorch#52241): that number is ours with "
          "from_logits=True on the scores, and our gradient with respect to "
          "log-probabilities is torch's minus exp(log_probs).  A target no alignment "
          "fits (fewer frames than labels plus repeated neighbours, or only paths "
          "through zero probabilities) gives +inf and a NaN gradient on its frames "
          "(torch's), or 0 and a zero gradient with zero_infinity=True; an empty "
          "target scores the all-blank path; input_length 0 costs 0 for an empty "
          "target, else +inf.  NaN in any frame a sequence reads makes its loss and "
          "gradient NaN (also in a class its target does not use).  Labels equal to "
          "blank or outside [0, C), and lengths beyond T or the padded width, raise "
          "ValueError (torch reads garbage or fails later).  Computed in log space "
          "over the band of reachable states, one sequence per thread.",
    equivalents="torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, "
                "target_lengths, blank, reduction, zero_infinity) (values, every "
                "reduction); keras.ops.ctc_loss / optax.ctc_loss(logits, logit_paddings, "
                "labels, label_paddings, blank_id) on batch-major logits equal "
                "reduction='none' with from_logits=True (optax returns about 1e5, not "
                "inf, for infeasible targets); warp-ctc's cost with from_logits=True.",
))
