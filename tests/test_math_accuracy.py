"""Accuracy and special values of fastloss's own exp / expm1 / log / log1p
(fastloss/_src/fl_math.h), exercised through the _mathcheck module built for
the ISA level in use (FASTLOSS_ISA=baseline tests the portable build).

References:
  * mpmath at 40 digits on a few thousand points per function and dtype,
    spread log-uniformly over the whole domain (subnormals included);
  * libm through NumPy on ~1e5-1e6 points: for float64 evaluated in
    np.longdouble where that is x87 extended precision (expl, logl, ... are
    then far more accurate than a float64 ulp), for float32 evaluated in
    float64.

Errors are measured in ulps of the exact result (for results in the
subnormal range: in units of the smallest subnormal), and additionally as the
integer distance between the bit patterns of our result and of the correctly
rounded result.  The documented bound is 1 ulp (measured: at most 0.95).
With FASTLOSS_EXHAUSTIVE_TESTS=1 the float32 functions are also checked on
every one of the 2**32 inputs.
"""

import os

import mpmath
import numpy as np
import pytest

from fastloss._core import dispatch as _dispatch

_mathcheck = _dispatch.kernels("_mathcheck")

MAX_ULP = 1.0
FUNCS = ("exp", "expm1", "log", "log1p")
DTYPES = (np.float64, np.float32)

# mantissa bits (incl. implicit) and exponent of the smallest subnormal
_PREC = {np.float64: (53, -1074), np.float32: (24, -149)}
_INT = {np.float64: np.int64, np.float32: np.int32}

_MP = {"exp": mpmath.exp, "expm1": mpmath.expm1,
       "log": mpmath.log, "log1p": mpmath.log1p}
_NP = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p}

_LONGDOUBLE_OK = np.finfo(np.longdouble).nmant >= 63


def apply(name, x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype)
    y = _mathcheck.apply(name, x)
    assert y.dtype == x.dtype and y.shape == x.shape
    return y


def ordered_int(a):
    """Bit pattern mapped to integers that are monotone in the float value
    (so that subtracting gives the distance in representable numbers)."""
    it = _INT[a.dtype.type]
    i = a.view(it).astype(np.int64)
    sign_flip = np.int64(np.iinfo(it).min)
    return np.where(i < 0, sign_flip - i, i)


def check_errors(name, x, y, ref_rounded, dtype):
    """Assert that NaN and +-inf results occur exactly where the correctly
    rounded reference has them; return the mask of finite references."""
    x = np.asarray(x)
    y = np.asarray(y)
    nan_ref = np.isnan(ref_rounded)
    np.testing.assert_array_equal(
        np.isnan(y), nan_ref,
        err_msg=f"{name}[{np.dtype(dtype).name}]: NaN mismatch")
    inf_ref = np.isinf(ref_rounded)
    bad = inf_ref & (y != ref_rounded)
    assert not bad.any(), (
        f"{name}[{np.dtype(dtype).name}]: expected "
        f"{ref_rounded[bad][:5]} at x={x[bad][:5]}, got {y[bad][:5]}")
    fin = ~(nan_ref | inf_ref)
    assert np.isfinite(y[fin]).all(), (
        f"{name}: non-finite result where a finite one is expected: "
        f"x={x[fin][~np.isfinite(y[fin])][:5]}")
    return fin


def ulp_of(ref, dtype):
    """ulp of the exact values `ref` (a float64 or longdouble array) in the
    format `dtype`: 2**(exponent - prec + 1), at least the smallest
    subnormal."""
    prec, emin = _PREC[dtype]
    _, e = np.frexp(ref)                  # |ref| = m * 2**e, m in [0.5, 1)
    e = np.maximum(e.astype(np.int64) - prec, emin)
    e = np.where(ref == 0, emin, e).astype(np.int32)
    return np.ldexp(np.ones(e.shape, dtype=ref.dtype), e)


