"""Your own losses: `fastloss.custom` (a loss from NumPy point functions) and
`fastloss.combine` (a weighted sum of losses).

Both return loss objects with the whole calling convention of the built-in
losses (keyword parameters, sample weights, reductions, `out=`, dtypes,
validation with named inputs), registered nowhere unless asked, so
`fastloss.available()` keeps listing the built-ins only.
"""

import numbers
import sys

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loops import ElementwiseLoss
from fastloss._core.loss import MODE_GRAD_HESS, MODE_LOSS, Loss, Param, outputs, result, value
from fastloss._core.registry import register as _register

__all__ = ["combine", "custom"]


def _refcount_of_a_fresh_local():
    # What sys.getrefcount reports for an array only a local variable holds;
    # it depends on the interpreter (3.14 may borrow the reference), so it is
    # measured the way `_take` asks.
    a = np.empty(1)
    return sys.getrefcount(a)


_FRESH = _refcount_of_a_fresh_local()


def _param_converter(default):
    """How a custom keyword's values are checked, from its default."""
    if isinstance(default, (bool, np.bool_)):
        return V.bool_param
    if isinstance(default, numbers.Real):
        return V.real_param
    return lambda v, name: v


def _describe(fn):
    return getattr(fn, "__qualname__", None) or repr(fn)


