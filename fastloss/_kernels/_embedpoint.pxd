# Row and point functions of the embedding and ranking losses.
#
# Row functions `<kernel>_row(x0, x1, x2, y, d, prm, ws, g0, g1, g2, scr, mode)`
# handle ONE row of d features and return its loss (before the sample weight):
#   x0, x1, x2  the row of each feature input (x2 NULL for losses of two)
#   y           the row's label (cosine_embedding, contrastive_embedding)
#   prm         the kernel's double parameters, in the order the registry passes them
#   ws          sample weight * gradient scale: g = ws * dl/dx
#   g0, g1, g2  the gradient rows, in `wrt` order (unused in mode 0)
#   scr         a scratch area of this thread (4 d values; used by the general p)
#   mode        0: loss only; 1: loss and gradients (a literal at each call site,
#               so after inlining only what the mode needs is compiled)
# Each row function sweeps its rows twice: once for the row sums (norms,
# dots, distances), once to write the gradients, which re-reads the rows
# from L1; so each input element is read from memory once and each gradient
# element written once.
#
# Row sums (fastloss/_src/fl_embed.h, fl_row.h) keep eight (float: sixteen)
# accumulators in SIMD registers, folded as a fixed tree: the order of
# additions depends on d only, so every SIMD level and every thread count
# computes the same bits; float32 rows are summed in float32 (as the
# row-wise kernels do), the batch sum in float64 (in the loops).
#
# Subgradients (torch's, checked against torch autograd in the tests):
# hinges max(0, h) take the gradient of h only where h > 0 (a distance or a
# cosine exactly at the margin gets 0); the gradient of a norm ||u|| at u = 0
# is 0; min(d_an, d_pn) of triplet's swap splits the gradient evenly at a tie.

from libc.math cimport sqrt, sqrtf
from cython cimport floating
from fastloss._kernels._numerics cimport f_abs, f_exp, f_log, f_sign
from fastloss._kernels._rowpoint cimport row_sum


cdef inline floating f_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef extern from "fl_embed.h" nogil:
    void fl_dots3(const double* x, const double* y, Py_ssize_t n, double* sxx, double* syy,
                  double* sxy) noexcept
    void fl_dots3f(const float* x, const float* y, Py_ssize_t n, float* sxx, float* syy,
                   float* sxy) noexcept
    double fl_sqdist(const double* x, const double* y, double e, Py_ssize_t n,
                     double* u) noexcept
    float fl_sqdistf(const float* x, const float* y, float e, Py_ssize_t n, float* u) noexcept
    double fl_absdist(const double* x, const double* y, double e, Py_ssize_t n,
                      double* u) noexcept
    float fl_absdistf(const float* x, const float* y, float e, Py_ssize_t n, float* u) noexcept


# --- row sums (fastloss/_src/fl_embed.h: accumulators in SIMD registers) ------------

cdef inline void dots3(const floating* x, const floating* y, Py_ssize_t d,
                       floating* sxx, floating* syy, floating* sxy) noexcept nogil:
    # sum x_j^2, sum y_j^2, sum x_j y_j in one sweep
    if floating is float:
        fl_dots3f(x, y, d, sxx, syy, sxy)
    else:
        fl_dots3(x, y, d, sxx, syy, sxy)


cdef inline floating sqdist(const floating* x, const floating* y, floating e,
                            Py_ssize_t d, floating* u) noexcept nogil:
    # sum_j u_j^2, u = x - y + e (stored): the square of torch's
    # pairwise_distance (p = 2), which adds eps to every coordinate difference
    if floating is float:
        return fl_sqdistf(x, y, e, d, u)
    else:
        return fl_sqdist(x, y, e, d, u)


cdef inline floating absdist(const floating* x, const floating* y, floating e,
                             Py_ssize_t d, floating* u) noexcept nogil:
    # sum_j |u_j|, u = x - y + e (stored): pairwise_distance with p = 1
    if floating is float:
        return fl_absdistf(x, y, e, d, u)
    else:
        return fl_absdist(x, y, e, d, u)


