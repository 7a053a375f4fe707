"""Side-by-side timings: fastloss against its NumPy reference (and peers).

Used by `python -m fastloss bench` and by the pytest-benchmark suite in
benchmarks/, so both time the same cases.  Every timing is value + gradient
(`loss_grad`, reduction="mean") on the same arrays; implementations are
timed interleaved, round by round, and the best round is kept, so a noisy
neighbour slows both sides alike.
"""

import json
import os
import platform
import sys
import time

import numpy as np

from fastloss import reference
from fastloss._core import registry as _registry
from fastloss._core.samples import draw

#: Size labels of the bench command; each loss has a shape per label in its
#: `shapes` (y_pred's shape for the wave-1 losses), or none when the label
#: does not apply to it.
SIZES = {
    "small": "16 elements or a row of 16 classes (per-call overhead)",
    "minibatch": "a minibatch: 256 elements, 256 x 10 rows, ...",
    "large": "4M elements, 262144 x 16 rows, or the family's large case",
    "wide": "many classes: 4096 x 1000 rows, or a CTC alphabet of 5000",
    "long": "long sequences (CTC: 1000 frames, targets of 150 labels)",
}


def cases(sizes=("small", "large"), names=None, all_examples=False):
    """(label, loss, params, shape) for every registered loss to time: its
    first example keywords (logits for the classification losses), or all."""
    out = []
    for name in names or _registry.available():
        loss = _registry.get(name)
        examples = loss.examples if all_examples else loss.examples[:1]
        for params in examples:
            for size in sizes:
                shape = loss.shapes.get(size)
                if shape is not None:
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


def implementations(loss, params, peers=False, reuse_out=False):
    """name -> f(*inputs) computing (loss, grad) with reduction='mean'.

    reuse_out: fastloss (and the hand-written C loops) write the gradient into
    a buffer reused across calls instead of a fresh array each call."""
    def ours(*inputs, out=None):
        return loss.loss_grad(*inputs, out=out, **params)

    impls = {
        "fastloss": reusing(ours) if reuse_out else (lambda *a: loss.loss_grad(*a, **params)),
        "numpy": lambda *a: reference.loss_grad(loss.name, *a, **params),
    }
    if peers:
        from fastloss import peers as _peers

        impls.update(_peers.for_loss(loss, params))
        for provider in EXTRA_PEERS:
            impls.update(provider(loss, params, reuse_out))
    return impls


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


def time_impls(fns, repeat=5, clock=time.perf_counter):
    """Best seconds per call of each zero-argument function, interleaved.

    clock: time.perf_counter (wall time), or time.process_time for the CPU
    time of single-threaded code on a machine shared with other jobs (time
    spent descheduled does not count)."""
    numbers = {k: _calibrate(f, clock=clock) for k, f in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
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
    keyword set of each loss, not only the first."""
    import fastloss as fl

    rows = []
    todo = [(c, dt, nt) for c in cases(sizes, names, all_examples)
            for dt in dtypes for nt in threads]
    for i, ((size, loss, params, shape), dt, nt) in enumerate(todo):
        inputs = draw(loss, params, shape, np.dtype(dt), seed=0)
        impls = implementations(loss, params, peers, reuse_out)
        if only is not None:
            impls = {k: f for k, f in impls.items() if k in only}
        impls = applicable(impls, inputs)
        if progress:
            progress(f"[{i + 1}/{len(todo)}] {loss.name} {dt} {shape}"
                     + (f" threads={nt}" if nt else ""))
        with fl.threads(nt), blas_threads(nt):
            secs = time_impls({k: (lambda f=f, a=inputs: f(*a)) for k, f in impls.items()},
                              repeat)
        rows.append({
            "loss": loss.name, "params": params, "size": size,
            "shape": [int(s) for s in np.ravel(shape)],
            "dtype": dt, "threads": nt or fl.get_num_threads(), "reuse_out": reuse_out,
            "seconds": secs,
            "speedup_vs_numpy": (secs["numpy"] / secs["fastloss"]
                                 if "numpy" in secs and "fastloss" in secs else None),
        })
    return rows


def _fmt_time(s):
    if s >= 1e-3:
        return f"{s * 1e3:8.2f} ms"
    return f"{s * 1e6:8.2f} us"


def format_table(rows):
    """A Markdown table: times per implementation and speedup vs NumPy."""
    impls = []
    for r in rows:
        impls += [k for k in r["seconds"] if k not in impls]
    head = ["loss", "dtype", "shape", "thr"] + impls + ["vs numpy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["loss"] + ("" if not r["params"] else
                              " (" + ", ".join(f"{k}={v}" for k, v in r["params"].items()) + ")"),
                 r["dtype"], "x".join(map(str, r["shape"])), str(r["threads"])]
        cells += [_fmt_time(r["seconds"][k]) if k in r["seconds"] else "" for k in impls]
        cells.append(f"{r['speedup_vs_numpy']:.1f}x")
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
    print(format_table(rows))
    large = [r["speedup_vs_numpy"] for r in rows if r["size"] != "small"]
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
