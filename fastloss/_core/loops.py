"""The loop shapes shared by several families: element-wise and row-wise.

Each is a Loss subclass whose `_compute` validates the (y_true, y_pred) pair
for its loop, runs the compiled kernel of fastloss/_kernels/_elementwise.pyx.tp
or _rowwise.pyx.tp and assembles the result.  Families with a loop of their
own (pairwise rows, per-sample sums, boxes, sequences) define theirs beside
their registry entries.
"""

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loss import MODE_GRAD_HESS, Loss, outputs, result, value


def _compile_calls(loss, caller):
    """Give a loss its compiled call path: `_fast` (which Loss's methods try
    first), and the Caller's own loss / grad / loss_grad methods on the
    instance, which save the Python-level method call (a tenth of a small
    call) and fall back to Loss's general path the same way.  A method a
    subclass overrides is left alone (its override stays in effect; Loss's
    methods then still try `_fast` first)."""
    loss._fast = caller
    for name in ("loss", "grad", "loss_grad"):
        if getattr(type(loss), name) is getattr(Loss, name):
            setattr(loss, name, getattr(caller, name))


class ElementwiseLoss(Loss):
    """A loss of one prediction per element: y_true and y_pred of one shape.

    `kernel(params)` returns (kernel name, tuple of float parameters) for
    the compiled element-wise kernel.
    """

    kind = "elementwise"
    unit = "element"
    SHAPES = {"test": [(37,), (9, 4)], "fd": (12,), "empty": (0, 4), "threads": (50_000,),
              "leak": (8192,), "simd": [(4099,), (203, 35)],
              "small": (16,), "minibatch": (256,), "large": (4_194_304,)}

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel if callable(kernel) else (lambda prm, _k=kernel: (_k, ()))
        if type(self)._compute is ElementwiseLoss._compute:
            # The compiled call path (see _kernels/_elementwise.pyx.tp: Caller);
            # a subclass with a _compute of its own keeps the general path.
            _compile_calls(self, dispatch.kernels("_elementwise").Caller(self, config.threads_for))

    def _fast_plan(self, params):
        """What the compiled call path runs for these keywords: (kernel id,
        float parameters, bounds as (input index, low, high, low_open,
        high_open), check), or None to always take the general path.  check
        names a value check the compiled path does itself (the `compiled`
        attribute of the loss's `check` function, "" for none); a loss with a
        `check` it cannot do keeps the general path.  Raises what `_parse`
        raises for bad keywords (the general path then reports them)."""
        check = "" if self._check is None else getattr(self._check, "compiled", None)
        if check is None or type(self)._run not in _PLAIN_RUNS:
            return None
        prm = self._parse(params)
        kname, kparams = self._kernel(prm)
        bounds = self._bounds(prm) if self._bounds is not None else ()
        K = dispatch.kernels("_elementwise")
        return (K.KERNEL_IDS[kname], tuple(float(v) for v in kparams),
                tuple((self.inputs.index(b.which), b.low, b.high, b.low_open, b.high_open)
                      for b in bounds), check)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        yname, pname = self.inputs
        yt = V.as_numeric(arrays[0], yname)
        yp = V.as_numeric(arrays[1], pname)
        V.check_same_shape(yt, yp, f"{yname} and {pname}")
        dtype = V.float_dtype(yt, yp)
        shape = yp.shape
        y = V.contiguous(yt, dtype)
        p = V.contiguous(yp, dtype)
        found = {yname: y, pname: p}
        bounds = self._check_values(found, prm, fused=out is None)
        w, k, total = V.weights(sample_weight, shape, dtype, reduction)
        lo = np.empty(shape, dtype) if reduction == "none" and mode != MODE_GRAD_HESS else None
        grads, hess = outputs(out, mode, self, (shape,), dtype,
                              arrays + (sample_weight, y, p, w))
        g = None if grads is None else grads[0]
        h = None if hess is None else hess[0]
        mean = reduction == "mean"
        gscale = 1.0 / total if mean and total > 0 else 1.0
        s = self._run(prm, shape, mode, y, p, w, k, lo, g, h, gscale, bool(bounds))
        if bounds:
            s, y_range, p_range = s
            V.check_found(bounds, {yname: y_range, pname: p_range})
        val = None if mode == MODE_GRAD_HESS else value(s, total, mean, dtype, lo)
        return result(mode, self, val, grads, hess)

    def _run(self, prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges):
        """Run the compiled loop over the contiguous buffers; returns the loss
        sum, or with ranges=True (sum, (min, max) of y, (min, max) of p), NaN
        skipped (a hook: subclasses may route some parameters to another loop)."""
        kname, kparams = self._kernel(prm)
        K = dispatch.kernels("_elementwise")
        return K.run(K.KERNEL_IDS[kname], mode, y, p, w, k, kparams, lo, g, h, gscale,
                     config.threads_for(p.size), ranges)


