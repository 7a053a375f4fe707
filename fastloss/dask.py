"""Losses and gradients of dask arrays: data larger than memory, or on a cluster.

    import dask.array as da
    import fastloss.dask as fld

    y = da.from_zarr("y.zarr"); p = da.from_zarr("p.zarr")
    value = fld.loss("huber", y, p, delta=2.0)     # a 0-d dask array; nothing runs yet
    value, grad = fld.loss_grad("mse", y, p)        # grad: chunked like p
    value.compute(), float(da.linalg.norm(grad))

Every function takes a loss (a name, an alias or a loss object) and its inputs
in the loss's order (dask arrays, or anything NumPy accepts), with the
keywords of the NumPy call: `sample_weight` (a dask or NumPy array, or a
scalar), `reduction` and the loss's own keywords.  The results are the NumPy
call's, lazily: the value is a 0-d dask array, each gradient a dask array
chunked like its input (with the chunks the inputs were aligned to), and
`reduction="none"` gives a dask array of the per-unit losses.

How the work is split (from the loss's declarations, the same for every loss):

- The inputs are first aligned: chunks that differ between inputs are unified
  to their common refinement, so blocks are paired by position only when they
  hold the same units (dask's map_blocks would pair them blindly).
- Element-wise losses (`loss.unit == "element"`) are split along any axes.
  Every other loss is split along its units only (the first axis, or the axis
  `loss.unit_axes` names, e.g. the batch axis of a time-major sequence), and
  each block holds whole units: the other axes (a row's classes, a sample's
  pixels, a box's coordinates) are rechunked to one chunk.  So are all axes
  but the first of an element-wise loss with an array-valued keyword (e.g.
  one `pos_weight` per column).
- Losses whose units interact (`loss.unit_local` is False: info_nce, nt_xent,
  where each row's loss depends on the whole batch), whose "none" result is
  several arrays (a GAN discriminator's real and fake terms), whose value is
  not one ratio of sums over their units (Loss._partial raises NoParts), or
  whose inputs lack their unit axis (one unbatched sequence, concatenated
  targets) cannot be blocked: they are computed in ONE task on the whole
  arrays (which must fit in one worker's memory), which then gives exactly
  the NumPy call's numbers.
- Each block reports the pair (sum of w_i l_i, sum of w_i); the pairs are
  added in a binary tree (halving the list of blocks, like the kernels combine
  their own blocks) and the value is sum / sum at the end.  So "mean" is exact
  whatever the chunks (not a mean of block means): it equals the NumPy call to
  rounding (1e-15 relative, float64), and bit for bit when the chunks line up
  with the kernel's own blocks (equal chunks of whole blocks, a power-of-two
  number of them).
- The gradient of "mean" needs the denominator before any block's gradient:
  the unit count (known from the shapes, no extra work), or, with
  `sample_weight`, the sum of the weights (a small reduction over the weights
  alone).  Losses that weigh units from the data (`loss.weighs_data(...)`:
  class weights looked up by label, ignored rows) get it from a first pass of
  the loss over the data; dask then keeps the inputs between the two passes.
  Value and gradient otherwise come from one fused pass, and every block
  checks that its own denominator is its unit count or weight sum (a loss
  that weighs units from the data without declaring it is an error, not a
  wrong gradient).

Kernels run on `threads` threads per block (default 1: dask runs blocks in
parallel).  Needs dask (`pip install "fastloss[dask]"`); any dask scheduler
works (synchronous, threads, processes, distributed).
"""

import math

import numpy as np

try:
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "fastloss.dask needs dask's arrays, which are not installed: "
        'pip install "fastloss[dask]" (or pip install "dask[array]")') from e

from fastloss._core import config
from fastloss._core import validation as V
from fastloss._core.loss import MODE_GRAD_HESS, MODE_LOSS, MODE_LOSS_GRAD, Loss, NoParts, Parts
from fastloss._core.registry import get

__all__ = ["loss", "grad", "loss_grad", "grad_hess"]

#: Block partials combined per tree task (the additions are a binary tree
#: whatever this is; it only sets how many of them one task does).
SPLIT_EVERY = 8


# -- public functions ------------------------------------------------------------------

