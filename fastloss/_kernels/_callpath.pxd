# The compiled call path's C-level checks, shared by the loop templates.
#
# A loss call whose arguments are plain NumPy arrays (and parameters seen
# before) is validated, allocated for and run here without Python-level work;
# anything these helpers do not accept makes the caller return None, and the
# call is then done again by the general path (fastloss/_core/loss.py and
# validation.py), which raises the errors with their messages.  So the checks
# below may refuse more than the general path does, never less, and what they
# accept must give the same results bit for bit.

cimport numpy as cnp
from cpython.object cimport PyObject

from fastloss._kernels._reduce cimport block_range, blocked_sum

cnp.import_array()

cdef extern from *:
    """
    /* np.float64 / np.float32 scalars from C (what Loss methods return) */
    static PyObject *fl_scalar(double v, int typenum)
    {
        PyArray_Descr *d = PyArray_DescrFromType(typenum);
        PyObject *s;
        float f = (float)v;
        if (d == NULL) return NULL;
        s = PyArray_Scalar(typenum == NPY_FLOAT32 ? (void *)&f : (void *)&v, d, NULL);
        Py_DECREF(d);
        return s;
    }

    /* The bytes an array may touch, [lo, hi) (numpy's memory extents: the
     * bounds test of np.may_share_memory); lo == hi for an empty array. */
    static void fl_extents(PyArrayObject *a, char **lo, char **hi)
    {
        int i, nd = PyArray_NDIM(a);
        npy_intp *dims = PyArray_DIMS(a), *st = PyArray_STRIDES(a);
        char *l = PyArray_BYTES(a), *h = PyArray_BYTES(a);
        for (i = 0; i < nd; i++) {
            if (dims[i] == 0) { *lo = *hi = PyArray_BYTES(a); return; }
            if (st[i] < 0) l += st[i] * (dims[i] - 1); else h += st[i] * (dims[i] - 1);
        }
        *lo = l;
        *hi = h + PyArray_ITEMSIZE(a);
    }

    /* 1 if the extents of two arrays overlap (np.may_share_memory) */
    static int fl_may_share(PyArrayObject *a, PyArrayObject *b)
    {
        char *al, *ah, *bl, *bh;
        fl_extents(a, &al, &ah);
        fl_extents(b, &bl, &bh);
        if (al == ah || bl == bh) return 0;
        return al < bh && bl < ah;
    }
    """
    object fl_scalar(double v, int typenum)
    int fl_may_share(cnp.ndarray a, cnp.ndarray b)


# The value bounds of a plan: bound i holds input which[i] (0 y_true, 1
# y_pred) to [lo[i], hi[i]]; flags: 1 low given, 2 high given, 4 low open,
# 8 high open (V.Bound).
ctypedef struct Bounds:
    int n
    int which[4]
    double lo[4]
    double hi[4]
    int flags[4]


cdef inline int bounds_set(Bounds* b, tuple bounds) except -1:
    # from the (input index, low, high, low_open, high_open) of a _fast_plan
    if len(bounds) > 4:
        raise ValueError("internal: too many bounds")
    b.n = len(bounds)
    for i, (which, lo, hi, lo_open, hi_open) in enumerate(bounds):
        b.which[i] = which
        b.lo[i] = 0.0 if lo is None else lo
        b.hi[i] = 0.0 if hi is None else hi
        b.flags[i] = ((lo is not None) | ((hi is not None) << 1) | (bool(lo_open) << 2)
                      | (bool(hi_open) << 3))
    return 0


cdef inline bint bounds_hold(const Bounds* b, const double* yr, const double* pr) noexcept:
    # V.check_found: every bound holds for the (min, max) of y (yr) and p (pr)
    cdef int i, f
    cdef double mn, mx
    for i in range(b.n):
        mn = yr[0] if b.which[i] == 0 else pr[0]
        mx = yr[1] if b.which[i] == 0 else pr[1]
        f = b.flags[i]
        if f & 1 and (mn < b.lo[i] or (f & 4 and mn == b.lo[i])):
            return False
        if f & 2 and (mx > b.hi[i] or (f & 8 and mx == b.hi[i])):
            return False
    return True


cdef inline int float_kind(object a):
    # For an exact ndarray of native byte order: 2 for float64, 1 for float32
    # or float16 (computed in float32), 0 for integers and booleans (labels:
    # they do not widen the computation dtype), -1 for anything else.
    if not cnp.PyArray_CheckExact(a):
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if not cnp.PyArray_ISNOTSWAPPED(arr):
        return -1
    cdef int t = cnp.PyArray_TYPE(arr)
    if t == cnp.NPY_FLOAT64:
        return 2
    if t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT16:
        return 1
    if cnp.PyArray_ISINTEGER(arr) or t == cnp.NPY_BOOL:
        return 0
    return -1


