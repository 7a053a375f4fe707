"""Embedding and ranking losses: framework semantics and the edges of their domains.

The registry-wide tests (test_losses.py) compare every example against
fastloss.reference and finite differences, and test_peers.py against the torch
composites of fastloss.peers on random data.  This file pins down what those
cannot: torch's autograd at its edges (zero vectors, identical rows, distances
and cosines exactly at the margin, swap ties), written-out closed forms, label
validation, the blocked InfoNCE / NT-Xent (block boundaries, thread counts,
peak memory), and float32 against torch.  Tests needing torch skip without it.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastloss as fl
from fastloss import peers, reference
from fastloss.families import embedding as fam

BIG = os.environ.get("FASTLOSS_BIG_TESTS", "0") not in ("0", "")


def _grads(g):
    return g if isinstance(g, tuple) else (g,)


def _torch():
    return pytest.importorskip("torch")


def _autograd(fn, inputs, wrt):
    """(mean loss, grads) of a torch function of float64 tensors, by autograd."""
    torch = _torch()
    ts = [torch.tensor(np.asarray(a, np.float64)) for a in inputs]
    for i in wrt:
        ts[i].requires_grad_(True)
    v = fn(*ts)
    v.backward()
    return v.item(), tuple(ts[i].grad.numpy() for i in wrt)


def _agree(loss, inputs, fn, params=None, rtol=1e-12, atol=1e-15):
    """loss on inputs equals torch's fn (a mean) in value and every gradient."""
    params = params or {}
    wrt = [loss.inputs.index(w) for w in loss.wrt]
    want_l, want_g = _autograd(fn, inputs, wrt)
    got_l, got_g = loss.loss_grad(*inputs, **params)
    np.testing.assert_allclose(got_l, want_l, rtol=rtol, atol=atol)
    for name, a, b in zip(loss.wrt, _grads(got_g), want_g, strict=True):
        assert np.all(np.isfinite(a)), name
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


# --- triplet ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("eps", [1e-6, 0.0])
def test_triplet_equals_torch(p, swap, eps):
    F = _torch().nn.functional
    a, q, n = fl.triplet.sample({}, (40, 7), seed=3)
    kw = dict(margin=0.7, p=p, eps=eps, swap=swap)
    _agree(fl.triplet, (a, q, n), lambda *t: F.triplet_margin_loss(*t, **kw), kw,
           rtol=1e-11)


def test_triplet_identical_rows_have_finite_gradients_as_torch():
    # a == p: D(a, p) = ||eps||_p, or exactly 0 with eps = 0, where a norm's
    # gradient is 0 (torch's norm backward); a == n too: the loss is the margin
    F = _torch().nn.functional
    a = np.random.default_rng(0).normal(size=(4, 5))
    for eps in (1e-6, 0.0):
        for p in (1.0, 2.0, 3.0):
            kw = dict(eps=eps, p=p)
            for n in (a + 0.5, a.copy()):
                _agree(fl.triplet, (a, a.copy(), n),
                       lambda *t, kw=kw: F.triplet_margin_loss(*t, **kw), kw, rtol=1e-11)
            loss, g = fl.triplet.loss_grad(a, a.copy(), a.copy(), **kw)
            assert loss == pytest.approx(1.0)
            if eps == 0:
                assert all(np.all(gi == 0) for gi in g)


def test_triplet_exactly_at_the_margin_has_zero_gradient_as_torch():
    # D(a, p) = 1, D(a, n) = 2, margin 1: l = max(0, 0) and torch's gradient is 0
    F = _torch().nn.functional
    a = np.array([[0.0, 0.0], [0.0, 0.0]])
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    n = np.array([[2.0, 0.0], [0.0, 2.0]])
    for norm in (1.0, 2.0, 3.0):
        kw = dict(margin=1.0, eps=0.0, p=norm)
        _agree(fl.triplet, (a, p, n), lambda *t, kw=kw: F.triplet_margin_loss(*t, **kw), kw)
        assert fl.triplet(a, p, n, **kw) == 0
        assert all(np.all(g == 0) for g in fl.triplet.grad(a, p, n, **kw))