def loss(name_or_loss, /, *inputs, sample_weight=None, reduction="mean", threads=1,
         split_every=None, **params):
    """The loss of dask arrays: a 0-d dask array (reduction "mean" or "sum"),
    or a dask array of the per-unit losses ("none").

    name_or_loss: a loss object, or its name or alias; inputs and keywords as
    for the NumPy call (inputs by position or by name).  threads: kernel
    threads per block (None: fastloss's default).  split_every: block
    partials added per task of the tree."""
    plan = _Plan(name_or_loss, inputs, sample_weight, reduction, params, MODE_LOSS, threads,
                 split_every)
    return plan.run()[0]


def grad(name_or_loss, /, *inputs, sample_weight=None, reduction="mean", threads=1,
         split_every=None, **params):
    """The gradient of `loss(...)` with respect to the loss's `wrt` inputs: a
    dask array chunked like its input, or a tuple of them in `wrt` order."""
    plan = _Plan(name_or_loss, inputs, sample_weight, reduction, params, MODE_LOSS_GRAD,
                 threads, split_every)
    return plan.run(value=False)[1]


def loss_grad(name_or_loss, /, *inputs, sample_weight=None, reduction="mean", threads=1,
              split_every=None, **params):
    """(loss, grad) as `loss` and `grad` return them, from one fused pass over
    the blocks (two for losses that weigh units from the data, see the module
    docstring)."""
    plan = _Plan(name_or_loss, inputs, sample_weight, reduction, params, MODE_LOSS_GRAD,
                 threads, split_every)
    return plan.run()


def grad_hess(name_or_loss, /, *inputs, sample_weight=None, threads=1, **params):
    """(grad, hess): the per-unit derivatives of w_i * l_i, chunked like the
    `wrt` inputs (for boosting on dask arrays)."""
    if "reduction" in params:
        raise TypeError("grad_hess() takes no reduction: it returns per-unit derivatives")
    plan = _Plan(name_or_loss, inputs, sample_weight, "none", params, MODE_GRAD_HESS, threads,
                 None)
    return plan.run()


# -- the work of one block (module-level functions: they travel to workers) ------------

class _Spec:
    """What a block task needs: the loss (by name when it is registered, so
    that it pickles as a name), its keywords, and the mode."""

    def __init__(self, loss_obj, params, reduction, mode, threads, n_inputs, weight, scaled,
                 check):
        registered = _registered(loss_obj)
        self.name = loss_obj.name if registered else None
        self.obj = None if registered else loss_obj
        self.params = params
        self.reduction = reduction
        self.mode = mode
        self.threads = threads
        self.n_inputs = n_inputs
        self.weight = weight      # "array", "scalar" or None
        self.scaled = scaled      # a global "mean" denominator follows the inputs
        self.check = check        # None, or how to count a block's units (verify den)

    @property
    def loss(self):
        return get(self.name) if self.obj is None else self.obj


def _registered(loss_obj):
    try:
        return get(loss_obj.name) is loss_obj
    except (KeyError, ValueError, TypeError):
        return False


def _block(spec, *args):
    """Run the loss on one block: returns (Parts or per-unit losses or None,
    gradients or None), or for grad_hess (grad, hess)."""
    inputs = args[:spec.n_inputs]
    rest = list(args[spec.n_inputs:])
    w = rest.pop(0) if spec.weight is not None else None
    den = rest.pop(0) if spec.scaled else None
    L = spec.loss
    with config.threads(spec.threads):
        if spec.mode == MODE_GRAD_HESS:
            return L.grad_hess(*inputs, sample_weight=w, **spec.params)
        if spec.reduction == "none":
            if spec.mode == MODE_LOSS:
                return L.loss(*inputs, sample_weight=w, reduction="none", **spec.params), None
            return L.loss_grad(*inputs, sample_weight=w, reduction="none", **spec.params)
        parts, g = L._partial(spec.mode, inputs, w, spec.reduction, spec.params)
    if spec.check is not None:
        _check_denominator(L, parts, inputs, w, spec.check)
    if spec.scaled:
        g = _rescale(g, parts.denominator, _denominator_value(den, w is not None))
    return parts, g


