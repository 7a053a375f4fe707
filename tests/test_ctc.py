"""CTC: torch's values and gradients, the edge cases of alignment, errors.

The generic tests (test_losses.py) cover ctc through its registry entry; here
are the cases they cannot draw: repeated labels at the feasibility edge
(T == L + repeats) and one frame short of it, empty targets, input lengths 0,
targets no alignment fits (+inf, or 0 with zero_infinity), varying lengths,
blank other than 0, both target layouts and label dtypes, and the two
gradient conventions (ours: the partial derivative with respect to what is
passed; torch's: with respect to the scores before a log_softmax).
"""

import numpy as np
import pytest
from helpers import central_differences

import fastloss as fl
from fastloss import reference

C = 6
T = 8
# (input length, labels as class numbers 1..C-1 ("not blank", see _labels))
EDGE = [
    (8, [1, 2, 3]),            # plain
    (8, []),                   # empty target: the all-blank path
    (0, []),                   # no frames, no labels: 0
    (0, [2]),                  # no frames for a label: +inf
    (5, [1, 1, 2]),            # a repeat needs a blank between: 4 frames, 5 given
    (4, [1, 1, 2]),            # exactly L + repeats frames
    (3, [1, 1, 2]),            # one frame short: +inf
    (8, [3, 3, 3, 3]),         # 4 labels + 3 repeats = 7 frames
    (7, [3, 3, 3, 3]),         # exactly 7
    (6, [2, 4, 2, 4, 5, 1]),   # T == L, no repeat: exactly one alignment
    (8, [5]),
    (1, [4]),                  # a single frame and label
    (1, []),
    (2, [4, 4]),               # one frame short for a repeat: +inf
]
FEASIBLE = [i for i, (il, lab) in enumerate(EDGE)
            if il >= len(lab) + sum(a == b for a, b in zip(lab, lab[1:], strict=False))]


def _labels(ks, blank):
    """Class numbers 1..C-1 as class indices other than `blank`."""
    return [k if blank == 0 else k - 1 for k in ks] if blank in (0, C - 1) else None


def edge_batch(dtype=np.float64, blank=0, from_logits=True, seed=0, layout="padded",
               label_dtype=np.int64, specs=EDGE):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, size=(T, len(specs), C))
    if not from_logits:
        x = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    labels = [_labels(lab, blank) for _, lab in specs]
    il = np.array([s[0] for s in specs])
    tl = np.array([len(lab) for lab in labels])
    if layout == "padded":
        targets = np.zeros((len(specs), max(tl)), dtype=label_dtype)
        for b, lab in enumerate(labels):
            targets[b, :len(lab)] = lab
            targets[b, len(lab):] = 1 if blank == 0 else 0  # padding (not read)
    else:
        targets = np.array([v for lab in labels for v in lab], dtype=label_dtype)
    return x.astype(dtype), targets, il, tl


def _torch_loss(torch, x, targets, il, tl, blank, reduction, zero_infinity, from_logits):
    import torch.nn.functional as F

    xt = torch.from_numpy(x).requires_grad_(True)
    lp = xt.log_softmax(-1) if from_logits else xt
    value = F.ctc_loss(lp, torch.from_numpy(np.asarray(targets, dtype=np.int64)),
                       torch.from_numpy(il), torch.from_numpy(tl), blank=blank,
                       reduction=reduction, zero_infinity=zero_infinity)
    return xt, value


def _assert_same(got, want, **tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], **tol)


TOL = {np.float64: {"rtol": 1e-12, "atol": 1e-14}, np.float32: {"rtol": 2e-5, "atol": 2e-6}}


# --- values and gradients against PyTorch ---------------------------------------------


