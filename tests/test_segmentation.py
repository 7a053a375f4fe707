"""Segmentation (overlap) losses: framework semantics, empty masks, label maps,
extreme logits, classes, threads and validation.

The registry-wide tests (test_losses.py) compare every example against
fastloss.reference and finite differences; this file pins down what they
cannot: the numbers of MONAI (its own losses, through torch autograd, where
it is installed), Optax's dice_loss (where installed), Keras's and
segmentation_models.pytorch's formulas (written out from their sources'
definitions), closed forms for empty masks under each smoothing convention,
exact values at logits of +-1e4 and accuracy in the tails (mpmath), label
maps against one-hot targets, background and class weights, and bitwise
independence of the thread count for every way of sharing the work.
"""

import tracemalloc

import mpmath
import numpy as np
import pytest
from helpers import central_differences as _fd

import fastloss as fl
from fastloss import reference

LOSSES = [fl.dice, fl.jaccard, fl.tversky]
IDS = [loss.name for loss in LOSSES]


def _onehot(labels, C, axis=1):
    return np.moveaxis(np.eye(C)[labels], -1, axis)


# --- definitions and the shapes a sample may take -----------------------------


def _score_parts(y, p):
    """I, T, P of one sample (all of its axes summed)."""
    return np.sum(y * p), np.sum(y), np.sum(p)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_the_definitions_of_the_api_contract(loss):
    # Per sample over every other axis, textbook forms (shared/API.md).
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 1, (3, 4, 5))
    p = rng.uniform(0, 1, (3, 4, 5))
    s = 0.7
    want = []
    for yi, pi in zip(y, p, strict=True):
        i, t, q = _score_parts(yi, pi)
        if loss is fl.dice:
            want.append(1 - (2 * i + s) / (t + q + s))
        elif loss is fl.jaccard:
            want.append(1 - (i + s) / (t + q - i + s))
        else:
            fp, fn = np.sum((1 - yi) * pi), np.sum(yi * (1 - pi))
            want.append(1 - (i + s) / (i + 0.2 * fp + 0.9 * fn + s))
    kw = {"alpha": 0.2, "beta": 0.9} if loss is fl.tversky else {}
    got = loss(y, p, smooth=s, reduction="none", **kw)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(loss(y, p, smooth=s, **kw), np.mean(want), rtol=1e-14)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_masks_of_any_rank_are_one_sample_per_first_index(loss):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (4, 6, 7)).astype(float)
    x = rng.normal(0, 2, (4, 6, 7))
    want = loss(y, x, from_logits=True, reduction="none")
    for shape in [(4, 1, 6, 7), (4, 6, 7, 1), (4, 42), (4, 2, 3, 7)]:
        got = loss(y.reshape(shape), x.reshape(shape), from_logits=True, reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-14)
    # (n, 1, H, W) with channel_axis=1: one class, a sigmoid (not a softmax of one value)
    got = loss(y[:, None], x[:, None], from_logits=True, channel_axis=1, reduction="none")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_a_sample_of_one_element_and_a_sample_of_none(loss):
    y, p = np.array([1.0, 0.0, 1.0]), np.array([0.3, 0.6, 1.0])
    got = loss(y, p, reduction="none")
    want = reference.loss_grad(loss.name, y, p, reduction="none")[0]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # samples without elements: all sums are 0, the loss (sd - sn) / sd
    e = np.empty((3, 0))
    np.testing.assert_array_equal(loss(e, e, reduction="none"), 0.0)
    np.testing.assert_array_equal(loss(e, e, smooth=0, smooth_dr=1e-7, reduction="none"), 1.0)
    assert loss.grad(e, e).shape == (3, 0)


