"""fastloss: machine-learning losses and their gradients, fast and careful.

Every loss is a callable object::

    import fastloss as fl
    fl.huber(y_true, y_pred, delta=1.0)            # loss (reduction="mean")
    fl.huber.grad(y_true, y_pred)                  # gradient w.r.t. y_pred
    loss, grad = fl.huber.loss_grad(y_true, y_pred)  # both, one pass
    grad, hess = fl.huber.grad_hess(y_true, y_pred)  # per-sample, for boosting

`fl.available()` lists the losses, `fl.get(name)` finds one by name or alias,
and `fastloss.reference` holds plain NumPy versions of every loss.
"""

from fastloss._version import __version__
from fastloss import _dispatch
from fastloss._config import get_num_threads, set_num_threads, threads
from fastloss._loss import Loss
from fastloss._registry import aliases, available, get

# Registering the families defines the loss objects.
from fastloss._regression import (  # noqa: E402
    huber,
    log_cosh,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_log_error,
    poisson,
    quantile,
)

from fastloss._classification import (  # noqa: E402
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    kl_divergence,
    sparse_categorical_crossentropy,
    squared_hinge,
)

mse = mean_squared_error
mae = mean_absolute_error
msle = mean_squared_log_error
logcosh = log_cosh
pinball = quantile
bce = log_loss = binary_crossentropy
cce = categorical_crossentropy
scce = sparse_categorical_crossentropy
kld = kullback_leibler_divergence = kl_divergence
focal = binary_focal_crossentropy


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
    "Loss", "__version__", "aliases", "available", "build_info", "get",
    "get_num_threads", "set_num_threads", "threads",
    *available(),
    *aliases(),
]
