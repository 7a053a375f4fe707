"""fastloss.torch: autograd, torch.compile and opcheck for every registered loss.

Generic over the registry: every loss, with every keyword set in its
`examples` and inputs from its own sampler, is checked by gradcheck (both the
eager autograd.Function route and the custom op), opcheck and
torch.compile; losses torch has natively are compared with torch's numbers.
Skipped without PyTorch.
"""

import subprocess
import sys

import numpy as np
import pytest
from helpers import LOSSES, cases, grads, unit_weights, wrt_index

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastloss as fl  # noqa: E402
import fastloss.torch as flt  # noqa: E402
from fastloss import reference  # noqa: E402

# Losses whose units come in groups (loss.unit_groups: tuples of results and
# weights) have no torch operator; test_grouped_losses_are_refused checks that.
TAKEN = lambda loss: loss.unit_groups is None  # noqa: E731
CASES = cases(TAKEN)
# gradcheck differentiates the value itself; a loss whose gradient is by
# definition that of a surrogate (CIoU holds alpha constant, as torchvision
# does) is checked against its surrogate's finite differences in
# test_losses.py, and here against loss.grad (the backward tests below).
GRADCHECK = cases(lambda loss: TAKEN(loss) and loss.name not in reference.SURROGATES)
REDUCTIONS = ["mean", "sum", "none"]


def _tensors(inputs, dtype=None):
    """Sampled inputs as tensors; float inputs of `dtype` when given."""
    out = []
    for a in inputs:
        a = np.asarray(a)
        if dtype is not None and a.dtype.kind == "f":
            a = a.astype(dtype)
        out.append(torch.from_numpy(a.copy()))
    return out


def _sample(name, params, shape_key="fd", seed=0):
    """(loss, inputs as tensors) of a shape from loss.shapes (the last of a list)."""
    loss = LOSSES[name]
    shape = loss.shapes[shape_key]
    shape = shape[-1] if isinstance(shape, list) else shape
    return loss, _tensors(loss.sample(params, shape, seed=seed))


def _closure(fn, loss, ts, **kw):
    """f(*wrt tensors) -> loss, the other inputs held fixed."""
    idx = wrt_index(loss)

    def f(*xs):
        args = list(ts)
        for i, x in zip(idx, xs, strict=True):
            args[i] = x
        return fn(*args, **kw)

    return f, [ts[i].clone().requires_grad_(True) for i in idx]


@pytest.fixture(params=["eager", "custom_op"])
def route(request, monkeypatch):
    """Both call routes: plain eager (autograd.Function) and the custom op."""
    if request.param == "custom_op":
        monkeypatch.setattr(flt, "_plain", lambda tensors: False)
    return request.param


