# Checked raw access to the buffers a kernel's `run` entry receives.

cimport numpy as cnp


cdef inline void* data_ptr(object a, int typenum, Py_ssize_t n, bint writable,
                           str name) except NULL:
    # The invariants the loops rely on (an ndarray of this dtype, C-contiguous,
    # native byte order, n elements; writable where it is an output): cheap,
    # and they make a kernel entry safe to call with anything.
    if not cnp.PyArray_Check(a):
        raise TypeError(f"internal: {name} must be an ndarray")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typenum or not cnp.PyArray_IS_C_CONTIGUOUS(arr)
            or cnp.PyArray_SIZE(arr) != n or not cnp.PyArray_ISNOTSWAPPED(arr)):
        raise ValueError(f"internal: {name} has the wrong dtype, layout or size")
    if writable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"internal: {name} is not writable")
    if n == 0:
        return <void*>1  # never dereferenced: no loop runs on empty input
    return cnp.PyArray_DATA(arr)
