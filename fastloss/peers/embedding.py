"""Peers of the embedding and ranking losses: PyTorch, as a user would write
each loss (its built-in functions where it has them, else the composite of
its functions), differentiated by autograd.

Each f(*inputs) returns (mean loss, tuple of gradients in wrt order), like
fastloss's loss_grad with the default keywords of `params`.
"""

import numpy as np


def _composites(torch, F, params):
    """name -> f(*tensors) -> scalar mean loss, for the losses torch can express."""
    get = params.get

    def keras_cosine(t, p):
        # Keras CosineSimilarity: -sum(l2_normalize(t) * l2_normalize(p))
        def unit(v):
            return v * torch.rsqrt(torch.clamp((v * v).sum(-1, keepdim=True), min=1e-12))
        return -(unit(t) * unit(p)).sum(-1).mean()

    def contrastive_on(d, y, margin):
        return (y * d**2 + (1 - y) * F.relu(margin - d) ** 2).mean()

    def info_nce(q, k):
        t, n = get("temperature", 0.1), q.shape[0]
        if get("normalize", True):
            q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        logits = q @ k.T / t
        labels = torch.arange(n)
        loss = F.cross_entropy(logits, labels)
        if get("symmetric", False):
            loss = (loss + F.cross_entropy(logits.T, labels)) / 2
        return loss

    def nt_xent(z1, z2):
        t, n = get("temperature", 0.1), z1.shape[0]
        z = torch.cat([z1, z2])
        if get("normalize", True):
            z = F.normalize(z, dim=1)
        s = (z @ z.T / t).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        return F.cross_entropy(s, labels)

    return {
        "cosine_similarity": keras_cosine,
        "cosine_embedding": lambda x1, x2, y: F.cosine_embedding_loss(
            x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1]), y.reshape(-1),
            margin=get("margin", 0.0)),
        "contrastive": lambda y, d: contrastive_on(d, y, get("margin", 1.0)),
        "contrastive_embedding": lambda x1, x2, y: contrastive_on(
            F.pairwise_distance(x1, x2, eps=get("eps", 1e-6)), y, get("margin", 1.0)),
        "triplet": lambda a, p, n: F.triplet_margin_loss(
            a, p, n, margin=get("margin", 1.0), p=get("p", 2.0), eps=get("eps", 1e-6),
            swap=get("swap", False)),
        "margin_ranking": lambda x1, x2, y: F.margin_ranking_loss(
            x1, x2, y, margin=get("margin", 0.0)),
        "info_nce": info_nce,
        "nt_xent": nt_xent,
    }


def _torch(loss, params):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    f = _composites(torch, F, params).get(loss.name)
    if f is None:
        return None
    wrt = [loss.inputs.index(w) for w in loss.wrt]

    def run(*inputs):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        dtype = np.result_type(*[a.dtype for a in inputs if a.dtype.kind == "f"])
        ts = [torch.from_numpy(np.asarray(a, dtype)) for a in inputs]
        for i in wrt:
            ts[i].requires_grad_(True)
        value = f(*ts)
        value.backward()
        return value.item(), tuple(ts[i].grad.numpy() for i in wrt)

    return run


def for_loss(loss, params):
    """name -> f(*inputs) -> (loss, grads) for each available peer."""
    fn = _torch(loss, params)
    return {} if fn is None else {"torch": fn}
