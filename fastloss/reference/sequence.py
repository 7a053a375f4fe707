"""Sequence losses in plain NumPy: connectionist temporal classification (CTC).

CTC (Graves, Fernandez, Gomez and Schmidhuber, ICML 2006) scores a label
sequence l = (l_1, ..., l_L) against T frames of class log-probabilities by
summing over every alignment: the extended sequence
l' = (blank, l_1, blank, l_2, ..., l_L, blank) has S = 2L + 1 states, and a
path stays in its state, moves to the next one, or skips a blank between two
different labels.  In log space,

    alpha_0(0) = lp_0(blank),  alpha_0(1) = lp_0(l_1),
    alpha_t(s) = lp_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1),
                                         alpha_{t-1}(s-2) if l'_s != blank
                                                          and l'_s != l'_{s-2}),
    log p(l | x) = logsumexp(alpha_{T-1}(S-1), alpha_{T-1}(S-2)),

and the loss is -log p.  beta_t(s), the log-probability of finishing from
state s at frame t, counts the frames after t only (Graves' thesis, 2012,
section 7.3), so alpha_t(s) + beta_t(s) - log p is the log of the occupancy
gamma_t(s), the probability that the alignment is in state s at frame t.
The gradient with respect to the log-probabilities is then

    d loss / d lp_t(k) = -sum_{s: l'_s = k} gamma_t(s),

and, with from_logits=True (lp = log_softmax(x)), the chain rule through the
log-softmax gives d loss / d x_t(k) = g_t(k) - softmax(x_t)(k) sum_j g_t(j)
for that g (= softmax - occupancy, the occupancies of a frame summing to 1).

Conventions (PyTorch's `ctc_loss`): frames t >= input_length are not read and
get a zero gradient; a target that no alignment fits (too short an input, or
every path through a zero probability) has loss +inf and a NaN gradient on
its frames, or loss 0 and a zero gradient with zero_infinity=True; an empty
target scores the all-blank path; no frames and no labels cost 0.  NaN among
the frames a sequence reads makes its loss and gradient NaN.
reduction="mean" divides each loss by max(target length, 1) before the
(weighted) mean over the sequences.
"""

import numpy as np

from fastloss.reference._common import log_softmax


def _logsumexp(*terms):
    """log(sum(exp(terms))) element-wise; -inf where every term is -inf."""
    a = np.stack(np.broadcast_arrays(*terms))
    m = np.max(a, axis=0)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a - safe), axis=0)) + safe


def _batch(log_probs, targets, input_lengths, target_lengths):
    """(log_probs (T, n, C), one label array per sequence, input lengths,
    target lengths, batched) from torch's layouts: (T, n, C) or (T, C) input,
    padded (n, S) or concatenated targets."""
    x = np.asarray(log_probs)
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    il = np.atleast_1d(np.asarray(input_lengths, dtype=np.int64))
    tl = np.atleast_1d(np.asarray(target_lengths, dtype=np.int64))
    tg = np.asarray(targets, dtype=np.int64)
    if batched and tg.ndim == 2:
        labels = [tg[b, :tl[b]] for b in range(len(tl))]
    else:
        ends = np.cumsum(tl) if batched else tl
        labels = [tg[e - k:e] for e, k in zip(ends, tl, strict=True)]
    return x, labels, il, tl, batched


def _shift(a, k):
    """a moved k places to higher indices (k < 0: to lower ones), the places
    left empty filled with -inf (False for a boolean a)."""
    fill = np.full(abs(k), False if a.dtype == bool else -np.inf)
    if k > 0:
        return np.concatenate((fill, a))[:len(a)]
    return np.concatenate((a, fill))[-k:]


