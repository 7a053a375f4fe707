/*
 * fl_embed.h -- row sums of the embedding losses (dots, squared and absolute
 * distances of two rows), in SIMD registers.
 *
 * Written as fl_row.h's folds are, and for the same reason: eight (or, for
 * float, sixteen) accumulators in one 64-byte generic vector stay in
 * registers and are folded in halves, whereas the same accumulators written
 * as a C array are "vectorised" by GCC 12 across loop iterations with
 * permutes and scalar adds (five times slower on a row of 128 doubles).  The
 * order of operations depends on n alone: every ISA level computes the same
 * bits.  Leftover elements are added last, in order, to the folded sum.
 * Compilers without vector extensions get plain loops (one lane).
 */
#ifndef FL_EMBED_H
#define FL_EMBED_H

#include "fl_row.h"

/*
 * A distance of two rows: sum_j TERM(u_j), u = x - y + e, storing u (the
 * gradients are multiples of u or of its signs; stored while it is
 * computed, the gradient loops read one row from L1 instead of two).
 * VTERM / STERM: the term on a vector of lanes / on one value.
 */
#define FL_DEFINE_DIST(NAME, T, VT, LANES, HSUM, VTERM, STERM)               \
    static inline T NAME(const T *x, const T *y, T e, ptrdiff_t n, T *u)     \
    {                                                                        \
        VT a = FL_SPLAT(VT, 0), vx, vy, vu;                                  \
        T r, t;                                                              \
        ptrdiff_t j, nl = n - n % (LANES);                                   \
        for (j = 0; j < nl; j += (LANES)) {                                  \
            memcpy(&vx, x + j, sizeof vx);                                   \
            memcpy(&vy, y + j, sizeof vy);                                   \
            vu = vx - vy + e;                                                \
            memcpy(u + j, &vu, sizeof vu);                                   \
            a = a + VTERM(vu);                                               \
        }                                                                    \
        r = HSUM(a);                                                         \
        for (j = nl; j < n; j++) {                                           \
            t = x[j] - y[j] + e;                                             \
            u[j] = t;                                                        \
            r += STERM(t);                                                   \
        }                                                                    \
        return r;                                                            \
    }

/*
 * fl_dots3(x, y, n, &sxx, &syy, &sxy): sum x^2, sum y^2, sum x y.
 * SUF: the function suffix ("" for double, "f" for float); VT/LANES: the
 * accumulator vector and its lanes; HSUM: its fold.
 */
#define FL_DEFINE_DOTS3(SUF, T, VT, LANES, HSUM)                             \
    static inline void fl_dots3##SUF(const T *x, const T *y, ptrdiff_t n,    \
                                     T *sxx, T *syy, T *sxy)                 \
    {                                                                        \
        VT a = FL_SPLAT(VT, 0), b = FL_SPLAT(VT, 0), c = FL_SPLAT(VT, 0);    \
        VT vx, vy;                                                           \
        T ra, rb, rc;                                                        \
        ptrdiff_t j, nl = n - n % (LANES);                                   \
        for (j = 0; j < nl; j += (LANES)) {                                  \
            memcpy(&vx, x + j, sizeof vx);                                   \
            memcpy(&vy, y + j, sizeof vy);                                   \
            a = a + vx * vx;                                                 \
            b = b + vy * vy;                                                 \
            c = c + vx * vy;                                                 \
        }                                                                    \
        ra = HSUM(a);                                                        \
        rb = HSUM(b);                                                        \
        rc = HSUM(c);                                                        \
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

#if (defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)
#define FL_ABS8D(v) FL_MAX8D(v, -(v))
#define FL_ABS16F(v) FL_MAX16F(v, -(v))
FL_DEFINE_DOTS3(, double, fl_v8d, 8, FL_HSUM8D)
FL_DEFINE_DOTS3(f, float, fl_v16f, 16, FL_HSUM16F)
FL_DEFINE_DIST(fl_sqdist, double, fl_v8d, 8, FL_HSUM8D, FL_SQ, FL_SQ)
FL_DEFINE_DIST(fl_sqdistf, float, fl_v16f, 16, FL_HSUM16F, FL_SQ, FL_SQ)
FL_DEFINE_DIST(fl_absdist, double, fl_v8d, 8, FL_HSUM8D, FL_ABS8D, FL_SABS)
FL_DEFINE_DIST(fl_absdistf, float, fl_v16f, 16, FL_HSUM16F, FL_ABS16F, FL_SABS)
#else
FL_DEFINE_DOTS3(, double, double, 1, FL_ID)
FL_DEFINE_DOTS3(f, float, float, 1, FL_ID)
FL_DEFINE_DIST(fl_sqdist, double, double, 1, FL_ID, FL_SQ, FL_SQ)
FL_DEFINE_DIST(fl_sqdistf, float, float, 1, FL_ID, FL_SQ, FL_SQ)
FL_DEFINE_DIST(fl_absdist, double, double, 1, FL_ID, FL_SABS, FL_SABS)
FL_DEFINE_DIST(fl_absdistf, float, float, 1, FL_ID, FL_SABS, FL_SABS)
#endif

#endif  /* FL_EMBED_H */