def mp_reference(name, x):
    """Exact values (mpf, 40 digits) of function `name` at the points x."""
    f = _MP[name]
    with mpmath.workdps(40):
        return [f(mpmath.mpf(float(v))) for v in x]


def mp_ulp_errors(y, ref, dtype):
    prec, emin = _PREC[dtype]
    out = np.empty(len(y))
    with mpmath.workdps(40):
        for i, (yi, ri) in enumerate(zip(y, ref, strict=True)):
            if ri == 0:
                e = emin
            else:
                e = max(int(mpmath.frexp(ri)[1]) - prec, emin)
            out[i] = float(abs(mpmath.mpf(float(yi)) - ri) / mpmath.ldexp(1, e))
    return out


def mp_rounded(ref, dtype):
    """Correctly rounded (to nearest) values of the mpf list in `dtype`
    (the double rounding through float64 is harmless at the 40-digit
    precision used, except in contrived halfway cases)."""
    with mpmath.workdps(40):
        r64 = np.array([float(v) if mpmath.isfinite(v) or mpmath.isinf(v)
                        else np.nan for v in ref])
    if dtype is np.float32:
        with np.errstate(over="ignore"):
            return r64.astype(np.float32)
    return r64


# -- sample points -----------------------------------------------------------

def log_uniform(rng, lo, hi, n):
    """n magnitudes 10**u, u uniform in [lo, hi]."""
    return 10.0 ** rng.uniform(lo, hi, n)


