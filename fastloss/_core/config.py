"""Thread-count control for the kernels.

The count is a context variable: each Python thread (and asyncio task) sees
its own setting, so `with fastloss.threads(1):` in one thread never changes
another's.  Unset, it follows OpenMP's own default at call time, which honours
OMP_NUM_THREADS and threadpoolctl.
"""

import contextlib
import contextvars
import os

from fastloss._core import dispatch as _dispatch

_n_threads = contextvars.ContextVar("fastloss_n_threads", default=None)

# Below this many elements a call stays on one thread: entering an OpenMP
# parallel region costs about a microsecond, more than a small loop takes.
PARALLEL_MIN_ELEMENTS = 1 << 15


def _default_threads():
    n = _dispatch.omp_max_threads()
    if n < 1:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, int(n or 1))


def _checked(n):
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n_threads must be a positive integer or None; got {n!r}")
    return n


def get_num_threads():
    """Number of threads fastloss kernels use for large inputs."""
    n = _n_threads.get()
    return _default_threads() if n is None else n


def set_num_threads(n):
    """Set the number of threads for large inputs (None: back to the default).

    Results do not depend on the thread count: reductions are partitioned
    into fixed blocks and combined in a fixed order.
    """
    _n_threads.set(_checked(n))


@contextlib.contextmanager
def threads(n):
    """Context manager: ``with fastloss.threads(1): ...`` runs serially."""
    token = _n_threads.set(_checked(n))
    try:
        yield
    finally:
        _n_threads.reset(token)


def threads_for(n_elements):
    """Threads to use for a loop over n_elements."""
    if n_elements < PARALLEL_MIN_ELEMENTS or not _dispatch.HAVE_OPENMP:
        return 1
    return get_num_threads()
