"""Box losses (box_iou, box_giou, box_diou, box_ciou): what the detection
family promises beyond the generic tests of test_losses.py.

- values and autograd gradients equal torchvision's (skipped without it),
  in every box format, away from ties and at them;
- closed forms for disjoint, touching, nested, identical and zero-area pairs;
- degenerate boxes raise, naming the input and the box;
- NaN and inf stay in their box; CIoU is finite for boxes of zero height;
- the formats agree with each other through the chain rule;
- the kernel's atan is accurate; block edges and thread counts change no bit.
"""

import math

import numpy as np
import pytest
from helpers import draw

import fastloss as fl
from fastloss import reference
from fastloss._core import dispatch

BOX_LOSSES = ["box_iou", "box_giou", "box_diou", "box_ciou"]
FORMATS = ["xyxy", "xywh", "cxcywh"]
TORCHVISION = {"box_giou": "generalized_box_iou_loss", "box_diou": "distance_box_iou_loss",
               "box_ciou": "complete_box_iou_loss"}


def _loss(name):
    return fl.get(name)


def _from_xyxy(b, fmt):
    b = np.asarray(b, dtype=np.float64)
    x1, y1, x2, y2 = (b[..., i] for i in range(4))
    if fmt == "xyxy":
        return b.copy()
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=-1)


# --- torchvision ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tv():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    return torch, ops


def _torch_iou_loss(torch):
    # torchvision has no IoU loss: its intersection and union, 1 - I / (U + eps)
    from torchvision.ops._utils import _loss_inter_union

    def f(b1, b2, reduction="none", eps=1e-7):
        inter, union = _loss_inter_union(b1, b2)
        return 1 - inter / (union + eps)

    return f


def _torchvision(tv, name, y, p, fmt, eps=1e-7):
    """torchvision's per-box losses and the autograd gradient of their sum
    w.r.t. p (boxes of format fmt, converted with box_convert)."""
    torch, ops = tv
    fn = _torch_iou_loss(torch) if name == "box_iou" else getattr(ops, TORCHVISION[name])
    pt = torch.tensor(p, requires_grad=True)
    yt = torch.tensor(y)
    conv = (lambda b: b) if fmt == "xyxy" else (lambda b: ops.box_convert(b, fmt, "xyxy"))
    per_box = fn(conv(pt).reshape(-1, 4), conv(yt).reshape(-1, 4), reduction="none", eps=eps)
    per_box.sum().backward()
    return per_box.detach().numpy().reshape(p.shape[:-1]), pt.grad.numpy()


