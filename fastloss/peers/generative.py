"""Peers of the generative, reconstruction and asymmetric losses: the same
formula written with PyTorch operations and differentiated by autograd, as a
PyTorch user would (none of these losses is built into PyTorch).

Each returns fastloss's numbers: the mean reduction of shared/API.md (the
discriminator's real mean plus fake mean, per-sample sums averaged over the
batch) and the gradients with respect to the loss's wrt inputs.
"""


def _gan(torch, F, name, kind):
    if name == "gan_discriminator":
        return {
            "minimax": lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
            "hinge": lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
            "wasserstein": lambda r, f: f.mean() - r.mean(),
            "least_squares": lambda r, f: (0.5 * (r - 1) ** 2).mean() + (0.5 * f ** 2).mean(),
        }[kind]
    return {
        "non_saturating": lambda f: F.softplus(-f).mean(),
        "minimax": lambda f: -F.softplus(f).mean(),
        "hinge": lambda f: -f.mean(),
        "wasserstein": lambda f: -f.mean(),
        "least_squares": lambda f: (0.5 * (f - 1) ** 2).mean(),
    }[kind]


def _per_sample(torch, F, name, params):
    def features(x):
        return tuple(range(1, x.dim()))

    if name == "gaussian_kl":
        return lambda mu, lv: (-0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(features(mu))).mean()
    kind = params.get("kind", "mse")
    if kind == "mse":
        term = lambda x, xh: F.mse_loss(xh, x, reduction="none")  # noqa: E731
    elif kind == "mae":
        term = lambda x, xh: F.l1_loss(xh, x, reduction="none")  # noqa: E731
    elif params.get("from_logits"):
        term = lambda x, xh: F.binary_cross_entropy_with_logits(xh, x, reduction="none")  # noqa: E731
    else:
        # torch clamps log(p) at -100 where fastloss (and Keras) clip p to
        # [eps, 1 - eps]: the same numbers for probabilities inside the clip
        eps = params.get("eps", 1e-7)
        term = lambda x, xh: F.binary_cross_entropy(  # noqa: E731
            xh.clamp(eps, 1 - eps), x, reduction="none")
    return lambda x, xh: term(x, xh).sum(features(x)).mean()


def _torch_formula(loss, params):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    name = loss.name
    if name == "gan_discriminator":
        return _gan(torch, F, name, params.get("kind", "minimax"))
    if name == "gan_generator":
        return _gan(torch, F, name, params.get("kind", "non_saturating"))
    if name in ("gaussian_kl", "reconstruction"):
        return _per_sample(torch, F, name, params)
    if name == "asymmetric_squared":
        under, over = params.get("under", 2.0), params.get("over", 0.5)

        def asym(y, p):
            e = y - p
            return torch.where(e > 0, under * e * e, over * e * e).mean()
        return asym
    return None


def for_loss(loss, params):
    """{'torch': f(*inputs) -> (loss, grads)} where torch is installed."""
    f = _torch_formula(loss, params)
    if f is None:
        return {}
    import torch

    def run(*inputs):
        import fastloss

        torch.set_num_threads(fastloss.get_num_threads())
        ts = {n: torch.from_numpy(a) for n, a in zip(loss.inputs, inputs, strict=True)}
        for w in loss.wrt:
            ts[w].requires_grad_(True)
        value = f(*(ts[n] for n in loss.inputs))
        value.backward()
        grads = tuple(ts[w].grad.numpy() for w in loss.wrt)
        return value.item(), grads[0] if len(grads) == 1 else grads

    return {"torch": run}
