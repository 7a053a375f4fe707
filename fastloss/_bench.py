"""Side-by-side timings: fastloss against its NumPy reference (and peers).

Used by `python -m fastloss bench` and by the pytest-benchmark suite in
benchmarks/, so both time the same cases.  Every timing is value + gradient
(`loss_grad`, reduction="mean") on the same arrays; implementations are
timed interleaved, round by round, and the best round is kept, so a noisy
neighbour slows both sides alike.
"""

import functools
import json
import os
import platform
import sys
import time

import numpy as np

from fastloss import _lean, reference
from fastloss._core import registry as _registry
from fastloss._core.samples import draw

#: Size labels of the bench command; each loss has a shape per label in its
#: `shapes` (y_pred's shape for the wave-1 losses), or none when the label
#: does not apply to it.
SIZES = {
    "small": "16 elements or a row of 16 classes (per-call overhead)",
    "minibatch": "minibatches of 32, 256 and 1024 elements or rows of 10 classes, "
                 "timed against the leanest NumPy expression and torch, with the "
                 "per-call overhead",
    "large": "4M elements, 262144 x 16 rows, or the family's large case",
    "wide": "many classes: 4096 x 1000 rows, or a CTC alphabet of 5000",
    "long": "long sequences (CTC: 1000 frames, targets of 150 labels)",
}

#: The minibatch sizes (first axis) for the element-wise and row-wise loop
#: shapes; other loop shapes use their declared "minibatch" shape as is.
MINIBATCH_ROWS = (32, 256, 1024)


def _shapes(loss, size):
    shape = loss.shapes.get(size)
    if shape is None:
        return []
    if size == "minibatch" and loss.kind in ("elementwise", "rowwise"):
        return [(rows,) + tuple(shape)[1:] for rows in MINIBATCH_ROWS]
    return [shape]


def cases(sizes=("small", "large"), names=None, all_examples=False):
    """(label, loss, params, shape) for every registered loss to time: its
    first example keywords (logits for the classification losses), or all."""
    out = []
    for name in names or _registry.available():
        loss = _registry.get(name)
        examples = loss.examples if all_examples else loss.examples[:1]
        for params in examples:
            for size in sizes:
                for shape in _shapes(loss, size):
                    out.append((size, loss, params, shape))
    return out


#: Extra peer providers, f(loss, params, reuse_out) -> {name: f(y, p)};
#: benchmarks/compare.py adds the hand-written C loops here.
EXTRA_PEERS = []


class NotApplicable(Exception):
    """Raised by a peer that has no version of this case (e.g. this dtype)."""


def reusing(fn):
    """fn(*inputs, out=...) as f(*inputs), with one set of gradient buffers
    per input shapes and dtypes kept across calls (a training loop's `out=`)."""
    bufs = {}

    def f(*inputs):
        key = tuple((np.shape(a), np.asarray(a).dtype.str) for a in inputs)
        if key not in bufs:
            g = fn(*inputs)[1]
            bufs[key] = (tuple(np.empty_like(x) for x in g) if isinstance(g, tuple)
                         else np.empty_like(g))
        return fn(*inputs, out=bufs[key])
    return f


def implementations(loss, params, peers=False, reuse_out=False, lean=False, torch=False):
    """name -> f(*inputs) computing (loss, grad) with reduction='mean'.

    reuse_out: fastloss (and the hand-written C loops) write the gradient into
    a buffer reused across calls instead of a fresh array each call.
    lean: add "numpy" as the leanest NumPy expression of the loss (fastloss._lean,
    where there is one) and the reference as "numpy ref"; torch: add the torch
    peer (where installed) without the others."""
    def ours(*inputs, out=None):
        return loss.loss_grad(*inputs, out=out, **params)

    # the bound method itself (with the keywords bound by functools.partial):
    # what a user's own call costs, without a wrapper's extra frame and
    # argument unpacking (75 ns of a 330 ns call at 256 values)
    direct = loss.loss_grad if not params else functools.partial(loss.loss_grad, **params)
    impls = {
        "fastloss": reusing(ours) if reuse_out else direct,
        "numpy": lambda *a: reference.loss_grad(loss.name, *a, **params),
    }
    if lean:
        impls["numpy ref"] = impls.pop("numpy")
        f = _lean.for_loss(loss, params)
        if f is not None:
            impls["numpy"] = f
    if peers or torch:
        from fastloss import peers as _peers

        found = _peers.for_loss(loss, params)
        impls.update(found if peers else {k: v for k, v in found.items() if k == "torch"})
    if peers:
        for provider in EXTRA_PEERS:
            impls.update(provider(loss, params, reuse_out))
    return impls