def _varied_pairs(n, seed):
    """Boxes in every relation to their target: nested both ways, crossing,
    overlapping a corner, disjoint along x, y or both (xyxy, float64)."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-50, 50, (n, 2))
    s = rng.uniform(0.5, 30, (n, 2))
    t = np.concatenate([c - s / 2, c + s / 2], axis=1)
    pc = c + rng.normal(0, 1, (n, 2)) * s * rng.choice([0.1, 0.5, 1.0, 3.0], (n, 1))
    ps = s * np.exp(rng.normal(0, 0.8, (n, 2)))
    return t, np.concatenate([pc - ps / 2, pc + ps / 2], axis=1)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", BOX_LOSSES)
def test_values_and_gradients_equal_torchvision(tv, name, fmt):
    t, p = _varied_pairs(4000, seed=1)
    y, q = _from_xyxy(t, fmt), _from_xyxy(p, fmt)
    want_l, want_g = _torchvision(tv, name, y, q, fmt)
    loss = _loss(name)
    got_l, got_g = loss.loss_grad(y, q, reduction="none", box_format=fmt)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-9, atol=1e-14)
    # the mean and its gradient (1/n of the above)
    m, g = loss.loss_grad(y, q, box_format=fmt)
    np.testing.assert_allclose(m, want_l.mean(), rtol=1e-12)
    np.testing.assert_allclose(g, want_g / len(q), rtol=1e-9, atol=1e-17)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_float32_equals_torchvision_in_float32(tv, name):
    t, p = _varied_pairs(2000, seed=2)
    y, q = t.astype(np.float32), p.astype(np.float32)
    want_l, want_g = _torchvision(tv, name, y, q, "xyxy")
    got_l, got_g = _loss(name).loss_grad(y, q, reduction="none")
    assert got_l.dtype == got_g.dtype == np.float32
    np.testing.assert_allclose(got_l, want_l, rtol=2e-5, atol=2e-6)
    scale = np.abs(want_g).max()
    np.testing.assert_allclose(got_g, want_g, rtol=1e-3, atol=2e-5 * scale)


@pytest.mark.parametrize("name", ["box_iou", "box_giou", "box_diou"])
def test_eps_equals_torchvision_eps(tv, name):
    t, p = _varied_pairs(500, seed=3)
    want_l, want_g = _torchvision(tv, name, t, p, "xyxy", eps=0.5)
    got_l, got_g = _loss(name).loss_grad(t, p, reduction="none", eps=0.5)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-9, atol=1e-14)


def _tied_pairs():
    """Pairs sharing corners: identical boxes, one shared edge, the same x
    extent, a box inside another touching it, and touching boxes."""
    t = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10],
                  [0, 0, 10, 10], [5, 5, 9, 8]], dtype=np.float64)
    p = np.array([[0, 0, 10, 10], [0, 2, 10, 12], [3, 0, 10, 4], [2, 0, 7, 10],
                  [10, 0, 15, 10], [5, 5, 9, 8]], dtype=np.float64)
    return t, p


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", BOX_LOSSES)
def test_ties_split_the_gradient_as_torch_does(tv, name, fmt):
    # fastloss splits max/min half and half at ties, as torch's autograd does,
    # so even shared corners give torchvision's numbers.
    t, p = _tied_pairs()
    y, q = _from_xyxy(t, fmt), _from_xyxy(p, fmt)
    want_l, want_g = _torchvision(tv, name, y, q, fmt)
    got_l, got_g = _loss(name).loss_grad(y, q, reduction="none", box_format=fmt)
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-9, atol=1e-14)


def test_torchvision_is_nan_where_ciou_of_a_flat_box_is_finite(tv):
    # h = 0: torchvision's value is finite (atan(inf) = pi/2) but its gradient
    # is NaN; fastloss gives the same value and a finite gradient
    t = np.array([[0.0, 0, 4, 2], [1, 1, 5, 6]])
    p = np.array([[0.5, 1, 3.5, 1], [2, 2, 4, 2]])
    want_l, want_g = _torchvision(tv, "box_ciou", t, p, "xyxy")
    got_l, got_g = fl.box_ciou.loss_grad(t, p, reduction="none")
    np.testing.assert_allclose(got_l, want_l, rtol=1e-12)
    assert np.isnan(want_g).any() and np.isfinite(got_g).all()


# --- closed forms -----------------------------------------------------------------------

EPS = 1e-7


# t = [0, 0, 1, 1] and p = [2, -1, 3, 2]: disjoint (I = 0), U = 1 + 3, the
# enclosing box [0, -1, 3, 2] (C = 9, squared diagonal 18), centres 2 apart
# along x.  Per coordinate of p (x1, y1, x2, y2): d area(p) and d C.
DISJOINT = (np.array([[0.0, 0, 1, 1]]), np.array([[2.0, -1, 3, 2]]))
D_AREA, D_C = np.array([-3.0, -1, 3, 1]), np.array([0.0, -3, 3, 3])


def test_disjoint_pairs_iou_is_one_without_gradient():
    val, g = fl.box_iou.loss_grad(*DISJOINT, reduction="none")
    assert val[0] == 1 and np.all(g == 0)


def test_disjoint_pairs_giou_closed_form():
    c, u = 9.0, 4.0
    val, g = fl.box_giou.loss_grad(*DISJOINT, reduction="none")
    np.testing.assert_allclose(val, 1 + (c - u) / (c + EPS), rtol=1e-15)
    # d/dq of (C - U) / (C + eps), with dU = d area(p) (I = 0)
    want = (D_C - D_AREA) / (c + EPS) - (c - u) * D_C / (c + EPS) ** 2
    np.testing.assert_allclose(g[0], want, rtol=1e-12)


def test_disjoint_pairs_diou_closed_form():
    rho2, c2 = 4.0, 18.0
    val, g = fl.box_diou.loss_grad(*DISJOINT, reduction="none")
    np.testing.assert_allclose(val, 1 + rho2 / (c2 + EPS), rtol=1e-15)
    # rho^2 = dx^2, dx = (x1 + x2) / 2 - 0.5: d rho^2 = 2 dx / 2 for x1 and x2;
    # c^2 = cw^2 + ch^2: d c^2 = 2 cw d cw (x2) and 2 ch d ch (y1, y2)
    d_rho2 = np.array([2.0, 0, 2, 0])
    d_c2 = np.array([0.0, -2 * 3, 2 * 3, 2 * 3])
    want = d_rho2 / (c2 + EPS) - rho2 * d_c2 / (c2 + EPS) ** 2
    np.testing.assert_allclose(g[0], want, rtol=1e-12, atol=1e-16)


def test_disjoint_pairs_ciou_adds_the_aspect_term():
    # w/h: 1/1 against 1/3
    theta = np.arctan(1.0) - np.arctan(1 / 3)
    v = 4 / np.pi**2 * theta**2
    alpha = v / (1 + v + EPS)
    np.testing.assert_allclose(fl.box_ciou(*DISJOINT), fl.box_diou(*DISJOINT) + alpha * v,
                               rtol=1e-14)


def test_nested_pair_closed_form():
    # p inside t: I = area(p), U = area(t); IoU loss 1 - a_p / (a_t + eps),
    # and the gradient moves p's corners outwards: d/dx1 = -(-h_p) / (a_t + eps)
    t, p = np.array([[0.0, 0, 10, 10]]), np.array([[2.0, 3, 6, 8]])
    val, g = fl.box_iou.loss_grad(t, p, reduction="none")
    np.testing.assert_allclose(val, 1 - 20 / (100 + EPS), rtol=1e-15)
    np.testing.assert_allclose(g[0], np.array([5, 4, -5, -4]) / (100 + EPS), rtol=1e-13)
    # the enclosing box is t itself, so GIoU = IoU here
    np.testing.assert_allclose(fl.box_giou(t, p), val[0], rtol=1e-15)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_identical_pairs_cost_nothing_and_get_no_gradient(name):
    t = np.array([[0.0, 0, 10, 10], [3, -2, 3.5, 40]])
    for fmt in FORMATS:
        y = _from_xyxy(t, fmt)
        val, g = _loss(name).loss_grad(y, y.copy(), reduction="none", box_format=fmt)
        a = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
        # eps / (a + eps), up to the rounding of 1 - IoU (as torchvision's)
        np.testing.assert_allclose(val, 1 - a / (a + EPS), rtol=1e-9, atol=2e-16)
        # ties split evenly: the one-sided gradients cancel up to eps terms
        assert np.abs(g).max() < 1e-7, fmt


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_zero_area_boxes_overlap_nothing(name):
    # A point or a segment has no area: IoU 0 even against an identical box
    # (torchvision #7746), and no NaN; a point inside a box costs 1 + the
    # penalty of its loss (GIoU: (C - U) / C = 0 here, C being the box).
    t = np.array([[1.0, 1, 1, 1], [0, 0, 4, 0], [0, 0, 4, 4]])
    p = np.array([[1.0, 1, 1, 1], [0, 0, 4, 0], [2, 2, 2, 2]])
    val, g = _loss(name).loss_grad(t, p, reduction="none")
    assert np.isfinite(val).all() and np.isfinite(g).all()
    np.testing.assert_allclose(val[:2], 1.0, rtol=1e-15)
    want = reference.loss_grad(name, t, p, reduction="none")
    np.testing.assert_allclose(val, want[0], rtol=1e-13)
    np.testing.assert_allclose(g, want[1], rtol=1e-12, atol=1e-15)


def test_ciou_of_flat_and_point_boxes_is_finite_and_matches_the_reference():
    t = np.array([[0.0, 0, 4, 2], [1, 1, 5, 6], [0, 0, 3, 3], [0, 0, 2, 2], [0, 0, 5, 0]])
    p = np.array([[0.5, 1, 3.5, 1], [2, 2, 4, 2], [1, 1, 1, 1], [5, 0, 5, 3], [1, 0, 4, 0]])
    val, g = fl.box_ciou.loss_grad(t, p, reduction="none")
    assert np.isfinite(val).all() and np.isfinite(g).all()
    want = reference.box_ciou(t, p)
    np.testing.assert_allclose(val, want[0], rtol=1e-13)
    np.testing.assert_allclose(g, want[1], rtol=1e-12, atol=1e-15)
    # a point prediction has no aspect: CIoU = DIoU there
    np.testing.assert_allclose(val[2], fl.box_diou(t[2:3], p[2:3]), rtol=1e-15)
    # the gradient is the derivative with alpha held (finite differences of
    # the reference with alpha frozen), also for the flat boxes (h = 0)
    value = reference.SURROGATES["box_ciou"]((t, p), {})
    fd = np.empty_like(p)
    for idx in np.ndindex(p.shape):
        if idx[1] in (1, 3) and p[idx[0], 3] == p[idx[0], 1]:
            continue  # h = 0: the heights cannot step down
        up, dn = p.copy(), p.copy()
        up[idx] += 1e-6
        dn[idx] -= 1e-6
        fd[idx] = (value(t, up, reduction="sum") - value(t, dn, reduction="sum")) / 2e-6
    ok = np.ones(p.shape, bool)
    ok[(p[:, 3] == p[:, 1])] = [True, False, True, False]
    np.testing.assert_allclose(g[ok], fd[ok], rtol=1e-5, atol=1e-8)


# --- degenerate boxes ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["y_true", "y_pred"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", BOX_LOSSES)
def test_degenerate_boxes_raise_naming_the_input_and_the_box(name, fmt, which):
    loss = _loss(name)
    y, p = draw(loss, {"box_format": fmt}, (3, 5, 4))
    bad = {"y_true": y, "y_pred": p}
    arr = bad[which] = bad[which].copy()
    if fmt == "xyxy":
        arr[1, 2, 2] = arr[1, 2, 0] - 1.0      # x2 < x1
    else:
        arr[1, 2, 3] = -0.5                    # h < 0
    for reduction in ("mean", "none"):
        with pytest.raises(ValueError, match=rf"{which} has 1 degenerate box.*{which}\[\(1, 2\)\]"):
            loss(bad["y_true"], bad["y_pred"], box_format=fmt, reduction=reduction)
    # with out=, the check comes first: the buffer is left as it was
    out = np.full(p.shape, 7.0)
    with pytest.raises(ValueError, match="degenerate"):
        loss.grad(bad["y_true"], bad["y_pred"], box_format=fmt, out=out)
    assert np.all(out == 7.0)


def test_xywh_boxes_passed_as_xyxy_are_caught_with_a_hint():
    y, p = draw(fl.box_giou, {"box_format": "xywh"}, (50, 4))
    with pytest.raises(ValueError, match="box_format='xywh'"):
        fl.box_giou(y, p)


def test_zero_width_and_height_are_not_degenerate():
    t = np.array([[0.0, 0, 0, 5], [0, 0, 5, 0]])
    for name in BOX_LOSSES:
        assert np.isfinite(_loss(name)(t, t + 1))


# --- NaN and inf -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", BOX_LOSSES)
def test_non_finite_coordinates_stay_in_their_box(name, fmt, bad):
    loss = _loss(name)
    y, p = draw(loss, {"box_format": fmt}, (9, 4), seed=5)
    want_l, want_g = loss.loss_grad(y, p, reduction="none", box_format=fmt)
    for which in ("y_true", "y_pred"):
        for j in range(4):            # every coordinate: no select may drop it
            yy, pp = y.copy(), p.copy()
            (yy if which == "y_true" else pp)[4, j] = bad
            if np.isinf(bad) and fmt != "xyxy" and j >= 2 and bad < 0:
                continue              # a negative size: degenerate, tested above
            if np.isinf(bad) and fmt == "xyxy" and (j >= 2) == (bad < 0):
                continue              # x2 = -inf < x1 (or x1 = inf > x2): degenerate
            val, g = loss.loss_grad(yy, pp, reduction="none", box_format=fmt)
            assert np.isnan(val[4]) and np.isnan(g[4]).all(), (which, j)
            keep = np.arange(9) != 4
            np.testing.assert_array_equal(val[keep], want_l[keep])
            np.testing.assert_array_equal(g[keep], want_g[keep])


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_formats_agree_through_the_chain_rule(name):
    loss = _loss(name)
    t, p = _varied_pairs(300, seed=6)
    l0, g0 = loss.loss_grad(t, p, reduction="none")
    gx1, gy1, gx2, gy2 = g0.T
    # xywh: x1 = a, x2 = a + w;  cxcywh: x1 = cx - w/2, x2 = cx + w/2
    jac = {"xywh": np.stack([gx1 + gx2, gy1 + gy2, gx2, gy2], axis=1),
           "cxcywh": np.stack([gx1 + gx2, gy1 + gy2, (gx2 - gx1) / 2, (gy2 - gy1) / 2],
                              axis=1)}
    for fmt, want_g in jac.items():
        val, g = loss.loss_grad(_from_xyxy(t, fmt), _from_xyxy(p, fmt), reduction="none",
                              box_format=fmt)
        np.testing.assert_allclose(val, l0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, want_g, rtol=1e-9, atol=1e-13)


def test_box_format_is_checked_and_case_insensitive():
    y, p = draw(fl.box_iou, {}, (4, 4))
    assert fl.box_iou(y, p, box_format="XYXY") == fl.box_iou(y, p)
    with pytest.raises(ValueError, match=r"box_format must be one of 'xyxy', 'xywh', 'cxcywh'.*"
                                         r"centre and size is 'cxcywh'"):
        fl.box_iou(y, p, box_format="center_xywh")
    with pytest.raises(ValueError, match="box_format"):
        fl.box_iou(y, p, box_format=None)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        fl.box_iou(y, p, eps=-1e-7)


def test_boxes_need_four_numbers_on_the_last_axis():
    for shape in [(5, 3), (3,), (2, 4, 5), ()]:
        with pytest.raises(ValueError, match=r"y_pred must hold boxes of 4 numbers"):
            fl.box_giou(np.zeros(shape), np.zeros(shape))
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape"):
        fl.box_giou(np.zeros((4, 4)), np.zeros((5, 4)))


def test_a_single_box_and_integer_boxes():
    t, p = [0, 0, 4, 4], [1.0, 1.0, 5.0, 5.0]
    val, g = fl.box_giou.loss_grad(t, p, reduction="none")
    assert val.shape == () and g.shape == (4,)
    want = fl.box_giou.loss_grad(np.array([t], float), np.array([p]), reduction="none")
    np.testing.assert_array_equal(val, want[0][0])
    np.testing.assert_array_equal(g, want[1][0])
    # integer targets with float32 predictions compute in float32
    l32 = fl.box_giou(np.array([t]), np.array([p], np.float32))
    assert l32.dtype == np.float32


def test_leading_axes_are_units_with_their_weights():
    loss = fl.box_diou
    y, p = draw(loss, {}, (4, 6, 4), seed=8)
    w = np.random.default_rng(0).uniform(0.5, 2, (4, 6))
    per_box, g = loss.loss_grad(y, p, sample_weight=w, reduction="none")
    assert per_box.shape == (4, 6) and g.shape == (4, 6, 4)
    flat = loss.loss_grad(y.reshape(-1, 4), p.reshape(-1, 4), sample_weight=w.reshape(-1),
                          reduction="none")
    np.testing.assert_array_equal(per_box.reshape(-1), flat[0])
    np.testing.assert_array_equal(g.reshape(-1, 4), flat[1])
    np.testing.assert_allclose(loss(y, p, sample_weight=w), per_box.sum() / w.sum(),
                               rtol=1e-13)


# --- numerics ---------------------------------------------------------------------------


def test_kernel_atan_is_within_two_ulp():
    mpmath = pytest.importorskip("mpmath")
    K = dispatch.kernels("_boxes")
    rng = np.random.default_rng(0)
    ratios = np.concatenate([10 ** rng.uniform(-12, 12, 3000), rng.uniform(0, 3, 3000),
                             np.tan(np.pi / 8) + rng.normal(0, 1e-6, 300),
                             1 / np.tan(np.pi / 8) + rng.normal(0, 1e-6, 300)])
    for dtype, max_ulp in ((np.float64, 2.0), (np.float32, 2.0)):
        den = rng.uniform(0.1, 10, ratios.size).astype(dtype)
        num = (ratios * den * rng.choice([-1, 1], ratios.size)).astype(dtype)
        got = K.atan_ratio(num, den).astype(np.float64)
        exact = np.array([float(mpmath.atan(mpmath.mpf(float(a)) / mpmath.mpf(float(b))))
                          for a, b in zip(num, den, strict=True)])
        ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
        assert np.max(np.abs(got - exact) / ulp) <= max_ulp, dtype
    # the limits: atan(+-x / 0) = +-pi/2, 0 / 0 = 0, NaN stays NaN
    for dtype in (np.float64, np.float32):
        got = K.atan_ratio(np.array([3, -3, 0, np.nan, 1], dtype),
                           np.array([0, 0, 0, 1, np.nan], dtype))
        np.testing.assert_array_equal(got[:3], np.array([np.pi / 2, -np.pi / 2, 0], dtype))
        assert np.isnan(got[3:]).all()


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_float32_pixel_coordinates_stay_accurate(name):
    # Boxes of a 4k image in float32: the loss within float32 rounding of the
    # float64 reference on the same (float32) numbers.
    loss = _loss(name)
    y, p = draw(loss, {}, (2000, 4), seed=9)
    y32, p32 = (y * 40).astype(np.float32), (p * 40).astype(np.float32)
    got_l, got_g = loss.loss_grad(y32, p32, reduction="none")
    want_l, want_g = reference.loss_grad(name, y32.astype(np.float64), p32.astype(np.float64),
                                         reduction="none")
    np.testing.assert_allclose(got_l, want_l, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-3, atol=1e-5 * np.abs(want_g).max())


@pytest.mark.skipif(not dispatch.HAVE_OPENMP, reason="built without OpenMP")
@pytest.mark.parametrize("name", BOX_LOSSES)
def test_block_edges_and_thread_counts_change_no_bit(name):
    loss = _loss(name)
    for n in (1, 511, 512, 513, 8191, 8193, 3 * 8192 + 17):
        dtype = np.float32 if n % 2 else np.float64
        y, p = draw(loss, {"box_format": "cxcywh"}, (n, 4), dtype, seed=n)
        w = np.random.default_rng(n).uniform(0.2, 2, n)
        results = []
        for k in (1, 2, 3, 5):
            with fl.threads(k):
                out = []
                for reduction in ("mean", "sum", "none"):
                    out += list(loss.loss_grad(y, p, sample_weight=w, reduction=reduction,
                                               box_format="cxcywh"))
                out.append(loss(y, p, box_format="cxcywh"))
                results.append(out)
        for other in results[1:]:
            for a, b in zip(results[0], other, strict=True):
                np.testing.assert_array_equal(a, b)
        want = reference.loss_grad(name, y.astype(np.float64), p.astype(np.float64),
                                   sample_weight=w, box_format="cxcywh")
        rtol = 2e-5 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(results[0][0], want[0], rtol=rtol)


def test_sum_of_many_boxes_is_accurate():
    # 3e5 identical pairs: the blocked float64 sum of float32 losses is n * l
    # to float32 rounding (a running float32 sum would be off by ~1e-3)
    t = np.tile(np.array([[0, 0, 10, 10]], np.float32), (300_000, 1))
    p = np.tile(np.array([[1, 2, 12, 11]], np.float32), (300_000, 1))
    one = float(fl.box_giou(t[:1], p[:1], reduction="sum"))
    total = float(fl.box_giou(t, p, reduction="sum"))
    assert math.isclose(total, 300_000 * one, rel_tol=6e-8)


def test_kernel_entry_rechecks_its_buffers():
    # The kernel skips bounds checks, so its entry checks what it relies on
    # and raises (never reads or writes out of bounds) when called directly.
    K = dispatch.kernels("_boxes")
    y, p = draw(fl.box_giou, {}, (8, 4))
    y, p = y.reshape(-1), p.reshape(-1)
    g = np.empty_like(p)
    calls = [
        lambda: K.run(1, 0, 1, y, p[:-4], None, 1e-7, None, g, 1.0, 1),        # sizes differ
        lambda: K.run(1, 0, 1, y, p[:-1], None, 1e-7, None, g[:-1], 1.0, 1),   # not 4 n
        lambda: K.run(1, 0, 1, y.astype(np.float32), p, None, 1e-7, None, g, 1.0, 1),
        lambda: K.run(1, 0, 1, y, p, np.ones(7), 1e-7, None, g, 1.0, 1),        # weights
        lambda: K.run(1, 0, 1, y, p, None, 1e-7, None, g[:-4], 1.0, 1),        # gradient
        lambda: K.run(1, 0, 1, y, p, None, 1e-7, None, None, 1.0, 1),
        lambda: K.run(1, 0, 1, y, p, None, 1e-7, np.empty(7), g, 1.0, 1),      # losses
        lambda: K.run(1, 0, 1, y, p, None, 1e-7, None, g[::-1], 1.0, 1),       # layout
        lambda: K.run(9, 0, 1, y, p, None, 1e-7, None, g, 1.0, 1),             # kernel id
        lambda: K.run(1, 3, 1, y, p, None, 1e-7, None, g, 1.0, 1),             # format id
        lambda: K.run(1, 0, 2, y, p, None, 1e-7, None, g, 1.0, 1),             # mode
        lambda: K.count_degenerate(p.astype(np.int64), 0),
    ]
    for call in calls:
        with pytest.raises((TypeError, ValueError), match="internal"):
            call()
    ro = g.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="not writable"):
        K.run(1, 0, 1, y, p, None, 1e-7, None, ro, 1.0, 1)


# --- invariances (hypothesis) --------------------------------------------------------

_PROPERTY_SETTINGS = dict(max_examples=25, deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize("name", BOX_LOSSES)
def test_losses_are_symmetric_bounded_and_invariant_to_moves(name):
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    loss = _loss(name)
    # IoU in [0, 1]; the GIoU and DIoU penalties below 1; CIoU's alpha v <= 1
    upper = {"box_iou": 1.0, "box_giou": 2.0, "box_diou": 2.0, "box_ciou": 3.0}[name]

    @hypothesis.settings(**_PROPERTY_SETTINGS)
    @hypothesis.given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40),
                      shift=st.floats(-1e3, 1e3), scale=st.floats(1e-2, 1e2))
    def check(seed, n, shift, scale):
        t, p = _varied_pairs(n, seed)
        per_box, g = loss.loss_grad(t, p, reduction="none", eps=0.0)
        assert np.all(per_box >= -1e-15) and np.all(per_box <= upper)
        # the loss is symmetric (the gradient is w.r.t. its second argument)
        np.testing.assert_allclose(loss(p, t, reduction="none", eps=0.0), per_box,
                                   rtol=1e-12, atol=1e-15)
        # moving both boxes changes nothing; scaling both by s divides the
        # gradient by s (with eps = 0, which has units of area)
        moved = loss.loss_grad(t + shift, p + shift, reduction="none", eps=0.0)
        np.testing.assert_allclose(moved[0], per_box, rtol=1e-9, atol=1e-11)
        scaled = loss.loss_grad(t * scale, p * scale, reduction="none", eps=0.0)
        np.testing.assert_allclose(scaled[0], per_box, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(scaled[1] * scale, g, rtol=1e-9,
                                   atol=1e-12 * np.abs(g).max())

    check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sampler_keeps_tests_off_ties_and_kinks(fmt):
    # what the generic tests rely on: half the pairs overlap (by >= 1 in both
    # extents), half are apart (by >= 1), and no corner is within 0.01 of its
    # target's, so finite differences never cross a max/min switch
    y, p = fl.box_giou.sample({"box_format": fmt}, (20_001, 4), seed=4)
    t, q = reference.detection._corners(y, fmt), reference.detection._corners(p, fmt)
    iw = np.minimum(t[2], q[2]) - np.maximum(t[0], q[0])
    ih = np.minimum(t[3], q[3]) - np.maximum(t[1], q[1])
    overlap = (iw > 0) & (ih > 0)
    assert abs(overlap.mean() - 0.5) < 1e-4
    assert np.minimum(iw, ih)[overlap].min() >= 1
    assert np.maximum(-iw, -ih)[~overlap].min() >= 1
    assert min(np.abs(a - b).min() for a, b in zip(t, q, strict=True)) >= 0.009