def test_tversky_generalises_dice_and_jaccard():
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, (3, 4, 10))
    x = rng.normal(0, 2, (3, 4, 10))
    for kw in ({"from_logits": True}, {"from_logits": True, "channel_axis": 1}):
        # alpha = beta = 1/2 with smooth s: (I + s) / ((T + P) / 2 + s) = dice with 2 s
        t = fl.tversky.loss_grad(y, x, alpha=0.5, beta=0.5, smooth=0.3, **kw)
        d = fl.dice.loss_grad(y, x, smooth=0.6, **kw)
        np.testing.assert_allclose(t[0], d[0], rtol=1e-14)
        np.testing.assert_allclose(t[1], d[1], rtol=1e-12, atol=1e-17)
        t = fl.tversky.loss_grad(y, x, alpha=1.0, beta=1.0, smooth=0.3, **kw)
        j = fl.jaccard.loss_grad(y, x, smooth=0.3, **kw)
        np.testing.assert_allclose(t[0], j[0], rtol=1e-14)
        np.testing.assert_allclose(t[1], j[1], rtol=1e-12, atol=1e-17)


def test_aliases_unit_and_no_diagonal_hessian():
    assert fl.dice_loss is fl.dice is fl.get("dice_loss")
    assert fl.soft_iou is fl.jaccard is fl.get("SOFT_IOU")
    assert fl.dice.unit == "sample" and fl.dice.wrt == ("y_pred",)
    assert not fl.dice.has_hessian
    with pytest.raises(NotImplementedError, match="hessian is not diagonal"):
        fl.dice.grad_hess(np.zeros((2, 3)), np.zeros((2, 3)))
    assert "hessian is not diagonal" in fl.tversky.__doc__


# --- empty masks under each smoothing convention ------------------------------

# (keywords, loss of an empty target with an empty prediction)
CONVENTIONS = [
    ({}, 0.0),                                     # ours: smooth = 1 in both
    ({"smooth": 1e-5}, 0.0),                       # MONAI's 1e-5 / 1e-5
    ({"smooth": 0.0, "smooth_dr": 1e-7}, 1.0),     # Keras: no numerator smoothing
]


@pytest.mark.parametrize("kw,empty", CONVENTIONS, ids=["default", "monai", "keras"])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_empty_target_and_empty_prediction(loss, kw, empty):
    z = np.zeros((2, 5, 5))
    assert loss(z, z, reduction="none", **kw).tolist() == [empty, empty]
    # a logit of -1e4 is an exactly empty prediction
    assert loss(z, np.full_like(z, -1e4), from_logits=True, **kw) == empty
    # probabilities: dl/dp = (N dM/dp - M dN/dp) / M^2 with N = sn, M = sd, t = 0:
    # alpha sn / sd^2 per element (alpha = 1 for Dice and Jaccard), / n for the mean
    sn = kw.get("smooth_nr", kw.get("smooth", 1.0))
    sd = kw.get("smooth_dr", kw.get("smooth", 1.0))
    alpha = 0.5 if loss is fl.tversky else 1.0
    np.testing.assert_allclose(loss.grad(z, z, reduction="sum", **kw), alpha * sn / sd**2)


def test_without_any_smoothing_an_empty_pair_is_nan():
    z = np.zeros((2, 3))
    assert np.isnan(fl.dice(z, z, smooth=0)).all()
    y = np.array([[1.0, 0, 0], [0, 0, 0]])
    out = fl.dice(y, z + 0.5, smooth=0, reduction="none")
    assert np.isfinite(out).all()


@pytest.mark.parametrize("kw", [c[0] for c in CONVENTIONS], ids=["default", "monai", "keras"])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_empty_target_with_a_nonempty_prediction(loss, kw):
    # I = 0, FN = 0, FP = sum p: loss = 1 - sn / (alpha sum p + sd)
    rng = np.random.default_rng(3)
    z = np.zeros((3, 4, 4))
    p = rng.uniform(0, 1, z.shape)
    sn = kw.get("smooth_nr", kw.get("smooth", 1.0))
    sd = kw.get("smooth_dr", kw.get("smooth", 1.0))
    alpha = 0.5 if loss is fl.tversky else 1.0
    want = 1 - sn / (alpha * p.sum(axis=(1, 2)) + sd)
    np.testing.assert_allclose(loss(z, p, reduction="none", **kw), want, rtol=1e-14)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_a_perfect_prediction_costs_exactly_zero(loss):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, (3, 8, 8)).astype(float)
    for kw in ({}, {"smooth": 1e-5}):
        assert loss(y, y, **kw) == 0
        assert loss(y, np.where(y > 0, 1e4, -1e4), from_logits=True, **kw) == 0


