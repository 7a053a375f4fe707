"""Generative, reconstruction and asymmetric losses.

Two loop shapes of this family's own (kernels in _kernels/_generative.pyx.tp,
point functions in _kernels/_genpoint.pxd):

- `UnaryTermsLoss`: every input is its own batch of element-wise terms of
  one value (GAN logits).  The discriminator's real and fake batches may
  differ in size, so each input is a *unit group* (`Loss.unit_groups`): its
  "none" losses, weights and "mean" are its own, and the loss is the sum of
  the groups' reductions.
- `PerSampleLoss`: two same-shape inputs (n, ...), each sample's element
  terms summed over its features (VAE KL, autoencoder reconstruction).

`asymmetric_squared` is an ordinary element-wise (y_true, y_pred) loss.
"""

from functools import partial

import numpy as np

from fastloss._core import config, dispatch
from fastloss._core import validation as V
from fastloss._core.loops import ElementwiseLoss
from fastloss._core.loss import MODE_GRAD_HESS, Input, Loss, Param, outputs, result, value
from fastloss._core.registry import register
from fastloss._core.samples import KINDS


def choice(*options):
    """A Param converter accepting one of `options` (strings)."""
    def convert(value, name):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; "
                             f"got {value!r}")
        return value
    return convert


class UnaryTermsLoss(Loss):
    """A sum of element-wise terms, one kind of term per input: l(x) for each
    element x of each input, with no pairing between inputs (so they may have
    any shapes).

    `kernel(prm)` returns one (kernel name, float parameters) per input, for
    the unary loop of _kernels/_generative.pyx.tp.  With one input the loss
    is an ordinary element-wise loss; with several, each input is a unit
    group (see `Loss.unit_groups`).  Every input is differentiated.
    """

    kind = "unary"
    unit = "element"
    SHAPES = {"test": [(37,), (9, 4)], "fd": (12,), "empty": (0, 4), "threads": (50_000,),
              "leak": (8192,), "simd": [(4099,), (203, 35)],
              "small": (16,), "minibatch": (256,), "large": (4_194_304,)}

    def __init__(self, name, *, kernel, inputs, **kw):
        names = tuple(Input(*i).name for i in inputs)
        if len(names) > 1:
            self.unit_groups = tuple((n,) for n in names)
        super().__init__(name, inputs=inputs, wrt=names, **kw)
        self._kernel = kernel

    def _weight_docs(self):
        if self.unit_groups is None:
            return super()._weight_docs()
        k = len(self.inputs)
        names = ", ".join(self.inputs)
        return [
            "sample_weight : tuple of array_like, optional",
            f"    None, or a tuple of {k} entries ({names}), each None (unweighted), a "
            "scalar, non-negative weights of the shape of its input, or (n,) for an "
            "(n, ...) input (one weight per row, applied to each of its elements).",
            "reduction : {'mean', 'sum', 'none'}, default 'mean'",
            f"    'none': the tuple of the {k} arrays w_i * l_i, one per input; "
            "'sum': the sum of their totals;",
            "    'mean': the sum over inputs of each one's weighted mean "
            "sum(w_i * l_i) / sum(w_i).",
        ]

    def _group_weights(self, sample_weight):
        k = len(self.inputs)
        if self.unit_groups is None:
            return (sample_weight,), ("sample_weight",)
        labels = tuple(f"sample_weight[{i}] (for {n})" for i, n in enumerate(self.inputs))
        if sample_weight is None:
            return (None,) * k, labels
        if not isinstance(sample_weight, tuple) or len(sample_weight) != k:
            raise TypeError(
                f"sample_weight for {self.name} must be None or a tuple of {k} entries, one "
                f"per input ({', '.join(self.inputs)}), each None, a scalar or an array of "
                f"weights; got {type(sample_weight).__name__}"
                + (f" of length {len(sample_weight)}"
                   if isinstance(sample_weight, (tuple, list)) else ""))
        return sample_weight, labels

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        xs = [V.as_numeric(a, n) for a, n in zip(arrays, self.inputs, strict=True)]
        dtype = V.float_dtype(*xs)
        flat = [V.contiguous(x, dtype) for x in xs]
        sws, labels = self._group_weights(sample_weight)
        weights = []
        for sw, label, x in zip(sws, labels, xs, strict=True):
            try:
                weights.append(V.weights(sw, x.shape, dtype, reduction))
            except ValueError as e:
                if label == "sample_weight":
                    raise
                raise ValueError(f"{label}: {e}") from None
        keep = tuple(arrays) + tuple(flat) + tuple(sws) + tuple(w for w, _, _ in weights)
        grads, hess = outputs(out, mode, self, [x.shape for x in xs], dtype, keep)
        mean = reduction == "mean"
        K = dispatch.kernels("_generative")
        sums, los = [], []
        specs = self._kernel(prm)
        for i, (spec, x, (w, k, total)) in enumerate(zip(specs, flat, weights, strict=True)):
            kname, kprm = spec
            lo = (np.empty(xs[i].shape, dtype)
                  if reduction == "none" and mode != MODE_GRAD_HESS else None)
            g = None if grads is None else grads[i].reshape(-1)
            h = None if hess is None else hess[i].reshape(-1)
            gscale = 1.0 / total if mean and total > 0 else 1.0
            s = K.run_unary(K.UNARY_IDS[kname], mode, x, w, k, tuple(kprm),
                            None if lo is None else lo.reshape(-1), g, h, gscale,
                            config.threads_for(x.size))
            los.append(lo)
            sums.append(s)
        if mode == MODE_GRAD_HESS:
            val = None
        elif self.unit_groups is None:  # one input: an ordinary element-wise value
            val = value(sums[0], weights[0][2], mean, dtype, los[0])
        elif reduction == "none":
            val = tuple(los)
        else:  # the groups' means (or sums) add
            val = dtype.type(sum((s / t if t > 0 else np.nan) if mean else s
                                 for s, (_, _, t) in zip(sums, weights, strict=True)))
        return result(mode, self, val, grads, hess)

    def unit_shape(self, *shapes, **params):
        if self.unit_groups is None:
            return super().unit_shape(*shapes, **params)
        return [tuple(s) for s in shapes]  # "none": one array per input, its shape


