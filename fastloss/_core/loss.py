"""The Loss class: the calling convention, implemented once.

A loss declares its positional `inputs`, the inputs `wrt` which it returns
gradients for, and the `unit` that `reduction="none"` and `sample_weight`
refer to (an element, a row, a sample, a box, a sequence).  From that
declaration this class derives the public methods, their signature and
docstring, the binding of inputs given by position or by name, keyword
parsing and the structure of gradients and `out=` (one array when `wrt` has
one entry, else a tuple in `wrt` order).  A *loop shape* (a subclass: the
element-wise loop, the row-wise loop, the pairwise-row loop, ...) supplies
`_compute`: validating its inputs (through fastloss._core.validation),
choosing the dtype, allocating or checking the outputs with `outputs` and
running its compiled kernel.  Each concrete loss is then only metadata
(names, parameters, docs, a sampler of valid inputs) and the kernel it runs.
"""

import inspect
import math
from typing import NamedTuple

import numpy as np

from fastloss._core import validation as V
from fastloss._core.samples import draw_pair

# Kernel modes: what one pass stores (see _kernels/_elementwise.pyx.tp).
MODE_LOSS, MODE_LOSS_GRAD, MODE_GRAD_HESS = 0, 1, 2


#: unit -> the units' shape (reduction="none") from the first wrt input's
#: shape: an element per element, a row (the last axis holds its values, as
#: do a box's 4 coordinates), a sample per entry of the first axis, a
#: sequence per batch entry of torch's time-major (T, n, C) layout.
UNIT_SHAPES = {
    "element": lambda s: s,
    "row": lambda s: s[:-1],
    "box": lambda s: s[:-1],
    "sample": lambda s: s[:1],
    "sequence": lambda s: s[1:-1],
}


class Param:
    """A loss-specific keyword: name, default, converter/validator, doc."""

    __slots__ = ("name", "default", "convert", "doc")

    def __init__(self, name, default, convert, doc):
        self.name = name
        self.default = default
        self.convert = convert
        self.doc = doc


class Input(NamedTuple):
    """A positional input of a loss: its name (used in error messages and as
    a keyword) and what it holds (its docstring entry)."""

    name: str
    doc: str