def test_triplet_swap_tie_splits_the_gradient_as_torch():
    # D(a, n) == D(p, n) exactly: torch's minimum gives each half the gradient
    F = _torch().nn.functional
    a = np.array([[0.0, 0.0]])
    p = np.array([[2.0, 0.0]])
    n = np.array([[1.0, 3.0]])
    kw = dict(margin=5.0, eps=0.0, swap=True)
    _agree(fl.triplet, (a, p, n), lambda *t: F.triplet_margin_loss(*t, **kw), kw)
    g_a, g_p, g_n = fl.triplet.grad(a, p, n, **kw)
    u_an, u_pn = (a - n) / np.sqrt(10), (p - n) / np.sqrt(10)
    np.testing.assert_allclose(g_n, 0.5 * u_an + 0.5 * u_pn, rtol=1e-15)


def test_triplet_rejects_what_torch_rejects_and_p_below_one():
    x = np.ones((2, 3))
    for kw in ({"margin": 0.0}, {"margin": -1.0}, {"p": 0.5}, {"p": np.inf}, {"eps": -1e-6}):
        (key,) = kw
        with pytest.raises(ValueError, match=key):
            fl.triplet(x, x, x, **kw)


def test_triplet_closed_form():
    # one triplet on a line: D(a, p) = |a - p + eps|, l = margin + D_ap - D_an
    a, p, n = np.array([[0.0]]), np.array([[0.5]]), np.array([[1.5]])
    loss, (ga, gp, gn) = fl.triplet.loss_grad(a, p, n, margin=2.0, eps=0.0)
    assert loss == 2.0 + 0.5 - 1.5
    # G(a, p) = sign(a - p) = -1 = G(a, n): g_a = G_ap - G_an, g_p = -G_ap, g_n = G_an
    np.testing.assert_array_equal(np.concatenate([ga, gp, gn]), [[0.0], [1.0], [-1.0]])


# --- cosine losses -----------------------------------------------------------------------


def test_cosine_embedding_equals_torch_with_zero_vectors_and_both_labels():
    F = _torch().nn.functional
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(12, 6)), rng.normal(size=(12, 6))
    x1[0] = 0
    x2[1] = 0
    x1[2] = x2[2] = 0
    y = np.tile([1.0, -1.0], 6)
    for margin in (0.0, -0.3, 0.4):
        _agree(fl.cosine_embedding, (x1, x2, y),
               lambda a, b, t, m=margin: F.cosine_embedding_loss(a, b, t, margin=m),
               {"margin": margin})


def test_cosine_embedding_at_the_margin_has_zero_gradient_as_torch():
    # orthogonal rows: cos = 0 = margin for y = -1
    F = _torch().nn.functional
    x1, x2, y = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]]), np.array([-1.0])
    _agree(fl.cosine_embedding, (x1, x2, y), lambda *t: F.cosine_embedding_loss(*t))
    assert all(np.all(g == 0) for g in fl.cosine_embedding.grad(x1, x2, y))


def test_cosine_embedding_labels_must_be_plus_or_minus_one():
    x = np.ones((3, 2))
    for bad in ([1.0, 0.0, -1.0], [1, 2, -1], [1.0, -1.0, 0.5]):
        with pytest.raises(ValueError, match=r"y must hold 1 .* or -1"):
            fl.cosine_embedding(x, x, np.array(bad))
    # integer and boolean-free label arrays of the right values are fine
    assert np.isfinite(fl.cosine_embedding(x, x, np.array([1, -1, 1])))
    # a NaN label propagates to its row only
    per_row = fl.cosine_embedding(x, x, np.array([1.0, np.nan, -1.0]), reduction="none")
    assert np.isnan(per_row[1]) and np.isfinite(per_row[[0, 2]]).all()


def _keras_cosine(t, p):
    torch = _torch()

    def unit(v):
        return v * torch.rsqrt(torch.clamp((v * v).sum(-1, keepdim=True), min=1e-12))

    return -(unit(t) * unit(p)).sum(-1).mean()


def test_cosine_similarity_is_keras_sign_and_clamp_with_zero_vectors():
    rng = np.random.default_rng(2)
    t, p = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    t[0] = 0
    p[1] = 0
    p[2] = 1e-8  # below the clamp: the norm is constant there
    _agree(fl.cosine_similarity, (t, p), _keras_cosine)
    per_row = fl.cosine_similarity(t, p, reduction="none")
    assert per_row[0] == 0 and per_row[1] == 0
    np.testing.assert_allclose(fl.cosine_similarity(p[3:], p[3:], reduction="none"), -1,
                               rtol=1e-15)