# --- other libraries ----------------------------------------------------------


def _monai_case(rng, C, labels):
    x = rng.normal(0, 2, (3, C, 6, 5))
    lab = rng.integers(0, C, (3, 1, 6, 5))
    y = lab if labels else _onehot(lab[:, 0], C)
    return y, x


MONAI_CASES = [
    # (our keywords, MONAI DiceLoss / TverskyLoss keywords)
    ({"from_logits": True, "channel_axis": 1}, {"softmax": True}),
    ({"from_logits": True, "channel_axis": 1, "multilabel": True}, {"sigmoid": True}),
    ({"channel_axis": 1}, {}),
    ({"from_logits": True, "channel_axis": 1, "include_background": False},
     {"softmax": True, "include_background": False}),
]


@pytest.mark.parametrize("labels", [False, True], ids=["onehot", "labels"])
@pytest.mark.parametrize("ours,theirs", MONAI_CASES)
@pytest.mark.parametrize("name", ["dice", "jaccard", "tversky"])
def test_monai_values_and_autograd_gradients(name, ours, theirs, labels):
    torch = pytest.importorskip("torch")
    monai_losses = pytest.importorskip("monai.losses")
    rng = np.random.default_rng(5)
    C = 4
    y, x = _monai_case(rng, C, labels)
    if not ours.get("from_logits"):
        x = rng.uniform(0, 1, x.shape)
    extra = {"to_onehot_y": True} if labels else {}
    if name == "tversky":
        crit = monai_losses.TverskyLoss(alpha=0.3, beta=0.7, **theirs, **extra)
        kw = {"alpha": 0.3, "beta": 0.7, "smooth": 1e-5}
    elif name == "dice":
        crit = monai_losses.DiceLoss(**theirs, **extra)
        kw = {"smooth": 1e-5}
    else:
        # MONAI's Jaccard is 1 - (2 I + s_nr) / (2 (T + P - I) + s_dr): ours with s / 2
        crit = monai_losses.DiceLoss(jaccard=True, **theirs, **extra)
        kw = {"smooth": 5e-6}
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(y if labels else y.astype(np.float64))
    value = crit(xt, yt)
    value.backward()
    ylab = y[:, 0] if labels else y
    got, g = getattr(fl, name).loss_grad(ylab, x, **ours, **kw)
    np.testing.assert_allclose(got, value.item(), rtol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-9, atol=1e-16)
    if labels:  # MONAI's (n, 1, H, W) label maps are accepted as they are
        np.testing.assert_array_equal(getattr(fl, name)(y, x, **ours, **kw), got)


def test_monai_class_weights():
    torch = pytest.importorskip("torch")
    monai_losses = pytest.importorskip("monai.losses")
    rng = np.random.default_rng(6)
    y, x = _monai_case(rng, 4, True)
    w = np.array([0.5, 2.0, 1.0, 3.0])
    for include_background, mw in ((True, w), (False, w[1:])):
        # MONAI's weight leaves the background out with it; ours always has C entries
        crit = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, weight=mw,
                                     include_background=include_background)
        xt = torch.from_numpy(x).requires_grad_(True)
        value = crit(xt, torch.from_numpy(y))
        value.backward()
        got, g = fl.dice.loss_grad(y, x, from_logits=True, channel_axis=1, smooth=1e-5,
                                   class_weight=w, include_background=include_background)
        np.testing.assert_allclose(got, value.item(), rtol=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-9, atol=1e-16)


