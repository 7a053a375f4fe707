"""The Loss class: the calling convention, implemented once.

A loss object validates its arguments (through fastloss._validation),
chooses the dtype, allocates the outputs, hands plain contiguous buffers to
a compiled kernel and applies the reduction.  Each concrete loss only
supplies metadata (name, parameters, docs) and which kernel to run; the
loop shapes (element-wise, row-wise, ...) are subclasses of `Loss`.
"""

import inspect
from functools import partial

import numpy as np

from fastloss import _config, _dispatch
from fastloss import _validation as V

# Kernel modes: what one pass stores (see _kernels/_elementwise.pyx.tp).
MODE_LOSS, MODE_LOSS_GRAD, MODE_GRAD_HESS = 0, 1, 2


class Param:
    """A loss-specific keyword: name, default, converter/validator, doc."""

    __slots__ = ("name", "default", "convert", "doc")

    def __init__(self, name, default, convert, doc):
        self.name = name
        self.default = default
        self.convert = convert
        self.doc = doc


class Loss:
    """A loss function with its gradient (and hessian where meaningful).

    Call it (or `.loss`) for the loss, `.grad` for the gradient of that
    value with respect to `y_pred`, `.loss_grad` for both from one pass, and
    `.grad_hess` for per-sample gradient and diagonal hessian.
    """

    #: "elementwise" or "rowwise": the loop shape, set by subclasses.
    kind = None

    def __init__(self, name, *, aliases=(), params=(), hessian=True, summary="",
                 formula="", y_true_doc="", y_pred_doc="", notes="", equivalents="",
                 domain=("real", "real"), examples=({},), bounds=None, check=None):
        self.name = name
        # bounds(prm): the allowed values of y_true / y_pred (V.Bound tuples);
        # check(y, p, prm): any other check of the values, on the contiguous
        # arrays before a kernel runs (it may set private keys in prm).
        self._bounds = bounds
        self._check = check
        # Value domains of (y_true, y_pred): a pair of kind names, or a callable
        # params -> pair (see tests/conftest.py `draw`); `examples` are keyword
        # sets worth testing and benchmarking.  Both document the loss too.
        self._domain = domain
        self.examples = tuple(examples)
        self.aliases = tuple(aliases)
        self.params = tuple(params)
        self.has_hessian = hessian
        self._param_names = {p.name: p for p in self.params}
        # Converters see one value at a time, so the defaults convert once.
        self._converted_defaults = {p.name: p.convert(p.default, p.name) for p in self.params}
        self.summary = summary
        self.__doc__ = self._docstring(summary, formula, y_true_doc, y_pred_doc,
                                       notes, equivalents)
        self.__signature__ = self._signature()

    # -- public calling convention -------------------------------------------------

    #: Tiny-call shortcut f(mode, y_true, y_pred, mean) -> (value, grad) or None,
    #: set by loop shapes that have one (see ElementwiseLoss).
    _fast = None

    def _shortcut(self, mode, y_true, y_pred, sample_weight, reduction, params):
        """The tiny-call path's (value, grad), or None when the call needs the
        general path (weights, keywords, reduction='none', unusual arrays)."""
        if (self._fast is None or sample_weight is not None or params
                or (reduction != "mean" and reduction != "sum")):
            return None
        return self._fast(mode, y_true, y_pred, reduction == "mean")

    def loss(self, y_true, y_pred, *, sample_weight=None, reduction="mean", **params):
        """The loss; see the object's docstring."""
        r = self._shortcut(MODE_LOSS, y_true, y_pred, sample_weight, reduction, params)
        if r is not None:
            return r[0]
        return self._evaluate("loss", y_true, y_pred, sample_weight, reduction, params)[0]

    __call__ = loss

    def grad(self, y_true, y_pred, *, sample_weight=None, reduction="mean", out=None,
             **params):
        """Gradient of `loss(...)` (same keywords) with respect to y_pred, shaped
        like y_pred.  With reduction="mean" it carries the 1/sum(w) factor.

        out: optional array to write the gradient into (C-contiguous, the
        shape of y_pred, the computation dtype, not overlapping the inputs);
        reusing one saves an allocation per call in a training loop."""
        if out is not None:
            return self._evaluate("grad", y_true, y_pred, sample_weight, reduction, params,
                                  out)[1]
        r = self._shortcut(MODE_LOSS_GRAD, y_true, y_pred, sample_weight, reduction, params)
        if r is not None:
            return r[1]
        return self._evaluate("grad", y_true, y_pred, sample_weight, reduction, params)[1]

    def loss_grad(self, y_true, y_pred, *, sample_weight=None, reduction="mean", out=None,
                  **params):
        """(loss, grad) from one fused pass over the data; `out` as for `grad`."""
        if out is not None:
            return self._evaluate("loss_grad", y_true, y_pred, sample_weight, reduction,
                                  params, out)
        r = self._shortcut(MODE_LOSS_GRAD, y_true, y_pred, sample_weight, reduction, params)
        if r is not None:
            return r
        return self._evaluate("loss_grad", y_true, y_pred, sample_weight, reduction, params)

    def grad_hess(self, y_true, y_pred, *, sample_weight=None, out=None, **params):
        """(grad, hess): per-sample first and diagonal second derivatives of
        `w_i * l_i` with respect to y_pred (no reduction), as gradient-boosting
        libraries expect from a custom objective.  out: optional (grad, hess)
        pair of arrays to write into, as for `grad`."""
        if not self.has_hessian:
            raise NotImplementedError(
                f"{self.name} has no meaningful hessian (it is zero almost everywhere); "
                "use .grad, or a smooth loss such as huber or log_cosh for boosting"
            )
        if "reduction" in params:
            raise TypeError(
                f"{self.name}.grad_hess() takes no reduction: it returns per-sample "
                "derivatives (use .grad for the gradient of a reduced loss)"
            )
        if out is not None and (not isinstance(out, tuple) or len(out) != 2):
            raise TypeError("out for grad_hess must be a (grad, hess) pair of arrays")
        return self._evaluate("grad_hess", y_true, y_pred, sample_weight, "none", params, out)

    def domain(self, **params):
        """(y_true kind, y_pred kind) for these keywords, e.g. ("real", "positive")."""
        return self._domain(self._parse(params)) if callable(self._domain) else self._domain

    def __repr__(self):
        return f"<fastloss loss {self.name!r}>"

    # -- shared machinery -------------------------------------------------------------

    def _parse(self, kwargs):
        """Fill defaults, reject unknown keywords, convert and check values."""
        out = dict(self._converted_defaults)
        for key, value in kwargs.items():
            spec = self._param_names.get(key)
            if spec is None:
                allowed = ", ".join(["sample_weight", "reduction"]
                                    + [p.name for p in self.params])
                raise TypeError(
                    f"{self.name}() got an unexpected keyword argument {key!r} "
                    f"(it accepts: {allowed})"
                )
            out[key] = spec.convert(value, key)
        return out

    def _evaluate(self, want, y_true, y_pred, sample_weight, reduction, kwargs, out=None):
        raise NotImplementedError

    def _check_values(self, y, p, prm, fused=False):
        """Run `check`, and the `bounds` unless the kernel will report the
        ranges (fused=True).  Returns the bounds still to verify.

        Kernels can report the min and max of y and p from their own pass
        over the data, so bounds cost no extra pass; the callers fuse unless
        the call has `out=`, where the bounds are checked first so that a
        caller's buffer is never written by a call that fails."""
        if self._check is not None:
            self._check(y, p, prm)
        bounds = self._bounds(prm) if self._bounds is not None else ()
        if bounds and not fused:
            V.check_bounds(bounds, {"y_true": y, "y_pred": p})
            return ()
        return bounds

    def _signature(self):
        P = inspect.Parameter
        ps = [P("y_true", P.POSITIONAL_OR_KEYWORD), P("y_pred", P.POSITIONAL_OR_KEYWORD)]
        ps += [P(p.name, P.KEYWORD_ONLY, default=p.default) for p in self.params]
        ps += [P("sample_weight", P.KEYWORD_ONLY, default=None),
               P("reduction", P.KEYWORD_ONLY, default="mean")]
        return inspect.Signature(ps)

    def _docstring(self, summary, formula, y_true_doc, y_pred_doc, notes, equivalents):
        lines = [summary, "", formula.strip(), "", "Parameters", "----------",
                 "y_true : array_like", f"    {y_true_doc}",
                 "y_pred : array_like", f"    {y_pred_doc}"]
        for p in self.params:
            lines += [f"{p.name} : default {p.default!r}", f"    {p.doc}"]
        lines += [
            "sample_weight : array_like, optional",
            "    Non-negative weights: the shape of y_pred, (n,) (one weight per",
            "    row, applied to each of its elements) or a scalar.",
            "reduction : {'mean', 'sum', 'none'}, default 'mean'",
            "    'none': w_i * l_i per unit; 'sum': sum(w_i * l_i);",
            "    'mean': sum(w_i * l_i) / sum(w_i).",
            "",
            "Returns",
            "-------",
            "loss : scalar of the computation dtype, or array for reduction='none'",
            "",
            "Notes",
            "-----",
            "float32 inputs are computed in float32 (sums accumulate in float64);",
            "anything else in float64.  `.grad` returns the gradient of the same",
            "value, `.loss_grad` both from one pass"
            + (", `.grad_hess` per-sample derivatives." if self.has_hessian else
               "; this loss has no `.grad_hess` (zero hessian)."),
        ]
        if notes:
            lines += ["", notes.strip()]
        if equivalents:
            lines += ["", "Equivalents: " + equivalents.strip()]
        return "\n".join(lines)


