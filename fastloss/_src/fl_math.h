/*
 * fl_math.h -- branch-free, auto-vectorisable exp / expm1 / log / log1p
 * for fastloss (double and float).
 *
 * Every function here is a `static inline` straight-line sequence of
 * +, -, *, / (one division in the log family), fused multiply-adds, bit casts
 * and integer add/and/shift, with special cases resolved by conditional
 * expressions (selects).  There are no branches, loops, table look-ups or
 * libm calls, so GCC (>= 12) and Clang vectorise a plain loop such as
 *
 *     for (i = 0; i < n; i++) out[i] = fl_exp(x[i]);
 *
 * on SSE2, AVX2 and AVX-512.  Float versions are computed entirely in float
 * arithmetic (twice the SIMD lanes).  No double <-> int64 conversion
 * instructions are used (they do not exist before AVX-512DQ): integers are
 * moved in and out of floating point with the "add 1.5*2^52" (2^23 for
 * float) rounding trick and plain bit casts.
 *
 * Fused multiply-add.  Every a*b + c below is written FL_FMA(a, b, c): by
 * default a multiply and an add, so that each SIMD level of a build (SSE2,
 * AVX2, AVX-512; with -ffp-contract=off) computes the same bits, and the
 * reductions use a Cody-Waite split whose products are exact.  Defining
 * FL_USE_FMA on a target with FMA (x86-64 -mfma, AArch64) makes them single
 * fmas (and the reductions exact fmas): with the same accuracy bound, 13-22%
 * faster transcendental losses (element-wise, 2^20 float64 values, AVX-512
 * on AMD Zen 4; 20-21% for the loops alone in L2), but a level without FMA
 * would then round some results differently from one with it, so fastloss
 * does not define it.
 *
 * Accuracy (measured, see the per-function comments and
 * tests/test_math_accuracy.py): max error below 0.92 ulp for all eight
 * functions, double and float, with and without FL_USE_FMA; float
 * exhaustively over all 2^32 inputs, double on random points over the whole
 * domain and densely where the reductions switch, against extended-precision
 * references.
 * Subnormal results (exp) and subnormal inputs (log) are handled with
 * gradual underflow.
 *
 * Compiler requirements / notes for integrators
 *   - IEEE-754 binary64/binary32 with round-to-nearest-even, evaluated without
 *     excess precision (FLT_EVAL_METHOD == 0: any x86-64, AArch64, or 32-bit
 *     x86 with SSE2 math).  Intermediates that must round are assigned to
 *     variables, so ISO C excess-precision rules keep them correct on x87 as
 *     well, but that target is not tested.
 *   - Never compile with -ffast-math / -ffinite-math-only /
 *     -fassociative-math / -funsafe-math-optimizations: the rounding trick,
 *     the exact two-sums and the NaN/inf selects rely on strict IEEE
 *     semantics.  Contraction of the remaining a*b+c (-ffp-contract=fast) does
 *     not hurt the accuracy, but makes results depend on how each call site
 *     was compiled; fastloss builds with -ffp-contract=off.
 *   - GCC needs -fno-trapping-math to vectorise these functions on SSE2 and
 *     AVX2: under the default -ftrapping-math it sinks the computation of a
 *     select's arm into a branch and then refuses to if-convert it ("control
 *     flow in loop").  With AVX-512 (masked operations) and with Clang they
 *     vectorise either way.  Results do not depend on the flag.
 *     -fno-math-errno lets fma() be the instruction (no libm is called).
 *
 * Design and polynomial coefficients are original to fastloss: the
 * coefficients are minimax fits (Remez exchange, weighted for relative or
 * absolute error as stated) computed with mpmath at 50-60 digits and rounded
 * to nearest in the target precision; the quoted fit errors were re-measured
 * after that rounding.  Polynomials are evaluated in Estrin's scheme (short
 * dependency chains): a loss loop inlines several of these functions into
 * one long chain per element, and shorter chains let the processor overlap
 * more elements (10-15% faster loss loops than Horner's scheme, which needs
 * a few instructions less).
 */
#ifndef FL_MATH_H
#define FL_MATH_H

#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__cplusplus)
#  define FL_INLINE static __inline
#else
#  define FL_INLINE static inline
#endif

/* FL_FMA(a, b, c) = a*b + c; rounded once with FL_USE_FMA (see above) */
#if defined(FL_USE_FMA) && (defined(__FMA__) || defined(__ARM_FEATURE_FMA)) \
    && (defined(__GNUC__) || defined(__clang__))