class PerSampleLoss(Loss):
    """A loss of two same-shape inputs (n, ...) whose unit is a sample (the
    first axis): each sample's element terms are summed over its features.

    `kernel(prm)` returns (kernel name, float parameters) for the per-sample
    loop of _kernels/_generative.pyx.tp; `wrt` is both inputs or the second.
    """

    kind = "persample"
    unit = "sample"
    SHAPES = {"test": [(9, 5), (6, 2, 3)], "fd": (4, 3), "empty": (0, 5),
              "threads": (5_000, 12), "leak": (1024, 8), "simd": [(257, 16), (9, 1000), (33, 7)],
              "small": (1, 16), "minibatch": (256, 32), "large": (4096, 1024)}

    def __init__(self, name, *, kernel, **kw):
        super().__init__(name, **kw)
        self._kernel = kernel

    def _compute(self, mode, arrays, sample_weight, reduction, prm, out):
        an, bn = self.inputs
        a = V.as_numeric(arrays[0], an)
        b = V.as_numeric(arrays[1], bn)
        V.check_same_shape(a, b, f"{an} and {bn}")
        if b.ndim == 0:
            raise ValueError(f"{an} and {bn} need a batch axis, shape (n, ...) with one "
                             "sample per entry of the first axis; got scalars")
        dtype = V.float_dtype(a, b)
        n = b.shape[0]
        ac = V.contiguous(a, dtype)
        bc = V.contiguous(b, dtype)
        bounds = self._check_values({an: ac, bn: bc}, prm, fused=out is None)
        w, total = V.unit_weights(sample_weight, (n,), dtype, reduction)
        lo = np.empty(n, dtype) if reduction == "none" and mode != MODE_GRAD_HESS else None
        grads, hess = outputs(out, mode, self, (b.shape,) * len(self.wrt), dtype,
                              tuple(arrays) + (sample_weight, ac, bc, w))
        flat = {}
        for key, arrs in (("g", grads), ("h", hess)):
            if arrs is not None:
                for name, arr in zip(self.wrt, arrs, strict=True):
                    flat[key, name] = arr.reshape(-1)
        mean = reduction == "mean"
        kname, kprm = self._kernel(prm)
        K = dispatch.kernels("_generative")
        r = K.run_pairs(K.PAIR_IDS[kname], mode, ac, bc, n, w, tuple(kprm), lo,
                        flat.get(("g", an)), flat.get(("g", bn)),
                        flat.get(("h", an)), flat.get(("h", bn)),
                        1.0 / total if mean and total > 0 else 1.0,
                        config.threads_for(bc.size), bool(bounds))
        if bounds:
            r, a_range, b_range = r
            V.check_found(bounds, {an: a_range, bn: b_range})
        val = None if mode == MODE_GRAD_HESS else value(r, total, mean, dtype, lo)
        return result(mode, self, val, grads, hess)


