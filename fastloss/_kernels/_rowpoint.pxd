# Row functions of the row-wise (categorical) losses.
#
# Each `<kernel>_row(y, lab, x, C, cw, prm, ws, g, h, mode)` handles ONE row of
# C classes and returns its loss l (before the sample weight); the softmax
# kernels take three more arguments (see "softmax cross-entropy" below):
#   y    dense targets of the row (NULL for the sparse kernels), lab the label
#   x    the row of y_pred (logits, probabilities or log-probabilities)
#   cw   class weights (C values; all 1 when none are given, never NULL: a
#        select between cw[j] and 1 would make GCC give up on the loop)
#   prm  the kernel's double parameters, in the order the registry passes them
#   ws   sample weight * gradient scale: g = ws * dl/dx, h = ws * d2l/dx2
#   mode 0: loss only; 1: loss and g; 2: g and h.
# `mode` is a literal at every call site, so after inlining only the work a
# mode needs is compiled.  g is always a writable row of C values: in mode 0
# a scratch row of the calling thread; h is one too in mode 1 (NULL in mode 0).  It doubles as scratch: per-class
# terms of the loss are stored there by a plain loop (which GCC vectorises,
# exp and log included) and summed with row_sum, instead of being added up
# inside the loop, which would keep the whole loop scalar; the gradient
# overwrites them afterwards.  So no kernel allocates.
#
# Targets times logs are selects `t != 0 ? t * log(..) : 0` (xlogy): a masked
# class (logit -inf, log-probability -inf) with zero target weight adds 0,
# not NaN.  NaN anywhere in a row makes that row's loss and gradient NaN.

from libc.math cimport INFINITY
from cython cimport floating
from fastloss._kernels._numerics cimport f_clip, f_exp, f_expm1, f_log, f_log1p


# --- row reductions ------------------------------------------------------------------

cdef extern from "fl_row.h" nogil:
    double fl_row_max(const double* x, Py_ssize_t n) noexcept
    float fl_row_maxf(const float* x, Py_ssize_t n) noexcept
    double fl_row_sum(const double* x, Py_ssize_t n) noexcept
    float fl_row_sumf(const float* x, Py_ssize_t n) noexcept


cdef inline floating row_max(const floating* x, Py_ssize_t C) noexcept nogil:
    # max over the row in SIMD registers (fastloss/_src/fl_row.h); NaN is
    # skipped here (it still reaches the loss through exp(x - max)).  -inf
    # for an all -inf row.
    if floating is float:
        return fl_row_maxf(x, C)
    else:
        return fl_row_max(x, C)


cdef inline floating row_sum(const floating* x, Py_ssize_t C) noexcept nogil:
    # in the data's dtype, in SIMD registers (fastloss/_src/fl_row.h)
    if floating is float:
        return fl_row_sumf(x, C)
    else:
        return fl_row_sum(x, C)


cdef inline floating row_dot(const floating* a, const floating* b, Py_ssize_t C) noexcept nogil:
    # sum_j a_j b_j, eight interleaved accumulators
    cdef floating acc[8]
    cdef Py_ssize_t j, u, c8 = C - C % 8
    for u in range(8):
        acc[u] = 0
    for j in range(0, c8, 8):
        for u in range(8):
            acc[u] += a[j + u] * b[j + u]
    for j in range(c8, C):
        acc[j - c8] += a[j] * b[j]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline floating row_expstore(const floating* x, Py_ssize_t C, floating m,
                                  floating* e) noexcept nogil:
    # e_j = exp(x_j - m) (a pure map: vectorises), then their sum (the
    # embedding family's InfoNCE / NT-Xent rows).
    cdef Py_ssize_t j
    for j in range(C):
        e[j] = f_exp(x[j] - m)
    return row_sum(e, C)


cdef inline floating _xlog(floating t, floating v) noexcept nogil:
    # t * v, 0 when t == 0 (v may be -inf)
    return t * v if t != 0 else <floating>0