#  define FL_HAVE_FMA 1
#  define FL_FMA(a, b, c) __builtin_fma((a), (b), (c))
#  define FL_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#  define FL_HAVE_FMA 0
#  define FL_FMA(a, b, c) ((a) * (b) + (c))
#  define FL_FMAF(a, b, c) ((a) * (b) + (c))
#endif

/* ------------------------------------------------------------------------ */
/* Bit casts (memcpy: defined behaviour in C and C++, folded to a register  */
/* move / no-op by every optimising compiler).                              */
/* ------------------------------------------------------------------------ */

FL_INLINE uint64_t fl_i_asu64(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
FL_INLINE double fl_i_asf64(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }
FL_INLINE uint32_t fl_i_asu32(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
FL_INLINE float fl_i_asf32(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

#define FL_I_INF64   UINT64_C(0x7FF0000000000000)
#define FL_I_NINF64  UINT64_C(0xFFF0000000000000)
#define FL_I_NAN64   UINT64_C(0x7FF8000000000000)
#define FL_I_INF32   UINT32_C(0x7F800000)
#define FL_I_NINF32  UINT32_C(0xFF800000)
#define FL_I_NAN32   UINT32_C(0x7FC00000)

/* ------------------------------------------------------------------------ */
/* Constants.  Decimal literals are exact or have 17 (double) / 9 (float)   */
/* significant digits, hence round-trip exactly; hex given in comments.     */
/* ------------------------------------------------------------------------ */

/* 1.5 * 2^52: adding it to |v| < 2^51 rounds v to an integer n and leaves n
 * in the low mantissa bits (bits = 0x4338000000000000 + n). */
#define FL_I_SHIFT64   6755399441055744.0          /* 0x1.8p52 */
#define FL_I_SHIFT32   12582912.0f                 /* 0x1.8p23 */

#define FL_I_LOG2E     1.4426950408889634          /* 0x1.71547652b82fep0 */
#define FL_I_LOG2EF    1.44269502f                 /* 0x1.715476p0 */

/* Cody-Waite split of ln 2 for the arithmetic without FMA (and the log
 * kernels): HI has 32 significant bits, so n*HI is exact for |n| < 2^21;
 * HI + LO = ln 2 to ~2^-85. */
#define FL_I_LN2HI     0.69314718036912382         /* 0x1.62e42feep-1 */
#define FL_I_LN2LO     1.9082149292705877e-10      /* 0x1.a39ef35793c76p-33 */
/* float: HI has 15 significant bits, n*HI exact for |n| < 512. */
#define FL_I_LN2HIF    0.693145751953125f          /* 0x1.62e4p-1 */
#define FL_I_LN2LOF    1.42860677e-06f             /* 0x1.7f7d1cp-20 */

/* With FMA: ln 2 rounded to nearest and the rest.  x - n*HI53 in one fma is
 * exact for the n of the reductions (the result is a multiple of 2^-54 below
 * 1/2 in magnitude), so HI53 needs no short mantissa. */
#define FL_I_LN2HI53   0.69314718055994529         /* 0x1.62e42fefa39efp-1 */
#define FL_I_LN2LO53   2.3190468138462996e-17      /* 0x1.abc9e3b39803fp-56 */
#define FL_I_LN2HI24   0.693147182f                /* 0x1.62e430p-1 */
#define FL_I_LN2LO24   -1.90465421e-09f            /* -0x1.05c610p-29 */

/* ------------------------------------------------------------------------ */
/* Shared kernels                                                           */
/* ------------------------------------------------------------------------ */

/*
 * The reduction of exp and expm1: n = rint(x/ln2) (the 1.5*2^52 shift, its
 * bits left in *t), r + *rl = x - n*ln2 to ~2^-100 with |r| <= ln2/2 (plus
 * rounding of x/ln2).  *kd = n as a double.
 */
FL_INLINE double fl_i_exp_reduce(double x, double *t, double *kd, double *rl)
{
    double r1, r;
    *t = FL_FMA(x, FL_I_LOG2E, FL_I_SHIFT64);
    *kd = *t - FL_I_SHIFT64;
#if FL_HAVE_FMA
    r1 = FL_FMA(*kd, -FL_I_LN2HI53, x);          /* exact */
    r = FL_FMA(*kd, -FL_I_LN2LO53, r1);
    *rl = FL_FMA(*kd, -FL_I_LN2LO53, r1 - r);
#else
    r1 = x - *kd * FL_I_LN2HI;                   /* exact */
    r = r1 - *kd * FL_I_LN2LO;
    *rl = (r1 - r) - *kd * FL_I_LN2LO;
#endif
    return r;
}

FL_INLINE float fl_i_exp_reducef(float x, float *t, float *kd, float *rl)
{
    float r1, r;
    *t = FL_FMAF(x, FL_I_LOG2EF, FL_I_SHIFT32);
    *kd = *t - FL_I_SHIFT32;
#if FL_HAVE_FMA
    r1 = FL_FMAF(*kd, -FL_I_LN2HI24, x);
    r = FL_FMAF(*kd, -FL_I_LN2LO24, r1);
    *rl = FL_FMAF(*kd, -FL_I_LN2LO24, r1 - r);
#else
    r1 = x - *kd * FL_I_LN2HIF;
    r = r1 - *kd * FL_I_LN2LOF;
    *rl = (r1 - r) - *kd * FL_I_LN2LOF;
#endif
    return r;
}

/*
 * expm1(r) = r + r^2/2 + r^3 T(r) on |r| <= ln2/2 (+ a margin for the
 * rounded n): this returns T, of degree 9, so that P(r) = 1/2 + r T(r) is the
 * minimax fit minimising the RELATIVE error of expm1 on [-0.34658, 0.34658]
 * (total degree 12); error of the fit with the coefficients rounded to
 * double: 2^-59.9 relative (also bounds the relative error of 1 + expm1(r)).
 */
FL_INLINE double fl_i_expm1_tail(double r)
{
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double p01 = FL_FMA(0.041666666666666651, r, 0.16666666666666677);
    double p23 = FL_FMA(0.0013888888888962312, r, 0.0083333333333217);
    double p45 = FL_FMA(2.4801587172616483e-05, r, 0.00019841269885939735);
    double p67 = FL_FMA(2.755740260840804e-07, r, 2.7557244403480974e-06);
    double p89 = FL_FMA(2.0875330706630506e-09, r, 2.510896773634472e-08);
    double p03 = FL_FMA(p23, r2, p01);
    double p47 = FL_FMA(p67, r2, p45);
    return FL_FMA(p89, r8, FL_FMA(p47, r4, p03));
}

/*
 * float, for expf: expm1(r) ~= r + r^2 P(r), P of degree 4 (total degree 6),
 * minimax for relative error of expm1 on [-0.34658, 0.34658]; with the
 * coefficients rounded to float the fit error is 2^-25.8 relative (its effect
 * on 1 + expm1(r) is below 0.1 ulp).
 */
FL_INLINE float fl_i_expm1_polyf(float r)
{
    float r2 = r * r;
    float t01 = FL_FMAF(0.166665435f, r, 0.49999997f);
    float t23 = FL_FMAF(0.00836651493f, r, 0.0416672006f);
    return FL_FMAF(FL_FMAF(0.00138825248f, r2, t23), r2, t01);
}

/*
 * float, for expm1f, where the polynomial error is not damped by the final
 * 1 + ...: P of degree 5 (total degree 7), minimax for relative error of
 * expm1 on [-0.34658, 0.34658]; 2^-28.8 with the coefficients rounded to
 * float.
 */
FL_INLINE float fl_i_expm1_polyf5(float r)
{
    float r2 = r * r;
    float t01 = FL_FMAF(0.166666657f, r, 0.5f);
    float t23 = FL_FMAF(0.00833338965f, r, 0.0416663624f);
    float t45 = FL_FMAF(0.000198458743f, r, 0.00139406184f);
    return FL_FMAF(FL_FMAF(t45, r2, t23), r2, t01);
}

/*
 * log1p(f) + k*ln2 + lo, for the reduced argument f = m - 1,
 * m in [sqrt(2)/2, sqrt(2)), with a small additive term lo (0 for log).
 *
 * With s = f/(2+f) (|s| <= 0.1716, z = s^2 <= 0.02944):
 *     log(1+f) = 2 atanh(s) = f - f^2/2 + s*(f^2/2 + R(z)),
 *     R(z) = 2*(atanh(s)/s - 1) ~= z * Q(z),
 * Q of degree 6 in z: minimax for the ABSOLUTE error of R on [0, 0.02944]
 * (the error of the result relative to log(1+f) ~ 2s is then |dR|/2):
 * 2^-57.9 after rounding the coefficients to double.  k*LN2HI is exact, and
 * the result is rounded once when it is added (an fma or not).
 */
FL_INLINE double fl_i_log_kernel_s(double f, double s, double kd, double lo)
{
    double z = s * s;
    double hfsq = (0.5 * f) * f;
    double z2 = z * z, z4 = z2 * z2;
    double q01 = FL_FMA(0.39999999999414348, z, 0.6666666666666734);
    double q23 = FL_FMA(0.22222198564155971, z, 0.28571428742468791);
    double q46 = FL_FMA(0.147960949375535, z2, FL_FMA(0.15314036834964234, z, 0.18183564829645016));
    double Q = FL_FMA(q46, z4, FL_FMA(q23, z2, q01)), R;
    R = z * Q;
    lo = FL_FMA(kd, FL_I_LN2LO, lo);
    return FL_FMA(kd, FL_I_LN2HI, f - (hfsq - FL_FMA(s, hfsq + R, lo)));
}

FL_INLINE double fl_i_log_kernel(double f, double kd, double lo)
{
    return fl_i_log_kernel_s(f, f / (2.0 + f), kd, lo);
}

/*
 * fl_i_log_kernel for log1p: a small correction corr to f enters as
 * corr/(1+f) = corr*(1-s)/(1+s) ~= corr*(1 - 2s(1-s)) (relative error
 * <= 2|s|^3 = 1%, applied to a term below 1 ulp).
 */
FL_INLINE double fl_i_log_kernel_c(double f, double kd, double corr)
{
    double s = f / (2.0 + f);
    return fl_i_log_kernel_s(f, s, kd, corr * FL_FMA(-2.0 * s, 1.0 - s, 1.0));
}

/*
 * float versions: Q of degree 2 in z (R of degree 3), minimax for the
 * absolute error of R on [0, 0.02944]: 2^-29.1 after rounding the
 * coefficients to float.
 */
FL_INLINE float fl_i_log_kernel_sf(float f, float s, float kd, float lo)
{
    float z = s * s;
    float hfsq = (0.5f * f) * f;
    float Q = FL_FMAF(FL_FMAF(0.298718542f, z, 0.399775386f), z, 0.666667759f);
    float R = z * Q;
    lo = FL_FMAF(kd, FL_I_LN2LOF, lo);
    return FL_FMAF(kd, FL_I_LN2HIF, f - (hfsq - FL_FMAF(s, hfsq + R, lo)));
}

FL_INLINE float fl_i_log_kernelf(float f, float kd, float lo)
{
    return fl_i_log_kernel_sf(f, f / (2.0f + f), kd, lo);
}

FL_INLINE float fl_i_log_kernel_cf(float f, float kd, float corr)
{
    float s = f / (2.0f + f);
    return fl_i_log_kernel_sf(f, s, kd, corr * FL_FMAF(-2.0f * s, 1.0f - s, 1.0f));
}

/* ------------------------------------------------------------------------ */
/* exp                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * fl_exp(x) = e^x.
 * Reduction (fl_i_exp_reduce): x = n ln2 + r + rl, |r| <= ln2/2.
 * e^(r + rl) = 1 + p, p = r + (r^2 P(r) + rl), rounded once before the 1 is
 * added (the extra error is at most 1/4 ulp, for r < 0).
 * Scaling: 2^n is applied as two exact powers of two 2^n1 * 2^n2
 * (n1 = floor(n/2), n2 = n - n1) built in the exponent field from the bits
 * of the shifted n, so results in the subnormal range get a single, correct
 * rounding (gradual underflow) and n = 1024 does not overflow prematurely.
 * Special values: x is clamped below at -1000 (a select; NaN passes), where
 * e^x has long underflowed to +0 (also x = -inf); x >= 709.7827... overflows
 * naturally to +inf, and x > 1000 is selected to +inf (also x = +inf: there
 * the exponent field would wrap); NaN -> NaN.
 * Measured max error (random points over the whole domain and densely in
 * [-1, 1] and the subnormal range, against extended precision): 0.82 ulp
 * with FMA, 0.83 ulp without; in the subnormal range the error is in units of
 * the smallest subnormal.
 */
FL_INLINE double fl_exp(double x)
{
    double xc, t, kd, r, rl, p, y, s1, s2, res;
    uint64_t tb, B;
    xc = x < -1000.0 ? -1000.0 : x;
    r = fl_i_exp_reduce(xc, &t, &kd, &rl);
    p = r + FL_FMA(r * r, FL_FMA(r, fl_i_expm1_tail(r), 0.5), rl);
    y = 1.0 + p;
    /* n in [-1443, 1443]: B = n1 << 52, (n << 52) - B = n2 << 52 (mod 2^64) */
    tb = fl_i_asu64(t);
    B = (tb << 51) & UINT64_C(0xFFF0000000000000);
    s1 = fl_i_asf64(B + UINT64_C(0x3FF0000000000000));             /* 2^n1 */
    s2 = fl_i_asf64((tb << 52) - B + UINT64_C(0x3FF0000000000000)); /* 2^n2 */
    res = (y * s1) * s2;
    return x > 1000.0 ? fl_i_asf64(FL_I_INF64) : res;
}

/*
 * fl_expf(x) = e^x in float arithmetic.  Same scheme as fl_exp with the
 * 1.5*2^23 shift, fl_i_expm1_polyf and the split 2^n1 * 2^n2 scaling.
 * Special values: clamp below at -150 (+0, also -inf); x > 88.72284 -> +inf
 * (naturally up to 150, selected beyond, also +inf); NaN -> NaN; subnormal
 * results are gradually underflowed.
 * Measured max error, exhaustive over all 2^32 inputs against double libm:
 * 0.85 ulp (FMA), 0.87 ulp (no FMA).
 */
FL_INLINE float fl_expf(float x)
{
    float xc, t, kd, r, rl, p, y, s1, s2, res;
    uint32_t tb, B;
    xc = x < -150.0f ? -150.0f : x;
    r = fl_i_exp_reducef(xc, &t, &kd, &rl);
    p = r + FL_FMAF(r * r, fl_i_expm1_polyf(r), rl);
    y = 1.0f + p;
    tb = fl_i_asu32(t);
    B = (tb << 22) & 0xFF800000u;                   /* floor(n/2) << 23 */
    s1 = fl_i_asf32(B + 0x3F800000u);
    s2 = fl_i_asf32((tb << 23) - B + 0x3F800000u);
    res = (y * s1) * s2;
    return x > 150.0f ? fl_i_asf32(FL_I_INF32) : res;
}

/* ------------------------------------------------------------------------ */
/* expm1                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * fl_expm1(x) = e^x - 1.
 * Reduction as in fl_exp: x = n*ln2 + r + rl; expm1(r + rl) = r + q with
 * q = r^2/2 + r^3 T(r) + rl.  Then
 *     expm1(x) = 2^(n-1) (D + 2r + 2q),  D = 2 - 2^(1-n),
 * with D + Dl = 2 - 2^(1-n) exactly (a two-sum), S + E = D + 2r exactly
 * (Fast2Sum: |D| >= |2r| unless D = 0) and r^2 = r2 + r2l exactly (an fma, or
 * Dekker's product without FMA), so only the small terms round before the
 * final sum; the scaling by 2^(n-1) is exact.  For n = 0 this is r + q.
 * Special values: x is clamped below at -40 (-1, also -inf: the terms stay
 * exact there); x > 709.78 overflows naturally to +inf, and x > 709.8 is
 * selected to +inf (also +inf); NaN -> NaN; -0 -> -0 and tiny x are returned
 * as they are (expm1(1e-300) == 1e-300).
 * Measured max error (random points per range against extended precision):
 * 0.89 ulp with FMA, 0.92 ulp without (worst just above |x| = ln2/2, where
 * n = +-1).
 */
FL_INLINE double fl_expm1(double x)
{
    double xc, t, kd, r, rl, h, P2, D, Bv, Dl, S, E, res, r2, r2l, w;
    uint64_t tb;
    xc = x < -40.0 ? -40.0 : x;
    r = fl_i_exp_reduce(xc, &t, &kd, &rl);
    r2 = r * r;
#if FL_HAVE_FMA
    r2l = FL_FMA(r, r, -r2);
#else
    {   /* Dekker's product: r = rh + rt with 26-bit halves */
        double c = 134217729.0 * r, rh = c - (c - r), rt = r - rh;
        r2l = ((rh * rh - r2) + 2.0 * rh * rt) + rt * rt;
    }
#endif
    w = FL_FMA(r2 * r, fl_i_expm1_tail(r), rl);      /* q = r2/2 + r2l/2 + w */
    tb = fl_i_asu64(t) << 52;                        /* n << 52 */
    h = fl_i_asf64(tb + UINT64_C(0x3FE0000000000000));      /* 2^(n-1) */
    P2 = fl_i_asf64(UINT64_C(0x4000000000000000) - tb);     /* 2^(1-n); 0 for n = 1024 */
    D = 2.0 - P2;
    Bv = D - 2.0;
    Dl = (2.0 - (D - Bv)) - (P2 + Bv);
    S = FL_FMA(2.0, r, D);
    E = FL_FMA(2.0, r, D - S);
    res = h * (S + (r2 + FL_FMA(2.0, w, (E + Dl) + r2l)));
    res = x > 709.8 ? fl_i_asf64(FL_I_INF64) : res;
    return x == 0.0 ? x : res;
}

/*
 * fl_expm1f(x) = e^x - 1 in float arithmetic; same scheme as fl_expm1 with
 * fl_i_expm1_polyf5 (P = 1/2 + ..., q = r^2 P + rl).  Clamp below at -18
 * (-1, also -inf); x > 88.72284 -> +inf (selected beyond 88.8, also +inf);
 * NaN -> NaN; -0 and tiny x returned as they are.
 * Measured max error, exhaustive over all floats: 0.78 ulp (FMA), 0.85 ulp
 * (no FMA).
 */
FL_INLINE float fl_expm1f(float x)
{
    float xc, t, kd, r, rl, q, h, P2, D, Bv, Dl, S, E, res, P, r2, r2l;
    uint32_t tb;
    xc = x < -18.0f ? -18.0f : x;
    r = fl_i_exp_reducef(xc, &t, &kd, &rl);
    P = fl_i_expm1_polyf5(r);
    r2 = r * r;
#if FL_HAVE_FMA
    r2l = FL_FMAF(r, r, -r2);
#else
    {
        float c = 4097.0f * r, rh = c - (c - r), rt = r - rh;
        r2l = ((rh * rh - r2) + 2.0f * rh * rt) + rt * rt;
    }
#endif
    q = FL_FMAF(r2, P, FL_FMAF(r2l, P, rl));
    tb = fl_i_asu32(t) << 23;
    h = fl_i_asf32(tb + 0x3F000000u);               /* 2^(n-1) */
    P2 = fl_i_asf32(0x40000000u - tb);              /* 2^(1-n), 0 for n = 128 */
    D = 2.0f - P2;
    Bv = D - 2.0f;
    Dl = (2.0f - (D - Bv)) - (P2 + Bv);
    S = FL_FMAF(2.0f, r, D);
    E = FL_FMAF(2.0f, r, D - S);
    res = h * (S + FL_FMAF(2.0f, q, E + Dl));
    res = x > 88.8f ? fl_i_asf32(FL_I_INF32) : res;
    return x == 0.0f ? x : res;
}

/* ------------------------------------------------------------------------ */
/* log                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * fl_log(x) = natural logarithm.
 * Reduction: x = 2^k * m with m in [sqrt(2)/2, sqrt(2)), read from the bits
 * (adding 0x3FF0000000000000 - bits(sqrt(2)/2) to the bit pattern carries
 * into the exponent exactly when m would be >= sqrt(2)); subnormal x is first
 * scaled by 2^54 (by a factor chosen with an integer mask: a select of the
 * scaled and unscaled x made GCC run the whole reduction twice).  k is
 * converted to double with the 2^52 bit trick.
 * log(x) = k*ln2 + log1p(m - 1), m - 1 exact, with fl_i_log_kernel.
 * Special values (selects at the end): x < 0 (incl. -inf) and NaN -> NaN,
 * +-0 -> -inf, +inf -> +inf, log(1) == +0 exactly; subnormal x handled
 * exactly.
 * Measured max error (random bit patterns over (0, inf) and uniform points in
 * [0.5, 2] and [0.99, 1.01], against extended precision): 0.79 ulp with and
 * without FMA.
 */
FL_INLINE double fl_log(double x)
{
    double xs, m, kd, res;
    uint64_t ix, t, e, sub;
    sub = (uint64_t)0 - (uint64_t)(x < 2.2250738585072014e-308);   /* 0x1p-1022 */
    xs = x * fl_i_asf64(UINT64_C(0x3FF0000000000000) + (sub & (UINT64_C(54) << 52)));
    ix = fl_i_asu64(xs);
    t = ix + UINT64_C(0x00095F619980C433);          /* 0x3FF0... - bits(sqrt2/2) */
    e = t >> 52;                                    /* k + 1023 */
    m = fl_i_asf64((t & UINT64_C(0x000FFFFFFFFFFFFF)) + UINT64_C(0x3FE6A09E667F3BCD));
    kd = fl_i_asf64(UINT64_C(0x4330000000000000) | e) - 4503599627371519.0; /* 2^52+1023 */
    kd = kd - fl_i_asf64(sub & UINT64_C(0x404B000000000000));              /* 54.0 */
    res = fl_i_log_kernel(m - 1.0, kd, 0.0);
    res = x == fl_i_asf64(FL_I_INF64) ? x : res;
    res = x == 0.0 ? fl_i_asf64(FL_I_NINF64) : res;
    return x >= 0.0 ? res : fl_i_asf64(FL_I_NAN64);
}

/*
 * fl_logf(x): float version of fl_log (float arithmetic throughout; the
 * kernel uses a degree-2-in-s^2 minimax polynomial); subnormal x is scaled
 * by 2^24.  Same special values.
 * Measured max error, exhaustive over all floats: 0.78 ulp (FMA), 0.84 ulp
 * (no FMA).
 */
FL_INLINE float fl_logf(float x)
{
    float xs, m, kd, res;
    uint32_t ix, t, e, sub;
    sub = 0u - (uint32_t)(x < 1.17549435e-38f);     /* 0x1p-126 */
    xs = x * fl_i_asf32(0x3F800000u + (sub & (24u << 23)));
    ix = fl_i_asu32(xs);
    t = ix + 0x004AFB0Du;                           /* 0x3F800000 - bits(sqrt2/2) */
    e = t >> 23;
    m = fl_i_asf32((t & 0x007FFFFFu) + 0x3F3504F3u);
    kd = fl_i_asf32(0x4B000000u | e) - 8388735.0f;  /* 2^23 + 127 */
    kd = kd - fl_i_asf32(sub & 0x41C00000u);        /* 24.0 */
    res = fl_i_log_kernelf(m - 1.0f, kd, 0.0f);
    res = x == fl_i_asf32(FL_I_INF32) ? x : res;
    res = x == 0.0f ? fl_i_asf32(FL_I_NINF32) : res;
    return x >= 0.0f ? res : fl_i_asf32(FL_I_NAN32);
}

/* ------------------------------------------------------------------------ */
/* log1p                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * fl_log1p(x) = log(1 + x).
 * u = 1 + x is formed with an exact two-sum, so 1 + x = u + c exactly.
 * u (>= 2^-53 for x > -1, never subnormal) is reduced like fl_log:
 * u = 2^k * m, f = m - 1 exact, and the rounding error enters the kernel as
 * the correction c * 2^-k to f (dropped, by a select, for u >= 1e300 where
 * it is far below an ulp and 2^-k may not be representable).  This keeps full
 * accuracy near 0 (log1p(1e-300) == 1e-300, subnormal x exact) and for huge
 * x.
 * Special values (selects at the end): x < -1 (incl. -inf) and NaN -> NaN,
 * x == -1 -> -inf, +inf -> +inf, +-0 -> +-0.
 * Measured max error (random points per range over (-1, inf), dense in
 * [-1, 1], against extended precision): 0.88 ulp with and without FMA.
 */
FL_INLINE double fl_log1p(double x)
{
    double u, bv, av, c, m, kd, sc, cs, res;
    uint64_t t, e;
    u = 1.0 + x;                    /* two-sum: c = (1 + x) - u exactly */
    bv = u - 1.0;
    av = u - bv;
    c = (1.0 - av) + (x - bv);
    t = fl_i_asu64(u) + UINT64_C(0x00095F619980C433);
    e = t >> 52;
    m = fl_i_asf64((t & UINT64_C(0x000FFFFFFFFFFFFF)) + UINT64_C(0x3FE6A09E667F3BCD));
    kd = fl_i_asf64(UINT64_C(0x4330000000000000) | e) - 4503599627371519.0;
    sc = fl_i_asf64((UINT64_C(2046) - e) << 52);    /* 2^-k */
    cs = c * sc;
    cs = u < 1e300 ? cs : 0.0;
    res = fl_i_log_kernel_c(m - 1.0, kd, cs);
    res = x == fl_i_asf64(FL_I_INF64) ? x : res;
    res = x == 0.0 ? x : res;
    res = x == -1.0 ? fl_i_asf64(FL_I_NINF64) : res;
    return x >= -1.0 ? res : fl_i_asf64(FL_I_NAN64);
}

/*
 * fl_log1p01(x) = log(1 + x) for x in [0, 1] (NaN -> NaN), e.g. the
 * log1p(exp(-|z|)) of a softplus: the same bits as fl_log1p there, for a
 * third fewer operations.  u = 1 + x lies in [1, 2], so its rounding error
 * comes from Fast2Sum, the reduction u = 2^k m is a select (k = 0 or 1, m = u
 * or u/2, f = m - 1 exact either way: Sterbenz), and no special value needs
 * a fix (NaN propagates through the arithmetic).  Other inputs give
 * unspecified results.
 */
FL_INLINE double fl_log1p01(double x)
{
    double u = 1.0 + x;
    double c = x - (u - 1.0);                       /* 1 + x = u + c exactly */
    /* k = 1 where m = u/2 (fl_log1p's threshold: u >= sqrt(2) rounded); the
     * factor 2^-k and k come from an integer mask: selects of the kernel's
     * arguments made GCC run the kernel for both k and select its result */
    uint64_t big = (uint64_t)0 - (uint64_t)(u >= 1.4142135623730951);
    double h = fl_i_asf64(UINT64_C(0x3FF0000000000000) - (big & (UINT64_C(1) << 52)));
    return fl_i_log_kernel_c(u * h - 1.0, fl_i_asf64(big & UINT64_C(0x3FF0000000000000)),
                             c * h);
}

/*
 * fl_log1p02(x) = log(1 + x) for x in [0, 2] (NaN -> NaN), e.g. the
 * log1p(exp(a) + exp(b)) of a three-term log-sum-exp (a, b <= 0): fl_log1p's
 * bits there, without its special-value selects.  u = 1 + x lies in [1, 3];
 * its rounding error comes from Fast2Sum with the larger of 1 and x first,
 * and u = 2^k m with k = 0, 1 or 2 is chosen by two compares at fl_log1p's
 * thresholds (m in [sqrt(2)/2, sqrt(2)), f = m - 1 exact: Sterbenz).  Other
 * inputs give unspecified results.
 */
FL_INLINE double fl_log1p02(double x)
{
    double u = 1.0 + x;
    /* 1 + x = u + c exactly (Fast2Sum, the larger magnitude first) */
    double c = x > 1.0 ? 1.0 - (u - x) : x - (u - 1.0);
    uint64_t k1 = (uint64_t)0 - (uint64_t)(u >= 1.4142135623730951);
    uint64_t k2 = (uint64_t)0 - (uint64_t)(u >= 2.8284271247461903);
    uint64_t k = (k1 & UINT64_C(1)) + (k2 & UINT64_C(1));
    double h = fl_i_asf64(UINT64_C(0x3FF0000000000000) - (k << 52));     /* 2^-k */
    double kd = fl_i_asf64((k1 & UINT64_C(0x3FF0000000000000))
                           + (k2 & UINT64_C(0x0010000000000000)));       /* k */
    return fl_i_log_kernel_c(u * h - 1.0, kd, c * h);
}

/*
 * fl_log1pf(x): float version of fl_log1p (float arithmetic throughout).
 * Same special values.
 * Measured max error, exhaustive over all floats: 0.88 ulp (FMA and no FMA).
 */
FL_INLINE float fl_log1pf(float x)
{
    float u, bv, av, c, m, kd, sc, cs, res;
    uint32_t t, e;
    u = 1.0f + x;
    bv = u - 1.0f;
    av = u - bv;
    c = (1.0f - av) + (x - bv);
    t = fl_i_asu32(u) + 0x004AFB0Du;
    e = t >> 23;
    m = fl_i_asf32((t & 0x007FFFFFu) + 0x3F3504F3u);
    kd = fl_i_asf32(0x4B000000u | e) - 8388735.0f;
    sc = fl_i_asf32((254u - e) << 23);              /* 2^-k */
    cs = c * sc;
    cs = u < 1e36f ? cs : 0.0f;
    res = fl_i_log_kernel_cf(m - 1.0f, kd, cs);
    res = x == fl_i_asf32(FL_I_INF32) ? x : res;
    res = x == 0.0f ? x : res;
    res = x == -1.0f ? fl_i_asf32(FL_I_NINF32) : res;
    return x >= -1.0f ? res : fl_i_asf32(FL_I_NAN32);
}

/* fl_log1p01f(x): float version of fl_log1p01. */
FL_INLINE float fl_log1p01f(float x)
{
    float u = 1.0f + x;
    float c = x - (u - 1.0f);
    uint32_t big = 0u - (uint32_t)(u >= 1.41421354f);   /* fl_log1pf's threshold */
    float h = fl_i_asf32(0x3F800000u - (big & (1u << 23)));
    return fl_i_log_kernel_cf(u * h - 1.0f, fl_i_asf32(big & 0x3F800000u), c * h);
}

/* fl_log1p02f(x): float version of fl_log1p02. */
FL_INLINE float fl_log1p02f(float x)
{
    float u = 1.0f + x;
    float c = x > 1.0f ? 1.0f - (u - x) : x - (u - 1.0f);
    uint32_t k1 = 0u - (uint32_t)(u >= 1.41421354f);    /* fl_log1pf's thresholds */
    uint32_t k2 = 0u - (uint32_t)(u >= 2.82842708f);
    uint32_t k = (k1 & 1u) + (k2 & 1u);
    float h = fl_i_asf32(0x3F800000u - (k << 23));
    float kd = fl_i_asf32((k1 & 0x3F800000u) + (k2 & 0x00800000u));
    return fl_i_log_kernel_cf(u * h - 1.0f, kd, c * h);
}

#endif /* FL_MATH_H */