# -- gradients --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", GRADCHECK)
def test_gradcheck(name, params, reduction, route):
    loss, ts = _sample(name, params)
    fn = flt.function(name)
    for w in (None, torch.from_numpy(unit_weights(loss, ts, params))):
        f, xs = _closure(fn, loss, ts, sample_weight=w, reduction=reduction, **params)
        assert torch.autograd.gradcheck(f, xs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name,params", GRADCHECK)
def test_gradcheck_of_the_weighted_sum_route(name, params, route, monkeypatch):
    # reduction="none" on losses whose units interact (or are not laid out
    # along the leading axes) takes the backward pass that recomputes the
    # gradient of the cotangent-weighted sum; force it on every loss.
    loss, ts = _sample(name, params)
    monkeypatch.setattr(loss, "unit_local", False)
    fn = flt.function(name)
    for w in (None, torch.from_numpy(unit_weights(loss, ts, params))):
        f, xs = _closure(fn, loss, ts, sample_weight=w, reduction="none", **params)
        assert torch.autograd.gradcheck(f, xs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("name,params", CASES)
def test_values_and_gradients_equal_fastloss(name, params, route):
    # The adapter hands back exactly fastloss's numbers (bitwise), float32
    # and float64, for every reduction.
    loss = LOSSES[name]
    fn = flt.function(name)
    for dtype in (np.float32, np.float64):
        inputs = loss.sample(params, loss.shapes["test"][-1], dtype=dtype, seed=3)
        for reduction in REDUCTIONS:
            want_l, want_g = loss.loss_grad(*inputs, reduction=reduction, **params)
            f, xs = _closure(fn, loss, _tensors(inputs), reduction=reduction, **params)
            value = f(*xs)
            np.testing.assert_array_equal(value.detach().numpy(), want_l)
            assert value.dtype == getattr(torch, np.dtype(dtype).name)
            value.sum().backward() if reduction == "none" else value.backward()
            for x, g in zip(xs, grads(want_g), strict=True):
                if reduction == "none" and loss.unit_local:
                    # d sum_i l_i: the per-unit gradients, exactly
                    np.testing.assert_array_equal(x.grad.numpy(), g)
                elif reduction != "none":
                    np.testing.assert_array_equal(x.grad.numpy(), g)
                assert x.grad.dtype == x.dtype


@pytest.mark.parametrize("name,params", CASES)
def test_backward_scales_by_the_incoming_gradient(name, params, route):
    # A non-trivial, non-contiguous grad_output: 3 * loss (0-d) and, for
    # "none", a cotangent taken from a transposed tensor.
    loss, ts = _sample(name, params, "fd", seed=4)
    fn = flt.function(name)
    want = [g * 3 for g in grads(loss.grad(*[t.numpy() for t in ts], **params))]
    f, xs = _closure(fn, loss, ts, **params)
    (3 * f(*xs)).backward()
    for x, g in zip(xs, want, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-13, atol=1e-16)
    f, xs = _closure(fn, loss, ts, reduction="none", **params)
    value = f(*xs)
    c = torch.randn(tuple(value.shape) + (2,), dtype=value.dtype)[..., 0]  # strided
    w = c.numpy()
    w_pos, w_neg = np.maximum(w, 0), np.maximum(-w, 0)
    arrays = [t.numpy() for t in ts]
    want = [a - b for a, b in zip(
        grads(loss.grad(*arrays, sample_weight=w_pos, reduction="sum", **params)),
        grads(loss.grad(*arrays, sample_weight=w_neg, reduction="sum", **params)),
        strict=True)]
    torch.autograd.backward(value, c)
    for x, g in zip(xs, want, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-12, atol=1e-15)


def test_mixed_dtypes_give_gradients_of_the_input_dtype():
    y = torch.randn(20, dtype=torch.float64)
    p = torch.randn(20, dtype=torch.float32, requires_grad=True)
    v = flt.huber(y, p)
    assert v.dtype == torch.float64  # fastloss computes in float64 here
    v.backward()
    assert p.grad.dtype == torch.float32
    want = fl.huber.grad(y.numpy(), p.detach().numpy())
    np.testing.assert_allclose(p.grad.numpy(), want.astype(np.float32))


def test_differentiable_once(route):
    y = torch.randn(10, dtype=torch.float64)
    p = torch.randn(10, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(flt.log_cosh(y, p), p, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiable once"):
        g.sum().backward()


# -- zero copy ----------------------------------------------------------------------------


def test_zero_copy_both_ways(monkeypatch):
    loss = fl.mean_squared_error
    y = torch.randn(1000, dtype=torch.float32)
    p = torch.randn(1000, dtype=torch.float32, requires_grad=True)
    seen = {}
    real = loss.loss_grad  # the instance's own (the compiled call path's) method

    def spy(*arrays, **kw):
        seen["arrays"] = arrays
        seen["result"] = real(*arrays, **kw)
        return seen["result"]

    monkeypatch.setattr(loss, "loss_grad", spy)
    value = flt.mse(y, p)
    assert np.shares_memory(seen["arrays"][0], y.numpy())
    assert np.shares_memory(seen["arrays"][1], p.detach().numpy())
    value.backward()
    # loss.backward(): the fused gradient itself becomes p.grad, uncopied
    assert np.shares_memory(p.grad.numpy(), seen["result"][1])
    per_element = flt.mse(y, p, reduction="none")
    assert np.shares_memory(per_element.detach().numpy(), seen["result"][0])


def test_non_contiguous_inputs():
    y = torch.randn(6, 9, dtype=torch.float64).T
    p = torch.randn(6, 9, dtype=torch.float64).T.requires_grad_(True)
    flt.huber(y, p).backward()
    want = fl.huber.grad(np.ascontiguousarray(y.numpy()), np.ascontiguousarray(p.detach().numpy()))
    np.testing.assert_array_equal(p.grad.numpy(), want)


# -- agreement with torch's own losses ---------------------------------------------------


def _tv():
    return pytest.importorskip("torchvision").ops


def _ce(x, t, reduction, **kw):
    return F.cross_entropy(x, t, reduction=reduction, **kw)


def _kl_div(x, t, reduction):
    # torch's "batchmean" is fastloss's mean over rows; its "none" is per element
    if reduction == "none":
        return F.kl_div(x, t, reduction="none").sum(dim=-1)
    return F.kl_div(x, t, reduction="batchmean" if reduction == "mean" else "sum")


#: (fastloss name, keywords, native(inputs as tensors, reduction, keywords) -> value).
#: Inputs are in fastloss's order; entries apply where the loss is registered.
NATIVE = [
    ("mean_squared_error", {}, lambda a, r, k: F.mse_loss(a[1], a[0], reduction=r)),
    ("mean_absolute_error", {}, lambda a, r, k: F.l1_loss(a[1], a[0], reduction=r)),
    ("huber", {"delta": 0.3},
     lambda a, r, k: F.huber_loss(a[1], a[0], reduction=r, delta=k["delta"])),
    ("poisson", {"log_input": True},
     lambda a, r, k: F.poisson_nll_loss(a[1], a[0], log_input=True, reduction=r)),
    ("poisson", {"eps": 1e-6},
     lambda a, r, k: F.poisson_nll_loss(a[1], a[0], log_input=False, eps=1e-6,
                                        reduction=r)),
    ("binary_crossentropy", {"from_logits": True},
     lambda a, r, k: F.binary_cross_entropy_with_logits(a[1], a[0], reduction=r)),
    ("binary_crossentropy", {"from_logits": True, "pos_weight": np.array([0.5, 2.0, 1.5, 3.0])},
     lambda a, r, k: F.binary_cross_entropy_with_logits(
         a[1], a[0], reduction=r, pos_weight=torch.from_numpy(k["pos_weight"]))),
    ("binary_crossentropy", {},
     lambda a, r, k: F.binary_cross_entropy(a[1], a[0], reduction=r)),
    ("sparse_categorical_crossentropy", {"from_logits": True},
     lambda a, r, k: _ce(a[1], a[0], r)),
    ("sparse_categorical_crossentropy",
     {"from_logits": True, "label_smoothing": 0.1, "class_weight": np.array([1., 2, .5, 1, 3])},
     lambda a, r, k: _ce(a[1], a[0], r, label_smoothing=0.1,
                              weight=torch.from_numpy(k["class_weight"]))),
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_index": 2},
     lambda a, r, k: _ce(a[1], a[0], r, ignore_index=2)),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.2},
     lambda a, r, k: _ce(a[1], a[0], r, label_smoothing=0.2)),
    ("kl_divergence", {"log_input": True}, lambda a, r, k: _kl_div(a[1], a[0], r)),
    ("binary_focal_crossentropy", {"from_logits": True, "alpha": 0.25, "gamma": 1.5},
     lambda a, r, k: _tv().sigmoid_focal_loss(a[1], a[0], alpha=0.25, gamma=1.5, reduction=r)),
    # later families, by API.md's definitions (active once registered)
    ("triplet", {"margin": 0.5},
     lambda a, r, k: F.triplet_margin_loss(*a, margin=0.5, reduction=r)),
    ("cosine_embedding", {"margin": 0.1},
     lambda a, r, k: F.cosine_embedding_loss(*a, margin=0.1, reduction=r)),
    ("margin_ranking", {"margin": 0.2},
     lambda a, r, k: F.margin_ranking_loss(*a, margin=0.2, reduction=r)),
    # torch's ctc_loss backward is the gradient with respect to the scores
    # before a log_softmax (pytorch/pytorch#52241): fastloss's from_logits=True
    ("ctc", {"from_logits": True},
     lambda a, r, k: F.ctc_loss(a[0].log_softmax(-1), *a[1:], reduction=r)),
    ("box_giou", {}, lambda a, r, k: _tv().generalized_box_iou_loss(a[1], a[0], reduction=r)),
    ("box_diou", {}, lambda a, r, k: _tv().distance_box_iou_loss(a[1], a[0], reduction=r)),
    ("box_ciou", {}, lambda a, r, k: _tv().complete_box_iou_loss(a[1], a[0], reduction=r)),
]


def _native_cases():
    out = []
    for name, params, native in NATIVE:
        marks = () if name in LOSSES else (pytest.mark.skip(reason=f"{name} not registered"),)
        out.append(pytest.param(name, params, native, marks=marks,
                                id=f"{name}-{','.join(params) or 'default'}"))
    return out


def _native_inputs(loss, params):
    """Sampled inputs sized for the columnwise keywords of the table."""
    shape = loss.shapes["test"][-1]
    if "pos_weight" in params:
        shape = (7, 4)
    if "class_weight" in params:
        shape = (11, 5)
    if "ignore_index" in params:
        shape = (40, 5)
    return _tensors(loss.sample(params, shape, seed=7))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params,native", _native_cases())
def test_equals_torch_native(name, params, native, reduction):
    loss = LOSSES[name]
    ts = _native_inputs(loss, params)
    idx = wrt_index(loss)
    ours = [t.clone().requires_grad_(i in idx) if t.is_floating_point() else t
            for i, t in enumerate(ts)]
    theirs = [t.clone().requires_grad_(i in idx) if t.is_floating_point() else t
              for i, t in enumerate(ts)]
    got = flt.function(name)(*ours, reduction=reduction, **params)
    want = native(theirs, reduction, params)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    c = torch.rand(got.shape, dtype=got.dtype) + 0.5
    torch.autograd.backward(got, c)
    torch.autograd.backward(want, c)
    for i in idx:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=loss.inputs[i])


