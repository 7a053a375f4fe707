"""PyTorch autograd for every fastloss loss: ``import fastloss.torch``.

``fastloss.torch.<name>`` (every registered loss and alias) takes the same
inputs, in the same order, and the same keywords as ``fastloss.<name>``,
with CPU tensors in and out, and is differentiable with respect to the
loss's ``wrt`` inputs::

    import fastloss.torch as flt
    loss = flt.huber(y, model(x), delta=0.5)      # (y_true, y_pred) order
    loss.backward()
    criterion = flt.Loss("sparse_categorical_crossentropy", from_logits=True)

How it works.  The forward pass runs fastloss's fused kernel once
(``loss_grad``: value and gradient from one pass over the data) on NumPy
views of the tensors' memory, and keeps the gradient; the backward pass
multiplies it by the incoming gradient (a 0-d tensor for "mean" and "sum";
for "none", one value per unit, spread over the unit's entries).  Tensors
and arrays share memory both ways (``Tensor.numpy()``, ``torch.from_numpy``):
contiguous float32/float64 inputs are not copied; others are made
contiguous once by fastloss.

Each loss is a ``torch.library.custom_op`` named ``fastloss::<name>`` (with
a fake kernel and an autograd formula), so ``torch.compile(fullgraph=True)``,
``torch.export`` and ``torch.library.opcheck`` see an opaque, correctly
described operator.  Its schema is fixed: the loss's inputs,
``sample_weight`` and one optional tensor per loss keyword (for array-valued
keywords such as ``class_weight``), and a string holding the reduction and
the scalar keywords (``repr`` of a tuple, parsed once per distinct string).
In plain eager mode (ordinary CPU tensors, no compile, no tracing mode
active) the same forward and backward functions run through an
``autograd.Function`` instead, which skips the dispatcher's Python overhead
(about 20 us a call); both routes share every line that computes.

What is refused (``TypeError``, never a silent copy or conversion): tensors
on other devices (cuda, mps, meta, ...), float16, bfloat16, complex and
sparse tensors, and non-float tensors for the differentiated inputs.
Integer and boolean tensors are accepted for the other inputs (class labels,
lengths).  A non-differentiated input, ``sample_weight`` or a keyword tensor
that requires grad raises ``RuntimeError`` (fastloss has no derivative for
it; torch's own losses say the same for their targets).  The gradient is
differentiable once: differentiating it again raises.

Threads: the kernels follow fastloss's thread setting
(``fastloss.set_num_threads`` / ``fastloss.threads``), not
``torch.set_num_threads``.
"""

import ast
import contextlib
import itertools
import re
import threading

import numpy as np

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised without torch installed
    raise ImportError(
        "fastloss.torch needs PyTorch; install it with `pip install \"fastloss[torch]\"` "
        "(or follow https://pytorch.org/get-started for a CPU-only build)"
    ) from e

from fastloss._core import registry as _registry
from fastloss._core import validation as V
from fastloss._core.loss import Loss as _FastLoss

__all__ = ["Loss", "function"]

#: dtypes a differentiated input may have, and any other input.
_FLOATS = (torch.float32, torch.float64)
_OTHERS = _FLOATS + (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                     torch.bool)

#: torch's own names of the dtypes it refuses to turn into NumPy arrays (as in
#: its "Got unsupported ScalarType BFloat16").
_SCALAR_TYPES = {torch.float16: "Half", torch.bfloat16: "BFloat16",
                 torch.complex32: "ComplexHalf", torch.complex64: "ComplexFloat",
                 torch.complex128: "ComplexDouble"}

_SPECS = {}
_FUNCTIONS = {}
_LOCK = threading.Lock()
_user_ops = itertools.count()


def function(loss):
    """The torch version of a loss, by name, alias or fastloss Loss object
    (``fastloss.torch.<name>`` is ``function("<name>")``)."""
    if not isinstance(loss, _FastLoss):
        loss = _registry.get(loss)
    if loss.unit_groups is not None:
        raise NotImplementedError(
            f"fastloss.torch has no operator for {loss.name}: its units come in separate "
            f"groups ({', '.join(g[0] for g in loss.unit_groups)}) whose 'none' results and "
            "sample weights are tuples; call it on the tensors' NumPy arrays")
    fn = _FUNCTIONS.get(id(loss))
    if fn is None or fn.loss is not loss:
        with _LOCK:  # an operator is registered once, even with threads racing
            fn = _FUNCTIONS.get(id(loss))
            if fn is None or fn.loss is not loss:
                fn = _FUNCTIONS[id(loss)] = LossFunction(loss)
    return fn