def kernel_only(loss, params, inputs):
    """A zero-argument function running only the compiled loop of a call
    (contiguous inputs, a preallocated gradient, no validation), for the
    per-call overhead column; None for loop shapes it does not know."""
    from fastloss._core import dispatch
    from fastloss._core import validation as V

    if loss.kind == "elementwise":
        try:
            plan = loss._fast_plan(dict(params))
        except Exception:
            plan = None
        if plan is None:
            return None
        kid, kparams = plan[:2]  # (kernel, params, bounds, check)
        dtype = V.float_dtype(*(np.asarray(a) for a in inputs))
        y, p = (np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in inputs)
        g = np.empty_like(p)
        K = dispatch.kernels("_elementwise")
        return lambda: K.run(kid, 1, y, p, None, 0, kparams, None, g, None, 1.0 / p.size, 1)
    if loss.kind == "rowwise":
        yt, yp = inputs
        C = yp.shape[-1]
        try:
            plan = loss._fast_plan(dict(params), C)
        except Exception:
            plan = None
        if plan is None:
            return None
        kid, kparams, ign, _ = plan
        p = np.ascontiguousarray(yp).reshape(-1)
        g = np.empty_like(p)
        if loss.sparse:
            lab, y = np.ascontiguousarray(yt, dtype=np.intp).reshape(-1), None
        else:
            lab, y = None, np.ascontiguousarray(yt, dtype=p.dtype).reshape(-1)
        K = dispatch.kernels("_rowwise")
        return lambda: K.run(kid, 1, y, lab, p, C, None, None, kparams, ign, None, g, None,
                             True, 1)
    return None


def applicable(impls, inputs):
    """The implementations that accept these inputs (one trial call each)."""
    out = {}
    for k, f in impls.items():
        try:
            f(*inputs)
        except NotApplicable:
            continue
        out[k] = f
    return out


def _calibrate(fn, target=0.02, clock=time.perf_counter):
    """Calls per timing so one timing lasts about `target` seconds."""
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        dt = clock() - t0
        if dt >= target or number >= 1 << 20:
            return number
        number *= 2 if dt > target / 10 else 10


def time_impls(fns, repeat=5, fine=False, clock=time.perf_counter):
    """Best seconds per call of each zero-argument function, interleaved.

    fine: for calls of microseconds, time many short rounds (about 0.1 ms
    each, 40 times `repeat` of them) instead of a few 20 ms ones: on a shared
    machine a short round is often not interrupted, so the best of them is
    the machine's own speed.  clock: time.perf_counter (wall time), or
    time.process_time for the CPU time of single-threaded code on a machine
    shared with other jobs (time spent descheduled does not count)."""
    numbers = {k: _calibrate(f, 1e-4 if fine else 0.02, clock) for k, f in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat * (40 if fine else 1)):
        for k, f in fns.items():
            n = numbers[k]
            t0 = clock()
            for _ in range(n):
                f()
            best[k] = min(best[k], (clock() - t0) / n)
    return best


def blas_threads(n):
    """A context limiting the BLAS libraries loaded (NumPy's, PyTorch's) to n
    threads, through threadpoolctl where it is installed (else a no-op): a
    timing at n threads then uses n for the matrix products of every
    implementation too (info_nce, nt_xent and their peers); None: no limit."""
    import contextlib

    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return contextlib.nullcontext() if n is None else threadpoolctl.threadpool_limits(n, "blas")


def run(sizes=("small", "large"), dtypes=("float64", "float32"), names=None,
        threads=(None,), peers=False, repeat=5, progress=None, reuse_out=False, only=None,
        all_examples=False):
    """Time every case; return a list of result dicts.  only: the names of the
    implementations to time (default: all); all_examples: every example
    keyword set of each loss, not only the first.  Minibatch cases are timed
    against the lean NumPy expression ("numpy") and torch, and carry the
    per-call overhead (fastloss's time minus its loop's alone)."""
    import fastloss as fl

    rows = []
    todo = [(c, dt, nt) for c in cases(sizes, names, all_examples)
            for dt in dtypes for nt in threads]
    for i, ((size, loss, params, shape), dt, nt) in enumerate(todo):
        mini = size == "minibatch"
        inputs = draw(loss, params, shape, np.dtype(dt), seed=0)
        impls = implementations(loss, params, peers, reuse_out, lean=mini, torch=mini)
        if only is not None:
            impls = {k: f for k, f in impls.items() if k in only}
        impls = applicable(impls, inputs)
        fns = {k: (lambda f=f, a=inputs: f(*a)) for k, f in impls.items()}
        kern = (kernel_only(loss, params, inputs)
                if mini and not reuse_out and "fastloss" in impls else None)
        if kern is not None:
            fns["loop only"] = kern
        if progress:
            progress(f"[{i + 1}/{len(todo)}] {loss.name} {dt} {shape}"
                     + (f" threads={nt}" if nt else ""))
        with fl.threads(nt), blas_threads(nt):
            secs = time_impls(fns, repeat, fine=mini)
        row = {
            "loss": loss.name, "params": params, "size": size,
            "shape": [int(s) for s in np.ravel(shape)],
            "dtype": dt, "threads": nt or fl.get_num_threads(), "reuse_out": reuse_out,
            "seconds": {k: v for k, v in secs.items() if k != "loop only"},
        }
        if "numpy" in secs and "fastloss" in secs:
            row["speedup_vs_numpy"] = secs["numpy"] / secs["fastloss"]
        if "loop only" in secs:
            row["overhead"] = secs["fastloss"] - secs["loop only"]
        rows.append(row)
    return rows