# -- opcheck and torch.compile -----------------------------------------------------------


def _op_args(fn, ts, params, reduction, sample_weight=None):
    loss = fn.loss
    ts = [t.clone().requires_grad_(i in fn._wrt) for i, t in enumerate(ts)]
    scalars = tuple((k, v) for k, v in params.items() if not isinstance(v, np.ndarray))
    tensors = {k: torch.from_numpy(v) for k, v in params.items() if isinstance(v, np.ndarray)}
    slots = [tensors.get(p.name) for p in loss.params]
    spec = repr((reduction, scalars, tuple(tensors), True))
    return (*ts, sample_weight, *slots, spec)


# The operator's schema, fake kernel and autograd registration are one per
# loss (keywords are arguments of the same op): one keyword set each.
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", cases(TAKEN, first_only=True))
def test_opcheck(name, params, reduction):
    loss, ts = _sample(name, params)
    fn = flt.function(name)
    torch.library.opcheck(fn.op, _op_args(fn, ts, params, reduction))
    w = torch.from_numpy(unit_weights(loss, ts, params))
    torch.library.opcheck(fn.op, _op_args(fn, ts, params, reduction, w))


@pytest.mark.parametrize("name,params", cases(TAKEN, first_only=True))
def test_compile_fullgraph_matches_eager(name, params):
    # aot_eager traces forward and backward with the fake kernels and the
    # registered autograd formula (what inductor would compile around).
    torch._dynamo.reset()
    loss, ts = _sample(name, params, "test")
    fn = flt.function(name)
    for reduction in ("mean", "none"):
        f, xs = _closure(fn, loss, ts, reduction=reduction, **params)
        g, ys = _closure(fn, loss, ts, reduction=reduction, **params)
        cf = torch.compile(lambda *a, f=f: f(*a).sum() * 2, fullgraph=True, backend="aot_eager")
        got = cf(*xs)
        want = g(*ys).sum() * 2
        assert torch.equal(got, want)
        got.backward()
        want.backward()
        for x, y in zip(xs, ys, strict=True):
            assert torch.equal(x.grad, y.grad)


