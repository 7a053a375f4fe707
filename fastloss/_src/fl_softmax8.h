/*
 * fl_softmax8.h -- the softmax cross-entropy of eight rows at once, one row
 * per SIMD lane, for rows of 8 to 16 classes (fastloss's cce_logit kernel).
 *
 * With so few classes a row is one or two vectors, and the per-row loops of
 * the row kernel (maximum, shift, sums, gradient) spend more on their set-up,
 * scalar remainders and folds of the lanes than on arithmetic.  Here the
 * eight rows are transposed in registers (three rounds of shuffles), so that
 * vector j holds class j of every row; each step is then one vertical
 * operation, with the accumulators in registers, and the gradient is
 * transposed back.  A row of C > 8 classes is read as columns 0-7 and C-8 to
 * C-1 (overlapping when C < 16): every load and store is a whole vector
 * inside the eight rows, and the overlap is stored twice with the same
 * values.
 *
 * Per lane the arithmetic is that of cce_logit_row in _rowpoint.pxd with the
 * sums over classes taken in class order; it is the same at every SIMD level.
 * Compilers without vector extensions (MSVC) have no such path
 * (FL_HAVE_ROWS8 is 0): their kernels take every row one at a time.
 */
#ifndef FL_SOFTMAX8_H
#define FL_SOFTMAX8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "fl_math.h"
#include "fl_row.h"

/* FL_PLAIN_LOOPS (fl_row.h): the plain loops on any compiler */
#if ((defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)) && !defined(FL_PLAIN_LOOPS)

/* c[j][l] = r[l][j] for L vectors r of L lanes (any element type) */
#define FL_TR8(V, r, c) do {                                                       \
    V t0_ = __builtin_shufflevector(r[0], r[1], 0, 8, 2, 10, 4, 12, 6, 14);        \
    V t1_ = __builtin_shufflevector(r[0], r[1], 1, 9, 3, 11, 5, 13, 7, 15);        \
    V t2_ = __builtin_shufflevector(r[2], r[3], 0, 8, 2, 10, 4, 12, 6, 14);        \
    V t3_ = __builtin_shufflevector(r[2], r[3], 1, 9, 3, 11, 5, 13, 7, 15);        \
    V t4_ = __builtin_shufflevector(r[4], r[5], 0, 8, 2, 10, 4, 12, 6, 14);        \
    V t5_ = __builtin_shufflevector(r[4], r[5], 1, 9, 3, 11, 5, 13, 7, 15);        \
    V t6_ = __builtin_shufflevector(r[6], r[7], 0, 8, 2, 10, 4, 12, 6, 14);        \
    V t7_ = __builtin_shufflevector(r[6], r[7], 1, 9, 3, 11, 5, 13, 7, 15);        \
    V u0_ = __builtin_shufflevector(t0_, t2_, 0, 1, 8, 9, 4, 5, 12, 13);           \
    V u1_ = __builtin_shufflevector(t0_, t2_, 2, 3, 10, 11, 6, 7, 14, 15);         \
    V u2_ = __builtin_shufflevector(t1_, t3_, 0, 1, 8, 9, 4, 5, 12, 13);           \
    V u3_ = __builtin_shufflevector(t1_, t3_, 2, 3, 10, 11, 6, 7, 14, 15);         \
    V u4_ = __builtin_shufflevector(t4_, t6_, 0, 1, 8, 9, 4, 5, 12, 13);           \
    V u5_ = __builtin_shufflevector(t4_, t6_, 2, 3, 10, 11, 6, 7, 14, 15);         \
    V u6_ = __builtin_shufflevector(t5_, t7_, 0, 1, 8, 9, 4, 5, 12, 13);           \
    V u7_ = __builtin_shufflevector(t5_, t7_, 2, 3, 10, 11, 6, 7, 14, 15);         \
    c[0] = __builtin_shufflevector(u0_, u4_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    c[4] = __builtin_shufflevector(u0_, u4_, 4, 5, 6, 7, 12, 13, 14, 15);          \
    c[1] = __builtin_shufflevector(u2_, u6_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    c[5] = __builtin_shufflevector(u2_, u6_, 4, 5, 6, 7, 12, 13, 14, 15);          \
    c[2] = __builtin_shufflevector(u1_, u5_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    c[6] = __builtin_shufflevector(u1_, u5_, 4, 5, 6, 7, 12, 13, 14, 15);          \
    c[3] = __builtin_shufflevector(u3_, u7_, 0, 1, 2, 3, 8, 9, 10, 11);            \
    c[7] = __builtin_shufflevector(u3_, u7_, 4, 5, 6, 7, 12, 13, 14, 15);          \
} while (0)
#define FL_TR4(V, r, c) do {                                                       \
    V t0_ = __builtin_shufflevector(r[0], r[1], 0, 4, 2, 6);                       \
    V t1_ = __builtin_shufflevector(r[0], r[1], 1, 5, 3, 7);                       \
    V t2_ = __builtin_shufflevector(r[2], r[3], 0, 4, 2, 6);                       \
    V t3_ = __builtin_shufflevector(r[2], r[3], 1, 5, 3, 7);                       \
    c[0] = __builtin_shufflevector(t0_, t2_, 0, 1, 4, 5);                          \
    c[2] = __builtin_shufflevector(t0_, t2_, 2, 3, 6, 7);                          \
    c[1] = __builtin_shufflevector(t1_, t3_, 0, 1, 4, 5);                          \
    c[3] = __builtin_shufflevector(t1_, t3_, 2, 3, 6, 7);                          \
} while (0)
#define FL_TR2(V, r, c) do {                                                       \
    c[0] = __builtin_shufflevector(r[0], r[1], 0, 2);                              \
    c[1] = __builtin_shufflevector(r[0], r[1], 1, 3);                              \
} while (0)

