"""Plain NumPy reference implementations of every fastloss loss.

Written to be read, not to be fast.  Each loss is a function of its inputs
(in the loss's positional order) and its keywords, returning
``(loss, grad)`` per unit, where a unit is what ``reduction="none"`` returns
one loss of (an element, a row, a sample, a box, a sequence) and ``grad`` is
d loss_unit / d input for the input in the loss's ``wrt`` (a tuple of
gradients, in ``wrt`` order, when there are several).  A loss may return a
third array: per-unit weights it applies itself (class weights, ignored
rows), which count in the 'mean' denominator.  Where a hessian is defined,
``<name>_hess`` returns the diagonal second derivative, structured like the
gradient.  `loss_grad` and `grad_hess` apply sample weights and reductions
exactly as the compiled losses do.

One module per family (``fastloss.reference.regression``, ...) holds its
functions; they are all importable from here, e.g.
``fastloss.reference.huber``.

The tests check the compiled kernels against these functions (and both
against finite differences and independent libraries); the benchmarks use
them as the NumPy baseline.  Computation is in float64 unless the inputs are
float32.
"""

import numpy as np

from fastloss.reference import classification, regression, sequence

#: The family modules; every public function of theirs is a reference.
FAMILIES = (regression, classification, sequence)

#: Losses whose reduction is not the generic weighted mean of their units
#: (e.g. a per-unit normalisation): name -> loss_grad(*inputs, sample_weight,
#: reduction, **params), registered by the family module that defines them.
REDUCTIONS = {}


def _functions():
    out = {}
    for mod in FAMILIES:
        for key, fn in vars(mod).items():
            public = callable(fn) and not key.startswith("_")
            if public and getattr(fn, "__module__", "") == mod.__name__:
                out[key] = fn
        REDUCTIONS.update(getattr(mod, "REDUCTIONS", {}))
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


def loss_grad(name, *inputs, sample_weight=None, reduction="mean", **params):
    """(loss, grad) of loss `name` with the given reduction, like fastloss."""
    inputs, dtype = _as_float(inputs)
    if name in REDUCTIONS:
        return REDUCTIONS[name](*inputs, sample_weight=sample_weight, reduction=reduction,
                                **params)
    out = _FUNCS[name](*inputs, **params)
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
    loss, grad = out[0], out[1]
    single = not isinstance(grad, tuple)
    hess = _FUNCS[name + "_hess"](*inputs, **params)
    w = _unit_weights(sample_weight, loss.shape)
    if len(out) > 2:  # the loss's own per-unit weights (class weights, ignored rows)
        w = w * out[2]
    wg = [(_spread(w, loss.shape, g.shape) * g).astype(dtype) for g in _grads(grad)]
    wh = [(_spread(w, loss.shape, h.shape) * h).astype(dtype) for h in _grads(hess)]
    return _like(wg, single), _like(wh, single)