def __getattr__(name):
    # A loss registered after this module was imported (the registered ones
    # are module attributes, set at the end of this file).
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return function(name)
    except ValueError:
        raise AttributeError(f"module 'fastloss.torch' has no attribute {name!r}") from None
    except NotImplementedError as e:  # a loss this adapter cannot take
        raise AttributeError(str(e)) from None


def __dir__():
    taken = [n for n in _registry.available() if _registry.get(n).unit_groups is None]
    return sorted(set(globals()) | set(taken)
                  | {a for a, n in _registry.aliases().items() if n in taken})


def _plain(tensors):
    """True in plain eager mode: ordinary tensors (or Parameters), no compile,
    no tracing or dispatch mode, no torch.func transform.  Only then may the
    autograd.Function route run; anything else takes the custom op."""
    if (torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack()
            or torch._C._is_torch_function_mode_enabled()
            or torch._C._functorch.peek_interpreter_stack() is not None):
        return False
    for t in tensors:
        if t is not None and type(t) is not torch.Tensor and type(t) is not torch.nn.Parameter:
            return False
    return True


class _Call:
    """What one call computes besides its tensors: the reduction, the
    keywords (scalars by value, array-valued ones as tensors passed beside
    the inputs) and whether gradients are wanted."""

    __slots__ = ("reduction", "scalars", "tensor_names", "need_grad")

    def __init__(self, reduction, scalars, tensor_names, need_grad):
        self.reduction = reduction
        self.scalars = scalars
        self.tensor_names = tensor_names
        self.need_grad = need_grad

    def spec(self):
        return repr((self.reduction, self.scalars, self.tensor_names, self.need_grad))

    @staticmethod
    def parse(spec):
        call = _SPECS.get(spec)
        if call is None:
            call = _SPECS[spec] = _Call(*ast.literal_eval(spec))
        return call


def _float_dtype(dtypes):
    """fastloss's computation dtype (validation.float_dtype) for tensor dtypes:
    float64 if any float input is float64, float32 if the floats are all
    float32, float64 when there are no floats."""
    floats = [d for d in dtypes if d.is_floating_point]
    if not floats or torch.float64 in floats:
        return torch.float64
    return torch.float32


def _arrays(call, tensors, arrays):
    """The inputs as NumPy views of the tensors, and the keywords (scalars, and
    tensor keywords as views)."""
    kw = dict(call.scalars)
    for k, t in arrays.items():
        kw[k] = t.numpy()
    return [t.numpy() for t in tensors], kw


def _tensor_out(x):
    """A fastloss result (a NumPy scalar or a fresh array) as a tensor on the
    same memory."""
    return torch.from_numpy(x if isinstance(x, np.ndarray) else np.asarray(x))


def _prefix_units(units, shape):
    """True when `units` (the "none" result's shape) is a prefix of an input's
    shape, so that a unit's cotangent spreads over its trailing entries."""
    return len(units) <= len(shape) and tuple(shape[:len(units)]) == tuple(units)


