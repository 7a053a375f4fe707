"""Plain NumPy reference implementations of every fastloss loss.

Written to be read, not to be fast.  Each loss is a function of its inputs
(in the loss's positional order) and its keywords, returning
``(loss, grad)`` per unit, where a unit is what ``reduction="none"`` returns
one loss of (an element, a row, a sample, a box, a sequence) and ``grad`` is
d loss_unit / d input for the input in the loss's ``wrt`` (a tuple of
gradients, in ``wrt`` order, when there are several).  A loss may return a
third array: per-unit weights it applies itself (class weights, ignored
rows), which count in the 'mean' denominator.  A loss whose units come in
independent groups (``Loss.unit_groups``: one input each, e.g. a GAN
discriminator's real and fake logits) returns a tuple of per-unit losses,
one per group, and the tuple of the groups' gradients; each group is
weighted and reduced on its own ('mean' adds the groups' means).  Where a
hessian is defined, ``<name>_hess`` returns the diagonal second derivative,
structured like the gradient.  `loss_grad` and `grad_hess` apply sample
weights and reductions exactly as the compiled losses do.

One module per family (``fastloss.reference.regression``, ...) holds its
functions; they are all importable from here, e.g.
``fastloss.reference.huber``.

The tests check the compiled kernels against these functions (and both
against finite differences and independent libraries); the benchmarks use
them as the NumPy baseline.  Computation is in float64 unless the inputs are
float32.
"""

import numpy as np

from fastloss.reference import (
    classification,
    detection,
    embedding,
    generative,
    regression,
    segmentation,
    sequence,
)

#: The family modules; every public function of theirs is a reference.
FAMILIES = (regression, classification, generative, embedding, segmentation, detection,
            sequence)

#: Losses whose reduction is not the generic weighted mean of their units
#: (e.g. a per-unit normalisation): name -> loss_grad(*inputs, sample_weight,
#: reduction, **params), registered by the family module that defines them.
REDUCTIONS = {}

#: Losses whose gradient is, by definition, not the derivative of their value
#: but of a surrogate that holds part of the value constant (a stop-gradient,
#: as torchvision's CIoU holds its alpha): name -> surrogate(inputs, params),
#: registered by the family module.  It returns f(*inputs, sample_weight=None,
#: reduction="mean"), equal to the loss at `inputs`, whose exact derivative
#: there is the loss's gradient: the finite-difference tests differentiate f.
SURROGATES = {}


def _functions():
    out = {}
    for mod in FAMILIES:
        for key, fn in vars(mod).items():
            public = callable(fn) and not key.startswith("_")
            if public and getattr(fn, "__module__", "") == mod.__name__:
                out[key] = fn
        REDUCTIONS.update(getattr(mod, "REDUCTIONS", {}))
        SURROGATES.update(getattr(mod, "SURROGATES", {}))
    return out


_FUNCS = _functions()
globals().update(_FUNCS)


def _as_float(inputs):
    """Float and boolean inputs in the computation dtype (float32 when every
    float input is float32, else float64); integer inputs stay as they are
    (labels, lengths, or numbers that NumPy promotes)."""
    arrays = [np.asarray(a) for a in inputs]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dtype = np.float32 if floats and all(d.itemsize <= 4 for d in floats) else np.float64
    return tuple(a.astype(dtype, copy=False) if a.dtype.kind in "fb" else a
                 for a in arrays), np.dtype(dtype)


def _spread(w, unit_shape, shape):
    """Per-unit weights broadcast over an array whose leading axes are the
    units (a gradient, or an element-wise loss of an (n, k) input)."""
    w = np.broadcast_to(w, unit_shape)
    return np.broadcast_to(w.reshape(w.shape + (1,) * (len(shape) - w.ndim)), shape)


def _unit_weights(sample_weight, loss_shape):
    """Weights broadcast to the per-unit loss: a scalar, one per unit, or one
    per row (first axis) applied to every unit of the row."""
    if sample_weight is None:
        return np.ones(loss_shape)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != loss_shape and w.ndim == 1:
        w = w.reshape((-1,) + (1,) * (len(loss_shape) - 1))
    return np.broadcast_to(w, loss_shape)