class ColumnParamLoss(ElementwiseLoss):
    """An element-wise loss one of whose parameters may also be a 1-d array
    with one value per column (the last axis of y_pred), like torch's
    `pos_weight` for binary_cross_entropy_with_logits.

    `column_param` names that parameter; when it is an array the loop of
    fastloss._kernels._rowwise.run_cols runs instead of the element-wise one,
    with the scalar kernel's parameter tuple (the column parameter's slot
    ignored).
    """

    def __init__(self, name, *, column_param, **kw):
        super().__init__(name, **kw)
        self._column_param = column_param

    def _fast_plan(self, params):
        prm = self._parse(params)
        if isinstance(prm[self._column_param], np.ndarray):
            return None  # one value per column: the loop of run_cols
        return super()._fast_plan(params)

    def _run(self, prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges):
        cp = prm[self._column_param]
        if not isinstance(cp, np.ndarray):
            return super()._run(prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges)
        if len(shape) == 0 or shape[-1] != cp.size:
            raise ValueError(
                f"{self._column_param} with {cp.size} values needs y_pred with {cp.size} "
                f"columns (last axis); got y_pred of shape {shape} (pass a scalar to "
                "apply one value everywhere)")
        kname, kparams = self._kernel(dict(prm, **{self._column_param: 1.0}))
        K = dispatch.kernels("_rowwise")
        cp = np.ascontiguousarray(cp, dtype=p.dtype)
        found = (V.value_range(y), V.value_range(p)) if ranges else ()
        s = K.run_cols(K.COL_KERNEL_IDS[kname], mode, y, p, cp, w, k, kparams, lo, g, h,
                       gscale, config.threads_for(p.size))
        return (s,) + found if ranges else s


# _run methods whose loop the compiled call path reproduces
_PLAIN_RUNS = (ElementwiseLoss._run, ColumnParamLoss._run)