class Loss:
    """A loss function with its gradient (and hessian where meaningful).

    Call it (or `.loss`) for the loss, `.grad` for the gradient of that
    value with respect to the inputs in `wrt`, `.loss_grad` for both from
    one pass, and `.grad_hess` for per-unit gradient and diagonal hessian.
    """

    #: The loop shape ("elementwise", "rowwise", ...), set by subclasses.
    kind = None
    #: What reduction="none" returns one loss of, and sample_weight weighs.
    unit = "element"
    #: Shapes worth testing and benchmarking, per loop shape (a loss may
    #: override entries with `shapes=`): "test" (a list of shapes the
    #: generated tests use), "fd" (finite differences), "empty" (no units),
    #: "threads" (large enough to run on several threads), "leak" (the
    #: memory-growth test's; default the last test shape), "simd" (shapes
    #: with vector remainders, for the every-SIMD-level test), and the bench
    #: sizes "small", "minibatch", "large" (and "wide") where they apply.  A
    #: shape is whatever the loss's sampler understands (y_pred's shape for
    #: the (y_true, y_pred) losses).
    SHAPES = {}
    #: True when a unit's loss depends on its own inputs only (so NaN in one
    #: unit leaves the others finite); False for losses whose units interact
    #: (a softmax over the whole batch, as in InfoNCE).
    unit_local = True
    #: None when reduction="none" returns one array of per-unit losses and
    #: sample_weight is one array (every loss but a few).  Otherwise the
    #: inputs of each independent group of units, e.g. (("real_logits",),
    #: ("fake_logits",)) for a GAN discriminator whose real and fake batches
    #: differ in size: "none" then returns a tuple with one per-unit array per
    #: group, sample_weight is None or a tuple with one entry per group, and
    #: "mean" is the sum over groups of each group's weighted mean.
    unit_groups = None
    #: Where each input holds its units, for adapters that split the inputs
    #: into blocks of whole units (fastloss.dask): input name -> the axis that
    #: indexes the units (inputs not named: axis 0, the batch axis).  A
    #: negative axis counts from the end, so {"log_probs": -2, "targets": -2}
    #: finds the batch of time-major (T, n, C) scores and of padded (n, S)
    #: targets; an input without that axis (an unbatched (T, C) sequence,
    #: concatenated 1-d targets) cannot be split by units.
    unit_axes = {}
    #: True when the loss weighs its units itself from the data (class weights
    #: looked up by label, ignored rows), so that the denominator of "mean" is
    #: not just the sum of the sample weights (or the number of units); a
    #: callable prm -> bool when that depends on the keywords.
    data_weights = False
    #: True when reduction="mean" is the weighted mean of the per-unit values
    #: that reduction="none" returns; False for a loss with a mean rule of its
    #: own (ctc divides each sequence's loss by its target length first, as
    #: torch does), which its docstring states and whose NumPy reference
    #: registers in fastloss.reference.REDUCTIONS.
    mean_of_units = True
    #: Why a loss declared with hessian=False has no `.grad_hess` (for its
    #: error message and docstring); loop shapes whose hessian is not
    #: diagonal say so instead.
    no_hessian_reason = "it is zero almost everywhere"

    def __init__(self, name, *, inputs=None, wrt=("y_pred",), aliases=(), params=(),
                 hessian=True, summary="", formula="", y_true_doc="", y_pred_doc="",
                 notes="", equivalents="", domain=("real", "real"), sampler=None,
                 examples=({},), shapes=None, bounds=None, check=None, unit=None,
                 unit_axes=None, data_weights=None):
        self.name = name
        # inputs: Input tuples in positional order; the default is the
        # (y_true, y_pred) pair of the wave-1 losses, documented by
        # y_true_doc / y_pred_doc.
        if inputs is None:
            inputs = (Input("y_true", y_true_doc), Input("y_pred", y_pred_doc))
        self._inputs = tuple(Input(*i) for i in inputs)
        self.inputs = tuple(i.name for i in self._inputs)
        self._input_set = frozenset(self.inputs)
        self.wrt = tuple(wrt)
        unknown = [w for w in self.wrt if w not in self.inputs]
        if not self.wrt or unknown:
            raise ValueError(f"{name}: wrt {self.wrt} must name some of its inputs {self.inputs}")
        if unit is not None:
            self.unit = unit
        if unit_axes is not None:
            self.unit_axes = dict(unit_axes)
        if data_weights is not None:
            self.data_weights = data_weights
        # bounds(prm): the allowed values of the inputs (V.Bound tuples, by
        # input name); check(arrays, prm): any other check of the values, on
        # the contiguous arrays (a dict by input name) before a kernel runs
        # (it may set private keys in prm).
        self._bounds = bounds
        self._check = check
        # Valid example inputs: sampler(rng, shape, dtype, prm) -> a tuple in
        # `inputs` order; by default, for (y_true, y_pred) losses, arrays of
        # the value kinds `domain` names (a pair, or a callable prm -> pair;
        # see fastloss/_core/samples.py).  `examples` are keyword sets worth
        # testing and benchmarking.  Both document the loss too.
        self._domain = domain
        self._sampler = sampler
        self.examples = tuple(examples)
        self.shapes = {**self.SHAPES, **(shapes or {})}
        self.aliases = tuple(aliases)
        self.params = tuple(params)
        self.has_hessian = hessian
        self._param_names = {p.name: p for p in self.params}
        clash = set(self.inputs) & (set(self._param_names) | {"sample_weight", "reduction", "out"})
        if clash:
            raise ValueError(f"{name}: input names {sorted(clash)} clash with keywords")
        # Converters see one value at a time, so the defaults convert once.
        self._converted_defaults = {p.name: p.convert(p.default, p.name) for p in self.params}
        self._parsed = {}
        self.summary = summary
        self.__doc__ = self._docstring(summary, formula, notes, equivalents)
        self.__signature__ = self._signature()

    # -- public calling convention -------------------------------------------------

    #: The compiled call path, set by loop shapes that have one: an object
    #: whose `call(what, inputs, sample_weight, reduction, out, params)` (what:
    #: 0 loss, 1 grad, 2 loss_grad, 3 grad_hess) returns what that method
    #: returns, or None when the call needs the general path below (anything
    #: but plain arrays and keyword sets it has seen, and every error).
    _fast = None

    def loss(self, *inputs, sample_weight=None, reduction="mean", **params):
        """The loss; see the object's docstring."""
        fast = self._fast
        if fast is not None:
            r = fast.call(0, inputs, sample_weight, reduction, None, params)
            if r is not None:
                return r
        return self._evaluate(MODE_LOSS, inputs, sample_weight, reduction, params)[0]

    __call__ = loss

    def grad(self, *inputs, sample_weight=None, reduction="mean", out=None, **params):
        """Gradient of `loss(...)` (same keywords) with respect to the inputs in
        `wrt`: one array shaped like its input when `wrt` has one entry, else a
        tuple in `wrt` order.  With reduction="mean" it carries the 1/sum(w)
        factor.

        out: optional array (a tuple of arrays, one per `wrt` input, when
        there are several) to write the gradient into: C-contiguous, the shape
        of its input, the computation dtype, not overlapping the inputs;
        reusing one saves an allocation per call in a training loop."""
        fast = self._fast
        if fast is not None:
            r = fast.call(1, inputs, sample_weight, reduction, out, params)
            if r is not None:
                return r
        return self._evaluate(MODE_LOSS_GRAD, inputs, sample_weight, reduction, params, out)[1]

    def loss_grad(self, *inputs, sample_weight=None, reduction="mean", out=None, **params):
        """(loss, grad) from one fused pass over the data; `grad` and `out` as
        for `.grad`."""
        fast = self._fast
        if fast is not None:
            r = fast.call(2, inputs, sample_weight, reduction, out, params)
            if r is not None:
                return r
        return self._evaluate(MODE_LOSS_GRAD, inputs, sample_weight, reduction, params, out)

    def grad_hess(self, *inputs, sample_weight=None, out=None, **params):
        """(grad, hess): per-unit first and diagonal second derivatives of
        `w_i * l_i` (no reduction), each structured like `.grad`'s result, as
        gradient-boosting libraries expect from a custom objective.  out:
        optional (grad, hess) pair to write into, each structured as for
        `.grad`."""
        fast = self._fast
        if fast is not None:
            r = fast.call(3, inputs, sample_weight, "none", out, params)
            if r is not None:
                return r
        if not self.has_hessian:
            raise NotImplementedError(
                f"{self.name} has no meaningful hessian ({self.no_hessian_reason}); "
                "use .grad, or a smooth loss such as huber or log_cosh for boosting"
            )
        if "reduction" in params:
            raise TypeError(
                f"{self.name}.grad_hess() takes no reduction: it returns per-sample "
                "derivatives (use .grad for the gradient of a reduced loss)"
            )
        if out is not None and (not isinstance(out, tuple) or len(out) != 2):
            raise TypeError("out for grad_hess must be a (grad, hess) pair of arrays")
        return self._evaluate(MODE_GRAD_HESS, inputs, sample_weight, "none", params, out)

    def weighs_data(self, **params):
        """Whether, with these keywords, the loss weighs its units from the data
        (see `data_weights`): then the denominator of "mean" depends on the
        inputs, not only on sample_weight."""
        dw = self.data_weights
        return bool(dw(self._parse(params)) if callable(dw) else dw)

    def _partial(self, mode, inputs, sample_weight=None, reduction="mean", params=None):
        """One block of a reduction computed over several calls: like
        `_evaluate`, but the value is a `Parts(total, denominator)` pair (the
        block's share of the numerator and denominator of `reduction`, so
        that the whole value is sum(total) / sum(denominator) for "mean" and
        sum(total) for "sum"), and a block whose weights sum to zero is
        allowed.  The gradient is that of the block's own value.  Raises
        NoParts for a loss whose value is not such a ratio of sums over its
        units (it does not pass them to `value`, e.g. a sum of other losses'
        means)."""
        params = dict(params or {})
        arrays = self._bind(inputs, params)
        reduction = V.check_reduction(reduction)
        prm = self._parse(params)
        token = V.PARTIAL.set(True)
        try:
            out = self._compute(mode, arrays, sample_weight, reduction, prm, None)
        finally:
            V.PARTIAL.reset(token)
        if mode != MODE_GRAD_HESS and reduction != "none" and not isinstance(out[0], Parts):
            raise NoParts(f"{self.name} does not report block partials (its value is not "
                            "a sum over its units divided by one denominator)")
        return out

    def unit_shape(self, *shapes, **params):
        """The shape of `reduction="none"`'s result (one loss per unit) for
        inputs of these shapes (in `inputs` order), without computing it: what
        adapters need to describe an output before the data exists (a traced
        graph, a lazy array).  The default follows `unit`, from the shape of
        the first `wrt` input (see UNIT_SHAPES); a loss whose units are laid
        out otherwise, or whose "none" result is a tuple of arrays (then a
        list of shapes), overrides it."""
        shape = tuple(shapes[self.inputs.index(self.wrt[0])])
        return UNIT_SHAPES[self.unit](shape)

    def domain(self, **params):
        """(y_true kind, y_pred kind) for these keywords, e.g. ("real", "positive")
        (the value kinds of fastloss._core.samples, for (y_true, y_pred) losses)."""
        return self._domain(self._parse(params)) if callable(self._domain) else self._domain

    def sample(self, params=None, shape=None, dtype=np.float64, seed=0):
        """Valid example inputs (a tuple in `inputs` order) for these keywords,
        of a `shape` from `self.shapes` (default: the first test shape); used
        by the tests and benchmarks, and handy for trying a loss out."""
        prm = self._parse(dict(params or {}))
        shape = self.shapes["test"][0] if shape is None else shape
        rng = np.random.default_rng(seed)
        if self._sampler is not None:
            return tuple(self._sampler(rng, shape, np.dtype(dtype), prm))
        return draw_pair(rng, self.domain(**(params or {})), shape, np.dtype(dtype))

    def __repr__(self):
        return f"<fastloss loss {self.name!r}>"

    # -- shared machinery -------------------------------------------------------------

    def _bind(self, args, params):
        """The inputs in positional order, from positional arguments and (for
        the rest) keywords named after them (taken out of `params`)."""
        n = len(self.inputs)
        if len(args) == n and not (params and params.keys() & self._input_set):
            return args
        if len(args) > n:
            raise TypeError(
                f"{self.name}() takes {n} positional inputs ({', '.join(self.inputs)}) "
                f"but {len(args)} were given")
        for name in self.inputs[:len(args)]:
            if name in params:
                raise TypeError(f"{self.name}() got multiple values for input {name!r}")
        missing = [name for name in self.inputs[len(args):] if name not in params]
        if missing:
            raise TypeError(
                f"{self.name}() missing required input{'s' if len(missing) > 1 else ''} "
                + ", ".join(repr(m) for m in missing)
                + f" (its inputs are {', '.join(self.inputs)})")
        return tuple(args) + tuple(params.pop(name) for name in self.inputs[len(args):])

    def _parse(self, kwargs):
        """Fill defaults, reject unknown keywords, convert and check values.

        Returns a new dict (callers may add private keys to it); keyword sets
        of hashable values are converted once and remembered."""
        if not kwargs:
            return dict(self._converted_defaults)
        key = []
        for k, v in kwargs.items():  # (no generator here: its frame would sit in
            key.append((k, type(v), v))  # the traceback of a bad keyword's error)
        key = tuple(key)
        try:
            hit = self._parsed.get(key)
        except TypeError:  # an unhashable value (an array): convert it every time
            hit = False
        if hit is None or hit is False:
            out = self._parse_new(kwargs)
            if hit is None and len(self._parsed) < 256:
                self._parsed[key] = out
            return dict(out)
        return dict(hit)

    def _parse_new(self, kwargs):
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

    def _evaluate(self, mode, inputs, sample_weight, reduction, params, out=None):
        """Bind, check the reduction, parse the keywords, then the loop shape's
        `_compute`; returns (value, grad) or, for MODE_GRAD_HESS, (grad, hess)."""
        if V.PARTIAL.get():
            # a loss called inside another loss's block (e.g. a part of a sum
            # of losses): it returns its ordinary value
            token = V.PARTIAL.set(False)
            try:
                return self._evaluate(mode, inputs, sample_weight, reduction, params, out)
            finally:
                V.PARTIAL.reset(token)
        arrays = self._bind(inputs, params)
        reduction = V.check_reduction(reduction)
        prm = self._parse(params)
        return self._compute(mode, arrays, sample_weight, reduction, prm, out)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        """The loop shape's work: validate `arrays` (in `inputs` order), run
        the kernel, return what `_evaluate` returns (see `result`)."""
        raise NotImplementedError

    def _check_values(self, arrays, prm, fused=False):
        """Run `check`, and the `bounds` unless the kernel will report the
        ranges (fused=True).  Returns the bounds still to verify.

        arrays: the contiguous inputs by name.  Kernels can report the min and
        max of their inputs from their own pass over the data, so bounds cost
        no extra pass; the callers fuse unless the call has `out=`, where the
        bounds are checked first so that a caller's buffer is never written by
        a call that fails."""
        if self._check is not None:
            self._check(arrays, prm)
        bounds = self._bounds(prm) if self._bounds is not None else ()
        if bounds and not fused:
            V.check_bounds(bounds, arrays)
            return ()
        return bounds

    def _weight_docs(self):
        """The docstring entries of sample_weight and reduction (a hook for loop
        shapes whose weights are structured otherwise)."""
        unit = f"one per {self.unit}"
        return [
            "sample_weight : array_like, optional",
            f"    Non-negative weights, {unit}"
            + (": the shape of y_pred, (n,) (one weight per row, applied to each of its "
               "elements) or a scalar." if self.unit == "element" else
               " (shape (n,) for n units), or a scalar."),
            "reduction : {'mean', 'sum', 'none'}, default 'mean'",
            f"    'none': w_i * l_i per {self.unit}; 'sum': sum(w_i * l_i);",
            "    'mean': sum(w_i * l_i) / sum(w_i)." if self.mean_of_units else
            "    'mean': this loss's own rule (see the formula).",
        ]

    def _signature(self):
        P = inspect.Parameter
        ps = [P(name, P.POSITIONAL_OR_KEYWORD) for name in self.inputs]
        ps += [P(p.name, P.KEYWORD_ONLY, default=p.default) for p in self.params]
        ps += [P("sample_weight", P.KEYWORD_ONLY, default=None),
               P("reduction", P.KEYWORD_ONLY, default="mean")]
        return inspect.Signature(ps)

    def _docstring(self, summary, formula, notes, equivalents):
        lines = [summary, "", formula.strip(), "", "Parameters", "----------"]
        for i in self._inputs:
            lines += [f"{i.name} : array_like", f"    {i.doc}"]
        for p in self.params:
            lines += [f"{p.name} : default {p.default!r}", f"    {p.doc}"]
        lines += self._weight_docs()
        lines += [
            "",
            "Returns",
            "-------",
            f"loss : scalar of the computation dtype, or one value per {self.unit} for "
            "reduction='none'",
            "",
            "Notes",
            "-----",
            "float32 inputs are computed in float32 (sums accumulate in float64);",
            "anything else in float64.  `.grad` returns the gradient of the same value "
            + ("with respect to " + self.wrt[0] if len(self.wrt) == 1 else
               "as a tuple of gradients with respect to " + ", ".join(self.wrt))
            + ", `.loss_grad` both from one pass"
            + (", `.grad_hess` per-unit derivatives." if self.has_hessian else
               f"; this loss has no `.grad_hess` ({self.no_hessian_reason})."),
        ]
        if notes:
            lines += ["", notes.strip()]
        if equivalents:
            lines += ["", "Equivalents: " + equivalents.strip()]
        return "\n".join(lines)