cdef inline floating powdist(const floating* x, const floating* y, floating e, floating p,
                             Py_ssize_t d, floating* lg, floating* tmp) noexcept nogil:
    # (sum_j |u_j|^p)^(1/p), u = x - y + e, with |u_j|^p = exp(p log|u_j|)
    # (log 0 = -inf gives 0); lg_j = log|u_j| is kept for the gradient, tmp
    # (d values) is scratch.  As torch's norm, no rescaling: |u|^p may
    # overflow where torch's does.
    cdef Py_ssize_t j
    for j in range(d):
        lg[j] = f_log(f_abs(x[j] - y[j] + e))
    for j in range(d):
        tmp[j] = f_exp(p * lg[j])
    return f_exp(f_log(row_sum(tmp, d)) / p)


cdef inline floating _hinge(floating h) noexcept nogil:
    # max(0, h), NaN propagating
    return h if h > 0 else h * <floating>0


# --- cosine losses ----------------------------------------------------------------

cdef inline floating cosine_similarity_row(
        const floating* t, const floating* p, const floating* unused, floating y,
        Py_ssize_t d, const double* prm, floating ws, floating* g, floating* g1,
        floating* g2, floating* scr, int mode) noexcept nogil:
    # Keras CosineSimilarity: l = -cos = -(t.p) a b with a = 1 / sqrt(max(t.t, eps)),
    # b = 1 / sqrt(max(p.p, eps)), eps = 1e-12 (a zero vector gives 0, not NaN).
    #   dl/dp = -a b (t - (t.p) b^2 p), the second term only where p.p >= eps
    #   (the clamp's constant branch has no gradient; at p.p == eps the
    #   gradient is TensorFlow's maximum(), which passes it at a tie).
    cdef floating eps = <floating>1e-12
    cdef floating stt, spp, stp, a, b, k, c
    cdef Py_ssize_t j
    dots3(t, p, d, &stt, &spp, &stp)
    a = <floating>1 / f_sqrt(eps if stt < eps else stt)
    b = <floating>1 / f_sqrt(eps if spp < eps else spp)
    if mode != 0:
        k = stp * b * b if spp >= eps else <floating>0
        c = -ws * a * b
        for j in range(d):
            g[j] = c * (t[j] - k * p[j])
    return -(stp * a * b)


cdef inline floating cosine_embedding_row(
        const floating* x1, const floating* x2, const floating* unused, floating y,
        Py_ssize_t d, const double* prm, floating ws, floating* g1, floating* g2,
        floating* g3, floating* scr, int mode) noexcept nogil:
    # prm = (margin,).  torch cosine_embedding_loss: cos = x1.x2 / sqrt(s1 s2),
    # s_k = ||x_k||^2 + eps;  y = 1: 1 - cos;  y = -1: max(0, cos - margin).
    # eps is torch's EPSILON, 1e-12 rounded to float32 (9.99999996e-13: what
    # torch adds, also in float64; it sets the gradient of a zero vector).
    #   dcos/dx1 = x2 / D - cos x1 / s1,  dcos/dx2 = x1 / D - cos x2 / s2,  D = sqrt(s1 s2)
    # A label that is neither (NaN; others are rejected before) gives NaN.
    cdef floating eps = <floating><float>1e-12
    cdef floating s1, s2, c, rd, cs, h, f, l, fd, r1, r2
    cdef Py_ssize_t j
    dots3(x1, x2, d, &s1, &s2, &c)
    s1 = s1 + eps
    s2 = s2 + eps
    rd = <floating>1 / f_sqrt(s1 * s2)
    cs = c * rd
    h = cs - <floating>prm[0]
    if y == 1:
        l = <floating>1 - cs
        f = <floating>-1
    elif y == -1:
        l = _hinge(h)
        f = <floating>1 if h > 0 else h * <floating>0
    else:
        # NaN (the label is NaN: others are rejected before); 0 for any
        # other label, as torch
        l = y - y
        f = l
    if mode != 0:
        f = ws * f
        fd = f * rd
        r1 = f * (cs / s1)
        r2 = f * (cs / s2)
        for j in range(d):
            g1[j] = fd * x2[j] - r1 * x1[j]
            g2[j] = fd * x1[j] - r2 * x2[j]
    return l