def test_cosine_similarity_gradient_of_a_zero_prediction_is_that_of_the_clamp():
    # Within |p|^2 < 1e-12 the loss is linear in p, -(t . p) / (|t| 1e-6):
    # finite differences with a step inside that region are exact.
    t = np.array([[3.0, 4.0]])
    p = np.zeros((1, 2))
    g = fl.cosine_similarity.grad(t, p, reduction="sum")
    np.testing.assert_allclose(g, -t / 5.0 / 1e-6, rtol=1e-15)
    h = 1e-9
    fd = [(fl.cosine_similarity(t, p + h * e, reduction="sum")
           - fl.cosine_similarity(t, p - h * e, reduction="sum")) / (2 * h)
          for e in np.eye(2)[:, None, :]]
    np.testing.assert_allclose(g.ravel(), fd, rtol=1e-6)


# --- contrastive ---------------------------------------------------------------------------


def _torch_contrastive(d, y, margin):
    F = _torch().nn.functional
    return (y * d**2 + (1 - y) * F.relu(margin - d) ** 2).mean()


def test_contrastive_embedding_identical_rows_and_the_margin():
    F = _torch().nn.functional
    rng = np.random.default_rng(4)
    x1 = rng.normal(size=(8, 3))
    x2 = x1.copy()
    x2[4:] = x1[4:] + np.array([1.0, 0.0, 0.0])  # distance exactly 1 (eps = 0) = margin
    y = np.array([1.0, 0.0, 0.3, 0.0, 1.0, 0.0, 0.5, 0.0])
    for eps in (1e-6, 0.0):
        _agree(fl.contrastive_embedding, (x1, x2, y),
               lambda a, b, t, e=eps: _torch_contrastive(F.pairwise_distance(a, b, eps=e), t,
                                                         1.0),
               {"eps": eps})
    g1, g2 = fl.contrastive_embedding.grad(x1, x2, y, eps=0.0)
    assert np.all(g1[[0, 1, 3, 5, 7]] == 0) and np.all(g1 == -g2)  # D = 0 or D = margin


def test_contrastive_on_distances_closed_form_and_torch():
    y = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.25])
    d = np.array([0.5, 0.5, 1.0, 2.0, 0.0, 0.25])
    loss, g = fl.contrastive.loss_grad(y, d, reduction="none")
    np.testing.assert_array_equal(loss, [0.25, 0.25, 0.0, 0.0, 0.0,
                                         0.25 * 0.0625 + 0.75 * 0.5625])
    np.testing.assert_array_equal(g, [1.0, -1.0, 0.0, 0.0, 0.0, 0.125 - 1.125])
    _agree(fl.contrastive, (y, d), lambda t, dd: _torch_contrastive(dd, t, 1.0))
    _, h = fl.contrastive.grad_hess(y, d)
    np.testing.assert_array_equal(h, [2.0, 2.0, 0.0, 0.0, 2.0, 0.5 + 1.5])


def test_contrastive_labels_and_distances_are_checked():
    with pytest.raises(ValueError, match="y must lie in"):
        fl.contrastive_embedding(np.ones((2, 3)), np.zeros((2, 3)), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="distance must lie in"):
        fl.contrastive(np.array([1.0]), np.array([-0.5]))


# --- margin ranking ---------------------------------------------------------------------------

RANKING_LABELS = r"y must hold 1 \(x1 should rank higher\) or -1"