def _outputs(out, mode, shape, dtype, inputs):
    """Gradient and hessian arrays for a mode: fresh, or the caller's `out`
    after checking it can be written safely."""
    if mode == MODE_LOSS:
        return None, None
    outs = (out,) if mode == MODE_LOSS_GRAD else (out or (None, None))
    made = []
    for arr, name in zip(outs, ("out[0]", "out[1]") if mode == MODE_GRAD_HESS else ("out",)):
        if arr is None:
            made.append(np.empty(shape, dtype))
            continue
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{name} must be a NumPy array; got {type(arr).__name__}")
        if arr.shape != tuple(shape) or arr.dtype != dtype:
            raise ValueError(f"{name} must have shape {tuple(shape)} and dtype {dtype} (the "
                             f"computation dtype); got {arr.shape} and {arr.dtype}")
        if not (arr.flags.c_contiguous and arr.flags.writeable and arr.flags.aligned):
            raise ValueError(f"{name} must be a writeable, C-contiguous array")
        if any(isinstance(a, np.ndarray) and np.may_share_memory(arr, a) for a in inputs):
            raise ValueError(f"{name} must not share memory with the inputs")
        made.append(arr)
    if mode == MODE_LOSS_GRAD:
        return made[0], None
    if made[0] is made[1] or np.may_share_memory(made[0], made[1]):
        raise ValueError("out[0] and out[1] must be different arrays")
    return made[0], made[1]


