# Tile functions of the overlap losses (Dice, Jaccard, Tversky): the inner
# loops of fastloss/_kernels/_overlap.pyx.tp (see its docstring for the
# algebra and the layouts), typed on `floating` so float32 stays float32.
#
# A tile is C planes of m pixels, class c's values at base + c * stride.
# tile_sums is pass 1 over a tile (the sums I, FP, FN per class, and what pass
# 2 needs stored per element), tile_grad is pass 2 (the gradient); the
# transposes turn interleaved classes (channel-last) into planes and back.
# Every loop runs over pixels with its branches on loop invariants outside,
# and writes its per-element terms to stack buffers (which alias nothing),
# so the loops vectorise.  Hence each loop is written twice, for dense
# targets and for label maps: one loop reading targets from a buffer the
# label map was expanded into cost label maps 10% more instructions
# (callgrind, AVX2).

from cython cimport floating
from libc.math cimport INFINITY

from fastloss._kernels._numerics cimport f_abs, f_exp
from fastloss._kernels._reduce cimport block_range, lane_add, lane_sum_8

cdef enum:
    # Pixels per chunk of a tile (the stack buffers of the term loops).
    CHUNK = 256
    # How probabilities come from y_pred.
    ACT_NONE = 0        # y_pred holds them
    ACT_SIGMOID = 1     # a sigmoid of each score
    ACT_SOFTMAX = 2     # a softmax over the classes of each pixel


ctypedef struct geom:
    Py_ssize_t n, outer, C, inner, Q   # sample layout (see _overlap.pyx.tp)
    Py_ssize_t L, nb                    # pixels per block, blocks per sample
    bint planar                         # planes in place (else transposed tiles)
    int act                             # ACT_*
    Py_ssize_t scr                      # scratch values per thread


cdef inline void widen(double* rg, double lo, double hi) noexcept nogil:
    # rg[0], rg[1] = min(rg[0], lo), max(rg[1], hi) (NaN never enters: block_range skips it)
    rg[0] = lo if lo < rg[0] else rg[0]
    rg[1] = hi if hi > rg[1] else rg[1]


cdef inline void label_range(const Py_ssize_t* lb, Py_ssize_t m, double* rg) noexcept nogil:
    # min and max of m labels (integer min/max: exact in any order, vectorisable)
    cdef Py_ssize_t j, lo, hi
    if m == 0:
        return
    lo = lb[0]
    hi = lb[0]
    for j in range(1, m):
        lo = lb[j] if lb[j] < lo else lo
        hi = lb[j] if lb[j] > hi else hi
    widen(rg, <double>lo, <double>hi)


cdef inline void labels_as(const Py_ssize_t* lb, Py_ssize_t k, floating* lf) noexcept nogil:
    # lf[j] = lb[j] as a float, converted once per chunk, so that each class
    # compares floats (one vector compare) instead of 64-bit integers.  Exact
    # for labels below 2**24 (float32; callers keep C below that); a larger,
    # out-of-range label rounds to a value >= 2**24, never to a class index,
    # and is reported by the range check anyway.
    cdef Py_ssize_t j
    for j in range(k):
        lf[j] = <floating>lb[j]