def test_compile_inductor_with_a_model():
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    model = model.double()
    crit = flt.Loss("sparse_categorical_crossentropy", from_logits=True,
                    class_weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64))
    x = torch.randn(32, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (32,))

    def step(x, y):
        return crit(y, model(x))

    compiled = torch.compile(step, fullgraph=True)
    got = compiled(x, y)
    got.backward()
    got_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    want = F.cross_entropy(model(x), y, weight=crit.class_weight)
    want.backward()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    for a, p in zip(got_grads, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-10, atol=1e-13)
    # a second batch size reuses or recompiles the graph; either way it is right
    x2, y2 = torch.randn(17, 5, dtype=torch.float64), torch.randint(0, 3, (17,))
    torch.testing.assert_close(compiled(x2, y2),
                               F.cross_entropy(model(x2), y2, weight=crit.class_weight))


# -- training -----------------------------------------------------------------------------


def _train(loss_fn, x, y, steps=20):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 1 if y.is_floating_point() else 4))
    model = model.double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        out = out[:, 0] if y.is_floating_point() else out
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


@pytest.mark.parametrize("classify,ours,native", [
    (False, lambda p, y: flt.huber(y, p, delta=0.5), lambda p, y: F.huber_loss(p, y, delta=0.5)),
    (True, lambda p, y: flt.sparse_categorical_crossentropy(y, p, from_logits=True),
     lambda p, y: F.cross_entropy(p, y)),
], ids=["huber", "softmax_cross_entropy"])
def test_training_loop_matches_native_loss(classify, ours, native):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0] * 2 + torch.sin(x[:, 1]) + 0.3 * torch.randn(64, generator=g,
                                                              dtype=torch.float64))
    if classify:  # four classes
        y = torch.bucketize(y, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    got = _train(ours, x, y)
    want = _train(native, x, y)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got[-1] < 0.8 * got[0]


# -- the module ---------------------------------------------------------------------------


def test_module_matches_the_function_and_keeps_tensor_keywords_as_buffers():
    cw = torch.tensor([1.0, 2.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    crit = flt.Loss("scce", from_logits=True, class_weight=cw, reduction="sum")
    assert "class_weight" in dict(crit.named_buffers())
    assert "reduction='sum'" in repr(crit)
    x = torch.randn(9, 5, dtype=torch.float64)
    y = torch.randint(0, 5, (9,))
    w = torch.rand(9, dtype=torch.float64)
    want = fl.scce(y.numpy(), x.numpy(), from_logits=True, class_weight=cw.numpy(),
                   reduction="sum", sample_weight=w.numpy())
    np.testing.assert_array_equal(crit(y, x, sample_weight=w).numpy(), want)
    with pytest.raises(TypeError, match="unexpected keyword"):
        flt.Loss("huber", delt=1.0)


# -- what is refused ----------------------------------------------------------------------


def _pair():
    return torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)


@pytest.mark.parametrize("make,match", [
    (lambda t: t.to("meta"), "can't convert meta device type tensor"),
    (lambda t: t.half(), "Half"),
    (lambda t: t.bfloat16(), "BFloat16"),
    (lambda t: t.to(torch.complex128), "ComplexDouble"),
    (lambda t: t.to_sparse(), "sparse"),
    (lambda t: t.long(), "floating point"),
], ids=["meta", "float16", "bfloat16", "complex", "sparse", "int64"])
def test_refused_prediction_tensors(make, match):
    y, p = _pair()
    with pytest.raises(TypeError, match=match):
        flt.huber(y, make(p))


@pytest.mark.parametrize("make", [lambda t: t.to("meta"), lambda t: t.half(),
                                  lambda t: t.to(torch.complex64), lambda t: t.to_sparse()],
                         ids=["meta", "float16", "complex", "sparse"])
def test_refused_target_and_weight_tensors(make):
    y, p = _pair()
    with pytest.raises(TypeError, match="y_true"):
        flt.huber(make(y), p)
    with pytest.raises(TypeError, match="sample_weight"):
        flt.huber(y, p, sample_weight=make(torch.ones(8, dtype=torch.float64)))


def test_non_cpu_message_says_what_to_do():
    y, p = _pair()
    with pytest.raises(TypeError, match=r"Use Tensor.cpu\(\)"):
        flt.huber(y, p.to("meta"))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.int16])