def _result(want, total, denominator, mean, dtype, lo, g, h):
    """What a method returns, from a kernel's loss sum and its outputs."""
    if want == "grad_hess":
        return g, h
    if lo is not None:
        value = lo
    elif mean:
        value = dtype.type(total / denominator if denominator > 0 else np.nan)
    else:
        value = dtype.type(total)
    return value, g


class ElementwiseLoss(Loss):
    """A loss of one prediction per element: y_true and y_pred of one shape.

    `kernel(params)` returns (kernel name, tuple of float parameters) for
    the compiled element-wise kernel.
    """

    kind = "elementwise"

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel if callable(kernel) else (lambda prm, _k=kernel: (_k, ()))
        if self._check is None and self._bounds is None and type(self) is ElementwiseLoss:
            # Default keywords, no value checks: plain arrays can skip validation.
            name, kparams = self._kernel(self._parse({}))
            K = _dispatch.kernels("_elementwise")
            self._fast = partial(K.fast, K.KERNEL_IDS[name], tuple(kparams))

    def _evaluate(self, want, y_true, y_pred, sample_weight, reduction, kwargs, out=None):
        reduction = V.check_reduction(reduction)
        prm = self._parse(kwargs)
        yt = V.as_numeric(y_true, "y_true")
        yp = V.as_numeric(y_pred, "y_pred")
        V.check_same_shape(yt, yp)
        dtype = V.float_dtype(yt, yp)
        shape = yp.shape
        y = V.contiguous(yt, dtype)
        p = V.contiguous(yp, dtype)
        bounds = self._check_values(y, p, prm, fused=out is None)
        w, k, total = V.weights(sample_weight, shape, dtype, reduction)
        mode = {"loss": MODE_LOSS, "grad_hess": MODE_GRAD_HESS}.get(want, MODE_LOSS_GRAD)
        lo = np.empty(shape, dtype) if reduction == "none" and mode != MODE_GRAD_HESS else None
        g, h = _outputs(out, mode, shape, dtype, (y_true, y_pred, sample_weight, y, p, w))
        mean = reduction == "mean"
        gscale = 1.0 / total if mean and total > 0 else 1.0
        s = self._run(prm, shape, mode, y, p, w, k, lo, g, h, gscale, bool(bounds))
        if bounds:
            s, y_range, p_range = s
            V.check_found(bounds, {"y_true": y_range, "y_pred": p_range})
        return _result(want, s, total, mean, dtype, lo, g, h)

    def _run(self, prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges):
        """Run the compiled loop over the contiguous buffers; returns the loss
        sum, or with ranges=True (sum, (min, max) of y, (min, max) of p), NaN
        skipped (a hook: subclasses may route some parameters to another loop)."""
        name, kparams = self._kernel(prm)
        K = _dispatch.kernels("_elementwise")
        return K.run(K.KERNEL_IDS[name], mode, y, p, w, k, kparams, lo, g, h, gscale,
                     _config.threads_for(p.size), ranges)


