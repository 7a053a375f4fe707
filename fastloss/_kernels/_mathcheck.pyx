# cython: boundscheck=False, wraparound=False, language_level=3
"""Direct access to the fl_math.h elementary functions, for testing.

``apply(name, x)`` runs one of fastloss's own branch-free exp / expm1 / log /
log1p implementations (fastloss/_src/fl_math.h) element-wise over a 1-d
float32 or float64 array, in a plain C loop (the same form the loss kernels
use, so the compiler vectorises it), and returns a new array of the same
dtype.  float32 input is computed with the float32 functions, in float32
arithmetic.
"""

import numpy as np

cdef extern from "fl_math.h" nogil:
    double fl_exp(double x) noexcept
    double fl_expm1(double x) noexcept
    double fl_log(double x) noexcept
    double fl_log1p(double x) noexcept
    float fl_expf(float x) noexcept
    float fl_expm1f(float x) noexcept
    float fl_logf(float x) noexcept
    float fl_log1pf(float x) noexcept


FUNCTIONS = ("exp", "expm1", "log", "log1p")


# One plain loop per function (no call through a pointer), so each loop
# inlines its function and can be vectorised.
cdef void _apply_f64(int which, const double* x, double* y,
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if which == 0:
        for i in range(n):
            y[i] = fl_exp(x[i])
    elif which == 1:
        for i in range(n):
            y[i] = fl_expm1(x[i])
    elif which == 2:
        for i in range(n):
            y[i] = fl_log(x[i])
    else:
        for i in range(n):
            y[i] = fl_log1p(x[i])


cdef void _apply_f32(int which, const float* x, float* y,
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if which == 0:
        for i in range(n):
            y[i] = fl_expf(x[i])
    elif which == 1:
        for i in range(n):
            y[i] = fl_expm1f(x[i])
    elif which == 2:
        for i in range(n):
            y[i] = fl_logf(x[i])
    else:
        for i in range(n):
            y[i] = fl_log1pf(x[i])


def apply(str name, x):
    """Apply fl_math function ``name`` ("exp", "expm1", "log" or "log1p")
    element-wise to the 1-d float32 / float64 array ``x``; returns a new
    array of the same dtype."""
    if name not in FUNCTIONS:
        raise ValueError(
            f"unknown function {name!r}; expected one of {FUNCTIONS}")
    cdef int which = FUNCTIONS.index(name)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy.ndarray, not {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-d, got {x.ndim}-d")
    if x.dtype != np.float64 and x.dtype != np.float32:
        raise TypeError(f"x must be float32 or float64, got {x.dtype}")
    x = np.ascontiguousarray(x)   # no copy for contiguous input
    out = np.empty(x.shape[0], dtype=x.dtype)

    cdef const double[::1] xd
    cdef double[::1] yd
    cdef const float[::1] xf
    cdef float[::1] yf
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return out
    if x.dtype == np.float64:
        xd = x
        yd = out
        with nogil:
            _apply_f64(which, &xd[0], &yd[0], n)
    else:
        xf = x
        yf = out
        with nogil:
            _apply_f32(which, &xf[0], &yf[0], n)
    return out