@pytest.mark.parametrize("layout,label_dtype", [("padded", np.int64), ("padded", np.int32),
                                                ("concatenated", np.int64),
                                                ("concatenated", np.int32)])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("blank", [0, C - 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_equal_torch_for_every_reduction(dtype, blank, from_logits, zero_infinity,
                                                layout, label_dtype):
    torch = pytest.importorskip("torch")
    x, targets, il, tl = edge_batch(dtype, blank, from_logits, layout=layout,
                                    label_dtype=label_dtype)
    kw = dict(blank=blank, zero_infinity=zero_infinity, from_logits=from_logits)
    for reduction in ("none", "sum", "mean"):
        got = fl.ctc(x, targets, il, tl, reduction=reduction, **kw)
        _, want = _torch_loss(torch, x, targets, il, tl, blank, reduction, zero_infinity,
                              from_logits)
        assert np.asarray(got).dtype == dtype
        _assert_same(got, want.detach().numpy(), **TOL[dtype])


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logits_gradient_equals_torch_autograd_through_log_softmax(dtype, reduction,
                                                                   zero_infinity):
    # from_logits=True: the gradient with respect to the scores, torch's number
    # (NaN on the frames of a target no alignment fits, as torch).
    torch = pytest.importorskip("torch")
    x, targets, il, tl = edge_batch(dtype, from_logits=True, seed=1)
    g = fl.ctc.grad(x, targets, il, tl, from_logits=True, reduction=reduction,
                    zero_infinity=zero_infinity)
    xt, value = _torch_loss(torch, x, targets, il, tl, 0, reduction, zero_infinity, True)
    value.backward()
    _assert_same(g, xt.grad.numpy(), **TOL[dtype])


def _frames(il):
    """(T, n, 1) mask of the frames each sequence reads."""
    return (np.arange(T)[:, None] < il[None, :])[:, :, None]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_logprob_gradient_is_torchs_minus_exp_log_probs(reduction):
    # torch's backward returns exp(lp) - occupancy where the partial
    # derivative with respect to lp is -occupancy (pytorch/pytorch#52241).
    torch = pytest.importorskip("torch")
    x, targets, il, tl = edge_batch(np.float64, from_logits=False, seed=2)
    g = fl.ctc.grad(x, targets, il, tl, reduction=reduction)
    xt, value = _torch_loss(torch, x, targets, il, tl, 0, reduction, False, False)
    value.backward()
    scale = 1.0 / np.maximum(tl, 1) / len(tl) if reduction == "mean" else np.ones(len(tl))
    want = xt.grad.numpy() - np.exp(x) * scale[None, :, None] * _frames(il)
    _assert_same(g, want, rtol=1e-11, atol=1e-14)
    # the true partial derivative is zero for every class the target never uses
    for b in FEASIBLE:
        unused = np.setdiff1d(np.arange(1, C), targets[b, :tl[b]])
        assert not g[:, b, unused].any()


def test_logprob_gradient_through_log_softmax_equals_torch_autograd():
    # The chain rule applied to our gradient with respect to log-probabilities
    # lp = log_softmax(x): g_x = g - softmax(x) sum(g), torch's logits gradient.
    torch = pytest.importorskip("torch")
    x, targets, il, tl = edge_batch(np.float64, from_logits=True, seed=3)
    lp = x - np.logaddexp.reduce(x, axis=2, keepdims=True)
    g = fl.ctc.grad(lp, targets, il, tl, zero_infinity=True)
    g_x = g - np.exp(lp) * g.sum(axis=2, keepdims=True)
    xt, value = _torch_loss(torch, x, targets, il, tl, 0, "mean", True, True)
    value.backward()
    np.testing.assert_allclose(g_x, xt.grad.numpy(), rtol=1e-11, atol=1e-14)


# --- the reference and finite differences ---------------------------------------------------


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edge_cases_match_the_reference(dtype, from_logits, zero_infinity):
    x, targets, il, tl = edge_batch(dtype, from_logits=from_logits, seed=4)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(il))
    kw = dict(from_logits=from_logits, zero_infinity=zero_infinity)
    x64 = x.astype(np.float64)
    for reduction in ("none", "sum", "mean"):
        for sw in (None, w):
            got = fl.ctc.loss_grad(x, targets, il, tl, sample_weight=sw, reduction=reduction,
                                   **kw)
            want = reference.loss_grad("ctc", x64, targets, il, tl, sample_weight=sw,
                                       reduction=reduction, **kw)
            _assert_same(got[0], want[0], **TOL[dtype])
            _assert_same(got[1], want[1], **TOL[dtype])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("from_logits", [True, False])
def test_edge_case_gradients_match_finite_differences(from_logits, reduction):
    # zero_infinity=True: a target no alignment fits is a constant 0 (its
    # gradient 0), so the whole batch is differentiable.
    x, targets, il, tl = edge_batch(np.float64, from_logits=from_logits, seed=5)
    kw = dict(from_logits=from_logits, zero_infinity=True, reduction=reduction,
              sample_weight=np.linspace(0.5, 2.0, len(il)))
    g = fl.ctc.grad(x, targets, il, tl, **kw)
    fd = central_differences(lambda a: float(fl.ctc(a, targets, il, tl, **kw)), x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_a_single_alignment_has_the_closed_form_loss():
    # T == L with distinct neighbours: one path, loss = -sum_t lp_t(l_t), and the
    # gradient is -1 on that path (times 1/L for 'mean').
    x, targets, il, tl = edge_batch(np.float64, from_logits=False, seed=6,
                                    specs=[(8, [1, 2, 3, 4, 5, 1, 2, 3])])
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, reduction="sum")
    path = targets[0]
    np.testing.assert_allclose(loss, -x[np.arange(8), 0, path].sum(), rtol=1e-14)
    want = np.zeros_like(x)
    want[np.arange(8), 0, path] = -1
    np.testing.assert_allclose(g, want, atol=1e-14)


def test_occupancies_sum_to_one_per_frame():
    # -d loss / d lp summed over the classes of a frame is the total occupancy, 1.
    x, targets, il, tl = edge_batch(np.float64, from_logits=False, seed=7)
    g = fl.ctc.grad(x, targets, il, tl, reduction="sum")
    for b in FEASIBLE:
        np.testing.assert_allclose(-g[:il[b], b].sum(axis=1), 1.0, rtol=1e-12)
        assert not g[il[b]:, b].any()


# --- conventions -----------------------------------------------------------------------------


def test_infeasible_targets_follow_torch_conventions():
    x, targets, il, tl = edge_batch(np.float64, seed=8)
    bad = [i for i in range(len(EDGE)) if i not in FEASIBLE]
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    assert np.isinf(loss[bad]).all() and np.isfinite(loss[FEASIBLE]).all()
    for b in bad:  # NaN on the frames it reads, 0 on the others
        assert np.isnan(g[:il[b], b]).all() and not g[il[b]:, b].any()
    loss0, g0 = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none",
                                 zero_infinity=True)
    assert (loss0[bad] == 0).all() and not g0[:, bad].any()
    np.testing.assert_array_equal(loss0[FEASIBLE], loss[FEASIBLE])
    np.testing.assert_array_equal(g0[:, FEASIBLE], g[:, FEASIBLE])
    assert loss[EDGE.index((0, []))] == 0
    assert fl.ctc(x, targets, il, tl, from_logits=True) == np.inf