class CustomLoss(Loss):
    """An element-wise (y_true, y_pred) loss from NumPy point functions; see
    `fastloss.custom`."""

    kind = "custom"
    unit = "element"
    SHAPES = ElementwiseLoss.SHAPES

    def __init__(self, name, *, loss, grad, hess=None, params=None, check_finite=True,
                 summary=None, formula="", notes="", domain=("real", "real"), aliases=()):
        for label, fn in (("loss", loss), ("grad", grad)) + ((("hess", hess),) if hess else ()):
            if not callable(fn):
                raise TypeError(f"custom loss {name!r}: {label} must be a function "
                                f"f(y_true, y_pred, **params) -> array; got {fn!r}")
        if hess is not None and not callable(hess):
            raise TypeError(f"custom loss {name!r}: hess must be a function or None")
        params = dict(params or {})
        for key in params:
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"custom loss {name!r}: parameter names must be "
                                 f"identifiers; got {key!r}")
        self._fns = {"loss": loss, "grad": grad, "hess": hess}
        self._check_finite = bool(check_finite)
        fn_names = ", ".join(f"{k}={_describe(f)}" for k, f in self._fns.items() if f)
        super().__init__(
            name, aliases=aliases, hessian=hess is not None, domain=domain,
            params=tuple(Param(k, v, _param_converter(v), f"Passed to {fn_names}.")
                         for k, v in params.items()),
            summary=summary or f"Custom loss {name!r} from NumPy point functions.",
            formula=formula or f"l = {_describe(loss)}(y_true, y_pred), "
                               f"dl/dy_pred = {_describe(grad)}(y_true, y_pred)"
                               + (f", hessian {_describe(hess)}(y_true, y_pred)." if hess
                                  else "."),
            y_true_doc="Targets, passed to the point functions (as a read-only array of "
                       "the computation dtype).",
            y_pred_doc="Predictions, the same shape as y_true (passed likewise).",
            notes=(notes + "\n\n" if notes else "")
            + "Made with fastloss.custom: the point functions are called once per call "
              "on whole arrays; fastloss validates the inputs and the functions' results "
              "(shape, numbers, finite for finite inputs) and applies the weights and the "
              "reduction in one compiled pass.")

    def grad_hess(self, *inputs, sample_weight=None, out=None, **params):
        if not self.has_hessian:
            raise NotImplementedError(
                f"custom loss {self.name!r} was made without a hessian: pass "
                "hess=f(y_true, y_pred) to fastloss.custom for .grad_hess")
        return super().grad_hess(*inputs, sample_weight=sample_weight, out=out, **params)

    def _take(self, label, y, p, prm, shape, dtype, avoid):
        """Call the point function `label` on (y, p); return its result as an
        array of `shape` and `dtype` that this call may write: the function's
        own array when nothing else holds it, else a copy."""
        fn = self._fns[label]
        r = fn(y, p, **prm)
        fresh = type(r) is np.ndarray and sys.getrefcount(r) <= _FRESH
        what = f"custom loss {self.name!r}: its {label} function {_describe(fn)}"
        try:
            a = np.asarray(r)
        except (ValueError, TypeError) as e:
            raise TypeError(f"{what} must return an array of numbers; got "
                            f"{type(r).__name__} ({e})") from None
        if a.shape != shape:
            raise ValueError(
                f"{what} returned shape {a.shape}; it must return one value per element, "
                f"shape {shape} (the shape of y_pred): point functions take element-wise "
                "arrays and return element-wise arrays")
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{what} returned dtype {a.dtype}; it must return real numbers")
        own = (fresh and a.dtype == dtype and a.flags.c_contiguous and a.flags.owndata
               and a.flags.writeable and a.flags.aligned and a.dtype.isnative
               and not any(np.may_share_memory(a, x) for x in avoid))
        return a if own else np.array(a, dtype=dtype, order="C", copy=True)

    def _nonfinite(self, label, arr, y, p):
        """Raise when `arr` (the function's result) has inf or NaN while the
        inputs are finite."""
        if not self._check_finite or np.isfinite(arr).all():
            return
        if not (np.isfinite(y).all() and np.isfinite(p).all()):
            return  # NaN or inf in the inputs propagates
        bad = tuple(int(i) for i in np.unravel_index(int(np.argmin(np.isfinite(arr))),
                                                      arr.shape))
        raise ValueError(
            f"custom loss {self.name!r}: its {label} function {_describe(self._fns[label])} "
            f"returned {float(arr[bad])} at index {bad} for finite inputs (y_true="
            f"{float(y[bad])}, y_pred={float(p[bad])}); fix the function, or pass "
            "check_finite=False to fastloss.custom to allow it")

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        yt = V.as_numeric(arrays[0], "y_true")
        yp = V.as_numeric(arrays[1], "y_pred")
        V.check_same_shape(yt, yp)
        dtype = V.float_dtype(yt, yp)
        shape = yp.shape
        y = V.contiguous(yt, dtype).reshape(shape)
        p = V.contiguous(yp, dtype).reshape(shape)
        avoid = tuple(a for a in arrays if isinstance(a, np.ndarray)) + (y, p)
        w, k, total = V.weights(sample_weight, shape, dtype, reduction)
        # out= is checked before the functions run; without it the functions'
        # own results become the outputs (no allocation of ours).
        grads, hess = (None, None) if out is None else outputs(
            out, mode, self, (shape,), dtype, tuple(arrays) + (sample_weight, y, p, w))
        y = y.view()
        p = p.view()
        y.flags.writeable = False  # the point functions cannot modify the inputs
        p.flags.writeable = False
        mean = reduction == "mean"
        none = reduction == "none"
        terms = {}
        wanted = ("grad", "hess") if mode == MODE_GRAD_HESS else (
            ("loss",) if mode == MODE_LOSS else ("loss", "grad"))
        for label in wanted:
            terms[label] = self._take(label, y, p, prm, shape, dtype, avoid)
        for label, given in (("grad", grads), ("hess", hess)):
            if given is not None:
                np.copyto(given[0], terms[label])
                terms[label] = given[0]
        flat = {key: a.reshape(-1) for key, a in terms.items()}
        K = dispatch.kernels("_generative")
        gscale = 1.0 / total if mean and total > 0 else 1.0
        s, finite = K.run_terms(flat.get("loss"), flat.get("grad"), flat.get("hess"), w, k,
                                gscale, none, config.threads_for(p.size))
        if self._check_finite:
            # A non-finite loss shows in the sum, a non-finite derivative in the
            # kernel's flag; only then are the arrays scanned for the culprit.
            if "loss" in terms and not np.isfinite(s):
                self._nonfinite("loss", terms["loss"], y, p)
            if not finite:
                for label in ("grad", "hess"):
                    if label in terms:
                        self._nonfinite(label, terms[label], y, p)
        grads = [terms["grad"]] if "grad" in terms else None
        hess = [terms["hess"]] if "hess" in terms else None
        val = None if mode == MODE_GRAD_HESS else value(
            s, total, mean, dtype, terms["loss"] if none else None)
        return result(mode, self, val, grads, hess)


