/*
 * fl_row.h -- maximum and sum of a short row, and the range of an array, in
 * SIMD registers, for fastloss's kernels and value checks.
 *
 * max_j x[j] is an exact operation, but the compiler may not vectorise it:
 * without -ffinite-math-only GCC does not treat `v > m ? v : m` as a
 * reduction, and its SLP pass leaves the usual eight-accumulator form scalar
 * (GCC 12 turns it into compare-and-cmov on integers).  With few classes per
 * row (C = 16) that scalar loop was a tenth of a softmax kernel's time.
 *
 * Here the accumulators are one 64-byte generic vector (8 doubles or 16
 * floats; GCC and Clang lower it to whatever the target has: one AVX-512
 * register, two AVX2 or four SSE2 registers), updated with a compare mask and
 * bitwise selects, which compile to vmaxpd/vblendv or andps/andnps/orps.
 * Other compilers (MSVC) get the plain loop.
 *
 * Semantics, identical in both versions: NaN is skipped (a comparison with
 * NaN is false, so the accumulator keeps its value); an empty or all -inf or
 * all-NaN row gives -inf.
 *
 * The row sums use the same 64-byte accumulator (lane u takes the elements
 * j = u mod 8, or mod 16 for float) and fold it in halves, 8 -> 4 -> 2 -> 1;
 * leftover elements are added last, in order.  The order of the additions is
 * fixed by n alone, the same in the plain version, so every ISA level gets the
 * same bits.  (Written as an array of eight accumulators, GCC sums the lanes
 * in scalar code after a trip through the stack.)
 */
#ifndef FL_ROW_H
#define FL_ROW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#if (defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)

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

/* max(a, b) lane by lane, keeping a where b is not larger (or is NaN) */
#define FL_VMAX(VT, IT, a, b) \
    ((VT)(((IT)(b) & (IT)((b) > (a))) | ((IT)(a) & ~(IT)((b) > (a)))))

static inline double fl_row_max(const double *x, ptrdiff_t n)
{
    fl_v8d acc, v;
    fl_v4d h4;
    fl_v2d h2;
    double m;
    ptrdiff_t j, n8 = n - n % 8;
    int u;
    for (u = 0; u < 8; u++) acc[u] = -INFINITY;
    for (j = 0; j < n8; j += 8) {
        memcpy(&v, x + j, sizeof v);
        acc = FL_VMAX(fl_v8d, fl_v8l, acc, v);
    }
    /* halve in registers: 8 -> 4 -> 2 -> 1 lanes */
    h4 = FL_VMAX(fl_v4d, fl_v4l, __builtin_shufflevector(acc, acc, 0, 1, 2, 3),
                 __builtin_shufflevector(acc, acc, 4, 5, 6, 7));
    h2 = FL_VMAX(fl_v2d, fl_v2l, __builtin_shufflevector(h4, h4, 0, 1),
                 __builtin_shufflevector(h4, h4, 2, 3));
    m = h2[1] > h2[0] ? h2[1] : h2[0];
    for (j = n8; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static inline float fl_row_maxf(const float *x, ptrdiff_t n)
{
    fl_v16f acc, v;
    fl_v8f h8;
    fl_v4f h4;
    float m;
    ptrdiff_t j, n16 = n - n % 16;
    int u;
    for (u = 0; u < 16; u++) acc[u] = -INFINITY;
    for (j = 0; j < n16; j += 16) {
        memcpy(&v, x + j, sizeof v);
        acc = FL_VMAX(fl_v16f, fl_v16i, acc, v);
    }
    h8 = FL_VMAX(fl_v8f, fl_v8i, __builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7),
                 __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15));
    h4 = FL_VMAX(fl_v4f, fl_v4i, __builtin_shufflevector(h8, h8, 0, 1, 2, 3),
                 __builtin_shufflevector(h8, h8, 4, 5, 6, 7));
    h4 = FL_VMAX(fl_v4f, fl_v4i, h4, __builtin_shufflevector(h4, h4, 2, 3, 0, 1));
    m = h4[1] > h4[0] ? h4[1] : h4[0];
    for (j = n16; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static inline double fl_row_sum(const double *x, ptrdiff_t n)
{
    fl_v8d acc, v;
    fl_v4d h4;
    fl_v2d h2;
    double m;
    ptrdiff_t j, n8 = n - n % 8;
    int u;
    for (u = 0; u < 8; u++) acc[u] = 0.0;
    for (j = 0; j < n8; j += 8) {
        memcpy(&v, x + j, sizeof v);
        acc += v;
    }
    h4 = __builtin_shufflevector(acc, acc, 0, 1, 2, 3) + __builtin_shufflevector(acc, acc, 4, 5, 6, 7);
    h2 = __builtin_shufflevector(h4, h4, 0, 1) + __builtin_shufflevector(h4, h4, 2, 3);
    m = h2[0] + h2[1];
    for (j = n8; j < n; j++) m += x[j];
    return m;
}

static inline float fl_row_sumf(const float *x, ptrdiff_t n)
{
    fl_v16f acc, v;
    fl_v8f h8;
    fl_v4f h4;
    float m;
    ptrdiff_t j, n16 = n - n % 16;
    int u;
    for (u = 0; u < 16; u++) acc[u] = 0.0f;
    for (j = 0; j < n16; j += 16) {
        memcpy(&v, x + j, sizeof v);
        acc += v;
    }
    h8 = __builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7)
         + __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15);
    h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
    m = (h4[0] + h4[2]) + (h4[1] + h4[3]);
    for (j = n16; j < n; j++) m += x[j];
    return m;
}