# --- distance losses --------------------------------------------------------------

cdef inline floating contrastive_embedding_row(
        const floating* x1, const floating* x2, const floating* unused, floating y,
        Py_ssize_t d, const double* prm, floating ws, floating* g1, floating* g2,
        floating* g3, floating* scr, int mode) noexcept nogil:
    # prm = (margin, eps).  D = ||u||, u = x1 - x2 + eps (torch pairwise_distance):
    #   l = y D^2 + (1 - y) max(0, margin - D)^2
    #   dl/dx1 = [2 y - 2 (1 - y) max(0, margin - D) / D] u = -dl/dx2
    # The hinge term has no gradient at D = 0 (torch's norm backward), nor at
    # D >= margin; y D^2 = y sum u_j^2 is smooth everywhere.
    cdef floating e = <floating>prm[1]
    cdef floating s = sqdist(x1, x2, e, d, scr)
    cdef floating dist = f_sqrt(s)
    cdef floating h = _hinge(<floating>prm[0] - dist)
    cdef floating ny = <floating>1 - y
    cdef floating c, u
    cdef Py_ssize_t j
    if mode != 0:
        c = <floating>2 * y
        if h > 0 and dist > 0:
            c = c - <floating>2 * ny * h / dist
        c = ws * c
        for j in range(d):
            u = x1[j] - x2[j] + e
            g1[j] = c * u
            g2[j] = -c * u
    return y * s + ny * (h * h)


cdef inline floating _tdist(const floating* x, const floating* y, floating e, floating p,
                            Py_ssize_t d, floating* u, floating* tmp, int norm) noexcept nogil:
    # D = ||x - y + e||_p; u: x - y + e (norm 1, 2) or log|x - y + e| (general p)
    if norm == 2:
        return f_sqrt(sqdist(x, y, e, d, u))
    elif norm == 1:
        return absdist(x, y, e, d, u)
    return powdist(x, y, e, p, d, u, tmp)


cdef inline void _normgrad(const floating* x, const floating* y, floating e, floating p,
                           floating dist, floating* lg, Py_ssize_t d) noexcept nogil:
    # General p: lg_j = log|u_j| becomes d||u||_p / du_j = sign(u_j) (|u_j| / D)^(p-1)
    # (0 at D = 0, torch's norm backward)
    cdef floating ld = f_log(dist)
    cdef floating q = p - <floating>1
    cdef Py_ssize_t j
    for j in range(d):
        lg[j] = (f_sign(x[j] - y[j] + e) * f_exp(q * (lg[j] - ld))) if dist > 0 else dist * <floating>0


cdef inline floating _tgrad(floating u, int norm) noexcept nogil:
    # the part of dD/du_j that is not a row factor, from the row the distance
    # left: u_j (p = 2, 1/D in the row factor), sign(u_j) (p = 1), or already
    # the whole of it (general p: _normgrad)
    return f_sign(u) if norm == 1 else u