def custom(name, loss, grad, hess=None, *, params=None, check_finite=True, register=False,
           aliases=(), summary=None, formula="", notes="", domain=("real", "real")):
    """A loss object from NumPy point functions.

    Parameters
    ----------
    name : str
        The loss's name (in messages, its repr and, with register=True, the
        registry).
    loss, grad : callable
        ``f(y_true, y_pred, **params) -> array``: the loss of every element
        and its derivative with respect to y_pred, as arrays of y_pred's
        shape.  They receive read-only arrays of the computation dtype
        (float32 for float32 inputs, else float64) shaped like y_pred, and
        are called once per call on the whole arrays.
    hess : callable, optional
        The second derivative, likewise; enables ``.grad_hess`` (boosting).
    params : dict, optional
        Keyword parameters of the loss and their defaults, e.g.
        ``{"under": 2.0}``: accepted by every method and passed to the
        functions.  Real defaults make the keyword a checked finite real,
        bool defaults a bool.
    check_finite : bool, default True
        Raise ValueError (naming the function) when a function returns inf
        or NaN for finite inputs; NaN or inf in the inputs may propagate.
    register : bool, default False
        Also add the loss to the registry (``fastloss.get(name)``,
        ``fastloss.available()``); names must then be new.
    aliases : tuple of str
        Other names, with register=True.
    summary, formula, notes : str
        Docstring text (a default names the functions).
    domain : (str, str)
        Value kinds of (y_true, y_pred) for ``.sample`` (see
        fastloss._core.samples.KINDS).

    Returns
    -------
    loss : Loss
        Called like any fastloss loss: ``loss(y_true, y_pred, **params,
        sample_weight=None, reduction="mean")``, ``.grad``, ``.loss_grad``
        (with ``out=``) and, with hess, ``.grad_hess``.  The weights,
        reduction and the 1/sum(w) of "mean" are applied in one compiled pass
        over the functions' results (used in place when nothing else holds
        them), so a call costs little more than the functions themselves.

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> def loss(y, p, under=2.0, over=0.5):
    ...     e = y - p
    ...     return np.where(e > 0, under, over) * e * e
    >>> def grad(y, p, under=2.0, over=0.5):
    ...     e = y - p
    ...     return -2 * np.where(e > 0, under, over) * e
    >>> asym = fl.custom("asym", loss, grad, params={"under": 2.0, "over": 0.5})
    >>> y, p = np.array([1.0, 2.0]), np.array([0.0, 3.0])
    >>> float(asym(y, p)) == float(fl.asymmetric_squared(y, p))
    True
    """
    obj = CustomLoss(name, loss=loss, grad=grad, hess=hess, params=params,
                     check_finite=check_finite, summary=summary, formula=formula, notes=notes,
                     domain=domain, aliases=aliases)
    return _register(obj) if register else obj


# --- combine ----------------------------------------------------------------------------


def _part(spec, i):
    """(loss, weight, keywords) from a part given as a loss, (loss, weight) or
    (loss, weight, {keywords})."""
    if isinstance(spec, Loss):
        return spec, 1.0, {}
    if isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[0], Loss):
        kw = spec[2] if len(spec) == 3 else {}
        if not isinstance(kw, dict):
            raise TypeError(f"combine: part {i} keywords must be a dict; got {kw!r}")
        return spec[0], V.real_param(spec[1], f"the weight of part {i} ({spec[0].name})"), kw
    raise TypeError(f"combine: part {i} must be a loss, (loss, weight) or (loss, weight, "
                    f"{{keywords}}); got {spec!r}")