cdef inline cnp.ndarray as_contiguous(object a, int typenum):
    # A C-contiguous, aligned, native array of typenum: `a` itself when it is
    # one already, else a copy (NumPy's cast of ints, bools and float16 is the
    # one np.ascontiguousarray(a, dtype) makes).
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_IS_C_CONTIGUOUS(arr)
            and cnp.PyArray_ISALIGNED(arr)):
        return arr
    return <cnp.ndarray>cnp.PyArray_FROMANY(
        a, typenum, 0, 0, cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
        | cnp.NPY_ARRAY_FORCECAST)


cdef inline cnp.ndarray weights_as(object sample_weight, int typenum):
    # sample_weight as a contiguous array of typenum, or None when the cast
    # overflows (float64 weights beyond float32's range: the general path
    # raises that error, and NumPy's own cast would also warn).
    cdef cnp.ndarray sw = <cnp.ndarray>sample_weight
    if typenum != cnp.NPY_FLOAT32 or cnp.PyArray_TYPE(sw) != cnp.NPY_FLOAT64:
        return as_contiguous(sample_weight, typenum)
    cdef cnp.ndarray src = as_contiguous(sample_weight, cnp.NPY_FLOAT64)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(sw), cnp.PyArray_DIMS(sw),
                                             cnp.NPY_FLOAT32, 0)
    cdef const double* s = <const double*>cnp.PyArray_DATA(src)
    cdef float* d = <float*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, n = cnp.PyArray_SIZE(sw)
    cdef bint over = False
    for i in range(n):
        d[i] = <float>s[i]
        over |= (d[i] - d[i] != 0) & (s[i] - s[i] == 0)   # inf from a finite weight
    return None if over else out


cdef inline bint weight_stats(cnp.ndarray w, double* wmin, double* total):
    # min and blocked sum of contiguous float32/64 weights; False when they
    # are not all finite or the sum overflows
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w)
    cdef double rg[2]
    cdef double s
    if cnp.PyArray_TYPE(w) == cnp.NPY_FLOAT64:
        s = blocked_sum(<const double*>cnp.PyArray_DATA(w), n)
        block_range(<const double*>cnp.PyArray_DATA(w), n, rg)
    else:
        s = blocked_sum(<const float*>cnp.PyArray_DATA(w), n)
        block_range(<const float*>cnp.PyArray_DATA(w), n, rg)
    wmin[0] = rg[0]
    total[0] = s
    return s - s == 0 and rg[0] - rg[0] == 0 and rg[1] - rg[1] == 0


cdef inline bint same_shape(cnp.ndarray a, cnp.ndarray b):
    return (cnp.PyArray_NDIM(a) == cnp.PyArray_NDIM(b)
            and cnp.PyArray_SAMESHAPE(a, b))


cdef inline bint out_ok(object out, cnp.ndarray like, int typenum, tuple inputs):
    # `out` as the general path accepts it (loss.py: _checked_outs): an exact
    # ndarray of like's shape and the computation dtype, C-contiguous,
    # writeable, aligned, and sharing no memory with any of `inputs` (the
    # arrays of the call, originals and contiguous copies; None entries skipped).
    if not cnp.PyArray_CheckExact(out):
        return False
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(o) != typenum or not cnp.PyArray_ISNOTSWAPPED(o)
            or not same_shape(o, like) or not cnp.PyArray_IS_C_CONTIGUOUS(o)
            or not cnp.PyArray_ISWRITEABLE(o) or not cnp.PyArray_ISALIGNED(o)):
        return False
    for a in inputs:
        if a is None:
            continue
        if not cnp.PyArray_Check(a) or fl_may_share(o, <cnp.ndarray>a):
            return False
    return True


cdef inline object empty_like_shape(cnp.ndarray like, int typenum):
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), typenum, 0)


cdef inline int reduction_code(object reduction):
    # 0 "none", 1 "mean", 2 "sum"; -1 for anything else (the general path
    # raises the error).  The default is the interned literal itself.
    if reduction is "mean":
        return 1
    if type(reduction) is not str:
        return -1
    if reduction == "mean":
        return 1
    if reduction == "sum":
        return 2
    if reduction == "none":
        return 0
    return -1


cdef inline object params_key(dict params):
    # A hashable key for a call's keyword arguments (name, type, value in call
    # order: True and 1 are different keys), or None when a value is not
    # hashable (arrays: the general path handles those).
    if not params:
        return ()
    cdef list items = []
    for k, v in params.items():
        items.append((k, type(v), v))
    key = tuple(items)
    try:
        hash(key)
    except TypeError:
        return None
    return key