def test_mean_divides_each_loss_by_its_target_length():
    x, targets, il, tl = edge_batch(np.float64, seed=9)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(il))
    kw = dict(from_logits=True, zero_infinity=True)
    per = fl.ctc(x, targets, il, tl, reduction="none", **kw)
    np.testing.assert_allclose(fl.ctc(x, targets, il, tl, **kw),
                               np.mean(per / np.maximum(tl, 1)), rtol=1e-14)
    np.testing.assert_allclose(fl.ctc(x, targets, il, tl, sample_weight=w, **kw),
                               np.sum(w * per / np.maximum(tl, 1)) / w.sum(), rtol=1e-14)
    np.testing.assert_allclose(fl.ctc(x, targets, il, tl, sample_weight=w, reduction="none",
                                      **kw), w * per, rtol=1e-15)


def test_masked_logits_get_zero_probability():
    x, targets, il, tl = edge_batch(np.float64, seed=10, specs=[(8, [1, 2, 3]), (8, [4])])
    x[:, :, 5] = -np.inf          # a class no target uses
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    want = fl.ctc(x[:, :, :5], targets, il, tl, from_logits=True, reduction="none")
    np.testing.assert_allclose(loss, want, rtol=1e-14)
    assert np.isfinite(g).all() and not g[:, :, 5].any()
    x[:, 1, 4] = -np.inf          # the only label of sequence 1: no alignment left
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    assert np.isfinite(loss[0]) and loss[1] == np.inf and np.isnan(g[:, 1]).all()
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none",
                               zero_infinity=True)
    assert loss[1] == 0 and not g[:, 1].any() and np.isfinite(g).all()


