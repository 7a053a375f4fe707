/*
 * fl_row.h -- maximum and sum of a short row, and the range of an array, in
 * SIMD registers, for fastloss's kernels and value checks.
 *
 * max_j x[j] is an exact operation, but the compiler may not vectorise it:
 * without -ffinite-math-only GCC does not treat `v > m ? v : m` as a
 * reduction, and its SLP pass leaves the usual eight-accumulator form scalar
 * (GCC 12 turns it into compare-and-cmov on integers).  With few classes per
 * row (C = 16) that scalar loop was a tenth of a softmax kernel's time.  Sums
 * written as an array of eight accumulators do vectorise, but GCC then adds
 * the lanes in scalar code after a trip through the stack.
 *
 * Here the accumulators are eight lanes for doubles (sixteen for floats),
 * held in vectors of the target's own width: one AVX-512 register, two AVX2
 * or four SSE2 (or NEON) registers.  (One 64-byte generic vector would be
 * simpler to write, but GCC 12 keeps generic vectors wider than the target's
 * in memory and compares them lane by lane with branches: that made these
 * folds, and every row-wise loss, 2-4x slower on AVX2 and SSE2.)  Maxima use
 * a compare mask and bitwise selects (vmaxpd/vblendv or andps/andnps/orps);
 * the lanes are folded in halves (8 -> 4 -> 2 -> 1) in registers; leftover
 * elements come last, in order.  The order of operations depends on n alone,
 * so every ISA level of a build computes the same bits.  Compilers without
 * vector extensions (MSVC) get plain loops, the same at every level.
 *
 * Semantics: NaN is skipped by maxima and minima (a comparison with NaN is
 * false, so the accumulator keeps its value); the maximum of an empty, all
 * -inf or all-NaN row is -inf.  Sums propagate NaN.
 */
#ifndef FL_ROW_H
#define FL_ROW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* scalar steps, shared by the tails and the plain version */
#define FL_SMAX(a, b) ((b) > (a) ? (b) : (a))
#define FL_SMIN(a, b) ((b) < (a) ? (b) : (a))
#define FL_SADD(a, b) ((a) + (b))
/* a + b in a fold's vector operation slot (vectors or, in the plain loops, scalars) */
#define FL_VADD(VT, IT, a, b) ((a) + (b))

/*
 * A row fold: NAME(x, n) combines x[0..n) with VOP into an accumulator of
 * LANES (8 doubles or 16 floats) lanes, held as K = LANES / W vectors NV of
 * the target's own width W; then it folds them in halves (the first half of
 * the lanes with the second, as one LANES-wide vector would be folded), the
 * last vector's lanes with TAIL, and the leftover elements with SOP, in
 * order.  The operations and their order depend on n alone, whatever W is.
 */
#define FL_DEFINE_FOLD(NAME, T, NV, NL, W, K, INIT, VOP, TAIL, SOP)         \
    static inline T NAME(const T *x, ptrdiff_t n)                            \
    {                                                                        \
        NV acc[K], v;                                                        \
        T m;                                                                 \
        ptrdiff_t j, k, h, nl = n - n % ((W) * (K));                         \
        for (k = 0; k < (K); k++) acc[k] = FL_SPLAT(NV, INIT);               \
        for (j = 0; j < nl; j += (W) * (K)) {                                \
            for (k = 0; k < (K); k++) {                                      \
                memcpy(&v, x + j + k * (W), sizeof v);                       \
                acc[k] = VOP(NV, NL, acc[k], v);                             \
            }                                                                \
        }                                                                    \
        for (h = (K) / 2; h > 0; h /= 2)                                     \
            for (k = 0; k < h; k++) acc[k] = VOP(NV, NL, acc[k], acc[k + h]); \
        m = TAIL(acc[0], VOP, SOP);                                          \
        for (j = nl; j < n; j++) m = SOP(m, x[j]);                           \
        return m;                                                            \
    }

/*
 * The range of an array: lo[0], hi[0] = min, max of the non-NaN x[j]
 * (+inf, -inf if there are none), both in one pass over the data.
 */