def _scaled_add(acc, x, c):
    """acc + c * x for the pieces of a result (scalars, arrays owned by this
    call, or tuples of them); arrays are updated in place (x too)."""
    if isinstance(acc, tuple):
        return tuple(_scaled_add(a, b, c) for a, b in zip(acc, x, strict=True))
    if isinstance(acc, np.ndarray):
        if c != 1:
            np.multiply(x, x.dtype.type(c), out=x)
        np.add(acc, x, out=acc)
        return acc
    return type(acc)(float(acc) + c * float(x))


def _scaled(x, c):
    """c * x for a piece of a result (None, a scalar, an array owned by this
    call, updated in place, or a tuple of them)."""
    if c == 1 or x is None:
        return x
    if isinstance(x, tuple):
        return tuple(_scaled(a, c) for a in x)
    if isinstance(x, np.ndarray):
        np.multiply(x, x.dtype.type(c), out=x)
        return x
    return type(x)(c * float(x))


class CombinedLoss(Loss):
    """A weighted sum of losses of the same inputs; see `fastloss.combine`."""

    kind = "combined"

    def __init__(self, parts, shared, name=None):
        parts = [_part(spec, i) for i, spec in enumerate(parts)]
        if not parts:
            raise TypeError("combine needs at least one loss")
        first = parts[0][0]
        for loss, _, _ in parts[1:]:
            if loss.inputs != first.inputs or loss.wrt != first.wrt:
                raise ValueError(
                    f"combine: every loss must take the same inputs and differentiate the "
                    f"same ones; {first.name} takes {first.inputs} (wrt {first.wrt}), "
                    f"{loss.name} takes {loss.inputs} (wrt {loss.wrt})")
            if loss.unit_groups != first.unit_groups:
                raise ValueError(f"combine: {first.name} and {loss.name} group their units "
                                 "differently")
        accepted = {}
        for loss, _, _ in parts:
            for p in loss.params:
                accepted.setdefault(p.name, p)
        unknown = sorted(set(shared) - set(accepted))
        if unknown:
            raise TypeError(f"combine: no part accepts the keyword{'s' * (len(unknown) > 1)} "
                            f"{', '.join(map(repr, unknown))} (the parts accept: "
                            f"{', '.join(accepted) or 'none'})")
        self._parts = []
        for loss, c, kw in parts:
            bound = {k: v for k, v in shared.items() if k in loss._param_names}
            bound.update(kw)
            loss._parse(dict(bound))  # checks names and values now
            self._parts.append((loss, c, bound))
        units = sorted({loss.unit for loss, _, _ in parts})
        self.unit = units[0] if len(units) == 1 else "mixed (" + ", ".join(units) + ")"
        self._one_unit = len(units) == 1
        self.unit_groups = first.unit_groups
        label = " + ".join(f"{c:g} * {loss.name}"
                           + (f"({', '.join(f'{k}={v!r}' for k, v in kw.items())})" if kw else "")
                           for loss, c, kw in self._parts)
        super().__init__(
            name or label, inputs=first._inputs, wrt=first.wrt,
            params=tuple(accepted.values()),
            hessian=all(loss.has_hessian for loss, _, _ in parts),
            summary=f"Weighted sum of losses: {label}.",
            formula="value, gradient and hessian: the weighted sums of the parts' "
                    f"(each part runs its own fused kernel): {label}.",
            notes="Made with fastloss.combine.  Call keywords go to every part that "
                  "accepts them (and must be accepted by one); keywords given to "
                  "combine are bound the same way, per-part dicts to their part only; "
                  "call keywords override bound ones.  sample_weight and reduction go to "
                  "every part: 'mean' is the weighted sum of the parts' means"
                  + ("." if self._one_unit else
                     "; the parts have different units, so reduction='none' is not "
                     "available."),
            sampler=lambda rng, shape, dtype, prm: first.sample(
                {k: v for k, v in {**self._parts[0][2], **prm}.items()
                 if k in first._param_names}, shape, dtype,
                seed=int(rng.integers(2**31))),
            shapes=first.shapes)
        self.kind = f"combined ({', '.join(sorted({loss.kind for loss, _, _ in parts}))})"

    def weighs_data(self, **params):
        return any(loss.weighs_data(**self._routed(loss, bound, params))
                   for loss, _, bound in self._parts)

    def unit_shape(self, *shapes, **params):
        if not self._one_unit:
            raise ValueError(f"{self.name}: its parts have different units ({self.unit}), "
                             "so reduction='none' has no result")
        loss, _, bound = self._parts[0]
        return loss.unit_shape(*shapes, **self._routed(loss, bound, params))

    @staticmethod
    def _routed(loss, bound, params):
        """The keywords a part gets: its bound ones, then those of `params` it
        accepts."""
        return {**bound, **{k: v for k, v in params.items() if k in loss._param_names}}

    @property
    def parts(self):
        """The (loss, weight, bound keywords) of each part."""
        return tuple((loss, c, dict(kw)) for loss, c, kw in self._parts)

    def _parse(self, kwargs):
        # Keywords are checked and converted by the parts that take them; here
        # only that some part accepts each one.
        for key in kwargs:
            if key not in self._param_names:
                allowed = ", ".join(["sample_weight", "reduction"] + list(self._param_names))
                raise TypeError(f"{self.name}() got an unexpected keyword argument {key!r} "
                                f"(it accepts: {allowed})")
        return dict(kwargs)

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        if reduction == "none" and mode != MODE_GRAD_HESS and not self._one_unit:
            raise ValueError(
                f"{self.name}: its parts have different units ({self.unit}), so there is "
                "no per-unit loss for reduction='none'; use 'mean' or 'sum'")
        arrays = tuple(V.as_numeric(a, n) for a, n in zip(arrays, self.inputs, strict=True))
        # The first part writes into `out` and runs last, so that a call which
        # fails (in any part) leaves the caller's buffers untouched.
        acc = None
        for i in list(range(1, len(self._parts))) + [0]:
            loss, c, bound = self._parts[i]
            kw = self._routed(loss, bound, prm)
            # _evaluate: each part returns its ordinary value, also when the
            # combined loss is computed block by block (Loss._partial)
            r = loss._evaluate(mode, arrays, sample_weight, reduction, kw,
                               out if i == 0 else None)
            if acc is None:
                acc = [_scaled(x, c) for x in r]
            elif i == 0:  # the sum goes into this part's arrays (out=, when given)
                acc = [None if x is None else _scaled_add(_scaled(x, c), a, 1.0)
                       for x, a in zip(r, acc, strict=True)]
            else:
                acc = [None if a is None else _scaled_add(a, x, c)
                       for a, x in zip(acc, r, strict=True)]
        return tuple(acc)


