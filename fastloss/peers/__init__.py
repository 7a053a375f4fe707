"""Other libraries' versions of our losses, for `bench --peers` and the peer
tests only (tests/test_peers.py checks that each computes fastloss's numbers).

One module per family; each has `for_loss(loss, params) -> {name: f}` where
f(*inputs) returns (loss, grad) as fastloss's loss_grad does (reduction
"mean", gradients with respect to the loss's wrt inputs).  A peer is listed
only where its library is installed and has an equivalent for the loss and
keywords.
"""

from fastloss.peers import (
    detection,
    embedding,
    generative,
    segmentation,
    sequence,
    torch_adapter,
    wave1,
)

#: The family modules, asked in turn (torch_adapter: fastloss's own torch
#: adapter, timed beside the native torch losses).
MODULES = (wave1, generative, embedding, segmentation, detection, sequence, torch_adapter)


def for_loss(loss, params):
    """name -> f(*inputs) -> (loss, grad) for each available peer."""
    out = {}
    for mod in MODULES:
        out.update(mod.for_loss(loss, params))
    return out