# --- GAN losses -----------------------------------------------------------------------

# Unary terms of each kind (kernel, parameters): softplus (s, c) is c softplus(s x),
# relu (s,) max(0, 1 + s x), linear (s,) s x, square (t,) (x - t)^2 / 2.
_D_TERMS = {
    "minimax": (("softplus", (-1.0, 1.0)), ("softplus", (1.0, 1.0))),
    "hinge": (("relu", (-1.0,)), ("relu", (1.0,))),
    "wasserstein": (("linear", (-1.0,)), ("linear", (1.0,))),
    "least_squares": (("square", (1.0,)), ("square", (0.0,))),
}
_G_TERMS = {
    "non_saturating": ("softplus", (-1.0, 1.0)),
    "minimax": ("softplus", (1.0, -1.0)),
    "hinge": ("linear", (-1.0,)),
    "wasserstein": ("linear", (-1.0,)),
    "least_squares": ("square", (1.0,)),
}


def _logits(rng, shape, dtype):
    return KINDS["logit"](rng, shape).astype(dtype)


def _pair_shapes(shape):
    """A discriminator sample shape: one shape for both batches, or a pair."""
    if len(shape) == 2 and all(isinstance(s, tuple) for s in shape):
        return shape
    return shape, shape


def _sample_discriminator(rng, shape, dtype, prm):
    real, fake = _pair_shapes(shape)
    return _logits(rng, real, dtype), _logits(rng, fake, dtype)


_GAN_NOTES = (
    "Logit terms use softplus forms (max(x, 0) + log1p(exp(-|x|))), exact at +-1e4 and "
    "giving the exact limits at +-inf.  Hessians are the exact second derivatives: "
    "sigmoid(x) sigmoid(-x) for the softplus terms, 1 for least squares, 0 for the "
    "piecewise-linear hinge and Wasserstein terms.  Wasserstein critics are usually "
    "trained with a gradient penalty or weight clipping, which is not part of this loss.")

gan_discriminator = register(UnaryTermsLoss(
    "gan_discriminator",
    inputs=(Input("real_logits", "Discriminator (critic) outputs on real data, raw scores; "
                                 "any shape."),
            Input("fake_logits", "Discriminator outputs on generated data, raw scores; any "
                                 "shape (the two batches may differ in size).")),
    kernel=lambda prm: _D_TERMS[prm["kind"]],
    params=(Param("kind", "minimax", choice(*_D_TERMS),
                  "'minimax' (the original GAN's cross-entropy), 'hinge', 'wasserstein' or "
                  "'least_squares' (LSGAN with targets 1 and 0)."),),
    examples=({}, {"kind": "hinge"}, {"kind": "wasserstein"}, {"kind": "least_squares"}),
    sampler=_sample_discriminator,
    shapes={"test": [((37,), (23,)), ((9, 4), (5, 3)), (11,)], "fd": ((7,), (5,)),
            "empty": (0,), "threads": ((50_000,), (40_000,)), "leak": ((8192,), (4096,)),
            "simd": [((4099,), (203, 35))], "small": (16,), "minibatch": (256,),
            "large": (2_097_152,)},
    summary="GAN discriminator (critic) loss on real and fake logits.",
    formula="r a real logit, f a fake one:\n"
            "minimax:       softplus(-r) + softplus(f)   (= -log D(x) - log(1 - D(G(z))))\n"
            "hinge:         relu(1 - r) + relu(1 + f)\n"
            "wasserstein:   -r + f\n"
            "least_squares: (r - 1)^2 / 2 + f^2 / 2\n"
            "'mean' is the mean of the real terms plus the mean of the fake terms;\n"
            "gradients d/dr, d/df (minimax: -sigmoid(-r), sigmoid(f)).",
    notes=_GAN_NOTES,
    equivalents="minimax: F.binary_cross_entropy_with_logits(r, 1) + "
                "F.binary_cross_entropy_with_logits(f, 0) in PyTorch; hinge: the SAGAN / "
                "BigGAN discriminator loss; wasserstein: WGAN's critic loss "
                "f.mean() - r.mean().",
))