@pytest.mark.parametrize("ignore_background", [False, True])
@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.3, 0.8)])
def test_optax_dice_loss(alpha, beta, ignore_background):
    jax = pytest.importorskip("jax")
    optax_losses = pytest.importorskip("optax.losses")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 2, (3, 5, 4, 3))                       # channel-last
    y = np.eye(3)[rng.integers(0, 3, (3, 5, 4))]
    cw = np.array([0.7, 1.0, 2.5])

    def f(xx):
        return optax_losses.dice_loss(xx, y, smooth=0.8, alpha=alpha, beta=beta,
                                      class_weights=cw, ignore_background=ignore_background)

    want = np.asarray(f(x))
    want_g = np.asarray(jax.grad(lambda xx: f(xx).mean())(x))
    kw = dict(alpha=alpha, beta=beta, smooth=0.8, from_logits=True, channel_axis=-1,
              class_weight=cw, include_background=not ignore_background)
    np.testing.assert_allclose(fl.tversky(y, x, reduction="none", **kw), want, rtol=1e-12)
    np.testing.assert_allclose(fl.tversky.grad(y, x, **kw), want_g, rtol=1e-9, atol=1e-16)
    # optax's Dice (alpha = beta = 1/2) with smooth s is our dice with smooth 2 s
    if alpha == beta == 0.5:
        kw = {k: v for k, v in kw.items() if k not in ("alpha", "beta")}
        np.testing.assert_allclose(fl.dice(y, x, reduction="none", **{**kw, "smooth": 1.6}),
                                   want, rtol=1e-12)


def test_keras_numbers():
    # keras.losses.Dice / Tversky with axis=None: one score for the whole batch,
    # 1 - 2 sum(y p) / (sum y + sum p + 1e-7) (no numerator smoothing);
    # ours with smooth=0, smooth_dr=1e-7 on the batch as one sample (y[None]).
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, (4, 6, 6)).astype(float)
    p = rng.uniform(0, 1, y.shape)
    keras_dice = 1 - 2 * np.sum(y * p) / (np.sum(y) + np.sum(p) + 1e-7)
    kw = {"smooth": 0.0, "smooth_dr": 1e-7}
    np.testing.assert_allclose(fl.dice(y[None], p[None], **kw), keras_dice, rtol=1e-14)
    tp, fp, fn = np.sum(y * p), np.sum((1 - y) * p), np.sum(y * (1 - p))
    keras_tversky = 1 - tp / (tp + 0.3 * fp + 0.7 * fn + 1e-7)
    np.testing.assert_allclose(fl.tversky(y[None], p[None], alpha=0.3, beta=0.7, **kw),
                               keras_tversky, rtol=1e-14)
    # Keras with axis=(1, 2): one score per sample, our unit
    per_sample = 1 - 2 * np.sum(y * p, axis=(1, 2)) / (y.sum(axis=(1, 2)) + p.sum(axis=(1, 2))
                                                      + 1e-7)
    np.testing.assert_allclose(fl.dice(y, p, reduction="none", **kw), per_sample, rtol=1e-14)