@pytest.mark.parametrize("from_logits", [True, False])
def test_nan_in_a_read_frame_propagates_to_its_sequence_only(from_logits):
    x, targets, il, tl = edge_batch(np.float64, from_logits=from_logits, seed=11,
                                    specs=[(8, [1, 2]), (6, [1, 2]), (8, [3])])
    x[2, 0, 5] = np.nan           # a class sequence 0 does not use
    x[7, 1, 1] = np.nan           # past sequence 1's input length: not read
    loss, g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=from_logits,
                               reduction="none")
    assert np.isnan(loss[0]) and np.isnan(g[:, 0]).all()
    assert np.isfinite(loss[1:]).all() and np.isfinite(g[:, 1:]).all()
    assert not g[6:, 1].any()


def test_huge_logits_are_exact():
    x, targets, il, tl = edge_batch(np.float64, seed=12, specs=[(8, [1, 2, 3]), (8, [2])])
    x = x * 5e3
    got = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    want = reference.loss_grad("ctc", x, targets, il, tl, from_logits=True, reduction="none")
    assert np.isfinite(got[0]).all()
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-11)


def test_float32_keeps_its_precision_on_long_sequences():
    # Each frame's states are stored relative to the previous frame's maximum
    # (offsets summed in float64) and each frame's occupancies are divided by
    # their sum, so float32 loses little as |log alpha| grows with T: at 2000
    # frames the loss is within 2e-7 relative and the gradient within 1e-4
    # (torch's float32 ctc_loss: 1e-6 and 1e-2 on these inputs).
    x, targets, il, tl = fl.ctc.sample({"from_logits": True}, (2000, 3, 12, 300, 200), seed=3)
    l64, g64 = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    l32, g32 = fl.ctc.loss_grad(x.astype(np.float32), targets, il, tl, from_logits=True,
                                reduction="none")
    assert l64.min() > 1000
    np.testing.assert_allclose(l32, l64, rtol=5e-7)
    np.testing.assert_allclose(g32, g64, rtol=0, atol=3e-4)
    np.testing.assert_allclose(g32.sum(axis=2), 0, atol=1e-6)  # softmax - occupancy


# --- layouts ----------------------------------------------------------------------------------


def test_padding_is_not_read():
    x, targets, il, tl = edge_batch(np.float64, seed=13)
    want = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True, reduction="none")
    junk = targets.copy()
    for b in range(len(tl)):
        junk[b, tl[b]:] = [-7, 999, 0, 10**9, 3, 5][:junk.shape[1] - tl[b]]
    got = fl.ctc.loss_grad(x, junk, il, tl, from_logits=True, reduction="none")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_padded_and_concatenated_targets_agree():
    x, padded, il, tl = edge_batch(np.float64, seed=14)
    _, concat, _, _ = edge_batch(np.float64, seed=14, layout="concatenated",
                                 label_dtype=np.int32)
    a = fl.ctc.loss_grad(x, padded, il, tl, from_logits=True, reduction="none")
    b = fl.ctc.loss_grad(x, concat, list(il), tuple(tl), from_logits=True, reduction="none")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_one_sequence_of_shape_t_c():
    x, targets, il, tl = edge_batch(np.float64, seed=15, specs=[(6, [1, 2, 2])])
    want_l, want_g = fl.ctc.loss_grad(x, targets, il, tl, from_logits=True,
                                      reduction="none")
    for lengths in ((6, 3), (np.int32(6), np.int64(3)), ([6], [3]), (np.array(6), 3)):
        got_l, got_g = fl.ctc.loss_grad(x[:, 0], targets[0], *lengths, from_logits=True,
                                        reduction="none")
        assert got_l.shape == () and got_g.shape == (T, C)
        np.testing.assert_array_equal(got_l, want_l[0])
        np.testing.assert_array_equal(got_g, want_g[:, 0])