class LossFunction:
    """The torch function of one fastloss loss (``fastloss.torch.<name>``)."""

    def __init__(self, loss):
        self.loss = loss
        self.__name__ = self.__qualname__ = loss.name
        self.__doc__ = (
            f"fastloss.{loss.name} on CPU tensors, differentiable with respect to "
            f"{', '.join(loss.wrt)} (see fastloss.torch).\n\n" + (loss.__doc__ or ""))
        self.__signature__ = loss.__signature__
        self._wrt = tuple(loss.inputs.index(w) for w in loss.wrt)
        self._n = len(loss.inputs)
        self._params = tuple(p.name for p in loss.params)
        # The number of values reduction="none" returns (a tuple for some
        # losses), read from the loss's own unit_shape declaration.
        units = loss.unit_shape(*[np.shape(a) for a in loss.sample()])
        self._n_values = len(units) if isinstance(units, list) else 1
        # Made now, not on first call: creating an operator cannot be traced.
        self._op, self._vjp = _make_ops(self)

    def __repr__(self):
        return f"<fastloss.torch function {self.loss.name!r}>"

    # -- the call -------------------------------------------------------------------

    def __call__(self, *inputs, sample_weight=None, reduction="mean", **params):
        loss = self.loss
        args = loss._bind(inputs, params)
        if reduction not in V.REDUCTIONS:
            V.check_reduction(reduction)
        grad_on = torch.is_grad_enabled()
        tensors = []
        for i, a in enumerate(args):
            tensors.append(self._check(a, loss.inputs[i], i in self._wrt, grad_on))
        sw = None if sample_weight is None else self._check(
            sample_weight, "sample_weight", False, grad_on)
        scalars, arrays = [], {}
        for key, v in params.items():
            if isinstance(v, (torch.Tensor, np.ndarray)):
                arrays[key] = self._check(v, key, False, grad_on)
            else:
                scalars.append((key, v))
        need = grad_on and any(tensors[i].requires_grad for i in self._wrt)
        call = _Call(reduction, tuple(scalars), tuple(arrays), need)
        if _plain(tensors):
            if need:
                out = _Eager.apply(self, call, sw, arrays, *tensors)
            else:  # nothing to differentiate: no autograd node
                out = self.forward(call, tensors, sw, arrays)[0]
        else:
            slots = [arrays.get(p) for p in self._params]
            out = self._op(*tensors, sw, *slots, call.spec())
        if self._n_values == 1 or reduction != "none":
            return out[0]
        return tuple(out[:self._n_values])

    def _check(self, a, name, wrt, grad_on):
        """A tensor argument, checked (device, layout, dtype, requires_grad);
        array-likes become tensors (sharing a NumPy array's memory)."""
        if not isinstance(a, torch.Tensor):
            # An array-like (as fastloss reads it: Python floats are float64);
            # a read-only or byte-swapped array is copied (torch cannot share it).
            x = np.asarray(a)
            if not (x.flags.writeable and x.dtype.isnative):
                x = np.array(x, dtype=x.dtype.newbyteorder("="))
            a = torch.from_numpy(x)
        fn = f"fastloss.torch.{self.loss.name}"
        if a.layout != torch.strided:
            raise TypeError(
                f"{fn}: {name} is a {a.layout} tensor; fastloss takes dense (strided) "
                f"tensors. Use Tensor.to_dense() first.")
        if a.device.type != "cpu":
            raise TypeError(
                f"{fn}: can't convert {a.device} device type tensor {name} to numpy: "
                "fastloss computes on the CPU and never copies silently. Use Tensor.cpu() "
                "to copy the tensor to host memory first, or a native torch loss on "
                f"{a.device.type}.")
        if a.dtype not in (_FLOATS if wrt else _OTHERS):
            kind = ("a floating point tensor (float32 or float64)" if wrt else
                    "float32, float64, integer or boolean values")
            hint = ("; convert it with .float() or .double()"
                    if a.dtype.is_floating_point or (a.dtype.is_complex and not wrt) else "")
            raise TypeError(
                f"{fn}: Got unsupported ScalarType {_SCALAR_TYPES.get(a.dtype, a.dtype)} "
                f"({a.dtype}) for {name}: fastloss expects {kind}{hint}.")
        if not wrt and grad_on and a.requires_grad:
            raise RuntimeError(
                f"{fn}: the derivative for {name!r} is not implemented (fastloss "
                f"differentiates with respect to {', '.join(self.loss.wrt)}); pass "
                f"{name}.detach() if no gradient is wanted for it.")
        return a

    # -- what both routes share -------------------------------------------------------

    def _route(self, call, shapes):
        """How the backward pass gets its gradient: "scale" (mean and sum: the
        saved gradient times a scalar), "units" ("none" on a loss whose units
        each own their leading entries: the saved per-unit gradient times the
        unit's cotangent), "vjp" (any other "none": the gradient of the
        cotangent-weighted sum, computed in the backward pass), or None (no
        gradient wanted)."""
        if not call.need_grad:
            return None
        if call.reduction != "none":
            return "scale"
        loss = self.loss
        if loss.unit_local:
            units = loss.unit_shape(*shapes, **dict(call.scalars))
            per = units if isinstance(units, list) else [units] * len(self._wrt)
            if len(per) == len(self._wrt) and all(
                    _prefix_units(u, shapes[i]) for u, i in zip(per, self._wrt, strict=True)):
                return "units"
        if self._n_values != 1:
            raise NotImplementedError(
                f"fastloss.torch.{loss.name}: no backward pass for reduction='none' on "
                "these inputs (the per-unit result is a tuple); use 'sum' or 'mean'")
        return "vjp"

    def forward(self, call, tensors, sw, arrays):
        """Values and gradients (tensors) of one call, from one fused pass."""
        loss = self.loss
        xs, kw = _arrays(call, tensors, arrays)
        w = None if sw is None else sw.numpy()
        route = self._route(call, [t.shape for t in tensors])
        if route == "scale" or route == "units":
            v, g = loss.loss_grad(*xs, sample_weight=w, reduction=call.reduction, **kw)
            grads = tuple(_tensor_out(x) for x in (g if isinstance(g, tuple) else (g,)))
        else:
            v = loss.loss(*xs, sample_weight=w, reduction=call.reduction, **kw)
            grads = ()
        values = tuple(_tensor_out(x) for x in (v if isinstance(v, tuple) else (v,)))
        return values, grads, route

    def vjp(self, call, tensors, sw, arrays, cotangent):
        """Gradients of sum(cotangent * loss(reduction="none")) with respect to
        the wrt inputs: fastloss's gradient of the sum weighted by the
        cotangents (times sample_weight), in two passes when they have both
        signs (weights must be non-negative)."""
        loss = self.loss
        xs, kw = _arrays(call, tensors, arrays)
        go = cotangent.detach().numpy()
        if sw is not None:
            s = sw.numpy()
            go = go * s.reshape(s.shape + (1,) * (go.ndim - s.ndim))
        total = None
        for negative, w in ((False, np.maximum(go, 0)), (True, np.maximum(-go, 0))):
            if not w.any():
                continue
            g = loss.grad(*xs, sample_weight=w, reduction="sum", **kw)
            g = g if isinstance(g, tuple) else (g,)
            if total is None:
                total = [-b for b in g] if negative else list(g)
            else:
                total = [a - b for a, b in zip(total, g, strict=True)]
        if total is None:
            dtype = _float_dtype([t.dtype for t in tensors])
            return tuple(torch.zeros(tensors[i].shape, dtype=dtype) for i in self._wrt)
        return tuple(torch.from_numpy(a) for a in total)

    def gradients(self, route, cotangents, saved, dtypes, vjp, plain=False):
        """The backward pass: one gradient per wrt input (None for zero), in the
        inputs' `dtypes`, from the cotangents of the values (None where a value
        was not used) and what the forward pass saved (the gradients, or for
        the "vjp" route the inputs, used by `vjp(cotangent)`).  plain: in plain
        eager mode a cotangent of exactly 1 (loss.backward()) hands back the
        saved gradient itself, with no pass over it; autograd then takes it
        over as the .grad when nothing else holds it."""
        if route == "vjp":
            go = cotangents[0]
            if go is None:
                return [None] * len(self._wrt)
            return [g.to(dtypes[i]) for g, i in zip(vjp(go), self._wrt, strict=True)]
        out = []
        for k, (i, g) in enumerate(zip(self._wrt, saved, strict=True)):
            go = cotangents[0 if route == "scale" or self._n_values == 1 else k]
            if go is None:
                out.append(None)
            elif route == "units":
                go = go.reshape(tuple(go.shape) + (1,) * (g.dim() - go.dim()))
                out.append((g * go).to(dtypes[i]))
            elif plain and go.dim() == 0 and go.item() == 1.0:
                out.append(g.to(dtypes[i]))
            else:
                out.append((g * go).to(dtypes[i]))
        return out

    @property
    def op(self):
        """The ``fastloss::<name>`` custom op."""
        return self._op