def test_margin_ranking_equals_torch_including_ties_at_the_margin():
    F = _torch().nn.functional
    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(size=(50,)), rng.normal(size=(50,))
    y = rng.choice([-1.0, 1.0], size=50)
    x1[:10] = rng.integers(-8, 8, size=10) / 4
    x2[:10] = x1[:10] - y[:10] * 0.5  # exactly: u = 0.5 - y (x1 - x2) = 0
    for margin in (0.0, 0.5):
        _agree(fl.margin_ranking, (x1, x2, y),
               lambda a, b, t, m=margin: F.margin_ranking_loss(a, b, t, margin=m),
               {"margin": margin})
    g1, g2 = fl.margin_ranking.grad(x1, x2, y, margin=0.5)
    assert np.all(g1[:10] == 0) and np.all(g1 == -g2)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_margin_ranking_checks_every_label_in_its_pass_and_out_is_untouched(n_threads):
    rng = np.random.default_rng(6)
    n = 300_001
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = rng.choice([-1.0, 1.0], size=n)
    for pos, bad in ((0, 0.0), (n // 2, 2.0), (n - 1, np.inf), (123_457, -1.0000001)):
        yb = y.copy()
        yb[pos] = bad
        with fl.threads(n_threads):
            with pytest.raises(ValueError, match=RANKING_LABELS):
                fl.margin_ranking.loss_grad(x1, x2, yb)
            with pytest.raises(ValueError, match=RANKING_LABELS):
                fl.margin_ranking(x1, x2, yb.astype(np.float32), reduction="none")
        outs = (np.full(n, 7.0), np.full(n, 7.0))
        with pytest.raises(ValueError, match=RANKING_LABELS):
            fl.margin_ranking.loss_grad(x1, x2, yb, out=outs)
        assert all((o == 7.0).all() for o in outs)
    yn = y.copy()
    yn[5] = np.nan  # NaN labels propagate instead
    assert np.isnan(fl.margin_ranking(x1, x2, yn, reduction="none")[5])


# --- float32 against torch -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["triplet", "cosine_embedding", "contrastive_embedding",
                                  "cosine_similarity", "margin_ranking", "contrastive",
                                  "info_nce", "nt_xent"])
def test_float32_matches_torch_in_float32(name):
    _torch()
    loss = fl.get(name)
    fn = peers.for_loss(loss, {})["torch"]
    shape = loss.shapes.get("peers", loss.shapes["test"][-1])
    inputs = loss.sample({}, shape, np.float32, seed=8)
    got_l, got_g = loss.loss_grad(*inputs)
    assert np.asarray(got_l).dtype == np.float32
    want_l, want_g = fn(*inputs)
    np.testing.assert_allclose(got_l, want_l, rtol=2e-6, atol=1e-7)
    for a, b in zip(_grads(got_g), want_g, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6 * np.abs(b).max())


# --- InfoNCE and NT-Xent ---------------------------------------------------------------------


def _torch_info_nce(t=0.1, normalize=True, symmetric=False):
    torch = _torch()
    F = torch.nn.functional

    def f(q, k):
        if normalize:
            q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        logits = q @ k.T / t
        labels = torch.arange(q.shape[0])
        loss = F.cross_entropy(logits, labels)
        return (loss + F.cross_entropy(logits.T, labels)) / 2 if symmetric else loss

    return f


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_equals_torch_with_zero_and_identical_rows(symmetric, normalize):
    rng = np.random.default_rng(9)
    q, k = rng.normal(size=(20, 6)), rng.normal(size=(20, 6))
    if normalize:
        q[3] = 0  # a zero query: normalised to 0, gradient v / 1e-12 (finite)
        k[5] = 0
    k[7] = q[7]  # identical pair
    k[8] = k[9]  # two identical keys
    kw = dict(symmetric=symmetric, normalize=normalize, temperature=0.3 if normalize else 3.0)
    _agree(fl.info_nce, (q, k),
           _torch_info_nce(kw["temperature"], normalize, symmetric), kw, rtol=1e-11)


def test_nt_xent_equals_torch_and_its_units_are_the_2n_rows():
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    z1, z2 = rng.normal(size=(15, 4)), rng.normal(size=(15, 4))
    z2[2] = z1[2]

    def f(a, b, t=0.2):
        z = F.normalize(torch.cat([a, b]), dim=1)
        s = (z @ z.T / t).masked_fill(torch.eye(30, dtype=torch.bool), float("-inf"))
        labels = torch.cat([torch.arange(15, 30), torch.arange(15)])
        return F.cross_entropy(s, labels)

    _agree(fl.nt_xent, (z1, z2), f, {"temperature": 0.2}, rtol=1e-11)
    per_row = fl.nt_xent(z1, z2, temperature=0.2, reduction="none")
    assert per_row.shape == (30,)
    w = np.arange(30) + 1.0
    np.testing.assert_allclose(fl.nt_xent(z1, z2, temperature=0.2, sample_weight=w),
                               (w * per_row).sum() / w.sum(), rtol=1e-14)