def _check_denominator(L, parts, inputs, w, check):
    """A block's denominator must be its unit count (or its weights' sum),
    which the gradient's global denominator was computed from: otherwise the
    loss weighs units from the data without declaring it (Loss.data_weights)
    and its blockwise results would be silently wrong.  check: (axis, units
    per entry along it, dtype) for the first input, axis None when every
    element is a unit."""
    axis, per_entry, dtype = check
    x = inputs[0]
    units = x.size if axis is None else x.shape[axis] * per_entry
    if w is None:
        want = float(units)
    else:
        # the loss takes the weights in its computation dtype, then sums in float64
        wa = np.asarray(w, dtype=dtype).astype(np.float64)
        want = float(wa.sum()) * (units / wa.size if wa.ndim else units)
    if not math.isclose(parts.denominator, want, rel_tol=1e-9, abs_tol=1e-300):
        raise RuntimeError(
            f"fastloss.dask: {L.name} divides a block of {units} units by "
            f"{parts.denominator}, not by {want} (their count, or the sum of their sample "
            "weights): its denominator depends on the data, which the loss must declare "
            "(Loss.data_weights) to be computed blockwise")


def _denominator_value(den, weighted):
    """The global denominator a block task receives: a number, or a 0-d array
    holding the summed weights or the summed Parts of a first pass."""
    if isinstance(den, np.ndarray):
        den = den[()]
    d = float(den.denominator if isinstance(den, Parts) else den)
    if weighted and d == 0:
        raise ValueError("sample_weight sums to zero, so reduction='mean' is undefined; "
                         "use reduction='sum' or give some sample a positive weight")
    return d


def _rescale(g, den_block, den_all):
    """A block's gradient of its own mean (scaled by 1/den_block, or by 1 when
    the block weighs nothing) as a gradient of the whole mean (1/den_all)."""
    factor = (den_block if den_block > 0 else 1.0) / den_all if den_all > 0 else 1.0
    if factor == 1.0:
        return g
    for a in (g if isinstance(g, tuple) else (g,)):
        a *= a.dtype.type(factor)
    return g


def _pick(result, i, j=None):
    r = result[i]
    return r if j is None else r[j]


def _as_object(x):
    out = np.empty((), dtype=object)
    out[()] = x
    return out


def _pick_parts(result, ndim):
    out = np.empty((1,) * ndim, dtype=object)
    out.reshape(-1)[0] = result[0]
    return out


def _sum_parts(parts):
    """Pairwise (halving) sum of a list of Parts."""
    if len(parts) == 1:
        return parts[0]
    h = len(parts) // 2
    a, b = _sum_parts(parts[:h]), _sum_parts(parts[h:])
    return Parts(a.total + b.total, a.denominator + b.denominator)


def _sum_tasks(*parts):
    return _sum_parts([p.reshape(-1)[0] if isinstance(p, np.ndarray) else p for p in parts])


def _finish(parts, mean, weighted, dtype):
    """The reduced value from the summed parts, as the NumPy call gives it."""
    p = parts.reshape(-1)[0] if isinstance(parts, np.ndarray) else parts
    if not mean:
        return np.asarray(p.total, dtype=dtype)
    if weighted and p.denominator == 0:
        _denominator_value(0.0, True)
    return np.asarray(p.total / p.denominator if p.denominator > 0 else math.nan, dtype=dtype)


def _single(spec, *args):
    """The whole NumPy call in one task (losses that cannot be blocked)."""
    inputs = args[:spec.n_inputs]
    w = args[spec.n_inputs] if spec.weight is not None else None
    L = spec.loss
    with config.threads(spec.threads):
        if spec.mode == MODE_GRAD_HESS:
            return L.grad_hess(*inputs, sample_weight=w, **spec.params)
        if spec.mode == MODE_LOSS:
            return L.loss(*inputs, sample_weight=w, reduction=spec.reduction,
                          **spec.params), None
        return L.loss_grad(*inputs, sample_weight=w, reduction=spec.reduction, **spec.params)


# -- building the graph -----------------------------------------------------------------