def _make_ops(fn):
    loss = fn.loss
    name = loss.name if _registry.LOSSES.get(loss.name) is loss else (
        f"user_{re.sub(r'[^0-9a-zA-Z_]', '_', loss.name)}_{next(_user_ops)}")
    n, n_params = fn._n, len(fn._params)
    ins = ", ".join(f"Tensor {x}" for x in loss.inputs)
    prm = "".join(f", Tensor? p_{p}" for p in fn._params)
    n_out = fn._n_values + len(fn._wrt)
    schema = (f"({ins}, Tensor? sample_weight{prm}, str spec) -> "
              f"({', '.join(['Tensor'] * n_out)})")
    vjp_schema = f"({ins}, Tensor? sample_weight{prm}, Tensor cotangent, str spec) -> Tensor[]"

    def split(args):
        tensors = list(args[:n])
        sw = args[n]
        slots = args[n + 1:n + 1 + n_params]
        call = _Call.parse(args[-1])
        arrays = {p: t for p, t in zip(fn._params, slots, strict=True) if t is not None}
        return call, tensors, sw, arrays

    def impl(*args):
        call, tensors, sw, arrays = split(args)
        values, grads, route = fn.forward(call, tensors, sw, arrays)
        dtype = values[0].dtype
        values = values + tuple(torch.empty(0, dtype=dtype)
                                for _ in range(fn._n_values - len(values)))
        if not grads:
            grads = tuple(torch.empty(0, dtype=dtype) for _ in fn._wrt)
        return values + grads

    def fake(*args):
        call, tensors, sw, arrays = split(args)
        shapes = [t.shape for t in tensors]
        dtype = _float_dtype([t.dtype for t in tensors])
        like = tensors[fn._wrt[0]]
        if call.reduction == "none":
            units = loss.unit_shape(*shapes, **dict(call.scalars))
            units = units if isinstance(units, list) else [units]
            values = tuple(like.new_empty(tuple(u), dtype=dtype) for u in units)
        else:
            values = (like.new_empty((), dtype=dtype),) + tuple(
                like.new_empty((0,), dtype=dtype) for _ in range(fn._n_values - 1))
        route = fn._route(call, shapes)
        if route == "scale" or route == "units":
            grads = tuple(like.new_empty(tuple(shapes[i]), dtype=dtype) for i in fn._wrt)
        else:
            grads = tuple(like.new_empty((0,), dtype=dtype) for _ in fn._wrt)
        return values + grads

    op = torch.library.custom_op(f"fastloss::{name}", impl, mutates_args=(),
                                 device_types="cpu", schema=schema)
    op.register_fake(fake)

    def vjp_impl(*args):
        call, tensors, sw, arrays = split(args[:-2] + args[-1:])
        return list(fn.vjp(call, tensors, sw, arrays, args[-2]))

    def vjp_fake(*args):
        call, tensors, sw, arrays = split(args[:-2] + args[-1:])
        dtype = _float_dtype([t.dtype for t in tensors])
        return [tensors[i].new_empty(tuple(tensors[i].shape), dtype=dtype) for i in fn._wrt]

    vjp = torch.library.custom_op(f"fastloss::{name}_vjp", vjp_impl, mutates_args=(),
                                  device_types="cpu", schema=vjp_schema)
    vjp.register_fake(vjp_fake)

    def setup_context(ctx, inputs, output):
        call, tensors, sw, arrays = split(inputs)
        ctx.route = fn._route(call, [t.shape for t in tensors])
        ctx.spec = inputs[-1]
        ctx.dtypes = [t.dtype for t in tensors]
        grads = output[fn._n_values:]
        # the gradients are outputs only to carry them to the backward pass:
        # no cotangents for them (materialising zeros would cost a pass)
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(*grads)
        if ctx.route == "vjp":
            ctx.save_for_backward(*tensors, sw, *inputs[n + 1:n + 1 + n_params])
        else:
            ctx.save_for_backward(*grads)

    def backward(ctx, *cotangents):
        saved = ctx.saved_tensors
        res = [None] * (n + 2 + n_params)
        if ctx.route is None:
            return tuple(res)
        gs = fn.gradients(ctx.route, cotangents, saved, ctx.dtypes,
                          lambda go: vjp(*saved, go, ctx.spec))
        for g, i in zip(gs, fn._wrt, strict=True):
            if ctx.needs_input_grad[i]:
                res[i] = g
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            res = _once(res)  # create_graph=True in eager mode: see _Eager
        return tuple(res)

    op.register_autograd(backward, setup_context=setup_context)
    return op, vjp