def outputs(out, mode, loss, shapes, dtype, inputs):
    """Gradient (and hessian) arrays for a mode, one per `wrt` input: fresh, or
    the caller's `out` (structured as the method's result) after checking it
    can be written safely.  Returns (grads, hess): lists, or None."""
    if mode == MODE_LOSS:
        return None, None
    if mode == MODE_LOSS_GRAD:
        return _checked_outs(out, "out", loss.wrt, shapes, dtype, inputs), None
    g_out, h_out = (None, None) if out is None else out
    grads = _checked_outs(g_out, "out[0]", loss.wrt, shapes, dtype, inputs)
    hess = _checked_outs(h_out, "out[1]", loss.wrt, shapes, dtype, inputs)
    made = grads + hess
    for i, a in enumerate(made):
        for b in made[i + 1:]:
            if a is b or np.may_share_memory(a, b):
                raise ValueError("out[0] and out[1] must be different arrays")
    return grads, hess


def _checked_outs(out, label, wrt, shapes, dtype, inputs):
    if out is None:
        return [np.empty(s, dtype) for s in shapes]
    if len(wrt) == 1:
        outs, labels = (out,), (label,)
    else:
        if not isinstance(out, (tuple, list)) or len(out) != len(wrt):
            raise TypeError(f"{label} must be a tuple of {len(wrt)} arrays, one per input "
                            f"in wrt ({', '.join(wrt)})")
        outs = tuple(out)
        labels = tuple(f"{label}[{i}] (for {w})" for i, w in enumerate(wrt))
    made = []
    for arr, name, shape in zip(outs, labels, shapes, strict=True):
        if arr is None and len(wrt) > 1:
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
        if any(arr is m or np.may_share_memory(arr, m) for m in made):
            raise ValueError(f"{label} must hold different arrays")
        made.append(arr)
    return made