# --- softmax cross-entropy -----------------------------------------------------------
#
# log p_j = x_j - lse,  lse = m + log(S),  S = sum_j exp(x_j - m),  m = max_j x_j:
# nothing overflows for any finite logits (|x| = 1e4 included) and a -inf logit
# gets p = 0 exactly.  With target weights tw_j (class weight x smoothed
# target) and T = sum_j tw_j:
#   l = T log S - sum_j tw_j (x_j - m),   dl/dx_j = T p_j - tw_j,
#   d2l/dx_j^2 = T p_j (1 - p_j).
#
# These kernels run in steps over a block of rows, so that the transcendentals
# run in long vectorised loops (with few classes a loop per row spends as much
# on its set-up and scalar remainder as on its work): `softmax_shift` gives m
# and x_j - m of each row, one flat loop takes their exp (into the gradient
# rows, or a block of scratch), row sums give S, then log S and 1/S are taken
# for the whole block in one loop; the `_row` function, handed m, rs = 1/S
# and log S and its row of e_j = exp(x_j - m) in g, finishes the loss and the
# gradient.

cdef inline floating softmax_shift(const floating* x, Py_ssize_t C, floating* d) noexcept nogil:
    # Returns m = max_j x_j and stores d_j = x_j - m (the loop template then
    # takes exp of a whole block's d in one flat loop: with few classes a
    # vector loop per row spends more on its set-up and scalar remainder, where
    # a scalar exp costs as much as a vector one, than on the exps).
    cdef floating m = row_max(x, C)
    cdef Py_ssize_t j
    for j in range(C):
        d[j] = x[j] - m
    return m


cdef inline void flat_exp(floating* a, Py_ssize_t n) noexcept nogil:
    # a_k = exp(a_k)
    cdef Py_ssize_t k
    for k in range(n):
        a[k] = f_exp(a[k])


cdef extern from "fl_softmax8.h" nogil:
    # 0 where the compiler has no vector extensions (then no kernel calls the
    # functions below)
    enum: FL_HAVE_ROWS8
    void fl_cce_logit_rows8(const double* y, const double* x, Py_ssize_t C, const double* cw,
                            double prm0, const double* w8, double gs, double* g, double* h,
                            double* l8, double* sc) noexcept
    void fl_cce_logit_rows8f(const float* y, const float* x, Py_ssize_t C, const float* cw,
                             double prm0, const float* w8, float gs, float* g, float* h,
                             float* l8, float* sc) noexcept


cdef inline void cce_logit_rows8(
        const floating* y, const floating* x, Py_ssize_t C, const floating* cw,
        const double* prm, const floating* w8, floating gs, floating* g, floating* h,
        floating* l8, floating* sc) noexcept nogil:
    # cce_logit_row for eight whole rows of 8 to 16 classes at once, one row
    # per SIMD lane (fastloss/_src/fl_softmax8.h): the rows' losses (before
    # their sample weights w8) to l8 and, where g (and h) are not NULL, their
    # gradient (and hessian) rows scaled by w8 * gs; sc: 3 * 8 * C values.
    if floating is float:
        fl_cce_logit_rows8f(y, x, C, cw, prm[0], w8, gs, g, h, l8, sc)
    else:
        fl_cce_logit_rows8(y, x, C, cw, prm[0], w8, gs, g, h, l8, sc)


cdef inline floating scce_logit_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode, floating m, floating rs, floating logs, floating R) noexcept nogil:
    # prm = (label_smoothing, sum of class weights).  Target weights as
    # torch.nn.functional.cross_entropy: tw_j = ls/C cw_j + (1 - ls) cw_y [j == y].
    cdef floating ls = <floating>prm[0]
    cdef floating lsc = ls / <floating>C
    cdef floating wsum = <floating>prm[1]
    cdef floating cy = cw[lab]
    cdef floating ty = (<floating>1 - ls) * cy
    cdef floating t, a, sm, b, ts
    cdef floating* sc = g if mode == 0 else h  # scratch, as in cce_logit_row
    cdef Py_ssize_t j
    t = ty + lsc * wsum
    if mode != 2:
        a = _xlog(ty, x[lab] - m)
        if ls != 0:
            # sum_j cw_j (x_j - m), a class of weight 0 adding 0 even at -inf
            for j in range(C):
                sc[j] = _xlog(cw[j], x[j] - m)
            a = a + lsc * row_sum(sc, C)
    if mode != 0:
        ts = ws * t * rs
        b = ws * lsc
        if mode == 2:
            for j in range(C):
                sm = g[j] * rs
                h[j] = ws * t * sm * (<floating>1 - sm)
        for j in range(C):
            g[j] = ts * g[j] - b * cw[j]
        g[lab] -= ws * ty
    if mode == 2:
        return 0
    return t * logs - a


