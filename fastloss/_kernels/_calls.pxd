# The compiled call path's shared part: the methods a loss gets (loss, grad,
# loss_grad: try the loop shape's _call, else the general path) and the
# cache of plans, one per keyword set (and class count).  Each loop template
# subclasses Caller with its own _call (validation, allocation, the loop) and
# new_plan; see _callpath.pxd for the checks they share.


cdef class Caller:
    cdef readonly object owner         # the Loss
    cdef dict plans                    # (keywords key, class count) -> plan or None
    # (keywords, class count, plan) of the last call without keywords
    # (keywords None) and of the last call with keywords; None before one
    cdef tuple default
    cdef tuple last
    cdef object threads_for            # config.threads_for
    cdef bint has_hessian

    cdef object plan(self, dict params, Py_ssize_t C)
    cdef object make(self, dict params, Py_ssize_t C)
    cdef object spec(self, dict params, Py_ssize_t C)
    cdef object new_plan(self, tuple spec)
    cdef object _call(self, int what, tuple inputs, sample_weight, reduction, out,
                      dict params)