cdef inline floating triplet_row(
        const floating* a, const floating* p, const floating* n, floating y,
        Py_ssize_t d, const double* prm, floating ws, floating* ga, floating* gp,
        floating* gn, floating* scr, int mode, int norm) noexcept nogil:
    # prm = (margin, p, eps, swap).  norm: 2 (p = 2), 1 (p = 1) or 0 (any
    # other p >= 1), a literal at each call site.  torch triplet_margin_loss:
    #   l = max(0, margin + D(a, p) - D_neg),  D(x, y) = ||x - y + eps||_p,
    #   D_neg = D(a, n), or min(D(a, n), D(p, n)) with swap.
    # Gradients with G(x, y) = dD(x, y)/dx = -dD(x, y)/dy (u / D for p = 2,
    # sign(u) for p = 1), where l > 0 and with s_an + s_pn = 1 the share of
    # each negative distance in D_neg:
    #   g_a = G(a, p) - s_an G(a, n)
    #   g_p = -G(a, p) - s_pn G(p, n)
    #   g_n = s_an G(a, n) + s_pn G(p, n)
    cdef floating e = <floating>prm[2]
    cdef floating pw = <floating>prm[1]
    cdef bint swap = prm[3] != 0
    # per distance, the row u = x - y + eps (log|u|, then G, for general p)
    cdef floating* lap = scr
    cdef floating* lan = scr + d
    cdef floating* lpn = scr + 2 * d
    cdef floating* tmp = scr + 3 * d
    cdef floating dap = _tdist(a, p, e, pw, d, lap, tmp, norm)
    cdef floating dan = _tdist(a, n, e, pw, d, lan, tmp, norm)
    cdef floating dpn = <floating>0
    cdef floating dneg = dan
    cdef floating s_an = <floating>1
    cdef floating h, c_ap, c_an, c_pn
    cdef Py_ssize_t j
    if swap:
        dpn = _tdist(p, n, e, pw, d, lpn, tmp, norm)
        # min with torch's tie rule (half each); NaN propagates
        if dpn < dan:
            dneg = dpn
            s_an = <floating>0
        elif not (dan < dpn):
            dneg = (dan + dpn) * <floating>0.5
            s_an = <floating>0.5
    h = <floating>prm[0] + dap - dneg
    if mode != 0:
        c_ap = ws if h > 0 else h * <floating>0
        c_an = c_ap * s_an
        c_pn = c_ap - c_an
        if norm == 2:
            # G = u / D, and 0 at D = 0
            c_ap = c_ap / dap if dap > 0 else c_ap * <floating>0
            c_an = c_an / dan if dan > 0 else c_an * <floating>0
            c_pn = c_pn / dpn if dpn > 0 else c_pn * <floating>0
        if norm == 0:
            _normgrad(a, p, e, pw, dap, lap, d)
            _normgrad(a, n, e, pw, dan, lan, d)
            if swap:
                _normgrad(p, n, e, pw, dpn, lpn, d)
        # One loop per gradient row: a loop storing all three would need
        # more run-time alias checks than GCC versions a loop for (10), and
        # would stay scalar.  The rows u (or G) are in L1.
        for j in range(d):
            ga[j] = c_ap * _tgrad(lap[j], norm) - c_an * _tgrad(lan[j], norm)
        if swap:
            for j in range(d):
                gp[j] = -c_ap * _tgrad(lap[j], norm) - c_pn * _tgrad(lpn[j], norm)
            for j in range(d):
                gn[j] = c_an * _tgrad(lan[j], norm) + c_pn * _tgrad(lpn[j], norm)
        else:
            for j in range(d):
                gp[j] = -c_ap * _tgrad(lap[j], norm)
            for j in range(d):
                gn[j] = c_an * _tgrad(lan[j], norm)
    return _hinge(h)


# --- element-wise ranking ---------------------------------------------------------

cdef inline void margin_ranking_point(floating x1, floating x2, floating y,
                                      const double* prm, floating* l,
                                      floating* g) noexcept nogil:
    # prm = (margin,).  torch margin_ranking_loss, y in {1, -1}:
    #   u = margin - y (x1 - x2);  l = max(0, u);  dl/dx1 = -y where u > 0,
    #   else 0 (also at u == 0, as torch);  dl/dx2 = -dl/dx1.
    cdef floating u = <floating>prm[0] - y * (x1 - x2)
    l[0] = _hinge(u)
    g[0] = -y if u > 0 else u * <floating>0