/*
 * The rows are handled L at a time, L rows in the L lanes of the target's
 * own vectors (8 doubles or floats on AVX-512, 4 doubles or 8 floats on AVX2,
 * 2 doubles or 4 floats on SSE2): the arithmetic of a lane does not depend on
 * L, so every level computes the same bits.
 */
/* doubles: fl_row.h's vectors of the target's width */
#if FL_WD == 8
#  define FL_S8_TRD FL_TR8
#elif FL_WD == 4
#  define FL_S8_TRD FL_TR4
#else
#  define FL_S8_TRD FL_TR2
#endif
/* floats: at most eight lanes, one per row of the group */
#if defined(__AVX__)
#  define FL_S8_LF 8
typedef fl_v8f fl_s8_vf;
typedef fl_v8i fl_s8_lf;
#  define FL_S8_TRF FL_TR8
#else
#  define FL_S8_LF 4
typedef fl_v4f fl_s8_vf;
typedef fl_v4i fl_s8_lf;
#  define FL_S8_TRF FL_TR4
#endif

/*
 * cols[L j + l] = x[l C + j] (j < C, l < L, C >= L), and its inverse: blocks
 * of L columns at 0, L, 2 L, ..., and a last one at C - L where L does not
 * divide C (overlapping the one before it), so that every load and store is
 * a whole vector inside the L rows; the overlap is stored twice with the
 * same values.
 */
