"""fastloss: machine-learning losses and their gradients, fast and careful.

Every loss is a callable object::

    import fastloss as fl
    fl.huber(y_true, y_pred, delta=1.0)            # loss (reduction="mean")
    fl.huber.grad(y_true, y_pred)                  # gradient w.r.t. y_pred
    loss, grad = fl.huber.loss_grad(y_true, y_pred)  # both, one pass
    grad, hess = fl.huber.grad_hess(y_true, y_pred)  # per-sample, for boosting

`fl.available()` lists the losses, `fl.get(name)` finds one by name or alias,
and `fastloss.reference` holds plain NumPy versions of every loss.
`fl.custom(name, loss, grad)` makes a loss of your own from NumPy functions
and `fl.combine(...)` a weighted sum of losses.
"""

from fastloss import families as _families  # noqa: F401 (registers every loss)
from fastloss._core import dispatch as _dispatch
from fastloss._core.config import get_num_threads, set_num_threads, threads
from fastloss._core.loss import Loss
from fastloss._core.registry import LOSSES as _LOSSES
from fastloss._core.registry import aliases, available, get
from fastloss._custom import combine, custom
from fastloss._version import __version__

# Every registered loss under its canonical name and its aliases
# (fastloss.mean_squared_error, fastloss.mse, ...); __init__.pyi lists them
# for type checkers and tests/test_packaging.py keeps the two in step.
globals().update(_LOSSES)
globals().update({alias: get(alias) for alias in aliases()})


def build_info():
    """How this installation was built and what it runs: the SIMD level in
    use, whether OpenMP is compiled in, and the thread count."""
    return {
        "version": __version__,
        "isa": _dispatch.ISA,
        "openmp": _dispatch.HAVE_OPENMP,
        "num_threads": get_num_threads(),
    }


__all__ = [
    "Loss", "__version__", "aliases", "available", "build_info", "combine", "custom", "get",
    "get_num_threads", "set_num_threads", "threads",
    *available(),
    *aliases(),
]