class _Eager(torch.autograd.Function):
    """The plain eager route: the same forward and backward as the custom op,
    without the dispatcher."""

    # forward(ctx, ...) rather than forward + setup_context: Function.apply
    # binds a setup_context-style forward's signature on every call (about
    # 30 us), which this route exists to avoid.
    @staticmethod
    def forward(ctx, fn, call, sw, arrays, *tensors):
        values, grads, route = fn.forward(call, tensors, sw, arrays)
        ctx.fn, ctx.call, ctx.sw, ctx.arrays, ctx.route = fn, call, sw, arrays, route
        ctx.dtypes = [t.dtype for t in tensors]
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(*grads)
        ctx.save_for_backward(*(tensors if route == "vjp" else grads))
        return values + grads

    @staticmethod
    def backward(ctx, *cotangents):
        fn = ctx.fn
        res = [None] * (4 + fn._n)
        if ctx.route is None:
            return tuple(res)
        saved = ctx.saved_tensors
        create_graph = torch.is_grad_enabled()
        with torch.no_grad() if create_graph else contextlib.nullcontext():
            gs = fn.gradients(ctx.route, cotangents, saved, ctx.dtypes,
                              lambda go: fn.vjp(ctx.call, saved, ctx.sw, ctx.arrays, go),
                              plain=True)
        for g, i in zip(gs, fn._wrt, strict=True):
            if ctx.needs_input_grad[4 + i]:
                res[4 + i] = g
        if create_graph:
            # create_graph=True: the gradient has no derivative here (fastloss
            # keeps no second derivatives beyond the diagonal), so
            # differentiating it raises instead of silently dropping a term.
            res = _once(res)
        return tuple(res)