class RowwiseLoss(Loss):
    """A loss of one row of C class scores: y_pred of shape (..., C).

    Dense targets y_true have y_pred's shape (one-hot or probability rows);
    `reduction="none"` returns one loss per row, shape y_pred.shape[:-1], and
    sample_weight holds one weight per row.  `kernel(prm, C)` returns (kernel
    name, tuple of float parameters) for the compiled row-wise kernel
    (fastloss/_kernels/_rowwise.pyx.tp); `check(y, p, prm)` validates the
    values on the contiguous arrays (y is None for integer labels).
    """

    kind = "rowwise"
    #: True for losses of integer class labels (SparseRowwiseLoss).
    sparse = False

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel

    def _targets(self, y_true, yp):
        """(contiguous targets or None, contiguous labels or None, dtype)."""
        yt = V.as_numeric(y_true, "y_true")
        V.check_same_shape(yt, yp)
        dtype = V.float_dtype(yt, yp)
        return V.contiguous(yt, dtype), None, dtype

    def _evaluate(self, want, y_true, y_pred, sample_weight, reduction, kwargs, out=None):
        reduction = V.check_reduction(reduction)
        prm = self._parse(kwargs)
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
        bounds = self._check_values(y, p, prm, fused=out is None)
        w, k, _ = V.weights(sample_weight, units, dtype, reduction)
        n = p.size // n_classes
        if w is not None and k > 0:  # one weight per k rows (or a scalar: k == n)
            w = np.repeat(w, k)
        name, kparams = self._kernel(prm, n_classes)
        K = _dispatch.kernels("_rowwise")
        mode = {"loss": MODE_LOSS, "grad_hess": MODE_GRAD_HESS}.get(want, MODE_LOSS_GRAD)
        lo = np.empty(units, dtype) if reduction == "none" and mode != MODE_GRAD_HESS else None
        g, h = _outputs(out, mode, yp.shape, dtype,
                        (y_true, y_pred, sample_weight, y, lab, p, w, cw))
        mean = reduction == "mean"
        r = K.run(K.KERNEL_IDS[name], mode, y, lab, p, n_classes, w, cw, kparams,
                  prm.get("ignore_index"),
                  None if lo is None else lo.reshape(-1),
                  None if g is None else g.reshape(-1),
                  None if h is None else h.reshape(-1),
                  mean, _config.threads_for(p.size), bool(bounds))
        if bounds:
            V.check_found(bounds, {"y_true": r[2], "y_pred": r[3]})
        return _result(want, r[0], r[1], mean, dtype, lo, g, h)


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
        if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.intp).max:
            # a cast would wrap huge labels onto negative ones (e.g. ignore_index)
            raise ValueError(
                f"y_true holds class label {a.max()!r}, outside [0, {yp.shape[-1]}) "
                f"for y_pred with {yp.shape[-1]} classes")
        if a.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                ai = a.astype(np.intp)
            bad = ai != a
            if np.any(bad):
                raise ValueError(
                    "y_true must hold integer class labels; found the non-integer value "
                    f"{a[bad].flat[0]!r} (round or cast the labels to int first)")
            a = ai
        lab = np.ascontiguousarray(a, dtype=np.intp).reshape(-1)
        return None, lab, V.float_dtype(yp)


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

    def _run(self, prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges):
        cp = prm[self._column_param]
        if not isinstance(cp, np.ndarray):
            return super()._run(prm, shape, mode, y, p, w, k, lo, g, h, gscale, ranges)
        if len(shape) == 0 or shape[-1] != cp.size:
            raise ValueError(
                f"{self._column_param} with {cp.size} values needs y_pred with {cp.size} "
                f"columns (last axis); got y_pred of shape {shape} (pass a scalar to "
                "apply one value everywhere)")
        name, kparams = self._kernel(dict(prm, **{self._column_param: 1.0}))
        K = _dispatch.kernels("_rowwise")
        cp = np.ascontiguousarray(cp, dtype=p.dtype)
        found = (V.value_range(y), V.value_range(p)) if ranges else ()
        s = K.run_cols(K.COL_KERNEL_IDS[name], mode, y, p, cp, w, k, kparams, lo, g, h,
                       gscale, _config.threads_for(p.size))
        return (s,) + found if ranges else s