#define FL_DEFINE_TRANSPOSE(TOCOLS, TOROWS, T, V, L, TR)                          \
    static inline void TOCOLS(const T *x, ptrdiff_t C, T *cols)                    \
    {                                                                              \
        V r[L], c[L];                                                              \
        ptrdiff_t l, j, b = 0;                                                     \
        for (;;) {                                                                 \
            for (l = 0; l < L; l++) memcpy(&r[l], x + l * C + b, sizeof r[l]);     \
            TR(V, r, c);                                                           \
            for (j = 0; j < L; j++) memcpy(cols + L * (b + j), &c[j], sizeof c[j]); \
            if (b == C - L) break;                                                 \
            b = b + 2 * L <= C ? b + L : C - L;                                    \
        }                                                                          \
    }                                                                              \
    static inline void TOROWS(const T *cols, ptrdiff_t C, T *x)                    \
    {                                                                              \
        V r[L], c[L];                                                              \
        ptrdiff_t l, j, b = 0;                                                     \
        for (;;) {                                                                 \
            for (j = 0; j < L; j++) memcpy(&c[j], cols + L * (b + j), sizeof c[j]); \
            TR(V, c, r);                                                           \
            for (l = 0; l < L; l++) memcpy(x + l * C + b, &r[l], sizeof r[l]);     \
            if (b == C - L) break;                                                 \
            b = b + 2 * L <= C ? b + L : C - L;                                    \
        }                                                                          \
    }

FL_DEFINE_TRANSPOSE(fl_i_tocols, fl_i_torows, double, fl_nvd, FL_WD, FL_S8_TRD)
FL_DEFINE_TRANSPOSE(fl_i_tocolsf, fl_i_torowsf, float, fl_s8_vf, FL_S8_LF, FL_S8_TRF)

/*
 * The eight rows' losses (l8) and, with g, their gradient rows (with h as
 * well, their hessian diagonals); sc is scratch of 3 * 8 * C values.  ls:
 * label smoothing; cw: class weights (C values); w8: the rows' sample
 * weights, gs: the gradient scale (a row's gradient is w8[l] * gs * dl/dx,
 * its loss l8[l] is before the sample weight).
 */