def _fmt_time(s):
    if s >= 1e-3:
        return f"{s * 1e3:8.2f} ms"
    return f"{s * 1e6:8.2f} us"


def format_table(rows):
    """A Markdown table: times per implementation and speedup vs NumPy (the
    lean NumPy expression for minibatch rows, with the per-call overhead)."""
    impls = []
    for r in rows:
        impls += [k for k in r["seconds"] if k not in impls]
    over = any("overhead" in r for r in rows)
    head = (["loss", "dtype", "shape", "thr"] + impls + (["overhead"] if over else [])
            + ["vs numpy"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["loss"] + ("" if not r["params"] else
                              " (" + ", ".join(f"{k}={v}" for k, v in r["params"].items()) + ")"),
                 r["dtype"], "x".join(map(str, r["shape"])), str(r["threads"])]
        cells += [_fmt_time(r["seconds"][k]) if k in r["seconds"] else "" for k in impls]
        if over:
            cells.append(_fmt_time(r["overhead"]) if "overhead" in r else "")
        cells.append(f"{r['speedup_vs_numpy']:.1f}x" if "speedup_vs_numpy" in r else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine():
    """A one-line description of where the numbers were taken."""
    import fastloss as fl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = fl.build_info()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} cores, Python {platform.python_version()}, "
            f"NumPy {np.__version__}, fastloss {info['version']} "
            f"(ISA {info['isa']}, OpenMP {'on' if info['openmp'] else 'off'})")


def write_json(rows, path):
    with open(path, "w") as f:
        json.dump({"machine": machine(), "results": rows}, f, indent=1)


def write_png(rows, path):
    """Bar chart of speedups vs NumPy (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['loss']} {r['dtype']} {'x'.join(map(str, r['shape']))} t{r['threads']}"
              for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.5))
    impls = [k for k in rows[0]["seconds"] if k != "numpy"]
    h = 0.8 / len(impls)
    for j, k in enumerate(impls):
        vals = [r["seconds"]["numpy"] / r["seconds"][k] if k in r["seconds"] else 0 for r in rows]
        ax.barh(np.arange(len(rows)) + j * h, vals, height=h, label=k)
    ax.set_yticks(np.arange(len(rows)) + 0.4 - h / 2, labels, fontsize=7)
    ax.axvline(1, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speedup over the NumPy reference (value + gradient)")
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_title(machine(), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m fastloss bench",
        description="Time fastloss against its NumPy reference, loss by loss "
                    "(value + gradient, reduction='mean').")
    ap.add_argument("--sizes", default="small,large",
                    help="comma list of: " + "; ".join(f"{k} ({v})" for k, v in SIZES.items()))
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--loss", action="append", help="only this loss (repeatable)")
    ap.add_argument("--threads", default="1",
                    help="comma list of thread counts, e.g. 1,2 (default 1)")
    ap.add_argument("--peers", action="store_true",
                    help="also time scikit-learn, PyTorch and JAX where installed")
    ap.add_argument("--reuse-out", action="store_true",
                    help="fastloss and the hand-written C loops write the gradient into a "
                         "buffer reused across calls (out=), as a training loop would; "
                         "the other peers allocate as usual")
    ap.add_argument("--all-examples", action="store_true",
                    help="time every example keyword set of each loss (e.g. every GAN "
                         "kind), not only the first")
    ap.add_argument("--repeat", type=int, default=5, help="timing rounds (best kept)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--png", metavar="PATH", help="write a speedup chart (needs matplotlib)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)

    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            ap.error(f"unknown size {s!r}; choose from {', '.join(SIZES)}")
    names = [_registry.get(n).name for n in args.loss] if args.loss else None
    threads = [int(t) for t in args.threads.split(",")]

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    print(f"# fastloss bench: {machine()}", flush=True)
    if args.reuse_out:
        print("# gradients written into reused buffers (out=) by fastloss and handC",
              flush=True)
    rows = run(sizes, args.dtypes.split(","), names, threads, args.peers, args.repeat,
               None if args.quiet else progress, args.reuse_out,
               all_examples=args.all_examples)
    for size in sizes:
        part = [r for r in rows if r["size"] == size]
        if part:
            print(f"\n{size}: {SIZES[size]}\n")
            print(format_table(part))
    large = [r["speedup_vs_numpy"] for r in rows
             if r["size"] not in ("small", "minibatch") and "speedup_vs_numpy" in r]
    if large:
        gm = float(np.exp(np.mean(np.log(large))))
        print(f"\ngeometric-mean speedup vs NumPy on large inputs: {gm:.1f}x")
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {args.json}")
    if args.png:
        write_png(rows, args.png)
        print(f"wrote {args.png}")
    return 0