gan_generator = register(UnaryTermsLoss(
    "gan_generator",
    inputs=(Input("fake_logits", "Discriminator outputs on generated data, raw scores; "
                                 "any shape."),),
    kernel=lambda prm: (_G_TERMS[prm["kind"]],),
    params=(Param("kind", "non_saturating", choice(*_G_TERMS),
                  "'non_saturating' (the usual generator loss), 'minimax' (the original "
                  "-log(1 - D), which saturates), 'hinge', 'wasserstein' or "
                  "'least_squares'."),),
    examples=({}, {"kind": "minimax"}, {"kind": "hinge"}, {"kind": "wasserstein"},
              {"kind": "least_squares"}),
    sampler=lambda rng, shape, dtype, prm: (_logits(rng, shape, dtype),),
    summary="GAN generator loss on the discriminator's logits for generated data.",
    formula="f a fake logit:\n"
            "non_saturating: softplus(-f)   (= -log D(G(z)))\n"
            "minimax:        -softplus(f)   (= log(1 - D(G(z))))\n"
            "hinge, wasserstein: -f\n"
            "least_squares:  (f - 1)^2 / 2\n"
            "gradient d/df (non_saturating: -sigmoid(-f)).",
    notes=_GAN_NOTES,
    equivalents="non_saturating: F.binary_cross_entropy_with_logits(f, ones) in PyTorch.",
))


# --- VAE and autoencoder losses ---------------------------------------------------------


def _sample_kl(rng, shape, dtype, prm):
    mu = rng.normal(0.0, 1.0, size=shape)
    logvar = rng.normal(0.0, 1.0, size=shape)
    return mu.astype(dtype), logvar.astype(dtype)


gaussian_kl = register(PerSampleLoss(
    "gaussian_kl", aliases=("vae_kl",), kernel=lambda prm: ("kl", ()),
    inputs=(Input("mu", "Means of the diagonal Gaussian posterior, shape (n, ...) (n "
                        "samples; any further axes are latent dimensions)."),
            Input("logvar", "Log-variances log(sigma^2), the shape of mu.")),
    wrt=("mu", "logvar"), sampler=_sample_kl,
    summary="KL divergence of a diagonal Gaussian N(mu, exp(logvar)) to N(0, I), per sample "
            "(the VAE regulariser).",
    formula="per sample, summed over every axis but the first:\n"
            "l = -1/2 sum(1 + logvar - mu^2 - exp(logvar))\n"
            "  = 1/2 sum(mu^2 + expm1(logvar) - logvar);\n"
            "dl/dmu = mu,  dl/dlogvar = (exp(logvar) - 1) / 2;  hessians 1 and exp(logvar) / 2.",
    notes="Computed from expm1(logvar), without cancellation near logvar = 0 and without "
          "overflow for logvar in [-700, 700] in float64 (float32 holds exp(logvar) up "
          "to logvar ~ 88; beyond, the value itself is not representable and is inf).  "
          "'mean' is the batch mean of the per-sample KL (torch's 'batchmean' on the "
          "summed KL), the usual VAE objective.",
    equivalents="PyTorch VAE tutorial: -0.5 * torch.sum(1 + logvar - mu.pow(2) - "
                "logvar.exp(), dim=1).mean(); torch.distributions.kl_divergence(Normal(mu, "
                "(0.5 * logvar).exp()), Normal(0, 1)).sum(1).",
))


_REC_KINDS = ("mse", "mae", "bce")


def _rec_kernel(prm):
    kind = prm["kind"]
    if kind != "bce":
        if prm["from_logits"]:
            raise ValueError(f"from_logits=True applies to kind='bce' only; got kind={kind!r}")
        return "rec_" + kind, ()
    return ("rec_bce_logit", ()) if prm["from_logits"] else ("rec_bce_prob", (prm["eps"],))


def _rec_bounds(prm):
    if prm["kind"] != "bce":
        return ()
    x = V.Bound("x", 0.0, 1.0, why=" (binary cross-entropy targets lie in [0, 1])")
    if prm["from_logits"]:
        return (x,)
    return (x, V.Bound("x_hat", 0.0, 1.0,
                       why=" (probabilities; pass from_logits=True for raw scores)"))