/* lo[0] = min, hi[0] = max over the non-NaN x[j] (+inf, -inf if none) */
static inline void fl_range(const double *x, ptrdiff_t n, double *lo, double *hi)
{
    fl_v8d mn, mx, v;
    double a[8], b[8], l = INFINITY, h = -INFINITY;
    ptrdiff_t j, n8 = n - n % 8;
    int u;
    for (u = 0; u < 8; u++) { mn[u] = INFINITY; mx[u] = -INFINITY; }
    for (j = 0; j < n8; j += 8) {
        memcpy(&v, x + j, sizeof v);
        mx = FL_VMAX(fl_v8d, fl_v8l, mx, v);
        mn = FL_VMAX(fl_v8d, fl_v8l, -mn, -v);  /* min = -max(-a, -b) */
        mn = -mn;
    }
    memcpy(a, &mn, sizeof a);
    memcpy(b, &mx, sizeof b);
    for (u = 0; u < 8; u++) { l = a[u] < l ? a[u] : l; h = b[u] > h ? b[u] : h; }
    for (j = n8; j < n; j++) { l = x[j] < l ? x[j] : l; h = x[j] > h ? x[j] : h; }
    *lo = l;
    *hi = h;
}

static inline void fl_rangef(const float *x, ptrdiff_t n, float *lo, float *hi)
{
    fl_v16f mn, mx, v;
    float a[16], b[16], l = INFINITY, h = -INFINITY;
    ptrdiff_t j, n16 = n - n % 16;
    int u;
    for (u = 0; u < 16; u++) { mn[u] = INFINITY; mx[u] = -INFINITY; }
    for (j = 0; j < n16; j += 16) {
        memcpy(&v, x + j, sizeof v);
        mx = FL_VMAX(fl_v16f, fl_v16i, mx, v);
        mn = FL_VMAX(fl_v16f, fl_v16i, -mn, -v);
        mn = -mn;
    }
    memcpy(a, &mn, sizeof a);
    memcpy(b, &mx, sizeof b);
    for (u = 0; u < 16; u++) { l = a[u] < l ? a[u] : l; h = b[u] > h ? b[u] : h; }
    for (j = n16; j < n; j++) { l = x[j] < l ? x[j] : l; h = x[j] > h ? x[j] : h; }
    *lo = l;
    *hi = h;
}

#else  /* no vector extensions: the plain loop */

static inline double fl_row_max(const double *x, ptrdiff_t n)
{
    double m = -INFINITY;
    ptrdiff_t j;
    for (j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static inline float fl_row_maxf(const float *x, ptrdiff_t n)
{
    float m = -INFINITY;
    ptrdiff_t j;
    for (j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

static inline double fl_row_sum(const double *x, ptrdiff_t n)
{
    double a[8], h[4], m;
    ptrdiff_t j, n8 = n - n % 8;
    int u;
    for (u = 0; u < 8; u++) a[u] = 0.0;
    for (j = 0; j < n8; j += 8)
        for (u = 0; u < 8; u++) a[u] += x[j + u];
    for (u = 0; u < 4; u++) h[u] = a[u] + a[u + 4];
    m = (h[0] + h[2]) + (h[1] + h[3]);
    for (j = n8; j < n; j++) m += x[j];
    return m;
}

static inline float fl_row_sumf(const float *x, ptrdiff_t n)
{
    float a[16], h[8], m;
    ptrdiff_t j, n16 = n - n % 16;
    int u;
    for (u = 0; u < 16; u++) a[u] = 0.0f;
    for (j = 0; j < n16; j += 16)
        for (u = 0; u < 16; u++) a[u] += x[j + u];
    for (u = 0; u < 8; u++) h[u] = a[u] + a[u + 8];
    for (u = 0; u < 4; u++) h[u] = h[u] + h[u + 4];
    m = (h[0] + h[2]) + (h[1] + h[3]);
    for (j = n16; j < n; j++) m += x[j];
    return m;
}

static inline void fl_range(const double *x, ptrdiff_t n, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY;
    ptrdiff_t j;
    for (j = 0; j < n; j++) { l = x[j] < l ? x[j] : l; h = x[j] > h ? x[j] : h; }
    *lo = l;
    *hi = h;
}

static inline void fl_rangef(const float *x, ptrdiff_t n, float *lo, float *hi)
{
    float l = INFINITY, h = -INFINITY;
    ptrdiff_t j;
    for (j = 0; j < n; j++) { l = x[j] < l ? x[j] : l; h = x[j] > h ? x[j] : h; }
    *lo = l;
    *hi = h;
}

#endif

#endif  /* FL_ROW_H */