def test_integer_labels_accepted(dtype):
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 1, 2, 2, 0], dtype=dtype)
    v = flt.scce(y, x, from_logits=True)
    v.backward()
    want_l, want_g = fl.scce.loss_grad(y.numpy(), x.detach().numpy(), from_logits=True)
    assert v.item() == want_l
    np.testing.assert_array_equal(x.grad.numpy(), want_g)


def test_no_derivative_for_targets_weights_or_keywords():
    y, p = _pair()
    p.requires_grad_(True)
    with pytest.raises(RuntimeError, match="derivative for 'y_true' is not implemented"):
        flt.mse(y.requires_grad_(True), p)
    y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="sample_weight"):
        flt.mse(y, p, sample_weight=torch.ones(8, dtype=torch.float64, requires_grad=True))
    with torch.no_grad():  # no gradient wanted: fine
        flt.mse(y.requires_grad_(True), p)


def test_fastloss_errors_come_through():
    y, p = _pair()
    with pytest.raises(ValueError, match="delta"):
        flt.huber(y, p, delta=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        flt.huber(y, p, reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        flt.huber(y, p[:5])


def test_every_loss_and_alias_is_an_attribute():
    taken = [n for n in fl.available() if TAKEN(fl.get(n))]
    for name in taken:
        assert getattr(flt, name).loss is fl.get(name)
    for alias, name in fl.aliases().items():
        if name in taken:
            assert getattr(flt, alias) is getattr(flt, name)
    assert set(taken) <= set(dir(flt))


def test_grouped_losses_are_refused():
    grouped = [n for n in fl.available() if not TAKEN(fl.get(n))]
    for name in grouped:
        with pytest.raises(NotImplementedError, match=f"no operator for {name}.*groups"):
            flt.function(name)
        assert not hasattr(flt, name) and name not in dir(flt)
    with pytest.raises(AttributeError):
        flt.no_such_loss  # noqa: B018


def test_inputs_by_keyword_and_signature():
    y, p = _pair()
    assert flt.huber(y_true=y, y_pred=p) == flt.huber(y, p)
    assert str(flt.huber.__signature__) == str(fl.huber.__signature__)


def test_custom_op_route_under_a_torch_function_mode():
    # A TorchFunctionMode (as tracers use) sends calls through the custom op.
    calls = []

    class Mode(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            calls.append(func)
            return func(*args, **(kwargs or {}))

    y, p = _pair()
    with Mode():
        v = flt.huber(y, p)
    assert v.item() == fl.huber(y.numpy(), p.numpy())
    assert any("fastloss" in str(c) for c in calls)


# -- packaging ---------------------------------------------------------------------------


def _python(code):
    return subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_import_fastloss_does_not_import_torch():
    r = _python("import sys, fastloss; fastloss.mse([1.0], [2.0]); "
                "print('torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_clear_message_without_torch():
    r = _python("import sys; sys.modules['torch'] = None\n"
                "try:\n    import fastloss.torch\n"
                "except ImportError as e:\n    print(e)")
    assert r.returncode == 0, r.stderr
    assert "fastloss[torch]" in r.stdout