def _skips(ext, blank):
    """skip[s]: whether a path may jump from state s - 2 to state s."""
    skip = np.zeros(len(ext), dtype=bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    return skip


def _alpha(lp, ext, skip):
    """log alpha, shape (T, S), of the frames lp (T, C) and the states ext."""
    T, S = len(lp), len(ext)
    alpha = np.full((T, S), -np.inf)
    alpha[0, :min(2, S)] = lp[0, ext[:2]]
    for t in range(1, T):
        prev = alpha[t - 1]
        jump = np.where(skip, _shift(prev, 2), -np.inf)
        alpha[t] = lp[t, ext] + _logsumexp(prev, _shift(prev, 1), jump)
    return alpha


def _beta(lp, ext, skip):
    """log beta, shape (T, S): the frames after t only (lp_t not included)."""
    T, S = len(lp), len(ext)
    beta = np.full((T, S), -np.inf)
    beta[T - 1, max(0, S - 2):] = 0.0
    for t in range(T - 2, -1, -1):
        nxt = lp[t + 1, ext] + beta[t + 1]
        jump = np.where(_shift(skip, -2), _shift(nxt, -2), -np.inf)
        beta[t] = _logsumexp(nxt, _shift(nxt, -1), jump)
    return beta


def _sequence(lp, labels, blank):
    """(-log p, d(-log p)/d lp) of one sequence's frames lp (T, C)."""
    T, C = lp.shape
    grad = np.zeros((T, C))
    if np.isnan(lp).any():
        return np.nan, np.full((T, C), np.nan)
    if T == 0:
        return (0.0 if len(labels) == 0 else np.inf), grad
    ext = np.full(2 * len(labels) + 1, blank)
    ext[1::2] = labels
    skip = _skips(ext, blank)
    alpha = _alpha(lp, ext, skip)
    log_p = _logsumexp(*alpha[T - 1, -2:])
    if log_p == -np.inf:
        return np.inf, np.full((T, C), np.nan)
    beta = _beta(lp, ext, skip)
    gamma = np.exp(alpha + beta - log_p)
    np.add.at(grad, (np.arange(T)[:, None], ext[None, :]), -gamma)
    return -log_p, grad


def ctc(log_probs, targets, input_lengths, target_lengths, *, blank=0, zero_infinity=False,
        from_logits=False):
    """(loss of each sequence, gradient shaped like log_probs), torch's layouts."""
    x, labels, il, tl, batched = _batch(log_probs, targets, input_lengths, target_lengths)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    x = x.astype(np.float64)
    lp = log_softmax(x, axis=2) if from_logits else x
    n = x.shape[1]
    loss = np.zeros(n)
    grad = np.zeros(x.shape)
    for b in range(n):
        T = il[b]
        lb, gb = _sequence(lp[:T, b], labels[b], blank)
        if zero_infinity and lb == np.inf:
            lb, gb = 0.0, np.zeros_like(gb)
        if from_logits and T:
            # chain rule through log_softmax: g - softmax * sum(g)
            gb = gb - np.exp(lp[:T, b]) * gb.sum(axis=1, keepdims=True)
        loss[b] = lb
        grad[:T, b] = gb
    if not batched:
        loss, grad = loss[0], grad[:, 0]
    return loss.astype(dtype), grad.astype(dtype)


def _ctc_reduced(log_probs, targets, input_lengths, target_lengths, *, sample_weight=None,
                 reduction="mean", **params):
    """ctc with torch's reductions: 'mean' divides each loss by its target
    length (at least 1) before the weighted mean."""
    loss, grad = ctc(log_probs, targets, input_lengths, target_lengths, **params)
    w = np.ones(loss.shape) if sample_weight is None else np.broadcast_to(
        np.asarray(sample_weight, dtype=np.float64), loss.shape)
    scale = w
    if reduction == "mean":
        scale = w / np.maximum(np.asarray(target_lengths).reshape(loss.shape), 1) / np.sum(w)
    axes = (0, -1) if grad.ndim == 3 else (0, 1)
    g = (grad * np.expand_dims(scale, axes)).astype(grad.dtype)
    if reduction == "none":
        return (w * loss).astype(loss.dtype), g
    return np.sum(scale * loss), g


#: reduction="mean" is torch's, not the plain mean of the per-sequence losses.
REDUCTIONS = {"ctc": _ctc_reduced}
