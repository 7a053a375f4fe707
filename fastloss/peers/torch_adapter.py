"""fastloss.torch, timed and checked as a peer: value + backward through the
adapter, as a PyTorch user calls it.

For every registered loss (the adapter covers them all); its time against
the "torch" peer (the native torch loss, where one exists) and against
"fastloss" (the same kernel called from NumPy) shows what the autograd
layer costs (benchmarks/torch_adapter.py prints that comparison).
"""

import numpy as np


def for_loss(loss, params):
    """{"fastloss.torch": f(*inputs) -> (loss, grad)} where torch is installed."""
    try:
        import torch

        import fastloss.torch as flt
    except ImportError:
        return {}
    import fastloss

    if loss.unit_groups is not None:
        return {}  # fastloss.torch takes no loss of grouped units
    fn = flt.function(loss)
    wrt = [loss.inputs.index(w) for w in loss.wrt]

    def run(*inputs):
        torch.set_num_threads(fastloss.get_num_threads())
        ts = [torch.from_numpy(np.asarray(a)) for a in inputs]
        for i in wrt:
            ts[i].requires_grad_(True)
        value = fn(*ts, **params)
        value.backward()
        grads = tuple(ts[i].grad.numpy() for i in wrt)
        return value.item(), grads[0] if len(grads) == 1 else grads

    return {"fastloss.torch": run}
