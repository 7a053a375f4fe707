"""Type stub for the public fastloss API (shared/API.md).

Every loss is an instance of `Loss[G]`, G the structure of its gradient:
`Loss[_Array]` when it returns one (wrt has one input), else
`Loss[tuple[_Array, ...]]` with one array per input in wrt.  Its inputs are
positional (`*inputs`) and its loss-specific keywords (delta, from_logits,
...) are passed through `**params`; both are checked at run time.
`inspect.signature(fastloss.huber)` and `help(fastloss.huber)` show each
loss's own keywords.  tests/test_packaging.py checks that the names here
match `fastloss.__all__`.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, Literal, Protocol, TypedDict, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastloss import reference as reference

__version__: str

_Reduction = Literal["mean", "sum", "none"]
# float32 inputs give float32 results, anything else float64.
_Scalar = np.floating[Any]
_Array = NDArray[np.floating[Any]]
_G = TypeVar("_G")

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

class Loss(Generic[_G]):
    """A loss function with its gradient (and hessian where meaningful).

    `_G` is the structure of a gradient: one array (`_Array`) when `wrt` has
    one entry, else a tuple of arrays in `wrt` order.
    """

    name: str
    aliases: tuple[str, ...]
    params: tuple[_Param, ...]
    has_hessian: bool
    #: positional inputs, and the ones a gradient is returned for
    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    #: what reduction="none" returns one loss of: "element", "row", ...
    unit: str
    #: None, or the inputs of each independent group of units (then "none"
    #: returns, and sample_weight takes, a tuple with one entry per group)
    unit_groups: tuple[tuple[str, ...], ...] | None
    #: the loop shape: "elementwise", "rowwise", ...
    kind: str | None
    #: whether a unit's loss depends on its own inputs only
    unit_local: bool
    #: input name -> the axis indexing its units (others: axis 0)
    unit_axes: dict[str, int]
    #: the "mean" denominator depends on the data (or a callable of the keywords)
    data_weights: bool | Any
    #: whether "mean" is the weighted mean of the "none" values (ctc: no)
    mean_of_units: bool
    examples: tuple[dict[str, Any], ...]
    shapes: dict[str, Any]
    summary: str
    def __init__(self, name: str, **kwargs: Any) -> None: ...
    # reduction="mean"/"sum": a NumPy scalar; "none": one loss per unit.
    @overload
    def __call__(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        **params: Any,
    ) -> _Scalar: ...
    @overload
    def __call__(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        **params: Any,
    ) -> _Array: ...
    @overload
    def __call__(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        **params: Any,
    ) -> _Scalar | _Array: ...
    @overload
    def loss(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        **params: Any,
    ) -> _Scalar: ...
    @overload
    def loss(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        **params: Any,
    ) -> _Array: ...
    @overload
    def loss(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        **params: Any,
    ) -> _Scalar | _Array: ...
    def grad(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: _Reduction | str = "mean",
        out: _G | None = None,
        **params: Any,
    ) -> _G: ...
    @overload
    def loss_grad(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["mean", "sum"] = "mean",
        out: _G | None = None,
        **params: Any,
    ) -> tuple[_Scalar, _G]: ...
    @overload
    def loss_grad(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: Literal["none"],
        out: _G | None = None,
        **params: Any,
    ) -> tuple[_Array, _G]: ...
    @overload
    def loss_grad(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        reduction: str,
        out: _G | None = None,
        **params: Any,
    ) -> tuple[_Scalar | _Array, _G]: ...
    def grad_hess(
        self,
        *inputs: ArrayLike,
        sample_weight: ArrayLike | None = None,
        out: tuple[_G, _G] | None = None,
        **params: Any,
    ) -> tuple[_G, _G]: ...
    def domain(self, **params: Any) -> tuple[str, str]: ...
    def weighs_data(self, **params: Any) -> bool: ...
    def sample(
        self,
        params: dict[str, Any] | None = None,
        shape: Any = None,
        dtype: Any = ...,
        seed: int = 0,
    ) -> tuple[NDArray[Any], ...]: ...

class _BuildInfo(TypedDict):
    version: str
    isa: str  # "baseline", "avx2" or "avx512"
    openmp: bool
    num_threads: int

def get(name: str) -> Loss[Any]: ...
def custom(
    name: str,
    loss: Callable[..., ArrayLike],
    grad: Callable[..., ArrayLike],
    hess: Callable[..., ArrayLike] | None = None,
    *,
    params: dict[str, Any] | None = None,
    check_finite: bool = True,
    register: bool = False,
    aliases: tuple[str, ...] = (),
    summary: str | None = None,
    formula: str = "",
    notes: str = "",
    domain: tuple[str, str] = ("real", "real"),
) -> Loss[_Array]: ...
def combine(
    *parts: Loss[Any] | tuple[Loss[Any], float] | tuple[Loss[Any], float, dict[str, Any]],
    name: str | None = None,
    **keywords: Any,
) -> Loss[Any]: ...
def available() -> list[str]: ...
def aliases() -> dict[str, str]: ...
def build_info() -> _BuildInfo: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int | None) -> None: ...
def threads(n: int | None) -> AbstractContextManager[None]: ...

# --- regression ----------------------------------------------------------------------
mean_squared_error: Loss[_Array]
mse: Loss[_Array]
mean_absolute_error: Loss[_Array]
mae: Loss[_Array]
huber: Loss[_Array]
log_cosh: Loss[_Array]
logcosh: Loss[_Array]
quantile: Loss[_Array]
pinball: Loss[_Array]
poisson: Loss[_Array]
mean_squared_log_error: Loss[_Array]
msle: Loss[_Array]

# --- classification ------------------------------------------------------------------
binary_crossentropy: Loss[_Array]
bce: Loss[_Array]
log_loss: Loss[_Array]
categorical_crossentropy: Loss[_Array]
cce: Loss[_Array]
sparse_categorical_crossentropy: Loss[_Array]
scce: Loss[_Array]
hinge: Loss[_Array]
squared_hinge: Loss[_Array]
categorical_hinge: Loss[_Array]
kl_divergence: Loss[_Array]
kld: Loss[_Array]
kullback_leibler_divergence: Loss[_Array]
binary_focal_crossentropy: Loss[_Array]
focal: Loss[_Array]
categorical_focal_crossentropy: Loss[_Array]

# --- sequence ------------------------------------------------------------------------
ctc: Loss[_Array]
ctc_loss: Loss[_Array]
# --- embedding and ranking -------------------------------------------------------------
cosine_similarity: Loss[_Array]
cosine: Loss[_Array]
cosine_embedding: Loss[tuple[_Array, _Array]]
cosine_embedding_loss: Loss[tuple[_Array, _Array]]
contrastive: Loss[_Array]
contrastive_embedding: Loss[tuple[_Array, _Array]]
triplet: Loss[tuple[_Array, _Array, _Array]]
triplet_margin: Loss[tuple[_Array, _Array, _Array]]
margin_ranking: Loss[tuple[_Array, _Array]]
info_nce: Loss[tuple[_Array, _Array]]
infonce: Loss[tuple[_Array, _Array]]
nt_xent: Loss[tuple[_Array, _Array]]
# --- detection -----------------------------------------------------------------------
box_iou: Loss[_Array]
iou_loss: Loss[_Array]
box_giou: Loss[_Array]
giou_loss: Loss[_Array]
generalized_box_iou_loss: Loss[_Array]
box_diou: Loss[_Array]
diou_loss: Loss[_Array]
distance_box_iou_loss: Loss[_Array]
box_ciou: Loss[_Array]
ciou_loss: Loss[_Array]
complete_box_iou_loss: Loss[_Array]

# --- generative, reconstruction, asymmetric ------------------------------------------
gan_discriminator: Loss[tuple[_Array, _Array]]
gan_generator: Loss[_Array]
gaussian_kl: Loss[tuple[_Array, _Array]]
vae_kl: Loss[tuple[_Array, _Array]]
reconstruction: Loss[_Array]
asymmetric_squared: Loss[_Array]
# --- segmentation --------------------------------------------------------------------
dice: Loss[_Array]
dice_loss: Loss[_Array]
jaccard: Loss[_Array]
soft_iou: Loss[_Array]
tversky: Loss[_Array]

__all__ = [
    "Loss",
    "__version__",
    "aliases",
    "available",
    "build_info",
    "combine",
    "custom",
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
    # sequence
    "ctc",
    "ctc_loss",
    # embedding and ranking
    "contrastive",
    "contrastive_embedding",
    "cosine",
    "cosine_embedding",
    "cosine_embedding_loss",
    "cosine_similarity",
    "info_nce",
    "infonce",
    "margin_ranking",
    "nt_xent",
    "triplet",
    "triplet_margin",
    # detection
    "box_ciou",
    "box_diou",
    "box_giou",
    "box_iou",
    "ciou_loss",
    "complete_box_iou_loss",
    "diou_loss",
    "distance_box_iou_loss",
    "generalized_box_iou_loss",
    "giou_loss",
    "iou_loss",
    # generative, reconstruction, asymmetric
    "asymmetric_squared",
    "gan_discriminator",
    "gan_generator",
    "gaussian_kl",
    "reconstruction",
    "vae_kl",
    # segmentation
    "dice",
    "dice_loss",
    "jaccard",
    "soft_iou",
    "tversky",
]