def test_results_do_not_depend_on_threads_with_varied_lengths():
    rng = np.random.default_rng(16)
    x, targets, il, tl = fl.ctc.sample({"from_logits": True}, (120, 37, 9, 30, 0), seed=16)
    il = rng.integers(0, 121, size=37)
    tl = np.minimum(tl, il // 2)
    runs = []
    for n in (1, 2, 3):
        with fl.threads(n):
            runs.append(fl.ctc.loss_grad(x, targets, il, tl, from_logits=True,
                                         zero_infinity=True))
    for loss, g in runs[1:]:
        assert loss == runs[0][0]
        np.testing.assert_array_equal(g, runs[0][1])


# --- errors ----------------------------------------------------------------------------------


def _bad(change):
    x, targets, il, tl = edge_batch(np.float64, seed=17)
    args = {"log_probs": x, "targets": targets, "input_lengths": il, "target_lengths": tl}
    kw = change(args) or {}
    return args, kw


@pytest.mark.parametrize("change,exc,match", [
    (lambda a: a["targets"].__setitem__((0, 1), 0), ValueError, r"blank label 0 \(sequence 0"),
    (lambda a: a["targets"].__setitem__((0, 0), C), ValueError, rf"label {C}.*outside \[0, {C}\)"),
    (lambda a: a["targets"].__setitem__((4, 2), -1), ValueError, "label -1"),
    (lambda a: {"blank": C}, ValueError, rf"blank must be a class index in \[0, {C}\)"),
    (lambda a: {"blank": -1}, ValueError, "blank must be"),
    (lambda a: a["input_lengths"].__setitem__(2, -1), ValueError,
     "input_lengths must be non-negative"),
    (lambda a: a["input_lengths"].__setitem__(0, T + 1), ValueError,
     rf"input_lengths must not exceed T = {T}.*shape"),
    (lambda a: a["target_lengths"].__setitem__(1, -2), ValueError,
     "target_lengths must be non-negative"),
    (lambda a: a["target_lengths"].__setitem__(1, 7), ValueError,
     "target_lengths must not exceed S = 6"),
    (lambda a: a.__setitem__("input_lengths", a["input_lengths"][:-1]), ValueError,
     r"input_lengths must hold one length per sequence, shape \(14,\)"),
    (lambda a: a.__setitem__("target_lengths", a["target_lengths"][:, None]), ValueError,
     "target_lengths must hold one length per sequence"),
    (lambda a: a.__setitem__("targets", a["targets"][:-1]), ValueError,
     "targets has 13 rows but log_probs holds 14 sequences"),
    (lambda a: a.__setitem__("targets", a["targets"].reshape(-1)), ValueError,
     "targets holds 84 labels but target_lengths add up to 31"),
    (lambda a: a.__setitem__("targets", a["targets"][None]), ValueError, "targets must be"),
    (lambda a: a.__setitem__("log_probs", a["log_probs"][0]), ValueError,
     "input_lengths must hold one length per sequence"),
    (lambda a: a.__setitem__("log_probs", a["log_probs"][..., None]), ValueError,
     r"log_probs must have shape \(T, n, C\)"),
    (lambda a: a.__setitem__("input_lengths", a["input_lengths"] * 1.0), TypeError,
     "input_lengths must hold integers"),
    (lambda a: a.__setitem__("targets", a["targets"] * 1.0), TypeError,
     "targets must hold integers"),
    (lambda a: a.__setitem__("targets", a["targets"].astype(np.uint64) + 2**63), ValueError,
     "targets holds"),
    (lambda a: a.__setitem__("log_probs", a["log_probs"].astype(complex)), TypeError,
     "log_probs must be real"),
])
def test_bad_input_is_a_clear_error(change, exc, match):
    args, kw = _bad(change)
    for call in (fl.ctc, fl.ctc.grad, fl.ctc.loss_grad):
        with pytest.raises(exc, match=match):
            call(**args, **kw, from_logits=True)


def test_bad_sample_weight_is_named():
    x, targets, il, tl = edge_batch(np.float64, seed=18)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(14,\)"):
        fl.ctc(x, targets, il, tl, sample_weight=np.ones(13))


# --- other libraries -------------------------------------------------------------------------


def test_optax_computes_the_per_sequence_losses_with_a_finite_floor():
    pytest.importorskip("optax")
    import jax

    jax.config.update("jax_enable_x64", True)
    import optax

    x, targets, il, tl = edge_batch(np.float64, seed=19)
    ours = fl.ctc(x, targets, il, tl, from_logits=True, reduction="none")
    lp = (np.arange(T) >= il[:, None]).astype(float)
    tp = (np.arange(targets.shape[1]) >= tl[:, None]).astype(float)
    theirs = np.asarray(optax.ctc_loss(np.transpose(x, (1, 0, 2)), lp, targets, tp))
    np.testing.assert_allclose(theirs[FEASIBLE], ours[FEASIBLE], rtol=1e-10)
    bad = [i for i in range(len(EDGE)) if i not in FEASIBLE and EDGE[i][0] > 0]
    assert np.all(theirs[bad] > 1e4) and np.all(np.isinf(ours[bad]))
