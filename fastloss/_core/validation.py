"""Turning array-likes into checked, contiguous arrays: the one validation layer.

Every public entry point goes through here before any kernel runs, so the
kernels can skip bounds checks.  Messages name the argument and say what to
fix.
"""

import contextvars
import math
import numbers
import operator
from functools import partial
from typing import NamedTuple

import numpy as np

from fastloss._core import config, dispatch

REDUCTIONS = ("none", "mean", "sum")

#: Set while a loss computes one block of a reduction that spans several calls
#: (fastloss.dask): `fastloss._core.loss.value` then returns the block's
#: (total, denominator) pair instead of the reduced value, and a block whose
#: weights sum to zero is not an error (the other blocks may carry weight).
PARTIAL = contextvars.ContextVar("fastloss_partial", default=False)


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'none', 'mean', 'sum'; got {reduction!r}"
        )
    return reduction


def as_numeric(x, name):
    """np.asarray(x) with a check that it holds real numbers (or booleans)."""
    try:
        a = np.asarray(x)
    except ValueError as e:  # ragged nested lists: NumPy's message names no argument
        raise ValueError(
            f"{name} could not be converted to an array (are its rows of unequal "
            f"length?): {e}"
        ) from None
    kind = a.dtype.kind
    if kind in "fiub":
        return a
    if kind == "c":
        raise TypeError(f"{name} must be real; got a complex array ({a.dtype})")
    raise TypeError(
        f"{name} must be an array of numbers; got dtype {a.dtype} "
        f"(convert it with np.asarray(..., dtype=float) first)"
    )


def float_dtype(*arrays):
    """The dtype losses are computed in: float32 when every float input is
    float32 or narrower (integer/boolean labels do not widen it), else float64."""
    wide = False
    for a in arrays:
        if a is None:
            continue
        if a.dtype.kind == "f" and a.dtype.itemsize > 4:
            wide = True
    floats = [a for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return np.dtype(np.float64)
    return np.dtype(np.float64 if wide else np.float32)


def contiguous(a, dtype):
    """A C-contiguous, native-byte-order 1-d view (or copy) of `a` as `dtype`.

    No copy is made when `a` already qualifies; the result is never written to.
    """
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def check_same_shape(y_true, y_pred, what="y_true and y_pred"):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{what} must have the same shape; got {y_true.shape} and {y_pred.shape}"
            + (" (one of them looks transposed)"
               if y_true.shape == y_pred.shape[::-1] and y_true.ndim == 2 else "")
        )


def weights(sample_weight, shape, dtype, reduction, n_units=None):
    """Validate `sample_weight` against a loss over `shape`.

    Returns (w, k, total): w is None or a contiguous 1-d array of `dtype`;
    k == 0 means one weight per element, k > 0 one weight per run of k
    consecutive elements (a row); total is the sum of the weights over all
    elements (the denominator of reduction="mean").

    Accepted shapes: the full `shape`, `(shape[0],)` (one weight per row,
    applied to every element of the row), or a scalar.
    """
    n = math.prod(shape)
    if sample_weight is None:
        return None, 0, float(n)
    sw = as_numeric(sample_weight, "sample_weight")
    if sw.dtype.kind == "b":
        sw = sw.astype(dtype)
    if sw.shape == tuple(shape):
        k = 0
    elif sw.ndim == 0:
        k = n
    elif len(shape) >= 1 and sw.shape == (shape[0],):
        k = n // shape[0] if shape[0] else 0
        if k == 1:
            k = 0
    else:
        expected = f"{tuple(shape)}" + (f" or ({shape[0]},)" if len(shape) >= 2 else "")
        raise ValueError(
            f"sample_weight must have shape {expected} (or be a scalar); got {sw.shape}"
        )
    with np.errstate(over="ignore"):  # overflow is reported below, by name
        w = contiguous(sw, dtype)
    if dtype != sw.dtype and sw.size and not np.isfinite(w).all() and np.isfinite(sw).all():
        raise ValueError(
            f"sample_weight has values too large for {dtype} (the dtype of the "
            "predictions); rescale the weights (only their ratios matter for 'mean')"
        )
    if w.size and np.min(w) < 0:
        raise ValueError("sample_weight must be non-negative; it has negative entries")
    # the compiled call path sums the weights with the same function
    total = dispatch.kernels("_elementwise").weight_sum(w) * (k if k > 0 else 1)
    if n == 0:
        return None, 0, 0.0
    if reduction == "mean" and total == 0 and not PARTIAL.get():
        raise ValueError(
            "sample_weight sums to zero, so reduction='mean' is undefined; "
            "use reduction='sum' or give some sample a positive weight"
        )
    return w, k, total