class RowwiseLoss(Loss):
    """A loss of one row of C class scores: y_pred of shape (..., C).

    Dense targets y_true have y_pred's shape (one-hot or probability rows);
    `reduction="none"` returns one loss per row, shape y_pred.shape[:-1], and
    sample_weight holds one weight per row.  `kernel(prm, C)` returns (kernel
    name, tuple of float parameters) for the compiled row-wise kernel
    (fastloss/_kernels/_rowwise.pyx.tp).
    """

    kind = "rowwise"
    unit = "row"
    SHAPES = {"test": [(9, 5), (19, 12)], "fd": (5, 4), "empty": (0, 5), "threads": (5_000, 12),
              "leak": (1024, 8), "simd": [(257, 16), (9, 1000), (33, 7), (19, 12)],
              "small": (1, 16), "minibatch": (256, 10), "large": (262_144, 16),
              "wide": (4096, 1000)}
    #: True for losses of integer class labels (SparseRowwiseLoss).
    sparse = False

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel
        if (type(self)._compute is RowwiseLoss._compute
                and type(self)._targets in (RowwiseLoss._targets, SparseRowwiseLoss._targets)):
            # the compiled call path (see _kernels/_rowwise.pyx.tp: Caller)
            _compile_calls(self, dispatch.kernels("_rowwise").Caller(self, config.threads_for))

    def _fast_plan(self, params, n_classes):
        """What the compiled call path runs for these keywords and class
        count: (kernel id, float parameters, ignore_index, bounds as (0 for
        y_true / 1 for y_pred, low, high, low_open, high_open)), or None to
        always take the general path (class weights, other checks)."""
        if self._check is not None:
            return None
        prm = self._parse(params)
        if prm.get("class_weight") is not None:
            return None
        bounds = self._bounds(prm) if self._bounds is not None else ()
        if self.sparse and any(b.which != "y_pred" for b in bounds):
            return None
        kname, kparams = self._kernel(prm, n_classes)
        K = dispatch.kernels("_rowwise")
        return (K.KERNEL_IDS[kname], tuple(float(v) for v in kparams), prm.get("ignore_index"),
                tuple((("y_true", "y_pred").index(b.which), b.low, b.high, b.low_open,
                       b.high_open) for b in bounds))

    def _targets(self, y_true, yp):
        """(contiguous targets or None, contiguous labels or None, dtype)."""
        yt = V.as_numeric(y_true, "y_true")
        V.check_same_shape(yt, yp)
        dtype = V.float_dtype(yt, yp)
        return V.contiguous(yt, dtype), None, dtype

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        y_true, y_pred = arrays
        yp = V.as_numeric(y_pred, "y_pred")
        if yp.ndim == 0 or yp.shape[-1] == 0:
            raise ValueError(
                f"y_pred must have a last axis of class scores, shape (n, C) with C >= 1; "
                f"got shape {yp.shape}")
        n_classes = yp.shape[-1]
        units = yp.shape[:-1]
        y, lab, dtype = self._targets(y_true, yp)
        p = V.contiguous(yp, dtype)
        cw = prm.get("class_weight")
        if isinstance(cw, dict):
            cw = prm["class_weight"] = V.class_weights_from_dict(cw, n_classes)
        if cw is not None:
            if cw.shape != (n_classes,):
                raise ValueError(
                    f"class_weight must hold one weight per class, shape ({n_classes},) "
                    f"for y_pred with {n_classes} classes; got shape {cw.shape}")
            cw = np.ascontiguousarray(cw, dtype=dtype)
        bounds = self._check_values({"y_true": y, "y_pred": p}, prm, fused=out is None)
        w = V.unit_weights(sample_weight, units, dtype, reduction)[0]
        kname, kparams = self._kernel(prm, n_classes)
        K = dispatch.kernels("_rowwise")
        lo = np.empty(units, dtype) if reduction == "none" and mode != MODE_GRAD_HESS else None
        grads, hess = outputs(out, mode, self, (yp.shape,), dtype,
                              arrays + (sample_weight, y, lab, p, w, cw))
        g = None if grads is None else grads[0]
        h = None if hess is None else hess[0]
        mean = reduction == "mean"
        r = K.run(K.KERNEL_IDS[kname], mode, y, lab, p, n_classes, w, cw, kparams,
                  prm.get("ignore_index"),
                  None if lo is None else lo.reshape(-1),
                  None if g is None else g.reshape(-1),
                  None if h is None else h.reshape(-1),
                  mean, config.threads_for(p.size), bool(bounds))
        if bounds:
            V.check_found(bounds, {"y_true": r[2], "y_pred": r[3]})
        val = None if mode == MODE_GRAD_HESS else value(r[0], r[1], mean, dtype, lo)
        return result(mode, self, val, grads, hess)


class SparseRowwiseLoss(RowwiseLoss):
    """A row-wise loss of integer class labels: y_true of shape y_pred.shape[:-1]
    (or with a trailing axis of length 1, as Keras allows), values in [0, C).

    Integer and boolean labels are taken as they are; float labels must be
    integral.  The kernel checks every label before it reads a score.
    """

    sparse = True

    def _targets(self, y_true, yp):
        a = V.as_numeric(y_true, "y_true")
        units = yp.shape[:-1]
        if a.shape != units:
            if a.shape == units + (1,):
                a = a.reshape(units)
            else:
                raise ValueError(
                    f"y_true must hold one integer class label per row of y_pred, shape "
                    f"{units} for y_pred of shape {yp.shape}; got shape {a.shape}"
                    + (" (for one-hot or probability targets use "
                       "categorical_crossentropy)" if a.shape == yp.shape else ""))
        return None, V.int_labels(a, yp.shape[-1], "y_true"), V.float_dtype(yp)

