"""Overlap losses against binary cross-entropy and the PyTorch composite, on the
same arrays: `python benchmarks/segmentation.py [--dtypes ...] [--threads 1,2]`.

For each case, value + gradient (reduction="mean") of dice, jaccard and
tversky from logits, of binary_crossentropy(from_logits=True) on the same
logits (with the dense targets of y_pred's shape: one-hot for a label map),
and of fastloss.peers.segmentation's torch composite (sigmoid or softmax,
sums, ratio, backward), timed interleaved in one run (best of --repeat
rounds), so the ratios hold on a busy machine.  Prints a Markdown table.
Run as a script it imports the *installed* fastloss.
"""

import argparse
import sys

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


def run(dtypes, threads, repeat, progress=None):
    rows = []
    for label, shape, kind in CASES:
        for dt in dtypes:
            y, dense, x = arrays(shape, kind, np.dtype(dt))
            impls = implementations(y, dense, x)
            for nt in threads:
                if progress:
                    progress(f"{label} {shape} {kind} {dt} threads={nt}")
                with fl.threads(nt):
                    secs = _bench.time_impls(impls, repeat)
                rows.append({"case": label, "shape": shape, "targets": kind, "dtype": dt,
                             "threads": nt, "seconds": secs})
    return rows


def table(rows):
    names = ["dice", "jaccard", "tversky", "bce", "torch"]
    head = ["case", "targets", "dtype", "thr"] + names + ["torch / dice", "dice / bce"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s = r["seconds"]
        cells = [f"{r['case']} {'x'.join(map(str, r['shape']))}", r["targets"], r["dtype"],
                 str(r["threads"])]
        cells += [f"{s[k] * 1e3:.2f}" if k in s else "" for k in names]
        cells.append(f"{s['torch'] / s['dice']:.1f}x" if "torch" in s else "")
        cells.append(f"{s['dice'] / s['bce']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1", help="comma list of thread counts")
    ap.add_argument("--repeat", type=int, default=7, help="timing rounds (best kept)")
    args = ap.parse_args(argv)
    rows = run(args.dtypes.split(","), [int(t) for t in args.threads.split(",")], args.repeat,
               progress=lambda m: print(m, file=sys.stderr))
    print(f"Times in ms (value + gradient, reduction='mean'); {_bench.machine()}")
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