class _Plan:
    """Checks a call, decides how to split it, and builds its dask graph."""

    def __init__(self, loss_obj, inputs, sample_weight, reduction, params, mode, threads,
                 split_every):
        if isinstance(loss_obj, str):
            loss_obj = get(loss_obj)
        if not isinstance(loss_obj, Loss):
            raise TypeError("loss must be a fastloss loss object or the name of one; got "
                            f"{type(loss_obj).__name__}")
        if "out" in params:
            raise TypeError("fastloss.dask takes no out=: its results are new dask arrays")
        if loss_obj.unit_groups is not None:
            raise NotImplementedError(
                f"fastloss.dask does not split {loss_obj.name}: its units come in separate "
                f"groups ({', '.join(g[0] for g in loss_obj.unit_groups)}), each with its own "
                "weights and mean; compute it on NumPy arrays (e.g. one dask task)")
        if threads is not None:
            config._checked(threads)
        self.L = L = loss_obj
        params = dict(params)
        raw = L._bind(inputs, params)          # inputs given by name leave params here
        self.reduction = V.check_reduction(reduction)
        self.params = params
        self.prm = L._parse(params)
        self.mode = mode
        self.threads = threads
        self.split_every = int(split_every or SPLIT_EVERY)
        if self.split_every < 2:
            raise ValueError(f"split_every must be at least 2; got {split_every!r}")
        self.inputs = [self._as_dask(a, name) for a, name in zip(raw, L.inputs, strict=True)]
        sw = sample_weight
        if sw is not None and not isinstance(sw, da.Array) and np.ndim(sw) == 0:
            self.weight, self.wkind = sw, "scalar"
        elif sw is None:
            self.weight, self.wkind = None, None
        else:
            self.weight, self.wkind = self._as_dask(sw, "sample_weight"), "array"
        self.axes = [self._unit_axis(x, n) for x, n in zip(self.inputs, L.inputs, strict=True)]
        self._layout()

    # -- checks and layout ------------------------------------------------------------

    @staticmethod
    def _as_dask(a, name):
        if not isinstance(a, da.Array):
            a = V.as_numeric(a, name)
            return da.from_array(a, chunks=a.shape or ())
        if any(math.isnan(c) for cs in a.chunks for c in cs):
            raise ValueError(f"{name} has unknown chunk sizes (NaN), so its blocks cannot "
                             f"be aligned with the other inputs'; call "
                             f"{name}.compute_chunk_sizes() first")
        return a

    def _unit_axis(self, x, name):
        """The axis of x that indexes the units, or None when x lacks it."""
        ax = self.L.unit_axes.get(name, 0)
        if -x.ndim <= ax < x.ndim:
            return ax % x.ndim
        return None

    def _layout(self):
        L, xs = self.L, self.inputs
        batched = all(a is not None for a in self.axes)
        if batched:
            self._probe()
        single = not L.unit_local or not batched or self.units_many or not self.parts_ok
        if single:
            self.kind, self.check = "single", None
            if not batched:
                self._probe_unbatched()
            return
        lengths = {f"{name} {x.shape[a]} (axis {a})": x.shape[a]
                   for x, a, name in zip(xs, self.axes, L.inputs, strict=True)}
        if self.wkind == "array" and self.weight.ndim:
            lengths[f"sample_weight {self.weight.shape[0]} (axis 0)"] = self.weight.shape[0]
        if len(set(lengths.values())) > 1:
            where = ", ".join(lengths)
            raise ValueError(
                f"{L.name}: the inputs must hold the same number of units along their unit "
                f"axes, which fastloss.dask splits into blocks; got {where}")
        free = (L.unit == "element" and len({x.shape for x in xs}) == 1
                and not any(isinstance(v, (np.ndarray, dict)) for v in self.prm.values()))
        self.kind = "free" if free else "units"
        self.check = self._count_units()

    def _probe_shapes(self, x, axis):
        s = list(x.shape)
        if axis is not None and s:
            s[axis] = 0
        return tuple(s)

    def _probe(self):
        """Run the loss on empty blocks of the inputs' shapes (zero units): it
        checks shapes, dtypes and keywords now, not at compute time, and tells
        the dtypes and structure of the results."""
        L = self.L
        empty = [np.zeros(self._probe_shapes(x, a), x.dtype)
                 for x, a in zip(self.inputs, self.axes, strict=True)]
        w = self.weight
        if self.wkind == "array":
            w = np.zeros(self._probe_shapes(w, 0 if w.ndim else None), w.dtype)
        try:
            if self.mode == MODE_GRAD_HESS:
                g, _ = L.grad_hess(*empty, sample_weight=w, **self.params)
                v = None
            else:
                v, g = L.loss_grad(*empty, sample_weight=w, reduction=self.reduction,
                                   **self.params)
            units = L.loss(*empty, sample_weight=w, reduction="none", **self.params)
        except (ValueError, TypeError) as e:
            shapes = ", ".join(f"{n} {x.shape}"
                               for n, x in zip(L.inputs, self.inputs, strict=True))
            raise type(e)(f"{e} [fastloss.dask checks a call on empty blocks of the inputs "
                          f"(unit axes of length 0); the inputs: {shapes}]") from None
        self.value_dtype = None if v is None else np.asarray(v).dtype
        self.grad_dtypes = tuple(a.dtype for a in (g if isinstance(g, tuple) else (g,)))
        # the per-unit losses: one array, or several (e.g. a GAN's real and fake terms)
        self.units_many = isinstance(units, tuple)
        self.units_meta = [(u.dtype, u.shape) for u in (units if self.units_many else (units,))]
        # a value that is one ratio of sums over the units reports (0, 0) for none
        self.parts_ok = True
        if self.reduction != "none" and self.mode != MODE_GRAD_HESS:
            try:
                parts = L._partial(MODE_LOSS, tuple(empty), w, self.reduction, self.params)[0]
                self.parts_ok = parts.total == 0 and parts.denominator == 0
            except NoParts:
                self.parts_ok = False

    def _probe_unbatched(self):
        """Result dtypes for an unbatched call (one unit, or a layout that
        cannot be split), from fastloss's dtype rule; its errors show at
        compute time."""
        dt = V.float_dtype(*[np.empty(0, x.dtype) for x in self.inputs])
        self.value_dtype = dt
        self.grad_dtypes = (dt,) * len(self.L.wrt)
        self.units_many, self.units_meta, self.parts_ok = False, [(dt, (0,))], False

    # -- graph ------------------------------------------------------------------------------

    def _indices(self):
        """Blockwise index tuples for the inputs and the weight, the shared
        (block grid) symbols, and the inputs rechunked and aligned to match."""
        xs = self.inputs
        if self.kind == "free":     # every axis is split (elements are units)
            shared = tuple(f"e{j}" for j in range(xs[0].ndim))
            inds = [shared] * len(xs)
        else:                       # the unit axis "u" is split, the others whole
            shared = ("u",)
            inds = [tuple("u" if j == a else f"x{k}_{j}" for j in range(x.ndim))
                    for k, (x, a) in enumerate(zip(xs, self.axes, strict=True))]
        w, wind = self.weight, None
        if self.wkind == "array":
            # one weight per element, per row of the first axis, or per unit
            if self.kind == "free" and w.ndim == len(shared):
                wind = shared
            else:
                wind = (shared[0],) + tuple(f"w{j}" for j in range(1, w.ndim)) if w.ndim else ()
        arrays, pairs = xs + ([w] if self.wkind == "array" else []), []
        for x, ind in zip(arrays, inds + [wind], strict=False):
            pairs += [x.rechunk({j: -1 for j, s in enumerate(ind) if s not in shared}), ind]
        aligned = da.core.unify_chunks(*pairs)[1]
        return aligned[:len(xs)], inds, (aligned[-1] if self.wkind == "array" else w), wind, \
            shared

    def _spec(self, mode, scaled=False):
        check = self.check if self.reduction != "none" and mode != MODE_GRAD_HESS else None
        return _Spec(self.L, self.params, self.reduction, mode, self.threads,
                     len(self.inputs), self.wkind, scaled, check)

    def _args(self, xs, inds, w, wind):
        args = []
        for x, ind in zip(xs, inds, strict=True):
            args += [x, ind]
        if self.wkind == "array":
            args += [w, wind]
        elif self.wkind == "scalar":
            args += [w, None]
        return args

    def _tasks(self, fn, spec, xs, inds, w, wind, shared, den=None, tag=""):
        """One task per block (a tuple result, never computed as an array)."""
        args = self._args(xs, inds, w, wind)
        if den is not None:
            args += [den, () if isinstance(den, da.Array) else None]
        name = f"fastloss-{self.L.name}-blocks{tag}-" + tokenize(
            self.L.name, spec.mode, self.reduction, self.params, self.wkind, self.threads,
            *[a.name if isinstance(a, da.Array) else a for a in args[::2]])
        return da.blockwise(fn, shared, spec, None, *args, name=name, concatenate=True,
                            dtype=object, meta=np.empty((0,) * len(shared), object))

    def _value(self, tmp, shared, tag):
        """The reduced value (0-d dask array) and the summed Parts (0-d, object)
        from the block tasks' Parts, added in a halving tree."""
        nd = len(shared)
        parts = da.blockwise(_pick_parts, shared, tmp, shared, nd, None,
                             adjust_chunks={s: 1 for s in shared}, dtype=object,
                             meta=np.empty((0,) * nd, object))
        keys = [(parts.name,) + idx for idx in np.ndindex(*parts.numblocks)]
        token = tokenize(parts.name, self.split_every)
        layer = {}
        root = self._tree(keys, f"fastloss-sum{tag}-{token}", layer)
        total_name = f"fastloss-total{tag}-{token}"
        layer[(total_name,)] = (_as_object, root)
        graph = HighLevelGraph.from_collections(total_name, layer, dependencies=[parts])
        total = da.Array(graph, total_name, chunks=(), dtype=object,
                         meta=np.empty((), object))
        dt = self.value_dtype
        value = da.blockwise(_finish, (), total, (), self.reduction == "mean", None,
                             self.wkind is not None, None, dt, None, dtype=dt,
                             meta=np.empty((), dt),
                             name=f"fastloss-{self.L.name}-value{tag}-{token}")
        return value, total

    def _tree(self, keys, name, layer):
        """Tasks adding the block Parts in a binary (halving) tree, at most
        split_every of them per task; returns the root's key."""
        counter = [0]

        def node(lo, hi):
            key = (name, counter[0])
            counter[0] += 1
            if hi - lo <= self.split_every:
                layer[key] = (_sum_tasks, *keys[lo:hi])
            else:
                mid = lo + (hi - lo) // 2
                layer[key] = (_sum_tasks, node(lo, mid), node(mid, hi))
            return key

        return node(0, len(keys))

    def _outputs(self, tmp, slot, shared, xs, inds, dtypes, count):
        """Arrays picked from the block tasks' results: result[slot] (or its
        j-th entry when there are several), chunked like `xs`."""
        out = []
        for j, (x, ind, dt) in enumerate(zip(xs, inds, dtypes, strict=True)):
            new = {s: n for s, n in zip(ind, x.shape, strict=True) if s not in shared}
            out.append(da.blockwise(_pick, ind, tmp, shared, slot, None,
                                    j if count > 1 else None, None, new_axes=new, dtype=dt,
                                    meta=np.empty((0,) * x.ndim, dt)))
        return tuple(out) if count > 1 else out[0]

    def _wrt(self, xs, inds):
        idx = [self.L.inputs.index(w) for w in self.L.wrt]
        return [xs[i] for i in idx], [inds[i] for i in idx]

    def _units(self, tmp, shared, xs, inds):
        """The per-unit losses ("none") picked from the block tasks."""
        dt, shape = self.units_meta[0]
        if self.kind == "free":
            return self._outputs(tmp, 0, shared, xs[:1], inds[:1], [dt], 1)
        if self.kind == "units":
            ind = ("u",) + tuple(f"o{j}" for j in range(1, len(shape)))
            new = dict(zip(ind[1:], shape[1:], strict=True))
            return da.blockwise(_pick, ind, tmp, shared, 0, None, None, None, new_axes=new,
                                dtype=dt, meta=np.empty((0,) * len(shape), dt))
        raise AssertionError("unreachable")

    def _count_units(self):
        """The number of units, and how a block counts its own (the check of
        _check_denominator), or None when the loss weighs units from the data
        (then the denominator is not the count or the weights' sum)."""
        x = self.inputs[0]
        if self.kind == "free":
            units, axis, per_entry = math.prod(x.shape), None, 1
        else:
            per_entry = math.prod(self.units_meta[0][1][1:])
            units, axis = x.shape[self.axes[0]] * per_entry, self.axes[0]
        self.units = units
        if self.L.weighs_data(**self.params):
            return None
        return axis, per_entry, self.grad_dtypes[0].name

    def _global_denominator(self):
        """The denominator of "mean" for the gradient, without a pass over the
        data (a number, or a 0-d dask array summing the weights), or None when
        the loss weighs units from the data."""
        if self.check is None:
            return None
        if self.wkind is None:
            return float(self.units)
        if self.wkind == "scalar":
            return float(np.float64(self.weight)) * self.units
        w = self.weight
        per_weight = self.units / w.size if w.size else 1.0
        return w.astype(np.float64).sum(split_every=self.split_every) * per_weight

    def run(self, value=True):
        """(value or None, gradients or None) — or for grad_hess (grad, hess)."""
        if self.kind == "single":
            return self._run_single(value)
        xs, inds, w, wind, shared = self._indices()
        wx, wi = self._wrt(xs, inds)
        nw = len(self.L.wrt)
        if self.mode == MODE_GRAD_HESS:
            tmp = self._tasks(_block, self._spec(MODE_GRAD_HESS), xs, inds, w, wind, shared)
            return (self._outputs(tmp, 0, shared, wx, wi, self.grad_dtypes, nw),
                    self._outputs(tmp, 1, shared, wx, wi, self.grad_dtypes, nw))
        grads = None
        if self.reduction == "none":
            tmp = self._tasks(_block, self._spec(self.mode), xs, inds, w, wind, shared)
            if self.mode == MODE_LOSS_GRAD:
                grads = self._outputs(tmp, 1, shared, wx, wi, self.grad_dtypes, nw)
            return (self._units(tmp, shared, xs, inds) if value else None), grads
        if self.mode == MODE_LOSS or self.reduction == "sum":
            tmp = self._tasks(_block, self._spec(self.mode), xs, inds, w, wind, shared)
            if self.mode == MODE_LOSS_GRAD:
                grads = self._outputs(tmp, 1, shared, wx, wi, self.grad_dtypes, nw)
            return (self._value(tmp, shared, "")[0] if value else None), grads
        # the gradient of the mean: its denominator first
        den = self._global_denominator()
        if den is None:  # from a first pass of the loss itself
            first = self._tasks(_block, self._spec(MODE_LOSS), xs, inds, w, wind, shared,
                                tag="-pass1")
            val, total = self._value(first, shared, "-pass1")
            tmp = self._tasks(_block, self._spec(MODE_LOSS_GRAD, scaled=True), xs, inds, w,
                              wind, shared, den=total, tag="-pass2")
            return (val if value else None), self._outputs(tmp, 1, shared, wx, wi,
                                                           self.grad_dtypes, nw)
        spec = self._spec(MODE_LOSS_GRAD, scaled=True)
        tmp = self._tasks(_block, spec, xs, inds, w, wind, shared, den=den)
        grads = self._outputs(tmp, 1, shared, wx, wi, self.grad_dtypes, nw)
        return (self._value(tmp, shared, "")[0] if value else None), grads

    def _run_single(self, value):
        xs = [x.rechunk(-1) if x.ndim else x for x in self.inputs]
        inds = [tuple(f"x{k}_{j}" for j in range(x.ndim)) for k, x in enumerate(xs)]
        w, wind = self.weight, None
        if self.wkind == "array":
            w = w.rechunk(-1) if w.ndim else w
            wind = tuple(f"w{j}" for j in range(w.ndim))
        tmp = self._tasks(_single, self._spec(self.mode), xs, inds, w, wind, (), tag="-whole")
        wx, wi = self._wrt(xs, inds)
        nw = len(self.L.wrt)
        if self.mode == MODE_GRAD_HESS:
            return (self._outputs(tmp, 0, (), wx, wi, self.grad_dtypes, nw),
                    self._outputs(tmp, 1, (), wx, wi, self.grad_dtypes, nw))
        grads = (self._outputs(tmp, 1, (), wx, wi, self.grad_dtypes, nw)
                 if self.mode == MODE_LOSS_GRAD else None)
        if not value:
            return None, grads
        if self.reduction != "none":
            dt = self.value_dtype
            v = da.blockwise(_pick, (), tmp, (), 0, None, None, None, dtype=dt,
                             meta=np.empty((), dt))
            return v, grads
        return _unknown_length(tmp, self.units_meta, self.units_many), grads


def _unknown_length(tmp, metas, many):
    """Per-unit losses of a one-task call: their number is only known once
    computed (NaN chunks; `compute_chunk_sizes()` finds it)."""
    out = []
    for j, (dt, shape) in enumerate(metas):
        name = f"fastloss-units-{j}-" + tmp.name
        chunks = ((math.nan,),) + tuple((n,) for n in shape[1:])
        key = (name,) + (0,) * len(shape)
        layer = {key: (_pick, (tmp.name,), 0, j if many else None)}
        graph = HighLevelGraph.from_collections(name, layer, dependencies=[tmp])
        out.append(da.Array(graph, name, chunks=chunks, dtype=dt,
                            meta=np.empty((0,) * len(shape), dt)))
    return tuple(out) if many else out[0]