def domain_points(name, dtype, n, seed):
    """Points spread log-uniformly over the whole domain of `name`."""
    rng = np.random.default_rng(seed)
    f64 = dtype is np.float64
    tiny = -320.0 if f64 else -45.0
    if name in ("exp", "expm1"):
        top = np.log10(709.78) if f64 else np.log10(88.72)
        bot = np.log10(745.13) if f64 else np.log10(103.97)
        x = np.concatenate([log_uniform(rng, tiny, top, n // 2),
                            -log_uniform(rng, tiny, bot, n // 2)])
    elif name == "log":
        emin, emax = (-1074, 1024) if f64 else (-149, 128)
        near1 = log_uniform(rng, -16 if f64 else -8, -0.5, n // 4)
        x = np.concatenate([np.exp2(rng.uniform(emin, emax, n // 2)),
                            1 + near1, 1 - near1 / 2])
    else:  # log1p
        top = 308.2 if f64 else 38.5
        x = np.concatenate([log_uniform(rng, tiny, top, n // 3),
                            -log_uniform(rng, tiny, 0, n // 3),
                            -1 + log_uniform(rng, -16 if f64 else -7, -0.3,
                                             n // 3)])
    with np.errstate(over="ignore", under="ignore"):
        x = x.astype(dtype)
    x = x[np.isfinite(x)]
    if name == "log1p":
        x = x[x > -1]
    return x


# -- accuracy against mpmath -------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", FUNCS)
def test_accuracy_vs_mpmath(name, dtype):
    x = domain_points(name, dtype, 4000, seed=FUNCS.index(name))
    assert len(x) > 3500
    y = apply(name, x, dtype)
    ref = mp_reference(name, x)
    rounded = mp_rounded(ref, dtype)
    fin = check_errors(name, x, y, rounded, dtype)
    assert fin.sum() > 3000
    err = mp_ulp_errors(y[fin], [r for r, k in zip(ref, fin, strict=True) if k], dtype)
    worst = int(np.argmax(err))
    assert err.max() <= MAX_ULP, (
        f"{name}[{np.dtype(dtype).name}]: {err.max():.3f} ulp at "
        f"x={x[fin][worst]!r}: got {y[fin][worst]!r}, "
        f"exact {mpmath.nstr(ref[np.flatnonzero(fin)[worst]], 20)}")
    # distance in representable numbers from the correctly rounded result
    dist = np.abs(ordered_int(y[fin]) - ordered_int(rounded[fin]))
    assert dist.max() <= 2


# -- accuracy against libm on many points ------------------------------------

def bulk_points(name, dtype, n, seed):
    """Random bit patterns over the domain plus dense uniform samples of the
    intervals where the reductions switch branches."""
    rng = np.random.default_rng(100 + seed)
    wide = domain_points(name, dtype, n // 2, seed + 10)
    dense = {
        "exp": [(-1.0, 1.0), (-745.14, -700.0) if dtype is np.float64
                else (-103.98, -85.0)],
        "expm1": [(-1.5, 1.5), (30.0, 50.0) if dtype is np.float64
                  else (8.0, 20.0)],
        "log": [(0.5, 2.0), (0.99, 1.01)],
        "log1p": [(-0.5, 1.0), (-0.01, 0.01), (-1.0, -0.9)],
    }[name]
    parts = [wide] + [rng.uniform(a, b, n // (2 * len(dense)))
                      for a, b in dense]
    x = np.concatenate(parts).astype(dtype)
    if name == "log1p":
        x = x[x > -1]
    return x


def libm_reference(name, x, dtype):
    """(exact-ish values, correctly rounded values in dtype)."""
    f = _NP[name]
    with np.errstate(all="ignore"):
        if dtype is np.float32:
            ref = f(x.astype(np.float64))
            return ref, ref.astype(np.float32)
        ref = f(x.astype(np.longdouble))
        return ref, ref.astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", FUNCS)
def test_accuracy_vs_libm(name, dtype):
    if dtype is np.float64 and not _LONGDOUBLE_OK:
        pytest.skip("np.longdouble is not extended precision here")
    n = 500_000 if dtype is np.float64 else 1_000_000
    x = bulk_points(name, dtype, n, FUNCS.index(name))
    y = apply(name, x, dtype)
    ref, rounded = libm_reference(name, x, dtype)
    fin = check_errors(name, x, y, rounded, dtype)
    yf, rf = y[fin], ref[fin]
    err = np.abs(yf.astype(rf.dtype) - rf) / ulp_of(rf, dtype)
    worst = int(np.argmax(err))
    assert err.max() <= MAX_ULP, (
        f"{name}[{np.dtype(dtype).name}]: {float(err.max()):.3f} ulp at "
        f"x={x[fin][worst]!r}: got {yf[worst]!r}, ref {rf[worst]!r}")
    dist = np.abs(ordered_int(yf) - ordered_int(rounded[fin]))
    assert dist.max() <= 2
    # the bulk of the results is correctly rounded
    assert np.mean(dist == 0) > 0.9


# -- every float ---------------------------------------------------------------

EXHAUSTIVE = bool(os.environ.get("FASTLOSS_EXHAUSTIVE_TESTS"))


@pytest.mark.skipif(not EXHAUSTIVE,
                    reason="all 2**32 floats take minutes; set FASTLOSS_EXHAUSTIVE_TESTS=1")
@pytest.mark.parametrize("name", FUNCS)
def test_float32_every_input(name):
    worst, where = 0.0, None
    chunk = 1 << 24
    for start in range(0, 1 << 32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        y = apply(name, x, np.float32)
        ref, rounded = libm_reference(name, x, np.float32)
        fin = check_errors(name, x, y, rounded, np.float32)
        err = np.abs(y[fin].astype(np.float64) - ref[fin]) / ulp_of(ref[fin], np.float32)
        if err.size and err.max() > worst:
            k = int(np.argmax(err))
            worst, where = float(err[k]), x[fin][k]
    assert worst <= MAX_ULP, f"{name}: {worst:.3f} ulp at x={where!r}"


# -- lengths (vector body + scalar remainder) and layouts --------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", FUNCS)
def test_every_length_and_position(name, dtype):
    x = domain_points(name, dtype, 300, seed=7)[:67]
    full = apply(name, x, dtype)
    ref, rounded = libm_reference(name, x, dtype) if (
        dtype is np.float32 or _LONGDOUBLE_OK) else (None, None)
    for n in range(0, 67):
        part = apply(name, x[n:], dtype)
        assert part.shape == (len(x) - n,)
        # same value whichever lane / the scalar epilogue computes it
        np.testing.assert_array_equal(part, full[n:])
    if ref is not None:
        fin = check_errors(name, x, full, rounded, dtype)
        err = np.abs(full[fin].astype(ref.dtype) - ref[fin]) / ulp_of(
            ref[fin], dtype)
        assert err.max() <= MAX_ULP
    strided = apply(name, x[::2], dtype)
    np.testing.assert_array_equal(strided, full[::2])


def test_argument_checking():
    with pytest.raises(ValueError):
        _mathcheck.apply("sin", np.ones(3))
    with pytest.raises(TypeError):
        _mathcheck.apply("exp", np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError):
        _mathcheck.apply("exp", np.ones((2, 2)))
    assert _mathcheck.apply("log", np.ones(0, np.float32)).dtype == np.float32


# -- special values ----------------------------------------------------------

INF, NAN = np.inf, np.nan


def same(y, expected):
    """Equal values with equal sign of zero; NaN matches NaN."""
    y = np.asarray(y, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(y) & np.isnan(e)
    eq = (y == e) & (np.signbit(y) == np.signbit(e))
    return both_nan | eq


SPECIAL = {
    "exp": [(NAN, NAN), (INF, INF), (-INF, 0.0), (0.0, 1.0), (-0.0, 1.0),
            (1e308, INF), (-1e308, 0.0), (709.79, INF), (710.0, INF),
            (1000.0, INF), (-746.0, 0.0), (-800.0, 0.0),
            (-745.2, 0.0), (1e-300, 1.0), (-1e-300, 1.0)],
    "expm1": [(NAN, NAN), (INF, INF), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0),
              (1e-300, 1e-300), (-1e-300, -1e-300), (5e-324, 5e-324),
              (-5e-324, -5e-324), (2.2250738585072014e-308,
                                   2.2250738585072014e-308),
              (1e308, INF), (709.79, INF), (710.0, INF), (-40.0, -1.0),
              (-1000.0, -1.0), (-1e308, -1.0)],
    "log": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, -INF), (-0.0, -INF),
            (1.0, 0.0), (-1.0, NAN), (-5e-324, NAN), (-1e-300, NAN)],
    "log1p": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, 0.0), (-0.0, -0.0),
              (-1.0, -INF), (-1.0000000000000002, NAN), (-2.0, NAN),
              (-1e308, NAN), (1e-300, 1e-300), (-1e-300, -1e-300),
              (5e-324, 5e-324), (-5e-324, -5e-324)],
}

SPECIAL_F32 = {
    "exp": [(NAN, NAN), (INF, INF), (-INF, 0.0), (0.0, 1.0), (-0.0, 1.0),
            (88.73, INF), (89.0, INF), (1e30, INF), (-104.0, 0.0),
            (-1e30, 0.0), (1e-30, 1.0)],
    "expm1": [(NAN, NAN), (INF, INF), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0),
              (1e-30, 1e-30), (-1e-30, -1e-30), (1e-45, 1e-45),
              (88.73, INF), (1e30, INF), (-18.0, -1.0), (-1e30, -1.0)],
    "log": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, -INF), (-0.0, -INF),
            (1.0, 0.0), (-1.0, NAN), (-1e-45, NAN)],
    "log1p": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, 0.0), (-0.0, -0.0),
              (-1.0, -INF), (-1.0000001, NAN), (-2.0, NAN),
              (1e-30, 1e-30), (-1e-30, -1e-30), (1e-45, 1e-45)],
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["exp", "expm1"])
def test_overflow_and_underflow_far_out(name, dtype):
    # Far beyond the thresholds (where the exponent arithmetic would wrap if it
    # were not cut off) the results are the limits: +inf, 0 or -1.
    big = 2000.0 if dtype is np.float64 else 300.0
    x = np.concatenate([np.linspace(-big, big, 40_001), [-np.inf, np.inf]]).astype(dtype)
    y = apply(name, x, dtype)
    with np.errstate(over="ignore"):
        ref = _NP[name](x.astype(np.float64)).astype(dtype)
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    np.testing.assert_array_equal(y == 0, ref == 0)
    np.testing.assert_array_equal(y == -1, ref == -1)
    fin = np.isfinite(ref) & (np.abs(ref) >= np.finfo(dtype).tiny)   # normal results
    rel = np.abs(y[fin].astype(np.float64) / ref[fin].astype(np.float64) - 1)
    assert rel.max() < 4 * np.finfo(dtype).eps


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_special_values(name, dtype):
    table = (SPECIAL if dtype is np.float64 else SPECIAL_F32)[name]
    xs = np.array([x for x, _ in table], dtype=dtype)
    expected = np.array([e for _, e in table], dtype=dtype)
    # also inside a longer array, so the vectorised body handles them
    reps = 9
    y = apply(name, np.tile(xs, reps), dtype).reshape(reps, -1)
    for row in y:
        ok = same(row, expected)
        assert ok.all(), (
            f"{name}[{np.dtype(dtype).name}]: x={xs[~ok]} gave {row[~ok]}, "
            f"expected {expected[~ok]}")


def test_nan_inputs():
    # NaN of either sign comes back as NaN, in the vector body and the tail
    x = np.array([np.nan, -np.nan] * 4)
    for name in FUNCS:
        assert np.isnan(apply(name, x, np.float64)).all()
        assert np.isnan(apply(name, x, np.float32)).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_exp_overflow_threshold(dtype):
    # largest finite result / first overflowing input, from the exact value
    big = np.finfo(dtype).max
    t = float(mpmath.log(mpmath.mpf(float(big))))
    below = np.array([t], dtype=dtype)
    below = below if float(below[0]) <= t else np.nextafter(below, -np.inf)
    above = np.nextafter(below, np.inf)
    xs = np.concatenate([np.nextafter(below, -np.inf), below, above,
                         np.nextafter(above, np.inf)]).astype(dtype)
    rounded = mp_rounded(mp_reference("exp", xs), dtype)
    y = apply("exp", np.tile(xs, 5), dtype)[:4]
    np.testing.assert_array_equal(np.isinf(y), np.isinf(rounded))
    assert np.isfinite(y[:2]).all() and np.isinf(y[3])
    assert y[1] > big / 2
    ym1 = apply("expm1", np.tile(xs, 5), dtype)[:4]
    np.testing.assert_array_equal(np.isinf(ym1), np.isinf(rounded))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_exp_gradual_underflow(dtype):
    """Results in the subnormal range are within 1 unit of the smallest
    subnormal of the exact value (not flushed to zero, not off by a
    binade), and go to +0 only below half the smallest subnormal."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    lo = float(mpmath.log(mpmath.mpf(tiny) / 2))       # exp(lo) = tiny/2
    hi = float(mpmath.log(mpmath.mpf(float(np.finfo(dtype).tiny))))
    x = np.linspace(lo - 0.5, hi + 0.5, 20_001).astype(dtype)
    y = apply("exp", x, dtype)
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.exp(mpmath.mpf(float(v))) / tiny)
                          for v in x[::20]])
    got = y[::20].astype(np.float64) / tiny
    assert np.abs(got - exact).max() <= 1.0
    # monotone and strictly positive above the underflow-to-zero threshold
    assert (np.diff(y.astype(np.float64)) >= 0).all()
    assert (y[x > lo + 1e-3] > 0).all()
    assert (y[x < lo - 1e-3] == 0).all()
    assert y[x < lo - 1e-3].size > 100
    # the smallest subnormal itself is reached
    assert (y == tiny).any()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_log_subnormal_inputs(dtype):
    info = np.finfo(dtype)
    tiny = float(info.smallest_subnormal)
    k = np.array([1, 2, 3, 5, 7, 1000, 123457, 2 ** 20 + 1, 2 ** 22 - 1],
                 dtype=np.float64)
    x = np.concatenate([k * tiny, [float(info.tiny) * 0.75]]).astype(dtype)
    x = x[(x > 0) & (x < info.tiny)]
    y = apply("log", x, dtype)
    ref = mp_reference("log", x)
    err = mp_ulp_errors(y, ref, dtype)
    assert err.max() <= MAX_ULP
    # log of the smallest subnormal
    bits = 1074 if dtype is np.float64 else 149
    assert abs(float(y[0]) - (-bits * np.log(2))) <= 2 * np.spacing(
        dtype(bits * np.log(2)))


def test_exactness_near_zero_and_one():
    for dt in DTYPES:
        one = np.ones(17, dtype=dt)
        assert (apply("log", one, dt) == 0).all()
        assert not np.signbit(apply("log", one, dt)).any()
        z = np.zeros(17, dtype=dt)
        assert (apply("log1p", z, dt) == 0).all()
        assert (apply("expm1", z, dt) == 0).all()
        assert (apply("exp", z, dt) == 1).all()
    x = np.array([1e-300, 1e-200, 1e-100, 1e-30, 1e-20, 1e-17] * 3)
    # for |x| < 2**-54 both functions equal x exactly after rounding
    for name in ("expm1", "log1p"):
        y = apply(name, x, np.float64)
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(apply(name, -x, np.float64), -x)
    xf = np.array([1e-40, 1e-30, 1e-20, 1e-10] * 5, dtype=np.float32)
    for name in ("expm1", "log1p"):
        np.testing.assert_array_equal(apply(name, xf, np.float32), xf)


def test_log1p_huge_and_near_minus_one():
    x = np.array([1e300, 1.7976931348623157e308, 2.0 ** 60, 2.0 ** 53,
                  2.0 ** 53 + 2, 2.0 ** 52 + 1, 1e17] * 3)
    y = apply("log1p", x, np.float64)
    err = mp_ulp_errors(y, mp_reference("log1p", x), np.float64)
    assert err.max() <= MAX_ULP
    x = -1 + np.array([2.0 ** -53, 2.0 ** -52, 1e-10, 1e-5] * 3)
    y = apply("log1p", x, np.float64)
    err = mp_ulp_errors(y, mp_reference("log1p", x), np.float64)
    assert err.max() <= MAX_ULP


def _around(points, dtype, width):
    """Every float of `dtype` within `width` representable steps of each point."""
    it = _INT[dtype]
    out = []
    for p in points:
        b = np.array([p], dtype=dtype).view(it)[0]
        out.append(np.arange(b - width, b + width + 1, dtype=it).view(dtype))
    return np.concatenate(out)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,top", [("log1p01", 1.0), ("log1p02", 2.0)])
def test_restricted_log1p_forms_give_log1p_bits(name, top, dtype):
    # The kernels' cheaper log1p forms (softplus tails, CTC's log-sum-exps)
    # promise log1p's exact bits on [0, top]: around every place where a
    # reduction switches (u = 1 + x crossing sqrt(2) and 2 sqrt(2), x = 1
    # where Fast2Sum swaps its operands), at the ends, on tiny and
    # subnormal x, NaN, and on random points of the whole interval.
    rng = np.random.default_rng(7)
    r2 = np.sqrt(2.0)
    edges = [r2 - 1, 2 * r2 - 1, 1.0, top, 0.5, 1e-3]
    x = np.concatenate([
        _around([e for e in edges if e <= top], dtype, 4096),
        rng.uniform(0, top, 200_000),
        np.ldexp(1.0, -np.arange(1, 160)),
        [0.0, np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny, np.nan],
    ]).astype(dtype)
    x = x[~(x > top) & ~(x < 0)]
    got = apply(name, x, dtype)
    want = apply("log1p", x, dtype)
    nan = np.isnan(want)
    assert nan.sum() == 1 and np.isnan(got[nan]).all()
    np.testing.assert_array_equal(got[~nan].view(_INT[dtype]), want[~nan].view(_INT[dtype]))
