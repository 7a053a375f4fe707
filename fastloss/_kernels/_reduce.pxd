# Accurate, deterministic summation shared by the kernels.
#
# A loss sum is computed in two levels: each block of at most BLOCK values is
# summed with eight interleaved accumulators (block_sum_*), and the block
# partials are combined by pairwise summation (pairwise_sum).  Both orders
# depend only on n, never on the thread count, so a parallel run returns the
# same bits as a serial one.  The error bound is O(eps * (BLOCK/8 + log2 n))
# instead of the O(eps * n) of one running sum (Higham, "Accuracy and Stability
# of Numerical Algorithms", 2nd ed., section 4.2); float32 values are summed
# in float64.


from cython cimport floating

cdef extern from "fl_row.h" nogil:
    void fl_range(const double* x, Py_ssize_t n, double* lo, double* hi) noexcept
    void fl_rangef(const float* x, Py_ssize_t n, float* lo, float* hi) noexcept


cdef inline double lane_sum_8(const double* acc) noexcept nogil:
    # The final tree of eight interleaved accumulators.
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline void lane_add(double* acc, const floating* x, Py_ssize_t n) noexcept nogil:
    # acc[u] += x[j] for every j = u (mod 8), in order: the interleaved
    # accumulation of block_sum, for loops that sum chunk by chunk.
    cdef Py_ssize_t i, u, m = n - n % 8
    for i in range(0, m, 8):
        for u in range(8):
            acc[u] += <double>x[i + u]
    for i in range(m, n):
        acc[i - m] += <double>x[i]


cdef inline double block_sum(const floating* x, Py_ssize_t n) noexcept nogil:
    cdef double acc[8]
    cdef Py_ssize_t u
    for u in range(8):
        acc[u] = 0
    lane_add(acc, x, n)
    return lane_sum_8(acc)


cdef inline double blocked_sum(const floating* x, Py_ssize_t n) noexcept nogil:
    # Blocks of 1024 values (the kernels' BLOCK) summed with eight
    # accumulators, halves pairwise: the sum of a weight array, the same bits
    # in every call path (the 'mean' denominator).
    cdef Py_ssize_t half
    if n <= 1024:
        return block_sum(x, n)
    half = ((n // 1024 + 1) // 2) * 1024
    return blocked_sum(x, half) + blocked_sum(x + half, n - half)


cdef inline double pairwise_sum(const double* x, Py_ssize_t n) noexcept nogil:
    # Recursive halving; a handful of block partials are added in order.
    cdef double s = 0
    cdef Py_ssize_t i, half
    if n <= 8:
        for i in range(n):
            s += x[i]
        return s
    half = n // 2
    return pairwise_sum(x, half) + pairwise_sum(x + half, n - half)


# --- value ranges (for the value checks that ride along in a kernel's pass) ---------

cdef inline void block_range(const floating* x, Py_ssize_t n, double* out) noexcept nogil:
    # out[0], out[1] = min, max of the non-NaN x (inf, -inf if there are none)
    cdef float lo, hi
    if floating is float:
        fl_rangef(x, n, &lo, &hi)
        out[0] = lo
        out[1] = hi
    else:
        fl_range(x, n, out, out + 1)


cdef inline void merge_ranges(const double* rg, Py_ssize_t count, Py_ssize_t stride,
                              double* out) noexcept nogil:
    # out[0], out[1] = min of rg[i * stride], max of rg[i * stride + 1], i < count
    cdef Py_ssize_t i
    out[0] = rg[0]
    out[1] = rg[1]
    for i in range(1, count):
        out[0] = rg[i * stride] if rg[i * stride] < out[0] else out[0]
        out[1] = rg[i * stride + 1] if rg[i * stride + 1] > out[1] else out[1]
