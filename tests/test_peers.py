"""fastloss against independent libraries (skipped where they are not installed).

Each peer of `python -m fastloss bench --peers` must compute the same value
and gradient as fastloss; this checks our semantics against PyTorch,
scikit-learn and JAX, and that the benchmark compares like with like.
"""

import numpy as np
import pytest
from helpers import LOSSES, cases, draw, shapes_for

from fastloss import _peers


@pytest.mark.parametrize("name,params", cases())
def test_peers_agree_with_fastloss(name, params):
    loss = LOSSES[name]
    peers = _peers.for_loss(loss, params)
    if not peers:
        pytest.skip("no installed peer has this loss")
    y, p = draw(loss, params, shapes_for(loss)[-1], seed=21)
    want_l, want_g = loss.loss_grad(y, p, **params)
    for peer, fn in peers.items():
        got_l, got_g = fn(y, p)
        np.testing.assert_allclose(got_l, want_l, rtol=1e-12, err_msg=peer)
        np.testing.assert_allclose(got_g, want_g, rtol=1e-10, atol=1e-15, err_msg=peer)