def _rec_domain(prm):
    """The value kinds of (x, x_hat) (fastloss._core.samples.KINDS)."""
    if prm["kind"] != "bce":
        return "real", "real"
    return "softlabel", "logit" if prm["from_logits"] else "prob"


def _sample_rec(rng, shape, dtype, prm):
    x_kind, xh_kind = _rec_domain(prm)
    return (KINDS[x_kind](rng, shape).astype(dtype), KINDS[xh_kind](rng, shape).astype(dtype))


reconstruction = register(PerSampleLoss(
    "reconstruction", kernel=_rec_kernel, bounds=_rec_bounds, domain=_rec_domain,
    inputs=(Input("x", "The data, shape (n, ...): n samples of any feature shape (in [0, 1] "
                       "for kind='bce')."),
            Input("x_hat", "The reconstruction, the shape of x (probabilities, or logits "
                           "with from_logits=True, for kind='bce').")),
    wrt=("x_hat",), sampler=_sample_rec,
    params=(Param("kind", "mse", choice(*_REC_KINDS),
                  "'mse' (squared error), 'mae' (absolute error) or 'bce' (binary "
                  "cross-entropy, for data in [0, 1])."),
            Param("from_logits", False, V.bool_param,
                  "kind='bce' only: x_hat holds logits (softplus forms, exact at any "
                  "logit) instead of probabilities."),
            Param("eps", 1e-7, partial(V.real_param, low=0.0, high=0.5, high_open=True),
                  "kind='bce' with probabilities: x_hat is clipped to [eps, 1 - eps] before "
                  "the log, as in binary_crossentropy and Keras.")),
    examples=({}, {"kind": "mae"}, {"kind": "bce"}, {"kind": "bce", "from_logits": True}),
    summary="Autoencoder reconstruction loss: per-sample sums over the features.",
    formula="per sample, summed over every axis but the first (d = x_hat - x):\n"
            "mse: sum(d^2), gradient 2 d, hessian 2;\n"
            "mae: sum(|d|), gradient sign(d), hessian 0;\n"
            "bce: sum(-(x log p + (1 - x) log(1 - p))), p = x_hat (clipped) or "
            "sigmoid(x_hat).",
    notes="The per-sample sum is what autoencoder and VAE papers optimise (a log-likelihood "
          "summed over pixels).  Keras's mean_squared_error and binary_crossentropy "
          "average over the last axis instead, so their value is this one divided by the "
          "number of features; fastloss.mse averages over every element.",
    equivalents="F.mse_loss(x_hat, x, reduction='none').sum(dim=features).mean(), "
                "F.binary_cross_entropy(x_hat, x, reduction='sum') / n in PyTorch VAE "
                "examples; Keras losses times the number of features.",
))


# --- asymmetric regression --------------------------------------------------------------

asymmetric_squared = register(ElementwiseLoss(
    "asymmetric_squared",
    kernel=lambda prm: ("asymmetric_squared", (prm["under"], prm["over"])),
    params=(Param("under", 2.0, V.positive,
                  "Weight of squared under-predictions (y_true > y_pred), > 0."),
            Param("over", 0.5, V.positive,
                  "Weight of squared over-predictions (y_true <= y_pred), > 0.")),
    examples=({}, {"under": 0.5, "over": 3.0}),
    summary="Asymmetric squared error: under-prediction costs `under`, over-prediction "
            "`over` per squared unit.",
    formula="e = y_true - y_pred;  l = under e^2 if e > 0 else over e^2;\n"
            "dl/dy_pred = -2 under e or -2 over e;  hessian 2 under or 2 over "
            "(piecewise constant).",
    y_true_doc="Targets (any real numbers; integers and booleans accepted).",
    y_pred_doc="Predictions, the same shape as y_true.",
    notes="This is (under + over) times the expectile-regression loss |tau - 1(e < 0)| e^2 "
          "of level tau = under / (under + over) (Newey and Powell 1987): the best "
          "constant prediction is the tau-expectile of y_true, 0.8 for the defaults.  "
          "under = over = 1 gives the squared error.  The squared counterpart of the "
          "quantile (pinball) loss, with a hessian for gradient boosting.",
    equivalents="expectile loss with tau = under / (under + over), scaled by under + over; "
                "fastloss.custom builds the same from NumPy functions (see the README).",
))