#define FL_DEFINE_CCE8(NAME, T, V, IV, L, EXP, LOG, TOCOLS, TOROWS)                \
    static inline void NAME(const T *y, const T *x, ptrdiff_t C, const T *cw,      \
                            double prm0, const T *w8, T gs, T *g, T *h, T *l8,     \
                            T *sc)                                                 \
    {                                                                              \
        T ls = (T)prm0, lsc = ls / (T)C, keep = (T)1 - ls;                         \
        T S8[8], T8[8], A8[8], r8[8];                                              \
        T *d, *e, *tw;                                                             \
        V m, S, Tt, A, v, t, dj, ej, ws, f, rs, zero = FL_SPLAT(V, 0);             \
        ptrdiff_t j, l, s;                                                         \
        /* rows s .. s + L - 1 use [s C, (s + L) C) of d, e and tw */              \
        for (s = 0; s < 8; s += L) {                                               \
            d = sc + s * C;                                                        \
            tw = sc + 16 * C + s * C;                                              \
            TOCOLS(x + s * C, C, d);                                               \
            TOCOLS(y + s * C, C, tw);                                              \
            m = FL_SPLAT(V, -INFINITY);                                            \
            for (j = 0; j < C; j++) {      /* the row maxima; NaN skipped */       \
                memcpy(&v, d + L * j, sizeof v);                                   \
                m = FL_VSEL(V, IV, v > m, m, v);                                   \
            }                                                                      \
            for (j = 0; j < C; j++) {                                              \
                memcpy(&v, d + L * j, sizeof v);                                   \
                v = v - m;                                                         \
                memcpy(d + L * j, &v, sizeof v);                                   \
            }                                                                      \
        }                                                                          \
        d = sc;                                                                    \
        e = sc + 8 * C;                                                            \
        for (j = 0; j < 8 * C; j++) e[j] = EXP(d[j]);                              \
        for (s = 0; s < 8; s += L) {                                               \
            d = sc + s * C;                                                        \
            e = sc + 8 * C + s * C;                                                \
            tw = sc + 16 * C + s * C;                                              \
            S = zero;                                                              \
            Tt = zero;                                                             \
            A = zero;                                                              \
            for (j = 0; j < C; j++) {                                              \
                memcpy(&v, tw + L * j, sizeof v);                                  \
                memcpy(&ej, e + L * j, sizeof ej);                                 \
                memcpy(&dj, d + L * j, sizeof dj);                                 \
                t = cw[j] * (keep * v + lsc);                                      \
                memcpy(tw + L * j, &t, sizeof t);                                  \
                S = S + ej;                                                        \
                Tt = Tt + t;                                                       \
                A = A + FL_VSEL(V, IV, t != zero, zero, t * dj);                   \
            }                                                                      \
            memcpy(S8 + s, &S, sizeof S);                                          \
            memcpy(T8 + s, &Tt, sizeof Tt);                                        \
            memcpy(A8 + s, &A, sizeof A);                                          \
        }                                                                          \
        for (l = 0; l < 8; l++) {                                                  \
            l8[l] = T8[l] * LOG(S8[l]) - A8[l];                                    \
            r8[l] = (T)1 / S8[l];                                                  \
        }                                                                          \
        if (g == NULL) return;                                                     \
        for (s = 0; s < 8; s += L) {                                               \
            d = sc + s * C;                                                        \
            e = sc + 8 * C + s * C;                                                \
            tw = sc + 16 * C + s * C;                                              \
            memcpy(&ws, w8 + s, sizeof ws);                                        \
            memcpy(&Tt, T8 + s, sizeof Tt);                                        \
            memcpy(&rs, r8 + s, sizeof rs);                                        \
            ws = ws * gs;                                                          \
            f = ws * Tt * rs;                                                      \
            for (j = 0; j < C; j++) {                                              \
                memcpy(&ej, e + L * j, sizeof ej);                                 \
                memcpy(&t, tw + L * j, sizeof t);                                  \
                v = f * ej - ws * t;                                               \
                memcpy(tw + L * j, &v, sizeof v);                                  \
                if (h != NULL) {           /* d is free: the hessian's columns */  \
                    v = ej * rs;                                                   \
                    v = ws * Tt * v * ((T)1 - v);                                  \
                    memcpy(d + L * j, &v, sizeof v);                               \
                }                                                                  \
            }                                                                      \
            TOROWS(tw, C, g + s * C);                                              \
            if (h != NULL) TOROWS(d, C, h + s * C);                                \
        }                                                                          \
    }

FL_DEFINE_CCE8(fl_cce_logit_rows8, double, fl_nvd, fl_nld, FL_WD, fl_exp, fl_log,
               fl_i_tocols, fl_i_torows)
FL_DEFINE_CCE8(fl_cce_logit_rows8f, float, fl_s8_vf, fl_s8_lf, FL_S8_LF, fl_expf, fl_logf,
               fl_i_tocolsf, fl_i_torowsf)

#define FL_HAVE_ROWS8 1

#else  /* no vector extensions: no eight-rows path */

/* FL_HAVE_ROWS8 0: the kernels never call these (they take every row one at
   a time); they exist only so that the callers compile. */
#define FL_HAVE_ROWS8 0
static inline void fl_cce_logit_rows8(const double *y, const double *x, ptrdiff_t C,
                                      const double *cw, double prm0, const double *w8,
                                      double gs, double *g, double *h, double *l8,
                                      double *sc)
{
    (void)y; (void)x; (void)C; (void)cw; (void)prm0; (void)w8; (void)gs;
    (void)g; (void)h; (void)l8; (void)sc;
}
static inline void fl_cce_logit_rows8f(const float *y, const float *x, ptrdiff_t C,
                                       const float *cw, double prm0, const float *w8,
                                       float gs, float *g, float *h, float *l8, float *sc)
{
    (void)y; (void)x; (void)C; (void)cw; (void)prm0; (void)w8; (void)gs;
    (void)g; (void)h; (void)l8; (void)sc;
}

#endif

#endif  /* FL_SOFTMAX8_H */