cdef inline floating cce_logit_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode, floating m, floating rs, floating logs, floating R) noexcept nogil:
    # prm = (label_smoothing,).  Dense (one-hot or soft) targets t_j smoothed to
    # (1 - ls) t_j + ls / C (Keras, torch); tw_j = cw_j * that (torch's
    # `weight` with probability targets).
    cdef floating ls = <floating>prm[0]
    cdef floating lsc = ls / <floating>C
    cdef floating keep = <floating>1 - ls
    # scratch: g in mode 0 (its exps are not needed), else h (the hessian row
    # is written only at the end; in mode 1 it is the thread's scratch row)
    cdef floating* sc = g if mode == 0 else h
    # the target weights (to sc1) and their products with x_j - m (to sc2),
    # in one loop where there are two scratch rows: g and h in mode 0, the
    # 2 C values of h in mode 1 (mode 2: the hessian row only)
    cdef floating* sc1 = h if mode == 1 else sc
    cdef floating* sc2 = h + C if mode == 1 else h
    cdef floating t, a, tw, sm, ts
    cdef Py_ssize_t j
    if mode == 2:
        for j in range(C):
            sc[j] = cw[j] * (keep * y[j] + lsc)
        t = row_sum(sc, C)
        for j in range(C):
            sc[j] = _xlog(sc[j], x[j] - m)
        a = row_sum(sc, C)
    else:
        for j in range(C):
            tw = cw[j] * (keep * y[j] + lsc)
            sc1[j] = tw
            sc2[j] = _xlog(tw, x[j] - m)
        t = row_sum(sc1, C)
        a = row_sum(sc2, C)
    if mode != 0:
        ts = ws * t * rs
        for j in range(C):
            tw = cw[j] * (keep * y[j] + lsc)
            sm = g[j] * rs
            if mode == 2:
                h[j] = ws * t * sm * (<floating>1 - sm)
            g[j] = ts * g[j] - ws * tw
    if mode == 2:
        return 0
    return t * logs - a


# --- cross-entropy on probabilities (Keras) ----------------------------------------------
#
# As Keras: each row is normalised, q_j = p_j / S with S = sum_j p_j, clipped to
# c_j = clip(q_j, eps, 1 - eps), and l = -sum_j tw_j log c_j.  With the clip
# mask k_j = [eps < q_j < 1 - eps] and K = sum_j tw_j k_j:
#   dl/dp_j = -tw_j k_j / p_j + K / S,   d2l/dp_j^2 = tw_j k_j / p_j^2 - K / S^2.

