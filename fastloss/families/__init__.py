"""The loss families: each module holds one family's registry entries (and
its loop shape when it has one of its own); importing it registers them.
Their NumPy references live in fastloss.reference under the same names and
their kernels in fastloss/_kernels."""

from fastloss.families import (  # noqa: F401
    classification,
    detection,
    embedding,
    generative,
    regression,
    segmentation,
    sequence,
)