def combine(*parts, name=None, **keywords):
    """A weighted sum of losses that take the same inputs, e.g. Dice +
    binary cross-entropy (MONAI's DiceCE).

    Parameters
    ----------
    *parts : Loss, (Loss, weight) or (Loss, weight, dict)
        The terms: a loss (weight 1), a loss with its weight (any finite
        real), or also a dict of keywords for that loss only.
    name : str, optional
        The combined loss's name (default: the weighted sum written out).
    **keywords
        Keywords bound for every part that accepts them (each must be
        accepted by at least one part), e.g. ``from_logits=True``.

    Returns
    -------
    loss : Loss
        ``value = sum_k c_k loss_k(...)``, and its gradient (and, when every
        part has one, its hessian) the same weighted sums; each part runs its
        own fused kernel.  Call-time keywords are routed the same way as
        `keywords` and override them; sample_weight and reduction apply to
        every part ('mean' is the weighted sum of the parts' means, as in
        MONAI's DiceCELoss).  reduction='none' needs parts of one unit
        (elements, samples, ...).

    Examples
    --------
    >>> import numpy as np, fastloss as fl
    >>> smooth = fl.combine(fl.mse, (fl.huber, 0.5, {"delta": 2.0}))
    >>> y, p = np.zeros(3), np.array([0.5, -1.0, 3.0])
    >>> v = smooth(y, p)
    >>> bool(np.isclose(v, fl.mse(y, p) + 0.5 * fl.huber(y, p, delta=2.0)))
    True
    """
    return CombinedLoss(parts, keywords, name=name)
