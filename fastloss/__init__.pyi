"""Type stub for the public fastloss API (shared/API.md).

Every loss is an instance of `Loss`; its loss-specific keywords (delta,
from_logits, ...) are passed through `**params` and checked at run time.
`inspect.signature(fastloss.huber)` and `help(fastloss.huber)` show each
loss's own keywords.  tests/test_packaging.py checks that the names here
match `fastloss.__all__`.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol, TypedDict, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastloss import reference as reference

__version__: str

_Reduction = Literal["mean", "sum", "none"]
# float32 inputs give float32 results, anything else float64.
_Scalar = np.floating[Any]
_Array = NDArray[np.floating[Any]]

class _Param(Protocol):
    """A loss-specific keyword (an element of `Loss.params`)."""

    @property
    def name(self) -> str: ...
    @property
    def default(self) -> Any: ...
    @property
    def convert(self) -> Callable[[Any, str], Any]: ...
    @property
    def doc(self) -> str: ...

class Loss:
    """A loss function with its gradient (and hessian where meaningful)."""

    name: str
    aliases: tuple[str, ...]
    params: tuple[_Param, ...]
    has_hessian: bool
    #: the loop shape: "elementwise" (one loss per element) or "rowwise"
    #: (one loss per row of class scores); later families add more.
    kind: str | None
    examples: tuple[dict[str, Any], ...]
    summary: str
    def __init__(self, name: str, **kwargs: Any) -> None: ...
    # reduction="mean"/"sum": a NumPy scalar; "none": one loss per unit.
    @overload
    def __call__(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        **params: Any,
    ) -> _Scalar: ...
    @overload
    def __call__(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        **params: Any,
    ) -> _Array: ...
    @overload
    def __call__(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        **params: Any,
    ) -> _Scalar | _Array: ...
    @overload
    def loss(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        **params: Any,
    ) -> _Scalar: ...
    @overload
    def loss(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        **params: Any,
    ) -> _Array: ...
    @overload
    def loss(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        **params: Any,
    ) -> _Scalar | _Array: ...
    def grad(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: _Reduction | str = "mean",
        out: _Array | None = None,
        **params: Any,
    ) -> _Array: ...
    @overload
    def loss_grad(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        out: _Array | None = None,
        **params: Any,
    ) -> tuple[_Scalar, _Array]: ...
    @overload
    def loss_grad(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        out: _Array | None = None,
        **params: Any,
    ) -> tuple[_Array, _Array]: ...
    @overload
    def loss_grad(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        out: _Array | None = None,
        **params: Any,
    ) -> tuple[_Scalar | _Array, _Array]: ...
    def grad_hess(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        out: tuple[_Array, _Array] | None = None,
        **params: Any,
    ) -> tuple[_Array, _Array]: ...
    def domain(self, **params: Any) -> tuple[str, str]: ...

class _BuildInfo(TypedDict):
    version: str
    isa: str  # "baseline", "avx2" or "avx512"
    openmp: bool
    num_threads: int

def get(name: str) -> Loss: ...
def available() -> list[str]: ...
def aliases() -> dict[str, str]: ...
def build_info() -> _BuildInfo: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int | None) -> None: ...
def threads(n: int | None) -> AbstractContextManager[None]: ...

# --- regression ----------------------------------------------------------------------
mean_squared_error: Loss
mse: Loss
mean_absolute_error: Loss
mae: Loss
huber: Loss
log_cosh: Loss
logcosh: Loss
quantile: Loss
pinball: Loss
poisson: Loss
mean_squared_log_error: Loss
msle: Loss

# --- classification ------------------------------------------------------------------
binary_crossentropy: Loss
bce: Loss
log_loss: Loss
categorical_crossentropy: Loss
cce: Loss
sparse_categorical_crossentropy: Loss
scce: Loss
hinge: Loss
squared_hinge: Loss
categorical_hinge: Loss
kl_divergence: Loss
kld: Loss
kullback_leibler_divergence: Loss
binary_focal_crossentropy: Loss
focal: Loss
categorical_focal_crossentropy: Loss

__all__ = [
    "Loss",
    "__version__",
    "aliases",
    "available",
    "build_info",
    "get",
    "get_num_threads",
    "set_num_threads",
    "threads",
    # regression
    "huber",
    "log_cosh",
    "logcosh",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "mse",
    "msle",
    "pinball",
    "poisson",
    "quantile",
    # classification
    "bce",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "cce",
    "focal",
    "hinge",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_loss",
    "scce",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]
