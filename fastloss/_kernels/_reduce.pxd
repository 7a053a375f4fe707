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