cdef inline void tile_sums(
    const geom* G, const floating* xs, const floating* ys, Py_ssize_t cs, const Py_ssize_t* lb,
    floating* ps, Py_ssize_t pcs, Py_ssize_t m, double* part, double* rg,
) noexcept nogil:
    # Pass 1 over a tile of m pixels: class c's values at xs + c cs (ys + c cs
    # for dense targets; labels lb[0:m]); what pass 2 needs is stored at
    # ps + c pcs.  Adds the tile's sums to part (I[c] at part[c], FP[c] at
    # part[C + c], FN[c] at part[2 C + c]) and, with rg, widens the ranges
    # rg[0:2] of the targets, rg[2:4] of the probabilities, rg[4:6] of labels.
    # Chunks of at most CHUNK pixels: every class's terms of a chunk go to
    # buffers on the stack (which GCC knows alias nothing, so the loops
    # vectorise), then into eight interleaved float64 accumulators.
    cdef Py_ssize_t C = G.C, c, j, j0 = 0, k
    cdef floating tI[CHUNK]
    cdef floating tF[CHUNK]
    cdef floating tN[CHUNK]
    cdef floating lf[CHUNK]
    cdef floating mx[CHUNK]
    cdef floating sv[CHUNK]
    cdef const floating* xc
    cdef const floating* yc = NULL
    cdef floating* pc
    cdef floating v, e, r, p, q, t, cf, one = 1
    cdef double aI[8]
    cdef double aF[8]
    cdef double aN[8]
    cdef double tmp[2]
    cdef bint labels = lb != NULL
    cdef int u
    while j0 < m:
        k = min(<Py_ssize_t>CHUNK, m - j0)
        if labels:
            labels_as(lb + j0, k, lf)
        if G.act == ACT_SOFTMAX:
            # per pixel: the class maximum (NaN skipped: it reappears in the
            # exp), exp(x - max) stored at ps, their sum, then its reciprocal
            for j in range(k):
                mx[j] = -INFINITY
                sv[j] = 0
            for c in range(C):
                xc = xs + c * cs + j0
                for j in range(k):
                    v = xc[j]
                    mx[j] = v if v > mx[j] else mx[j]
            for c in range(C):
                xc = xs + c * cs + j0
                pc = ps + c * pcs + j0
                for j in range(k):
                    e = f_exp(xc[j] - mx[j])
                    pc[j] = e
                    sv[j] = sv[j] + e
            for j in range(k):
                sv[j] = one / sv[j]
        for c in range(C):
            cf = <floating>c
            xc = xs + c * cs + j0
            if not labels:
                yc = ys + c * cs + j0
            pc = ps + c * pcs + j0
            if G.act == ACT_SOFTMAX:
                if labels:
                    for j in range(k):
                        p = pc[j] * sv[j]
                        pc[j] = p
                        t = <floating>(lf[j] == cf)
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * (one - p)
                else:
                    for j in range(k):
                        p = pc[j] * sv[j]
                        pc[j] = p
                        t = yc[j]
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * (one - p)
            elif G.act == ACT_SIGMOID:
                # p = sigmoid(x), q = 1 - p = sigmoid(-x), both from e = exp(-|x|)
                # <= 1: no overflow, full relative accuracy in both tails; the
                # derivative dp/dx = p q is stored for pass 2
                if labels:
                    for j in range(k):
                        v = xc[j]
                        e = f_exp(-f_abs(v))
                        r = one / (one + e)
                        p = r if v >= 0 else e * r
                        q = e * r if v >= 0 else r
                        pc[j] = p * q
                        t = <floating>(lf[j] == cf)
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * q
                else:
                    for j in range(k):
                        v = xc[j]
                        e = f_exp(-f_abs(v))
                        r = one / (one + e)
                        p = r if v >= 0 else e * r
                        q = e * r if v >= 0 else r
                        pc[j] = p * q
                        t = yc[j]
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * q
            else:
                if labels:
                    for j in range(k):
                        p = xc[j]
                        t = <floating>(lf[j] == cf)
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * (one - p)
                else:
                    for j in range(k):
                        p = xc[j]
                        t = yc[j]
                        tI[j] = t * p
                        tF[j] = p - t * p
                        tN[j] = t * (one - p)
            for u in range(8):
                aI[u] = 0
                aF[u] = 0
                aN[u] = 0
            lane_add(aI, tI, k)
            lane_add(aF, tF, k)
            lane_add(aN, tN, k)
            part[c] += lane_sum_8(aI)
            part[C + c] += lane_sum_8(aF)
            part[2 * C + c] += lane_sum_8(aN)
            if rg != NULL:
                if not labels:
                    block_range(yc, k, tmp)
                    widen(rg, tmp[0], tmp[1])
                if G.act == ACT_NONE:
                    block_range(xc, k, tmp)
                    widen(rg + 2, tmp[0], tmp[1])
        j0 += k
    if rg != NULL and labels:
        label_range(lb, m, rg + 4)