def _once(res):
    idx = [k for k, g in enumerate(res) if g is not None]
    if not idx:
        return res
    err = torch._C._functions.DelayedError(
        b"fastloss.torch: the gradient of a fastloss loss is differentiable once; "
        b"differentiating it again (double backward) is not supported", len(idx))
    outs = []
    for k in idx:
        g = res[k].detach()
        g.requires_grad = True
        outs.append(g)
    wrapped = err(*outs)
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    res = list(res)
    for k, g in zip(idx, wrapped, strict=True):
        res[k] = g
    return res


class Loss(torch.nn.Module):
    """A fastloss loss as a module: ``Loss(name, reduction="mean", **keywords)``,
    called with the loss's inputs (and optionally ``sample_weight``).

    Tensor-valued keywords (e.g. ``class_weight``) are registered as buffers,
    like torch's ``weight`` of ``CrossEntropyLoss``.

    >>> crit = Loss("huber", delta=0.5)
    >>> crit(y_true, y_pred).backward()           # doctest: +SKIP
    """

    def __init__(self, name, *, reduction="mean", **params):
        super().__init__()
        self.function = function(name)
        V.check_reduction(reduction)
        self.function.loss._parse(dict(params))  # unknown or invalid keywords raise now
        self.reduction = reduction
        self._scalars = {}
        self._buffers_kw = []
        for key, v in params.items():
            if isinstance(v, (torch.Tensor, np.ndarray)):
                t = v if isinstance(v, torch.Tensor) else torch.from_numpy(v)
                self.register_buffer(key, t)
                self._buffers_kw.append(key)
            else:
                self._scalars[key] = v

    def forward(self, *inputs, sample_weight=None):
        kw = dict(self._scalars)
        for key in self._buffers_kw:
            kw[key] = getattr(self, key)
        return self.function(*inputs, sample_weight=sample_weight, reduction=self.reduction,
                             **kw)

    def extra_repr(self):
        items = [repr(self.function.loss.name), f"reduction={self.reduction!r}"]
        items += [f"{k}={v!r}" for k, v in self._scalars.items()]
        items += [f"{k}=<tensor>" for k in self._buffers_kw]
        return ", ".join(items)


# Every registered loss and alias as a module attribute (their operators
# exist before any compiled function looks them up).
# Losses whose units come in groups (tuples of results and weights) have none.
_TAKEN = [n for n in _registry.available() if _registry.get(n).unit_groups is None]
globals().update({name: function(name) for name in _TAKEN})
globals().update({alias: function(alias) for alias, name in _registry.aliases().items()
                  if name in _TAKEN})