def test_smp_numbers_when_every_class_is_present():
    # segmentation_models.pytorch DiceLoss("multiclass", smooth=0, eps=1e-7) sums
    # over the batch and the pixels per class: score = 2 I / clamp_min(T + P, eps),
    # loss 1 - score zeroed for classes absent from the batch, then the class mean.
    # Ours on the batch as one sample (y[None], channel_axis shifted by one);
    # the same numbers when every class is present and T + P >> eps.
    rng = np.random.default_rng(9)
    x = rng.normal(0, 2, (3, 4, 5, 5))
    lab = rng.integers(0, 4, (3, 5, 5))
    e = np.exp(x - x.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    t = _onehot(lab, 4)
    i, tt, pp = (t * p).sum((0, 2, 3)), t.sum((0, 2, 3)), p.sum((0, 2, 3))
    smp = np.mean(1 - 2 * i / np.maximum(tt + pp, 1e-7))
    ours = fl.dice(lab[None], x[None], from_logits=True, channel_axis=2, smooth=0,
                   smooth_dr=1e-7)
    np.testing.assert_allclose(ours, smp, rtol=1e-9)


# --- label maps ---------------------------------------------------------------


@pytest.mark.parametrize("axis", [1, 2, -1])
@pytest.mark.parametrize("kw", [{"from_logits": True}, {"from_logits": True, "multilabel": True},
                                {}, {"from_logits": True, "include_background": False}],
                         ids=["softmax", "sigmoid", "probabilities", "no-background"])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_label_maps_give_the_bits_of_their_one_hot_targets(loss, kw, axis):
    rng = np.random.default_rng(10)
    shape = [3, 5, 6, 7]
    C = shape[axis]
    x = rng.normal(0, 2, shape) if kw.get("from_logits") else rng.uniform(0, 1, shape)
    lab_shape = [s for d, s in enumerate(shape) if d != axis % 4]
    lab = rng.integers(0, C, lab_shape)
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        dense = _onehot(lab, C, axis).astype(dtype)
        for reduction in ("mean", "none"):
            a = loss.loss_grad(lab, xd, channel_axis=axis, reduction=reduction, **kw)
            b = loss.loss_grad(dense, xd, channel_axis=axis, reduction=reduction, **kw)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
            assert a[1].dtype == dtype


def test_label_maps_of_any_integer_type_and_with_a_class_axis_of_one():
    rng = np.random.default_rng(11)
    x = rng.normal(0, 2, (2, 3, 4, 5))
    lab = rng.integers(0, 3, (2, 4, 5))
    want = fl.dice.loss_grad(lab, x, from_logits=True, channel_axis=1)
    for variant in (lab.astype(np.uint8), lab.astype(np.int32), lab.astype(float),
                    lab[:, None], lab.tolist()):
        got = fl.dice.loss_grad(variant, x, from_logits=True, channel_axis=1)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])


def test_label_maps_are_never_one_hot_encoded():
    # A label map of 2 x 64 x 64 pixels and 20 classes: its one-hot float64
    # encoding would take 1.3 MB; the loss (no gradient output) may allocate
    # only its per-thread scratch and block partials.
    rng = np.random.default_rng(12)
    x = rng.normal(0, 2, (2, 20, 64, 64))
    lab = rng.integers(0, 20, (2, 64, 64)).astype(np.intp)
    fl.dice(lab, x, from_logits=True, channel_axis=1)
    with fl.threads(1):
        tracemalloc.start()
        fl.dice(lab, x, from_logits=True, channel_axis=1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < x.nbytes // 8, peak


def test_bad_label_maps_are_named():
    x = np.zeros((2, 3, 4))
    lab = np.zeros((2, 4), int)
    for bad, match in [(3, r"label 3, outside \[0, 3\)"), (-1, r"label -1, outside")]:
        lb = lab.copy()
        lb[1, 2] = bad
        for kw in ({}, {"from_logits": True}):
            with pytest.raises(ValueError, match=match):
                fl.dice(lb, x + 0.5, channel_axis=1, **kw)
            out = np.full(x.shape, 7.0)
            with pytest.raises(ValueError, match=match):
                fl.dice.grad(lb, x + 0.5, channel_axis=1, out=out, **kw)
            assert np.all(out == 7.0)  # nothing written
    with pytest.raises(ValueError, match="integer class labels"):
        fl.dice(lab + 0.5, x, channel_axis=1)
    with pytest.raises(ValueError, match=r"y_true must have the shape of y_pred.*label map"):
        fl.dice(np.zeros((2, 3)), x, channel_axis=1)
    with pytest.raises(ValueError, match="y_true and y_pred must have the same shape"):
        fl.dice(lab, x)  # a label map needs channel_axis


def test_float32_label_maps_of_more_than_2_to_the_24_classes_are_refused():
    # Labels are compared as floats, exact below 2**24 in float32; a
    # zero-stride view costs no memory and is refused before any copy.
    x = np.broadcast_to(np.float32(0.5), (1, 2**24 + 1))
    with pytest.raises(ValueError, match="needs float64 scores"):
        fl.dice(np.zeros(1, int), x, channel_axis=1)


# --- numerics: extreme logits, the tails --------------------------------------


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_logits_of_1e4_give_the_values_of_exact_probabilities(loss):
    rng = np.random.default_rng(13)
    y = rng.uniform(0, 1, (3, 20))
    x = rng.choice([-1e4, 1e4], size=y.shape)
    p = (x > 0).astype(float)
    for dtype in (np.float64, np.float32):
        got, g = loss.loss_grad(y.astype(dtype), x.astype(dtype), from_logits=True,
                                reduction="none")
        want = loss(y, p, reduction="none")
        np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-15)
        # dp/dx = p (1 - p) = exp(-1e4) rounds to 0: so does the exact gradient
        assert np.all(g == 0)
    # a softmax of logits +-1e4: one-hot probabilities
    x3 = rng.choice([-1e4, 1e4], size=(3, 4, 5))
    lab = rng.integers(0, 4, (3, 5))
    got, g = loss.loss_grad(lab, x3, from_logits=True, channel_axis=1, reduction="none")
    e = np.exp(x3 - x3.max(1, keepdims=True))
    want = loss(lab, e / e.sum(1, keepdims=True), channel_axis=1, reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert np.all(np.isfinite(g))


def test_infinite_logits_give_the_limits():
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    x = np.array([[np.inf, -np.inf, 3.0, -2.0]])
    got, g = fl.dice.loss_grad(y, x, from_logits=True)
    p = np.array([[1.0, 0.0, 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(2.0))]])
    np.testing.assert_allclose(got, fl.dice(y, p), rtol=1e-15)
    assert g[0, 0] == 0 and g[0, 1] == 0 and np.all(np.isfinite(g))
    # a masked class (-inf logit) gets probability 0 and gradient 0
    x3 = np.array([[[-np.inf, 1.0], [0.5, -1.0], [2.0, 0.0]]])
    lab = np.array([[1, 2]])
    got, g = fl.dice.loss_grad(lab, x3, from_logits=True, channel_axis=1)
    assert np.isfinite(got) and g[0, 0, 0] == 0 and np.all(np.isfinite(g))