class NoParts(TypeError):
    """Raised by Loss._partial for a loss whose value is not one ratio of sums
    over its units (so it cannot be computed block by block)."""


class Parts(NamedTuple):
    """A block's share of a reduced loss (see Loss._partial): the sum of its
    w_i * l_i (for "mean", the numerator the loss divides) and the
    denominator of "mean" over its units."""

    total: float
    denominator: float


def value(total, denominator, mean, dtype, lo):
    """The loss a method returns: the per-unit array `lo` (reduction='none'),
    the weighted mean total / denominator (NaN when nothing is weighed) or
    the sum, as a scalar of the computation dtype.  Loop shapes pass the sum
    and the denominator themselves, never a finished mean: within
    Loss._partial the pair is returned as it is (Parts)."""
    if lo is not None:
        return lo
    if V.PARTIAL.get():
        return Parts(float(total), float(denominator))
    if mean:
        return dtype.type(total / denominator if denominator > 0 else math.nan)
    return dtype.type(total)


def result(mode, loss, val, grads, hess):
    """What a method returns: (value, grad) or for MODE_GRAD_HESS (grad, hess),
    each gradient one array when `wrt` has one entry, else a tuple."""
    if len(loss.wrt) == 1:
        g = None if grads is None else grads[0]
        h = None if hess is None else hess[0]
    else:
        g = None if grads is None else tuple(grads)
        h = None if hess is None else tuple(hess)
    if mode == MODE_GRAD_HESS:
        return g, h
    return val, g
