/*
 * fl_embed.h -- row sums of the embedding losses (dots, squared and absolute
 * distances of two rows), in SIMD registers.
 *
 * Written as fl_row.h's folds are, and for the same reason: eight (or, for
 * float, sixteen) accumulator lanes in vectors of the target's width stay in
 * registers and are folded in halves, whereas the same accumulators written
 * as a C array of scalars are "vectorised" by GCC 12 across loop iterations
 * with permutes and scalar adds (five times slower on a row of 128 doubles).
 * The order of operations depends on n alone: every ISA level computes the
 * same bits.  Leftover elements are added last, in order, to the folded sum.
 * Compilers without vector extensions get plain loops (one lane).
 */
#ifndef FL_EMBED_H
#define FL_EMBED_H

#include "fl_row.h"

/*
 * A distance of two rows: sum_j TERM(u_j), u = x - y + e, storing u (the
 * gradients are multiples of u or of its signs; stored while it is
 * computed, the gradient loops read one row from L1 instead of two).
 * VTERM / STERM: the term on a vector of lanes / on one value.  The
 * accumulator is fl_row.h's: K vectors NV of the target's width W.
 */
#define FL_DEFINE_DIST(NAME, T, NV, NL, W, K, TAIL, VTERM, STERM)           \
    static inline T NAME(const T *x, const T *y, T e, ptrdiff_t n, T *u)     \
    {                                                                        \
        NV a[K], vx, vy, vu;                                                 \
        T r, t;                                                              \
        ptrdiff_t j, k, h, nl = n - n % ((W) * (K));                         \
        for (k = 0; k < (K); k++) a[k] = FL_SPLAT(NV, 0);                    \
        for (j = 0; j < nl; j += (W) * (K)) {                                \
            for (k = 0; k < (K); k++) {                                      \
                memcpy(&vx, x + j + k * (W), sizeof vx);                     \
                memcpy(&vy, y + j + k * (W), sizeof vy);                     \
                vu = vx - vy + e;                                            \
                memcpy(u + j + k * (W), &vu, sizeof vu);                     \
                a[k] = a[k] + VTERM(NV, NL, vu);                             \
            }                                                                \
        }                                                                    \
        for (h = (K) / 2; h > 0; h /= 2)                                     \
            for (k = 0; k < h; k++) a[k] = a[k] + a[k + h];                  \
        r = TAIL(a[0], FL_VADD, FL_SADD);                                    \
        for (j = nl; j < n; j++) {                                           \
            t = x[j] - y[j] + e;                                             \
            u[j] = t;                                                        \
            r += STERM(t);                                                   \
        }                                                                    \
        return r;                                                            \
    }

/*
 * fl_dots3(x, y, n, &sxx, &syy, &sxy): sum x^2, sum y^2, sum x y.
 * SUF: the function suffix ("" for double, "f" for float); the rest as for
 * FL_DEFINE_DIST.
 */
#define FL_DEFINE_DOTS3(SUF, T, NV, W, K, TAIL)                              \
    static inline void fl_dots3##SUF(const T *x, const T *y, ptrdiff_t n,    \
                                     T *sxx, T *syy, T *sxy)                 \
    {                                                                        \
        NV a[K], b[K], c[K], vx, vy;                                         \
        T ra, rb, rc;                                                        \
        ptrdiff_t j, k, h, nl = n - n % ((W) * (K));                         \
        for (k = 0; k < (K); k++) {                                          \
            a[k] = FL_SPLAT(NV, 0);                                          \
            b[k] = FL_SPLAT(NV, 0);                                          \
            c[k] = FL_SPLAT(NV, 0);                                          \
        }                                                                    \
        for (j = 0; j < nl; j += (W) * (K)) {                                \
            for (k = 0; k < (K); k++) {                                      \
                memcpy(&vx, x + j + k * (W), sizeof vx);                     \
                memcpy(&vy, y + j + k * (W), sizeof vy);                     \
                a[k] = a[k] + vx * vx;                                       \
                b[k] = b[k] + vy * vy;                                       \
                c[k] = c[k] + vx * vy;                                       \
            }                                                                \
        }                                                                    \
        for (h = (K) / 2; h > 0; h /= 2) {                                   \
            for (k = 0; k < h; k++) {                                        \
                a[k] = a[k] + a[k + h];                                      \
                b[k] = b[k] + b[k + h];                                      \
                c[k] = c[k] + c[k + h];                                      \
            }                                                                \
        }                                                                    \
        ra = TAIL(a[0], FL_VADD, FL_SADD);                                   \
        rb = TAIL(b[0], FL_VADD, FL_SADD);                                   \
        rc = TAIL(c[0], FL_VADD, FL_SADD);                                   \
        for (j = nl; j < n; j++) {                                           \
            ra += x[j] * x[j];                                               \
            rb += y[j] * y[j];                                               \
            rc += x[j] * y[j];                                               \
        }                                                                    \
        *sxx = ra;                                                           \
        *syy = rb;                                                           \
        *sxy = rc;                                                           \
    }

/* the terms: a square, and |u| = max(u, -u) (NaN stays NaN) */
#define FL_SQ(v) ((v) * (v))
#define FL_SABS(t) FL_SMAX(t, -(t))
#define FL_VSQ(VT, IT, v) ((v) * (v))

#if ((defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)) && !defined(FL_PLAIN_LOOPS)
#define FL_VABS(VT, IT, v) FL_VMAX(VT, IT, v, -(v))
FL_DEFINE_DOTS3(, double, fl_nvd, FL_WD, 8 / FL_WD, FL_TAILD)
FL_DEFINE_DOTS3(f, float, fl_nvf, FL_WF, 16 / FL_WF, FL_TAILF)
FL_DEFINE_DIST(fl_sqdist, double, fl_nvd, fl_nld, FL_WD, 8 / FL_WD, FL_TAILD, FL_VSQ, FL_SQ)
FL_DEFINE_DIST(fl_sqdistf, float, fl_nvf, fl_nlf, FL_WF, 16 / FL_WF, FL_TAILF, FL_VSQ, FL_SQ)
FL_DEFINE_DIST(fl_absdist, double, fl_nvd, fl_nld, FL_WD, 8 / FL_WD, FL_TAILD, FL_VABS,
               FL_SABS)
FL_DEFINE_DIST(fl_absdistf, float, fl_nvf, fl_nlf, FL_WF, 16 / FL_WF, FL_TAILF, FL_VABS,
               FL_SABS)
#else
#define FL_VABS(VT, IT, v) FL_SABS(v)
FL_DEFINE_DOTS3(, double, double, 1, 1, FL_PLAIN)
FL_DEFINE_DOTS3(f, float, float, 1, 1, FL_PLAIN)
FL_DEFINE_DIST(fl_sqdist, double, double, int, 1, 1, FL_PLAIN, FL_VSQ, FL_SQ)
FL_DEFINE_DIST(fl_sqdistf, float, float, int, 1, 1, FL_PLAIN, FL_VSQ, FL_SQ)
FL_DEFINE_DIST(fl_absdist, double, double, int, 1, 1, FL_PLAIN, FL_VABS, FL_SABS)
FL_DEFINE_DIST(fl_absdistf, float, float, int, 1, 1, FL_PLAIN, FL_VABS, FL_SABS)
#endif

#endif  /* FL_EMBED_H */