def test_symmetric_info_nce_is_the_mean_of_both_directions():
    q, k = fl.info_nce.sample({}, (17, 5), seed=11)
    both = fl.info_nce(q, k, symmetric=True, reduction="none")
    np.testing.assert_allclose(
        both, (fl.info_nce(q, k, reduction="none") + fl.info_nce(k, q, reduction="none")) / 2,
        rtol=1e-13)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few rows, so that small inputs run through many blocks."""
    monkeypatch.setattr(fam, "MIN_BLOCK_ROWS", 1)
    monkeypatch.setattr(fam, "BLOCK_BYTES", 7 * 8 * 40)


@pytest.mark.parametrize("name,params", [("info_nce", {}), ("info_nce", {"symmetric": True}),
                                         ("info_nce", {"normalize": False, "temperature": 2.0}),
                                         ("nt_xent", {})])
def test_blocked_losses_across_many_blocks(small_blocks, name, params):
    # 40 rows (80 for NT-Xent) in blocks of 7 (3 for NT-Xent), uneven last blocks
    loss = fl.get(name)
    inputs = loss.sample(params, (40, 6), seed=12)
    w = np.random.default_rng(0).uniform(0.5, 2, size=80 if name == "nt_xent" else 40)
    assert fam.block_rows(40, 80 if name == "nt_xent" else 40, 8) < 10
    for reduction in ("mean", "sum", "none"):
        got = loss.loss_grad(*inputs, sample_weight=w, reduction=reduction, **params)
        want = reference.loss_grad(name, *inputs, sample_weight=w, reduction=reduction, **params)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        for a, b in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
    with fl.threads(1):
        one = loss.loss_grad(*inputs, **params)
    with fl.threads(2):
        two = loss.loss_grad(*inputs, **params)
    assert one[0] == two[0]
    for a, b in zip(one[1], two[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert loss(*inputs, **params) == one[0]


def test_blocked_losses_do_not_depend_on_fastloss_threads_on_large_blocks():
    # blocks of 256 x 1200 logits: the softmax and normalisation loops run on
    # two threads; the matrix products (NumPy's BLAS) are not affected
    for name in ("info_nce", "nt_xent"):
        loss = fl.get(name)
        inputs = loss.sample({}, (1200, 24), seed=13)
        with fl.threads(1):
            one = loss.loss_grad(*inputs)
        with fl.threads(2):
            two = loss.loss_grad(*inputs)
        assert one[0] == two[0]
        for a, b in zip(one[1], two[1], strict=True):
            np.testing.assert_array_equal(a, b)


_PEAK = textwrap.dedent("""
    import sys
    import numpy as np
    import fastloss as fl

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    name, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    fl.get(name).loss_grad(a[:300], b[:300])  # BLAS threads and buffers up
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark to the current RSS
    before = status("VmRSS")
    loss, grads = fl.get(name).loss_grad(a, b)
    print(status("VmHWM") - before, float(loss))
""")


def _peak_extra(name, n, d):
    if not sys.platform.startswith("linux"):
        pytest.skip("peak RSS is read from /proc")
    # -P and cwd="/": import the installed fastloss, not the source tree
    r = subprocess.run([sys.executable, "-P", "-c", _PEAK, name, str(n), str(d)],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    extra, loss = r.stdout.split()
    return int(extra), float(loss)


@pytest.mark.parametrize("name,n", [("info_nce", 16384), ("nt_xent", 8192)])
def test_blocked_losses_never_hold_the_logits(name, n):
    # 16384 rows of logits (NT-Xent: 2 x 8192): the dense matrix would be
    # 2 GiB in float64.  d = 8 keeps the matrix products short.  The memory is
    # one block of logits, a few m x d arrays (copies, outputs, the
    # accumulator) and what OpenBLAS allocates for its threads (tens of MB).
    d, m = 8, 16384
    extra, loss = _peak_extra(name, n, d)
    block = fam.block_rows(n, m, 8) * m * 8
    assert np.isfinite(loss)
    assert extra < block + 8 * m * d * 8 + (128 << 20), extra / 2**20


@pytest.mark.skipif(not BIG, reason="tens of seconds of matrix products; set "
                                    "FASTLOSS_BIG_TESTS=1")
def test_info_nce_32768_by_256_in_less_than_512_mb():
    extra, loss = _peak_extra("info_nce", 32768, 256)
    assert np.isfinite(loss)
    assert extra < 512 << 20, extra / 2**20
