# Shared inline math for every fastloss kernel.
#
# Everything here is `cdef inline ... noexcept nogil`, branch-free (selects
# written as conditional expressions, which GCC if-converts under
# -fno-trapping-math) and typed on Cython's `floating`, so the float32
# specialisation stays in float32 and the loops that call these vectorise.
#
# Rule for float32: never mix a bare literal such as `0.5` into a `floating`
# expression -- C promotes it to double and halves the SIMD width.  Write
# `<floating>0.5` (or use the helpers below).

from cython cimport floating

cdef extern from "fl_math.h" nogil:
    # Branch-free exp/log family of our own (fastloss/_src/fl_math.h): the
    # compiler can vectorise them, unlike calls into libm.
    double fl_exp(double x) noexcept
    double fl_expm1(double x) noexcept
    double fl_log(double x) noexcept
    double fl_log1p(double x) noexcept
    float fl_expf(float x) noexcept
    float fl_expm1f(float x) noexcept
    float fl_logf(float x) noexcept
    float fl_log1pf(float x) noexcept
    double fl_log1p01(double x) noexcept
    float fl_log1p01f(float x) noexcept
    double fl_log1p02(double x) noexcept
    float fl_log1p02f(float x) noexcept


cdef inline floating f_exp(floating x) noexcept nogil:
    if floating is float:
        return fl_expf(x)
    else:
        return fl_exp(x)


cdef inline floating f_expm1(floating x) noexcept nogil:
    if floating is float:
        return fl_expm1f(x)
    else:
        return fl_expm1(x)


cdef inline floating f_log(floating x) noexcept nogil:
    if floating is float:
        return fl_logf(x)
    else:
        return fl_log(x)


cdef inline floating f_log1p(floating x) noexcept nogil:
    if floating is float:
        return fl_log1pf(x)
    else:
        return fl_log1p(x)


cdef inline floating f_log1p01(floating x) noexcept nogil:
    # log1p for x in [0, 1] (e.g. of exp(-|z|) in a softplus): f_log1p's bits
    # there, cheaper; other x give unspecified results.
    if floating is float:
        return fl_log1p01f(x)
    else:
        return fl_log1p01(x)


cdef inline floating f_log1p02(floating x) noexcept nogil:
    # log1p for x in [0, 2] (e.g. of exp(a) + exp(b), a, b <= 0, in a
    # three-term log-sum-exp): f_log1p's bits there, cheaper; other x give
    # unspecified results.
    if floating is float:
        return fl_log1p02f(x)
    else:
        return fl_log1p02(x)


cdef inline floating f_abs(floating x) noexcept nogil:
    # NaN stays NaN (only its sign bit may change).
    return -x if x < 0 else x


cdef inline floating f_sign(floating x) noexcept nogil:
    # -1, 0 or +1; NaN propagates (x * 0 is NaN only for NaN and inf, and
    # +-inf take the first two branches).
    return <floating>1 if x > 0 else (<floating>-1 if x < 0 else x * 0)


cdef inline floating f_clip(floating x, floating lo, floating hi) noexcept nogil:
    # NaN propagates: both comparisons are false.
    return lo if x < lo else (hi if x > hi else x)


cdef inline floating f_log1pexp(floating x) noexcept nogil:
    # softplus(x) = log(1 + exp(x)), for any x without overflow:
    #   max(x, 0) + log1p(exp(-|x|)),
    # exact to rounding on both tails (Maechler 2012, "Accurately computing
    # log(1 - exp(-|a|))", section 3).  softplus(+inf) = inf, (-inf) = 0,
    # NaN -> NaN.
    cdef floating pos = x if x > 0 else <floating>0
    return pos + f_log1p01(f_exp(-f_abs(x)))


cdef inline floating f_sigmoid(floating x) noexcept nogil:
    # 1 / (1 + exp(-x)) from e = exp(-|x|) <= 1, so nothing overflows and the
    # small tail keeps full relative accuracy: x >= 0: 1/(1+e), x < 0: e/(1+e).
    cdef floating e = f_exp(-f_abs(x))
    cdef floating r = <floating>1 / (<floating>1 + e)
    return r if x >= 0 else e * r
