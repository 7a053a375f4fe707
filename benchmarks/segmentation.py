"""Overlap losses against binary cross-entropy and the PyTorch composite, on the
same arrays: `python benchmarks/segmentation.py [--dtypes ...] [--threads 1,2]`.

For each case, value + gradient (reduction="mean") of dice, jaccard and
tversky from logits, of binary_crossentropy(from_logits=True) on the same
logits (with the dense targets of y_pred's shape: one-hot for a label map),
and of fastloss.peers.segmentation's torch composite (sigmoid or softmax,
sums, ratio, backward), timed interleaved (best of --repeat rounds), so the
ratios of a run hold better than its times on a busy machine; with --runs N
the table gives the best time of each over N runs and the range of the
ratios.  Prints a Markdown table.
Run as a script it imports the *installed* fastloss.
"""

import argparse
import sys
import time

import numpy as np

import fastloss as fl
from fastloss import _bench, peers

# (label, y_pred shape, target kind): the binary masks of issue 13 and a
# 21-class (Pascal VOC) softmax with one-hot targets and with a label map.
CASES = [
    ("binary", (16, 1, 256, 256), "dense"),
    ("21 classes", (8, 21, 256, 256), "dense"),
    ("21 classes", (8, 21, 256, 256), "labels"),
]
PARAMS = {"from_logits": True, "channel_axis": 1}


def arrays(shape, kind, dtype, seed=0):
    """(y_true for the overlap losses, dense targets for BCE, logits)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, shape).astype(dtype)
    C = shape[1]
    if C == 1:
        dense = rng.integers(0, 2, shape).astype(dtype)
        return dense, dense, x
    labels = rng.integers(0, C, (shape[0],) + shape[2:])
    dense = (labels[:, None] == np.arange(C)[None, :, None, None]).astype(dtype)
    return (labels if kind == "labels" else dense), dense, x


def implementations(y, dense, x):
    torch = peers.for_loss(fl.dice, PARAMS).get("torch")
    impls = {loss.name: (lambda f=loss: f.loss_grad(y, x, **PARAMS))
             for loss in (fl.dice, fl.jaccard, fl.tversky)}
    impls["bce"] = lambda: fl.binary_crossentropy.loss_grad(dense, x, from_logits=True)
    if torch is not None:
        impls["torch"] = lambda: torch(y, x)
    return impls


def _ratios(secs):
    """(torch / dice, dice / bce) of one timing run."""
    return (secs["torch"] / secs["dice"] if "torch" in secs else float("nan"),
            secs["dice"] / secs["bce"])


def run(dtypes, threads, repeat, runs=1, cpu=False, progress=None):
    """One row per case: the best time of each implementation over `runs`
    timing runs (each interleaved, best of `repeat` rounds) and the range of
    the two ratios over the runs.  cpu: CPU time instead of wall time for the
    single-threaded cases."""
    rows = []
    for label, shape, kind in CASES:
        for dt in dtypes:
            y, dense, x = arrays(shape, kind, np.dtype(dt))
            impls = implementations(y, dense, x)
            for nt in threads:
                if progress:
                    progress(f"{label} {shape} {kind} {dt} threads={nt}")
                timings = []
                with fl.threads(nt):
                    for _ in range(runs):
                        clock = time.process_time if cpu and nt == 1 else time.perf_counter
                        timings.append(_bench.time_impls(impls, repeat, clock))
                best = {k: min(t[k] for t in timings) for k in timings[0]}
                ratios = [_ratios(t) for t in timings]
                rows.append({"case": label, "shape": shape, "targets": kind, "dtype": dt,
                             "threads": nt, "seconds": best,
                             "torch_over_dice": (min(r[0] for r in ratios),
                                                 max(r[0] for r in ratios)),
                             "dice_over_bce": (min(r[1] for r in ratios),
                                               max(r[1] for r in ratios))})
    return rows


def table(rows):
    names = ["dice", "jaccard", "tversky", "bce", "torch"]
    head = ["case", "targets", "dtype", "thr"] + names + ["torch / dice", "dice / bce"]

    def span(lo_hi, fmt):
        lo, hi = lo_hi
        return fmt.format(lo) if f"{lo:.2f}" == f"{hi:.2f}" else (fmt + "-" + fmt).format(lo, hi)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s = r["seconds"]
        cells = [f"{r['case']} {'x'.join(map(str, r['shape']))}", r["targets"], r["dtype"],
                 str(r["threads"])]
        cells += [f"{s[k] * 1e3:.2f}" if k in s else "" for k in names]
        cells.append(span(r["torch_over_dice"], "{:.1f}") + "x" if "torch" in s else "")
        cells.append(span(r["dice_over_bce"], "{:.2f}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1", help="comma list of thread counts")
    ap.add_argument("--repeat", type=int, default=7, help="timing rounds (best kept)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time one-thread cases by CPU time (time.process_time), which a "
                         "busy machine distorts less than wall time")
    ap.add_argument("--runs", type=int, default=1,
                    help="timing runs per case: times are the best over the runs, ratios "
                         "the range over them")
    args = ap.parse_args(argv)
    rows = run(args.dtypes.split(","), [int(t) for t in args.threads.split(",")], args.repeat,
               args.runs, args.cpu_time, progress=lambda m: print(m, file=sys.stderr))
    clock = "CPU time for one thread" if args.cpu_time else "wall time"
    print(f"Times in ms ({clock}; value + gradient, reduction='mean'); {_bench.machine()}")
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
