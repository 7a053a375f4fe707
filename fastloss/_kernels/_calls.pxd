# The compiled call path's shared part: the methods a loss gets (loss, grad,
# loss_grad: try the loop shape's _call, else the general path) and the
# cache of plans, one per keyword set (and class count).  Each loop template
# subclasses Caller with its own _call (validation, allocation, the loop) and
# new_plan; see _callpath.pxd for the checks they share.


cdef class Caller:
    cdef readonly object owner         # the Loss
    cdef dict plans                    # (keywords key, class count) -> plan or None
    cdef object default                # the plan without keywords for default_classes
    cdef Py_ssize_t default_classes
    cdef dict last_params              # the keywords of the last keyword call,
    cdef Py_ssize_t last_classes       # its class count
    cdef object last_plan              # and its plan (None: the general path)
    cdef object threads_for            # config.threads_for
    cdef bint has_hessian

    cdef object plan(self, dict params, Py_ssize_t C)
    cdef object make(self, dict params, Py_ssize_t C)
    cdef object spec(self, dict params, Py_ssize_t C)
    cdef object new_plan(self, tuple spec)
    cdef object _call(self, int what, tuple inputs, sample_weight, reduction, out,
                      dict params)