cdef inline floating _prob_ce_row(
        const floating* y, Py_ssize_t lab, bint sparse, const floating* x, Py_ssize_t C,
        const floating* cw, floating ls, floating eps, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    cdef floating lsc = ls / <floating>C
    cdef floating keep = <floating>1 - ls
    cdef floating hi = <floating>1 - eps
    cdef floating s = row_sum(x, C)
    # An all-zero row has no distribution: every q_j is taken as 0 (clipped to
    # eps: a finite loss, zero gradient) instead of 0/0.
    cdef floating inv = <floating>1 / s if s > 0 else s * 0
    cdef floating l = 0
    cdef floating kk = 0
    cdef floating q, c, tw, ki
    cdef Py_ssize_t j
    # The loss loop is the same code in every mode, so loss() and loss_grad()
    # agree bitwise; the gradient loops follow.
    for j in range(C):
        if sparse:
            tw = lsc * cw[j] + (keep * cw[lab] if j == lab else <floating>0)
        else:
            tw = cw[j] * (keep * y[j] + lsc)
        g[j] = _xlog(tw, f_log(f_clip(x[j] * inv, eps, hi)))
    l = -row_sum(g, C)
    if mode != 0:
        for j in range(C):
            if sparse:
                tw = lsc * cw[j] + (keep * cw[lab] if j == lab else <floating>0)
            else:
                tw = cw[j] * (keep * y[j] + lsc)
            q = x[j] * inv
            ki = tw if (q > eps) & (q < hi) else q * 0
            kk += ki
            g[j] = -(ki / x[j] if ki != 0 else ki)
        for j in range(C):
            if mode == 2:
                # g[j] holds -tw_j k_j / p_j here
                h[j] = ws * ((-g[j] / x[j] if g[j] != 0 else g[j]) - kk * inv * inv)
            g[j] = ws * (g[j] + kk * inv)
    return l


cdef inline floating scce_prob_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # prm = (label_smoothing, sum of class weights, eps)
    return _prob_ce_row(y, lab, True, x, C, cw, <floating>prm[0], <floating>prm[2],
                        ws, g, h, mode)


cdef inline floating cce_prob_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # prm = (label_smoothing, eps)
    return _prob_ce_row(y, lab, False, x, C, cw, <floating>prm[0], <floating>prm[1],
                        ws, g, h, mode)


# --- categorical hinge (Keras) -------------------------------------------------------------

cdef inline floating cat_hinge_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # keras.losses.categorical_hinge: pos = sum_j y_j x_j,
    # neg = max_j (1 - y_j) x_j (the true class enters as 0, as in Keras),
    # l = max(0, 1 + neg - pos);  where l > 0: dl/dx_j = -y_j + (1 - y_k) [j == k],
    # k the first index attaining neg.  No hessian (piecewise linear).
    cdef floating pos = 0
    cdef floating neg = <floating>-INFINITY
    cdef floating v, u
    cdef Py_ssize_t j, k = 0
    for j in range(C):
        pos += y[j] * x[j]
        v = (<floating>1 - y[j]) * x[j]
        if v > neg:
            neg = v
            k = j
    u = <floating>1 + neg - pos
    if mode != 0:
        for j in range(C):
            g[j] = -ws * y[j] if u > 0 else u * 0
            if mode == 2:
                h[j] = 0
        if u > 0:
            g[k] += ws * (<floating>1 - y[k])
    return u if u > 0 else u * 0


# --- Kullback-Leibler divergence -------------------------------------------------------------
#
# The loss terms t_j (log t_j - log c_j) depend on their own element only, so
# the loop template computes them for a whole block in one flat loop
# (`<kernel>_terms`: its logs vectorise without a scalar remainder per row)
# and hands each row function its row of terms in g.

cdef inline floating _log_ratio(floating t, floating c) noexcept nogil:
    # log(t / c) = log t - log c for t, c in [0, 1], with one log instead of
    # two (and no less accurate: the quotient rounds once, where the
    # difference of logs cancels near t = c).  An operand below the normal
    # range is scaled by 2^54 first (exact), so the quotient never rounds to
    # a subnormal nor overflows; t = 0 gives -inf, c = 0 < t +inf, NaN stays.
    cdef floating tiny
    if floating is double:
        tiny = 2.2250738585072014e-308
    else:
        tiny = 1.1754943508222875e-38
    cdef floating big = 18014398509481984.0, shift = 37.42994775023705  # 2^54, 54 ln 2
    cdef bint st = t < tiny
    cdef bint sc = c < tiny
    cdef floating q = (t * (big if st else <floating>1)) / (c * (big if sc else <floating>1))
    return f_log(q) + ((shift if sc else <floating>0) - (shift if st else <floating>0))


cdef inline void kld_terms(const floating* y, const floating* x, Py_ssize_t n,
                           const double* prm, floating* out) noexcept nogil:
    # out_k = t_k log(t_k / c_k), c_k = max(p_k, eps) (0 log 0 = 0; NaN stays NaN)
    cdef floating eps = <floating>prm[0]
    cdef floating t, c
    cdef Py_ssize_t k
    for k in range(n):
        t = y[k]
        c = eps if x[k] < eps else x[k]
        out[k] = _xlog(t, _log_ratio(t, c))


cdef inline floating kld_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # prm = (eps,).  l = sum_j t_j (log t_j - log c_j), c_j = max(p_j, eps)
    # (0 log 0 = 0; the terms arrive in g, see kld_terms);  dl/dp_j = -t_j / p_j
    # where p_j > eps (else 0);  d2l/dp_j^2 = t_j / p_j^2 there.
    cdef floating eps = <floating>prm[0]
    cdef floating l = row_sum(g, C)
    cdef floating t, r
    cdef Py_ssize_t j
    if mode != 0:
        for j in range(C):
            t = y[j]
            r = (t / x[j] if t != 0 else <floating>0) if x[j] > eps else x[j] * 0
            g[j] = -ws * r
            if mode == 2:
                h[j] = ws * r / x[j] if r != 0 else r
    return l


cdef inline void kld_log_terms(const floating* y, const floating* x, Py_ssize_t n,
                               const double* prm, floating* out) noexcept nogil:
    # out_k = t_k (log t_k - x_k)
    cdef floating t
    cdef Py_ssize_t k
    for k in range(n):
        t = y[k]
        out[k] = _xlog(t, f_log(t) - x[k])


cdef inline floating kld_log_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # torch.nn.functional.kl_div(x, t, log_target=False) summed over the row:
    # l = sum_j t_j (log t_j - x_j) (the terms arrive in g, see kld_log_terms);
    # dl/dx_j = -t_j;  hessian 0.
    cdef floating l = row_sum(g, C)
    cdef Py_ssize_t j
    if mode != 0:
        for j in range(C):
            g[j] = -ws * y[j] + x[j] * 0
            if mode == 2:
                h[j] = 0
    return l


# --- categorical focal cross-entropy -------------------------------------------------------------

cdef inline floating _powq(floating q, floating a) noexcept nogil:
    # q^a for q >= 0, with q^0 = 1 (also 0^0).  The exp and log are computed
    # unconditionally (then selected), which keeps the loops that call this
    # easy to vectorise.
    cdef floating v = f_exp(a * f_log(q))
    return v if a != 0 else <floating>1


cdef inline floating focal_rest(const floating* x, Py_ssize_t C, floating m, const floating* e,
                                floating* sc) noexcept nogil:
    # R = sum_j p_j / p_max - 1 for the softmax of a row from its e_j =
    # exp(x_j - m): the sum of the e_j of the classes below the maximum, plus
    # (ties - 1) for several maximal classes.  1 + R is S, but R is not rounded
    # against 1 (cfocal_logit_row needs it where p_max rounds to 1).  sc: a
    # scratch row.
    cdef Py_ssize_t j
    cdef floating rest
    for j in range(C):
        sc[j] = e[j] if x[j] - m != 0 else <floating>0
    rest = row_sum(sc, C)
    for j in range(C):
        sc[j] = <floating>1 if x[j] - m == 0 else <floating>0
    return rest + (row_sum(sc, C) - <floating>1)


cdef inline void _cfocal_terms(const floating* y, const floating* x, Py_ssize_t C,
                               floating m, floating rs1, floating L, floating R, floating gam,
                               floating al, floating* e, floating* lt, floating* dt,
                               bint square) noexcept nogil:
    # Per class: the loss terms lt_j = alpha t_j q_j^gamma u_j (lt != NULL)
    # and D_j (dt != NULL, which also turns e_j into p_j in place).  square:
    # gamma == 2.  Pointers and flags are constants at every call, so each
    # call compiles to one loop of what it needs; the loss terms are the same
    # operations in every mode (loss() == loss_grad()[0] bit for bit).
    cdef Py_ssize_t j
    cdef floating d, u, p, q, qg, r
    for j in range(C):
        d = x[j] - m
        u = d - L
        p = e[j] * rs1
        q = R * rs1 if d == 0 else <floating>1 - p
        qg = q * q if square else _powq(q, gam)
        if lt != NULL:
            lt[j] = al * _xlog(y[j], qg * u)
        if dt != NULL:
            r = u / q if q > 0 else <floating>-1
            dt[j] = -al * y[j] * qg * (<floating>1 - gam * p * r) if y[j] != 0 else <floating>0
            e[j] = p


cdef inline floating cfocal_logit_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode, floating m, floating rs1, floating L, floating R) noexcept nogil:
    # prm = (gamma, alpha).  f_j = -alpha t_j (1 - p_j)^gamma log p_j, l = sum_j f_j.
    # The loop template hands the row's e_j = exp(x_j - m) in g, R (focal_rest),
    # L = log1p(R) and rs1 = 1/(1 + R): then p_j = e_j rs1, log p_j = (x_j - m)
    # - L, and 1 - p_j = R rs1 for a maximal class (accurate where p_j rounds to
    # 1), 1 - p_j otherwise (p_j <= 1/2 there: no cancellation).
    # With u_j = log p_j, q_j = 1 - p_j, r_j = u_j / q_j (-1 in the limit q -> 0):
    #   D_j = df_j/du_j = -alpha t_j q_j^gamma (1 - gamma p_j r_j)
    #   dl/dx_k = D_k - p_k sum_j D_j.
    # gamma = 2 (the default) squares q instead of taking exp(gamma log q).
    # Scratch: h (mode 0: a row of C values; mode 1: 2 C values, loss terms
    # and D_j; mode 2: the hessian row, all 0 in the end: no hessian).
    cdef floating gam = <floating>prm[0]
    cdef floating al = <floating>prm[1]
    cdef floating l = 0, dsum
    cdef floating* dt = h if mode == 2 else h + C
    cdef Py_ssize_t j
    cdef bint square = gam == 2
    if mode == 0:
        if square:
            _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, h, NULL, True)
        else:
            _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, h, NULL, False)
        return -row_sum(h, C)
    if mode == 1:
        if square:
            _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, h, h + C, True)
        else:
            _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, h, h + C, False)
        l = -row_sum(h, C)
    elif square:
        _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, NULL, h, True)
    else:
        _cfocal_terms(y, x, C, m, rs1, L, R, gam, al, g, NULL, h, False)
    # g holds p_j now, dt the D_j
    dsum = row_sum(dt, C)
    for j in range(C):
        g[j] = ws * (dt[j] - g[j] * dsum)
        if mode == 2:
            h[j] = 0
    return l


