# cython: language_level=3
"""The compiled call path's shared part (see _calls.pxd).

Built once, with baseline flags: it runs no loops.
"""

from cpython.dict cimport PyDict_Next
from cpython.object cimport PyObject

from fastloss._kernels._callpath cimport params_key

cdef object _MISSING = object()


cdef class Caller:
    """The compiled call path of one loss (a loop template subclasses it)."""

    def __init__(self, loss, threads_for):
        self.owner = loss
        self.plans = {}
        self.default = None
        self.last = None
        self.threads_for = threads_for
        self.has_hessian = loss.has_hessian

    cdef object plan(self, dict params, Py_ssize_t C):
        # The plan for these keywords (C: the class count, 0 where none), or
        # None for the general path (keyword sets it cannot run, bad keywords).
        # Each remembered plan is one tuple, replaced whole: a call on another
        # thread never sees one call's keywords with another call's plan.
        cdef tuple seen = self.default if not params else self.last
        if seen is not None and C == <Py_ssize_t>seen[1] and (
                not params or _same_params(params, <dict>seen[0])):
            # no keywords, or the keywords of the last keyword call again (a
            # training loop's case): no key to build and hash
            return seen[2]
        key = params_key(params)
        if key is None:
            return None
        key = (key, C)
        plan = self.plans.get(key, _MISSING)
        if plan is _MISSING:
            plan = self.make(params, C)
            if plan is not _MISSING and len(self.plans) < 256:
                self.plans[key] = plan
        if plan is _MISSING:
            return None
        if not params:
            self.default = (None, C, plan)
        else:
            # a copy: the general path may take inputs out of params
            self.last = (dict(params), C, plan)
        return plan

    cdef object make(self, dict params, Py_ssize_t C):
        # The plan of a keyword set (None: the general path always), or
        # _MISSING when its keywords are bad (the general path raises them).
        cdef bint bad = False
        try:
            spec = self.spec(params, C)
        except Exception:
            bad = True
        if bad:
            return _MISSING
        return None if spec is None else self.new_plan(spec)

    cdef object spec(self, dict params, Py_ssize_t C):
        # the loss's _fast_plan for these keywords (a loop template's own)
        raise NotImplementedError

    cdef object new_plan(self, tuple spec):
        raise NotImplementedError

    cdef object _call(self, int what, tuple inputs, sample_weight, reduction, out,
                      dict params):
        return None

    def call(self, int what, tuple inputs, sample_weight, reduction, out, dict params):
        """what: 0 loss, 1 grad, 2 loss_grad, 3 grad_hess.  Returns what that
        method returns, or None for the general path."""
        if what < 0 or what > 3:
            return None
        return self._call(what, inputs, sample_weight, reduction, out, params)

    # The loss's loss / grad / loss_grad methods (the loop shapes bind these
    # on the instance): the compiled path, else Loss's general path.  The
    # first two inputs are positional-only parameters rather than a bare
    # *inputs: that lets CPython call these through the fast calling
    # convention (no argument tuple and keyword dictionary built for the
    # call; 30-100 ns of a 300 ns call); inputs passed by keyword stay in
    # `params`, where the general path's binding finds them.
    def loss(self, y_true=_MISSING, y_pred=_MISSING, /, *rest, sample_weight=None,
             reduction="mean", **params):
        """The loss; see the object's docstring."""
        inputs = _inputs(y_true, y_pred, rest)
        r = self._call(0, inputs, sample_weight, reduction, None, params)
        if r is None:
            return self.owner._evaluate(0, inputs, sample_weight, reduction, params)[0]
        return r

    def grad(self, y_true=_MISSING, y_pred=_MISSING, /, *rest, sample_weight=None,
             reduction="mean", out=None, **params):
        """Gradient of `loss(...)` (same keywords) with respect to y_pred; with
        reduction="mean" it carries the 1/sum(w) factor.  out: optional array
        to write it into (C-contiguous, y_pred's shape, the computation dtype,
        not overlapping the inputs)."""
        inputs = _inputs(y_true, y_pred, rest)
        r = self._call(1, inputs, sample_weight, reduction, out, params)
        if r is None:
            return self.owner._evaluate(1, inputs, sample_weight, reduction, params, out)[1]
        return r

    def loss_grad(self, y_true=_MISSING, y_pred=_MISSING, /, *rest, sample_weight=None,
                  reduction="mean", out=None, **params):
        """(loss, grad) from one fused pass over the data; `grad` and `out` as
        for `.grad`."""
        inputs = _inputs(y_true, y_pred, rest)
        r = self._call(2, inputs, sample_weight, reduction, out, params)
        if r is None:
            return self.owner._evaluate(1, inputs, sample_weight, reduction, params, out)
        return r


cdef inline bint _same_params(dict params, dict last):
    # params holds the keywords of `last` (a dictionary params_key accepted),
    # in the same order with values of the same types and equal: what makes
    # params_key give the same key
    if last is None or len(params) != len(last):
        return False
    cdef Py_ssize_t i = 0, j = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* lk
    cdef PyObject* lv
    cdef bint same = True
    try:
        while PyDict_Next(params, &i, &k, &v) and PyDict_Next(last, &j, &lk, &lv):
            if ((k != lk and not (<object>k == <object>lk)) or type(<object>v) is not type(<object>lv)
                    or (v != lv and not (<object>v == <object>lv))):
                same = False
                break
    except Exception:
        same = False
    return same


cdef inline tuple _inputs(i0, i1, tuple rest):
    # the positional inputs of a call, as the general path's *inputs holds them
    if i1 is _MISSING:
        return () if i0 is _MISSING else (i0,)
    if rest:
        return (i0, i1) + rest
    return (i0, i1)