cdef inline void tile_grad(
    const geom* G, const floating* ys, Py_ssize_t cs, const Py_ssize_t* lb, const floating* gi,
    floating* go, Py_ssize_t gcs, Py_ssize_t m, const floating* A, const floating* B,
) noexcept nogil:
    # Pass 2 over a tile: gi + c gcs holds what pass 1 stored, go + c gcs
    # receives the gradient (go may be gi); G = A[c] + B[c] t is dL/dp
    # (weights included).
    cdef Py_ssize_t C = G.C, c, j, j0 = 0, k
    cdef floating dot[CHUNK]
    cdef floating lf[CHUNK]
    cdef const floating* yc = NULL
    cdef const floating* gc
    cdef floating* oc
    cdef floating a, b, cf
    cdef bint labels = lb != NULL
    # chunks for the stack buffers (softmax dots, float labels); else one
    cdef Py_ssize_t step = CHUNK if labels or G.act == ACT_SOFTMAX else m
    while j0 < m:
        k = min(step, m - j0)
        if labels:
            labels_as(lb + j0, k, lf)
        if G.act == ACT_SOFTMAX:
            # g_c = p_c (G_c - sum_k G_k p_k)
            for j in range(k):
                dot[j] = 0
            for c in range(C):
                a = A[c]
                b = B[c]
                cf = <floating>c
                gc = gi + c * gcs + j0
                if labels:
                    for j in range(k):
                        dot[j] = dot[j] + (a + b * <floating>(lf[j] == cf)) * gc[j]
                else:
                    yc = ys + c * cs + j0
                    for j in range(k):
                        dot[j] = dot[j] + (a + b * yc[j]) * gc[j]
        for c in range(C):
            a = A[c]
            b = B[c]
            cf = <floating>c
            gc = gi + c * gcs + j0
            oc = go + c * gcs + j0
            if not labels:
                yc = ys + c * cs + j0
            if G.act == ACT_SOFTMAX:
                if labels:
                    for j in range(k):
                        oc[j] = gc[j] * ((a + b * <floating>(lf[j] == cf)) - dot[j])
                else:
                    for j in range(k):
                        oc[j] = gc[j] * ((a + b * yc[j]) - dot[j])
            elif G.act == ACT_SIGMOID:
                if labels:
                    for j in range(k):
                        oc[j] = (a + b * <floating>(lf[j] == cf)) * gc[j]
                else:
                    for j in range(k):
                        oc[j] = (a + b * yc[j]) * gc[j]
            else:
                if labels:
                    for j in range(k):
                        oc[j] = a + b * <floating>(lf[j] == cf)
                else:
                    for j in range(k):
                        oc[j] = a + b * yc[j]
        j0 += k


cdef inline void transpose(const floating* src, floating* dst, Py_ssize_t m, Py_ssize_t C,
                           bint to_planes) noexcept nogil:
    # to_planes: dst[c m + j] = src[j C + c], m pixels of C interleaved classes
    # as C planes; else the way back, dst[j C + c] = src[c m + j].  The loop
    # order that measured faster here: plane by plane for a few classes
    # (strided accesses to few cache lines), pixel by pixel for many.
    cdef Py_ssize_t c, j
    cdef Py_ssize_t sj = C if to_planes else 1, sc = 1 if to_planes else m
    cdef Py_ssize_t dj = 1 if to_planes else C, dc = m if to_planes else 1
    if C <= 8:
        for c in range(C):
            for j in range(m):
                dst[j * dj + c * dc] = src[j * sj + c * sc]
    else:
        for j in range(m):
            for c in range(C):
                dst[j * dj + c * dc] = src[j * sj + c * sc]