def _mp_dice_sigmoid(y, x, smooth):
    """Dice of one sample with sigmoid probabilities, and its logit gradient,
    in 60-digit arithmetic."""
    with mpmath.workdps(60):
        p = [1 / (1 + mpmath.exp(-mpmath.mpf(v))) for v in x]
        i = sum(mpmath.mpf(t) * q for t, q in zip(y, p, strict=True))
        m = sum(mpmath.mpf(t) for t in y) + sum(p) + smooth
        n = 2 * i + smooth
        loss = 1 - n / m
        g = [(-2 * mpmath.mpf(t) / m + n / m**2) * q * (1 - q) for t, q in zip(y, p, strict=True)]
        return float(loss), [float(v) for v in g]


def test_sigmoid_tails_keep_full_relative_accuracy():
    # Logits out to +-40: dp/dx = p (1 - p) down to 4e-18, which 1 - sigmoid(x)
    # would round to 0 beyond |x| = 37; the gradient keeps its relative accuracy.
    rng = np.random.default_rng(14)
    x = np.concatenate([rng.uniform(-40, 40, 30), [35.0, -36.5, 38.0, -39.9]])
    y = rng.integers(0, 2, x.size).astype(float)
    got, g = fl.dice.loss_grad(y[None], x[None], from_logits=True, reduction="sum")
    want, want_g = _mp_dice_sigmoid(y, x, 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(g[0], want_g, rtol=1e-13)


def test_a_loss_near_zero_keeps_its_relative_accuracy():
    # Near-perfect logits: the loss is ~1e-12, far below the rounding of 1 - N / M.
    y = np.tile([1.0, 0.0], 50)
    x = np.where(y > 0, 30.0, -30.0)
    got = fl.jaccard(y[None], x[None], from_logits=True, smooth=1e-5)
    with mpmath.workdps(60):
        p = [1 / (1 + mpmath.exp(-mpmath.mpf(v))) for v in x]
        i = sum(mpmath.mpf(t) * q for t, q in zip(y, p, strict=True))
        fp = sum((1 - mpmath.mpf(t)) * q for t, q in zip(y, p, strict=True))
        fn = sum(mpmath.mpf(t) * (1 - q) for t, q in zip(y, p, strict=True))
        s = mpmath.mpf("1e-5")
        want = float(1 - (i + s) / (i + fp + fn + s))
    assert 1e-13 < want < 1e-10
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --- classes ------------------------------------------------------------------


def _per_class(loss, y, p, kw):
    """Each class scored apart (probabilities, so classes do not interact)."""
    return np.stack([loss(y[:, c], p[:, c], reduction="none", **kw)
                     for c in range(p.shape[1])], axis=1)


@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_classes_are_scored_apart_then_averaged(loss):
    rng = np.random.default_rng(15)
    y = rng.uniform(0, 1, (3, 4, 6))
    p = rng.uniform(0, 1, (3, 4, 6))
    per = _per_class(loss, y, p, {"smooth": 0.5})
    kw = {"channel_axis": 1, "smooth": 0.5, "reduction": "none"}
    np.testing.assert_allclose(loss(y, p, **kw), per.mean(1), rtol=1e-14)
    np.testing.assert_allclose(loss(y, p, include_background=False, **kw), per[:, 1:].mean(1),
                               rtol=1e-14)
    w = np.array([0.0, 2.0, 0.5, 1.0])
    np.testing.assert_allclose(loss(y, p, class_weight=w, **kw), (per * w).sum(1) / 4,
                               rtol=1e-14)
    np.testing.assert_allclose(loss(y, p, class_weight={1: 2.0, 2: 0.5, 0: 0.0}, **kw),
                               loss(y, p, class_weight=w, **kw), rtol=0)
    # without the background, the weights of the classes left are averaged over C - 1
    np.testing.assert_allclose(loss(y, p, class_weight=w, include_background=False, **kw),
                               (per * w)[:, 1:].sum(1) / 3, rtol=1e-14)


def test_the_background_still_moves_a_softmax():
    # Class 0 is not scored, but its logit changes the other classes'
    # probabilities: its gradient is that of the softmax (finite differences).
    rng = np.random.default_rng(16)
    x = rng.normal(0, 1, (2, 3, 4))
    lab = rng.integers(0, 3, (2, 4))
    kw = {"from_logits": True, "channel_axis": 1, "include_background": False}
    g = fl.dice.grad(lab, x, **kw)
    assert np.all(np.abs(g[:, 0]) > 0)
    np.testing.assert_allclose(g, _fd(lambda z: float(fl.dice(lab, z, **kw)), x), rtol=1e-6,
                               atol=1e-10)
    # probabilities: class 0 does not enter at all, NaN included
    p = rng.uniform(0, 1, (2, 3, 4))
    p[0, 0, 1] = np.nan
    loss, g = fl.dice.loss_grad(lab, p, channel_axis=1, include_background=False)
    assert np.isfinite(loss) and np.all(g[:, 0] == 0)


@pytest.mark.parametrize("kw", [{"from_logits": True, "channel_axis": 1},
                                {"from_logits": True, "channel_axis": -1, "multilabel": True},
                                {"channel_axis": 2, "class_weight": [1.0, 0.0, 2.0, 1.0, 3.0],
                                 "include_background": False}])
def test_gradients_of_label_maps_match_finite_differences(kw):
    rng = np.random.default_rng(17)
    shape = (2, 3, 5, 4) if kw["channel_axis"] != 2 else (2, 3, 5, 2)
    x = (rng.normal(0, 1.5, shape) if kw.get("from_logits")
         else rng.uniform(0.05, 0.95, shape))
    ax = kw["channel_axis"] % 4
    lab = rng.integers(0, shape[ax], [s for d, s in enumerate(shape) if d != ax])
    for loss in LOSSES:
        g = loss.grad(lab, x, reduction="sum", **kw)
        fd = _fd(lambda z, f=loss: float(f(lab, z, reduction="sum", **kw)), x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-10)


def test_bad_class_keywords_are_named():
    y, x = np.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    cases = [
        ({"channel_axis": 1, "class_weight": [1.0, 2.0]}, r"class_weight.*shape \(3,\)"),
        ({"channel_axis": 1, "class_weight": [1.0, -2.0, 1.0]}, "class_weight.*non-negative"),
        ({"channel_axis": 1, "class_weight": {5: 1.0}}, "class_weight.*class 5"),
        ({"channel_axis": 1, "class_weight": [1.0, 0.0, 0.0], "include_background": False},
         "class_weight gives every class but the background"),
        ({"class_weight": [1.0, 2.0, 3.0]}, "class_weight needs channel_axis"),
        ({"multilabel": True}, "multilabel needs channel_axis"),
        ({"include_background": False}, "include_background=False needs channel_axis"),
        ({"channel_axis": 0}, "channel_axis=0 must name an axis of y_pred other than the first"),
        ({"channel_axis": 3}, "channel_axis=3 must name an axis"),
        ({"channel_axis": -3}, "channel_axis=-3 must name an axis"),
        ({"channel_axis": 1.0}, "channel_axis must be an integer"),
        ({"smooth": -1.0}, "smooth must be >= 0"),
        ({"smooth_dr": -1e-7}, "smooth_dr must be >= 0"),
    ]
    for kw, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            fl.dice(y, x, **kw)
    with pytest.raises(ValueError, match="include_background=False leaves no class"):
        fl.dice(y[:, :1], x[:, :1], channel_axis=1, include_background=False)
    with pytest.raises(ValueError, match="no classes"):
        fl.dice(y[:, :0], x[:, :0], channel_axis=1)
    with pytest.raises(ValueError, match="first axis of samples"):
        fl.dice(1.0, 0.5)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        fl.tversky(y, x, alpha=-0.1)


def test_values_outside_the_unit_interval_are_named():
    y, p = np.full((2, 5), 0.5), np.full((2, 5), 0.5)
    for which, value in [("y_true", 1.5), ("y_true", -0.1), ("y_pred", 1.01)]:
        args = {"y_true": y.copy(), "y_pred": p.copy()}
        args[which][1, 3] = value
        with pytest.raises(ValueError, match=rf"{which} must lie in \[0.0, 1.0\]"):
            fl.dice(**args)
        out = np.full(p.shape, 3.0)
        with pytest.raises(ValueError, match=which):
            fl.dice.grad(**args, out=out)
        assert np.all(out == 3.0)
    # logits are not bounded; soft targets in [0, 1] are fine
    assert np.isfinite(fl.dice(np.full((2, 5), 0.3), np.full((2, 5), 7.0), from_logits=True))


# --- threads ------------------------------------------------------------------


@pytest.mark.parametrize("shape,kw", [
    ((8, 2, 64, 64), {"from_logits": True, "channel_axis": 1}),      # threads take samples
    ((3, 3, 96, 96), {"from_logits": True, "channel_axis": 1}),      # threads share blocks
    ((1, 1, 300, 300), {"from_logits": True}),                       # one sample, many blocks
    ((2, 120, 100, 3), {"from_logits": True, "channel_axis": -1}),   # gathered planes
    ((5, 4, 50, 40), {"channel_axis": 1, "include_background": False}),
])
@pytest.mark.parametrize("labels", [False, True], ids=["dense", "labels"])
def test_every_way_of_sharing_the_work_gives_the_same_bits(shape, kw, labels):
    rng = np.random.default_rng(18)
    x = (rng.normal(0, 2, shape) if kw.get("from_logits")
         else rng.uniform(0, 1, shape)).astype(np.float32 if labels else np.float64)
    ax = kw.get("channel_axis")
    if labels and ax is None:
        pytest.skip("label maps need a channel axis")
    if labels:
        ax %= len(shape)
        y = rng.integers(0, shape[ax], [s for d, s in enumerate(shape) if d != ax])
    else:
        y = rng.uniform(0, 1, shape)
    w = rng.uniform(0.5, 2, shape[0])
    results = []
    for n in (1, 2, 3, 4):
        with fl.threads(n):
            results.append([*fl.tversky.loss_grad(y, x, sample_weight=w, reduction="none", **kw),
                            *fl.dice.loss_grad(y, x, **kw), fl.jaccard(y, x, **kw)])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[0][0],
                               reference.loss_grad("tversky", y, x, sample_weight=w,
                                                   reduction="none", **kw)[0], rtol=2e-5)