cdef inline floating cfocal_prob_row(
        const floating* y, Py_ssize_t lab, const floating* x, Py_ssize_t C,
        const floating* cw, const double* prm, floating ws, floating* g, floating* h,
        int mode) noexcept nogil:
    # prm = (gamma, alpha, eps).  keras.losses.categorical_focal_crossentropy:
    # q_j = p_j / S, c_j = clip(q_j, eps, 1 - eps),
    # f_j = -alpha t_j (1 - c_j)^gamma log c_j.  With E_j = df_j/dc_j where the
    # clip is inactive (else 0):  dl/dp_k = (E_k - sum_j E_j q_j) / S.
    cdef floating gam = <floating>prm[0]
    cdef floating al = <floating>prm[1]
    cdef floating eps = <floating>prm[2]
    cdef floating hi = <floating>1 - eps
    cdef floating s = row_sum(x, C)
    # An all-zero row has no distribution: every q_j is taken as 0 (clipped to
    # eps: a finite loss, zero gradient) instead of 0/0.
    cdef floating inv = <floating>1 / s if s > 0 else s * 0
    cdef floating l, b, q, c, om, lc, qg, ej
    cdef Py_ssize_t j
    if mode == 0:
        for j in range(C):
            c = f_clip(x[j] * inv, eps, hi)
            g[j] = al * _xlog(y[j], _powq(<floating>1 - c, gam) * f_log(c))
        return -row_sum(g, C)
    # one loop for the loss terms (to h, the same operations as above) and
    # E_j = -alpha t_j (1 - c)^gamma (1/c - gamma log(c) / (1 - c)) (to g);
    # 1 - c >= eps > 0
    for j in range(C):
        q = x[j] * inv
        c = f_clip(q, eps, hi)
        om = <floating>1 - c
        lc = f_log(c)
        qg = _powq(om, gam)
        h[j] = al * _xlog(y[j], qg * lc)
        ej = -al * y[j] * qg * (<floating>1 / c - gam * lc / om)
        g[j] = ej if (q > eps) & (q < hi) else q * 0
    l = -row_sum(h, C)
    b = row_dot(g, x, C) * inv  # sum_j E_j q_j
    for j in range(C):
        g[j] = ws * (g[j] - b) * inv
        if mode == 2:
            h[j] = 0
    return l