#define FL_DEFINE_RANGE(NAME, T, NV, NL, W, K, VMIN, VMAX, TAIL)            \
    static inline void NAME(const T *x, ptrdiff_t n, T *lo, T *hi)           \
    {                                                                        \
        NV mn[K], mx[K], v;                                                  \
        T l, h;                                                              \
        ptrdiff_t j, k, s, nl = n - n % ((W) * (K));                         \
        for (k = 0; k < (K); k++) {                                          \
            mn[k] = FL_SPLAT(NV, INFINITY);                                  \
            mx[k] = FL_SPLAT(NV, -INFINITY);                                 \
        }                                                                    \
        for (j = 0; j < nl; j += (W) * (K)) {                                \
            for (k = 0; k < (K); k++) {                                      \
                memcpy(&v, x + j + k * (W), sizeof v);                       \
                mn[k] = VMIN(NV, NL, mn[k], v);                              \
                mx[k] = VMAX(NV, NL, mx[k], v);                              \
            }                                                                \
        }                                                                    \
        for (s = (K) / 2; s > 0; s /= 2) {                                   \
            for (k = 0; k < s; k++) {                                        \
                mn[k] = VMIN(NV, NL, mn[k], mn[k + s]);                      \
                mx[k] = VMAX(NV, NL, mx[k], mx[k + s]);                      \
            }                                                                \
        }                                                                    \
        l = TAIL(mn[0], VMIN, FL_SMIN);                                      \
        h = TAIL(mx[0], VMAX, FL_SMAX);                                      \
        for (j = nl; j < n; j++) { l = FL_SMIN(l, x[j]); h = FL_SMAX(h, x[j]); } \
        *lo = l;                                                             \
        *hi = h;                                                             \
    }

/* FL_PLAIN_LOOPS: the plain loops on any compiler (to test that they build
   and compute the right values) */
#if ((defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)) && !defined(FL_PLAIN_LOOPS)

typedef double fl_v8d __attribute__((vector_size(64)));
typedef double fl_v4d __attribute__((vector_size(32)));
typedef double fl_v2d __attribute__((vector_size(16)));
typedef int64_t fl_v8l __attribute__((vector_size(64)));
typedef int64_t fl_v4l __attribute__((vector_size(32)));
typedef int64_t fl_v2l __attribute__((vector_size(16)));
typedef float fl_v16f __attribute__((vector_size(64)));
typedef float fl_v8f __attribute__((vector_size(32)));
typedef float fl_v4f __attribute__((vector_size(16)));
typedef int32_t fl_v16i __attribute__((vector_size(64)));
typedef int32_t fl_v8i __attribute__((vector_size(32)));
typedef int32_t fl_v4i __attribute__((vector_size(16)));

/* x in every lane */
#define FL_SPLAT(VT, x) ((VT){0} + (x))

/* lane by lane: b where KEEP_B (a mask of all-ones lanes), else a */
#define FL_VSEL(VT, IT, KEEP_B, a, b) \
    ((VT)(((IT)(b) & (IT)(KEEP_B)) | ((IT)(a) & ~(IT)(KEEP_B))))
/* max / min keeping a where b is not larger / smaller (or is NaN) */
#define FL_VMAX(VT, IT, a, b) FL_VSEL(VT, IT, (b) > (a), a, b)
#define FL_VMIN(VT, IT, a, b) FL_VSEL(VT, IT, (b) < (a), a, b)

#define FL_LO4(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define FL_HI4(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#define FL_LO2(v) __builtin_shufflevector(v, v, 0, 1)
#define FL_HI2(v) __builtin_shufflevector(v, v, 2, 3)
#define FL_LO8(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define FL_HI8(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)

/* Folding lanes in halves: VOP on vectors of each width, then SOP on the
 * last two lanes.  Doubles: 8 -> 4 -> 2 -> 1. */
#define FL_HFOLD8D(acc, VOP, SOP)                                            \
    ({ fl_v4d h4_ = VOP(fl_v4d, fl_v4l, FL_LO4(acc), FL_HI4(acc));           \
       fl_v2d h2_ = VOP(fl_v2d, fl_v2l, FL_LO2(h4_), FL_HI2(h4_));           \
       SOP(h2_[0], h2_[1]); })
/* Floats: 16 -> 8 -> 4, then lanes (0 + 2) and (1 + 3), then the two. */
#define FL_HFOLD16F(acc, VOP, SOP)                                           \
    ({ fl_v8f h8_ = VOP(fl_v8f, fl_v8i, FL_LO8(acc), FL_HI8(acc));           \
       fl_v4f h4_ = VOP(fl_v4f, fl_v4i, FL_LO4(h8_), FL_HI4(h8_));           \
       SOP(SOP(h4_[0], h4_[2]), SOP(h4_[1], h4_[3])); })

/*
 * The folds' vectors: the target's own (W doubles or WF floats), since GCC
 * keeps generic vectors wider than the target's in memory (each operation a
 * round trip through the stack) and compares them lane by lane with
 * branches.  The last vector's lanes fold as the rest of an 8-double
 * (16-float) accumulator would: doubles 4 -> 2 -> 1, floats 8 -> 4, then
 * lanes (0 + 2) and (1 + 3), then the two.
 */
