"""Peers of the sequence losses: CTC in PyTorch and in Optax (under jax.jit).

Both compute fastloss's `ctc(..., from_logits=True)` with reduction="mean"
(each sequence's loss divided by its target length, then the batch mean) and
its gradient with respect to the raw scores, the way a user of the library
would: torch as `log_softmax` + `ctc_loss` + `backward()` on the time-major
scores, optax as `jax.jit(jax.value_and_grad(...))` of `optax.ctc_loss` on
the batch-major view (padding masks built from the lengths).

Only from_logits=True has peers: torch's backward with respect to
log-probabilities is the gradient with respect to the scores before a
log_softmax (pytorch/pytorch#52241), not the partial derivative fastloss
returns, and optax takes logits.  Optax is left out with zero_infinity=True
(it scores a target no alignment fits about 1e5, not 0).  Inputs are the
sampler's: padded (n, S) targets.
"""

import numpy as np


def _torch(params):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    blank = params.get("blank", 0)
    zero_infinity = params.get("zero_infinity", False)

    def run(x, targets, input_lengths, target_lengths):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        xt = torch.from_numpy(x).requires_grad_(True)
        value = F.ctc_loss(xt.log_softmax(-1), torch.from_numpy(np.asarray(targets)),
                           torch.from_numpy(np.asarray(input_lengths)),
                           torch.from_numpy(np.asarray(target_lengths)), blank=blank,
                           reduction="mean", zero_infinity=zero_infinity)
        value.backward()
        return value.item(), xt.grad.numpy()

    return run


def _optax(params):
    if params.get("zero_infinity", False):
        return None
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    blank = params.get("blank", 0)

    def mean_loss(x, labels, logit_paddings, label_paddings, target_lengths):
        per = optax.ctc_loss(jnp.transpose(x, (1, 0, 2)), logit_paddings, labels,
                             label_paddings, blank_id=blank)
        return jnp.mean(per / jnp.maximum(target_lengths, 1))

    value_and_grad = jax.jit(jax.value_and_grad(mean_loss))

    def run(x, targets, input_lengths, target_lengths):
        from fastloss._bench import NotApplicable

        targets = np.asarray(targets)
        if targets.ndim != 2 or x.ndim != 3:
            raise NotApplicable("optax takes padded targets of a batch")
        il, tl = np.asarray(input_lengths), np.asarray(target_lengths)
        T, S = x.shape[0], targets.shape[1]
        logit_paddings = (np.arange(T) >= il[:, None]).astype(x.dtype)
        label_paddings = (np.arange(S) >= tl[:, None]).astype(x.dtype)
        value, grad = value_and_grad(x, targets, logit_paddings, label_paddings,
                                     tl.astype(x.dtype))
        return float(value), np.asarray(grad.block_until_ready())

    return run


def for_loss(loss, params):
    """name -> f(log_probs, targets, input_lengths, target_lengths) -> (loss, grad)."""
    if loss.name != "ctc" or not params.get("from_logits", False):
        return {}
    out = {}
    for key, fn in (("torch", _torch(params)), ("optax", _optax(params))):
        if fn is not None:
            out[key] = fn
    return out