def _grads(g):
    return g if isinstance(g, tuple) else (g,)


def _like(gs, single):
    return gs[0] if single else tuple(gs)


def _groups(sample_weight, n):
    """Per-group weights of a grouped loss: None or a tuple of n entries."""
    return (None,) * n if sample_weight is None else tuple(sample_weight)


def loss_grad(name, *inputs, sample_weight=None, reduction="mean", **params):
    """(loss, grad) of loss `name` with the given reduction, like fastloss."""
    inputs, dtype = _as_float(inputs)
    if name in REDUCTIONS:
        return REDUCTIONS[name](*inputs, sample_weight=sample_weight, reduction=reduction,
                                **params)
    out = _FUNCS[name](*inputs, **params)
    if isinstance(out[0], tuple):  # independent unit groups, reduced one by one
        parts = [_reduce((lo, g), w, reduction, dtype)
                 for lo, g, w in zip(out[0], out[1], _groups(sample_weight, len(out[0])),
                                     strict=True)]
        values = [p[0] for p in parts]
        return (tuple(values) if reduction == "none" else sum(values),
                tuple(p[1] for p in parts))
    return _reduce(out, sample_weight, reduction, dtype)


def _reduce(out, sample_weight, reduction, dtype):
    loss, grad = out[0], out[1]
    single = not isinstance(grad, tuple)
    if sample_weight is None and len(out) == 2:
        # the common case, kept as lean as NumPy code written by hand (the
        # casts are free unless an integer input made NumPy promote)
        gs = [g.astype(dtype, copy=False) for g in _grads(grad)]
        if reduction == "none":
            return loss.astype(dtype, copy=False), _like(gs, single)
        if reduction == "sum":
            return np.sum(loss), _like(gs, single)
        return np.mean(loss), _like([g / loss.size for g in gs], single)
    unit_w = out[2] if len(out) > 2 else np.ones(loss.shape)
    w_loss = _unit_weights(sample_weight, loss.shape) * unit_w
    wl = w_loss * loss
    wg = [_spread(w_loss, loss.shape, g.shape) * g for g in _grads(grad)]
    if reduction == "none":
        return wl.astype(dtype), _like([g.astype(dtype) for g in wg], single)
    if reduction == "sum":
        return np.sum(wl), _like([g.astype(dtype) for g in wg], single)
    total = np.sum(w_loss)
    return np.sum(wl) / total, _like([(g / total).astype(dtype) for g in wg], single)


def grad_hess(name, *inputs, sample_weight=None, **params):
    """Per-unit (grad, hess) of w_i * l_i, like fastloss's grad_hess."""
    inputs, dtype = _as_float(inputs)
    out = _FUNCS[name](*inputs, **params)
    hess = _FUNCS[name + "_hess"](*inputs, **params)
    if isinstance(out[0], tuple):  # independent unit groups, one input each
        parts = [_weigh((lo, g), h, w, dtype) for lo, g, h, w in
                 zip(out[0], out[1], hess, _groups(sample_weight, len(out[0])), strict=True)]
        return tuple(p[0] for p in parts), tuple(p[1] for p in parts)
    return _weigh(out, hess, sample_weight, dtype)


def _weigh(out, hess, sample_weight, dtype):
    loss, grad = out[0], out[1]
    single = not isinstance(grad, tuple)
    w = _unit_weights(sample_weight, loss.shape)
    if len(out) > 2:  # the loss's own per-unit weights (class weights, ignored rows)
        w = w * out[2]
    wg = [(_spread(w, loss.shape, g.shape) * g).astype(dtype) for g in _grads(grad)]
    wh = [(_spread(w, loss.shape, h.shape) * h).astype(dtype) for h in _grads(hess)]
    return _like(wg, single), _like(wh, single)