def unit_weights(sample_weight, units, dtype, reduction):
    """`weights` for a loss with one weight per unit (a row, a sample, a box, a
    sequence): returns (w, total), w None or a contiguous array of one weight
    per unit (a scalar or per-first-axis weights are spread over the units)."""
    w, k, total = weights(sample_weight, units, dtype, reduction)
    if w is not None and k > 0:
        w = np.repeat(w, k)
    return w, total


def int_labels(a, n_classes, name):
    """Integer class labels as a contiguous 1-d intp array, for labels that
    must lie in [0, n_classes) (the kernels check the range in their own
    pass).  Integer and boolean arrays are taken as they are; floats must be
    integral; unsigned values beyond intp are rejected here (a cast would
    wrap them onto negative ones, e.g. onto an ignore_index)."""
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.intp).max:
        raise ValueError(
            f"{name} holds class label {a.max()!r}, outside [0, {n_classes}) "
            f"for y_pred with {n_classes} classes")
    if a.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            ai = a.astype(np.intp)
        bad = ai != a
        if np.any(bad):
            raise ValueError(
                f"{name} must hold integer class labels; found the non-integer value "
                f"{a[bad].flat[0]!r} (round or cast the labels to int first)")
        a = ai
    return np.ascontiguousarray(a, dtype=np.intp).reshape(-1)


def real_param(value, name, *, low=None, high=None, low_open=False, high_open=False,
               allow_none=False):
    """A finite real parameter inside [low, high] (open ends where asked)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {value!r}")
    lo_bad = low is not None and (v <= low if low_open else v < low)
    hi_bad = high is not None and (v >= high if high_open else v > high)
    if lo_bad or hi_bad:
        lo_txt = "" if low is None else ("(" if low_open else "[") + f"{low}"
        hi_txt = "" if high is None else f"{high}" + (")" if high_open else "]")
        if low is not None and high is not None:
            rng = f"in {lo_txt}, {hi_txt}"
        elif low is not None:
            rng = f"{'>' if low_open else '>='} {low}"
        else:
            rng = f"{'<' if high_open else '<='} {high}"
        raise ValueError(f"{name} must be {rng}; got {value!r}")
    return v


# Converters for the common parameter ranges (Param(..., convert=...)).
positive = partial(real_param, low=0.0, low_open=True)
non_negative = partial(real_param, low=0.0)


def bool_param(value, name):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")


def int_param(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer; got {value!r}") from None


class Bound(NamedTuple):
    """Allowed values of one input (by its name, e.g. "y_true"): NaN aside, every
    value must lie in [low, high] (an open end where asked; None: unbounded);
    `why` is appended to the error message."""

    which: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    why: str = ""


def check_found(bounds, found):
    """Raise ValueError for the first bound violated, given the (min, max) of
    the non-NaN values of each argument: found[bound.which]."""
    for b in bounds:
        m_lo, m_hi = found[b.which]
        bad = None
        if b.low is not None and (m_lo < b.low or (b.low_open and m_lo == b.low)):
            bad = m_lo
        elif b.high is not None and (m_hi > b.high or (b.high_open and m_hi == b.high)):
            bad = m_hi
        if bad is not None:
            lo = "" if b.low is None else ("(" if b.low_open else "[") + f"{b.low}"
            hi = "" if b.high is None else f"{b.high}" + (")" if b.high_open else "]")
            rng = f"{lo or '(-inf'}, {hi or 'inf)'}"
            raise ValueError(f"{b.which} must lie in {rng}{b.why}; found {bad!r}")


def value_range(a):
    """(min, max) of the non-NaN values of a contiguous float32/float64 array,
    in one compiled pass ((inf, -inf) when there are none)."""
    return dispatch.kernels("_elementwise").value_range(a, config.threads_for(a.size))


def check_bounds(bounds, arrays):
    """check_found for contiguous arrays given by input name: {"y_true": y, ...}."""
    found = {}
    for b in bounds:
        if b.which not in found:
            found[b.which] = value_range(arrays[b.which])
        check_found((b,), found)


def class_weights_from_dict(mapping, n_classes):
    """The (n_classes,) array for a {class label: weight} dict (labels checked
    to be < n_classes); classes the dict leaves out weigh 1."""
    cw = np.ones(n_classes)
    for label, weight in mapping.items():
        if label >= n_classes:
            raise ValueError(
                f"class_weight has a weight for class {label}, but y_pred has only "
                f"{n_classes} classes (labels 0 to {n_classes - 1})")
        cw[label] = weight
    if not np.any(cw > 0):
        raise ValueError("class_weight must give at least one class a positive weight")
    return cw