#if defined(__AVX512F__)
#  define FL_WD 8
#  define FL_WF 16
typedef fl_v8d fl_nvd;
typedef fl_v8l fl_nld;
typedef fl_v16f fl_nvf;
typedef fl_v16i fl_nlf;
#  define FL_TAILD(acc, VOP, SOP) FL_HFOLD8D(acc, VOP, SOP)
#  define FL_TAILF(acc, VOP, SOP) FL_HFOLD16F(acc, VOP, SOP)
#elif defined(__AVX__)
#  define FL_WD 4
#  define FL_WF 8
typedef fl_v4d fl_nvd;
typedef fl_v4l fl_nld;
typedef fl_v8f fl_nvf;
typedef fl_v8i fl_nlf;
#  define FL_TAILD(acc, VOP, SOP)                                            \
    ({ fl_v2d h2_ = VOP(fl_v2d, fl_v2l, FL_LO2(acc), FL_HI2(acc));           \
       SOP(h2_[0], h2_[1]); })
#  define FL_TAILF(acc, VOP, SOP)                                            \
    ({ fl_v4f h4_ = VOP(fl_v4f, fl_v4i, FL_LO4(acc), FL_HI4(acc));           \
       SOP(SOP(h4_[0], h4_[2]), SOP(h4_[1], h4_[3])); })
#else
#  define FL_WD 2
#  define FL_WF 4
typedef fl_v2d fl_nvd;
typedef fl_v2l fl_nld;
typedef fl_v4f fl_nvf;
typedef fl_v4i fl_nlf;
#  define FL_TAILD(acc, VOP, SOP) SOP((acc)[0], (acc)[1])
#  define FL_TAILF(acc, VOP, SOP) SOP(SOP((acc)[0], (acc)[2]), SOP((acc)[1], (acc)[3]))
#endif

FL_DEFINE_FOLD(fl_row_max, double, fl_nvd, fl_nld, FL_WD, 8 / FL_WD, -INFINITY, FL_VMAX,
               FL_TAILD, FL_SMAX)
FL_DEFINE_FOLD(fl_row_maxf, float, fl_nvf, fl_nlf, FL_WF, 16 / FL_WF, -INFINITY, FL_VMAX,
               FL_TAILF, FL_SMAX)
FL_DEFINE_FOLD(fl_row_sum, double, fl_nvd, fl_nld, FL_WD, 8 / FL_WD, 0.0, FL_VADD,
               FL_TAILD, FL_SADD)
FL_DEFINE_FOLD(fl_row_sumf, float, fl_nvf, fl_nlf, FL_WF, 16 / FL_WF, 0.0f, FL_VADD,
               FL_TAILF, FL_SADD)
FL_DEFINE_RANGE(fl_range, double, fl_nvd, fl_nld, FL_WD, 8 / FL_WD, FL_VMIN, FL_VMAX, FL_TAILD)
FL_DEFINE_RANGE(fl_rangef, float, fl_nvf, fl_nlf, FL_WF, 16 / FL_WF, FL_VMIN, FL_VMAX,
                FL_TAILF)

#else  /* no vector extensions: plain loops ("vectors" of one lane) */

#define FL_SPLAT(VT, x) (x)
#define FL_PLAIN(acc, VOP, SOP) (acc)
#define FL_PMAX(VT, IT, a, b) FL_SMAX(a, b)
#define FL_PMIN(VT, IT, a, b) FL_SMIN(a, b)

FL_DEFINE_FOLD(fl_row_max, double, double, int, 1, 1, -INFINITY, FL_PMAX, FL_PLAIN, FL_SMAX)
FL_DEFINE_FOLD(fl_row_maxf, float, float, int, 1, 1, -INFINITY, FL_PMAX, FL_PLAIN, FL_SMAX)
FL_DEFINE_FOLD(fl_row_sum, double, double, int, 1, 1, 0.0, FL_VADD, FL_PLAIN, FL_SADD)
FL_DEFINE_FOLD(fl_row_sumf, float, float, int, 1, 1, 0.0f, FL_VADD, FL_PLAIN, FL_SADD)
FL_DEFINE_RANGE(fl_range, double, double, int, 1, 1, FL_PMIN, FL_PMAX, FL_PLAIN)
FL_DEFINE_RANGE(fl_rangef, float, float, int, 1, 1, FL_PMIN, FL_PMAX, FL_PLAIN)

#endif

#endif  /* FL_ROW_H */
