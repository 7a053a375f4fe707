"""What fastloss.custom adds to the user's own NumPy functions.

    python benchmarks/custom_overhead.py [--size N] [--repeat R]

Times, interleaved in one run (fastloss._bench.time_impls, best round kept),
on the README's asymmetric example:

- `functions`: the user's loss(y, p) and grad(y, p) called on the arrays (the
  floor: no validation, no reduction);
- `by hand`: the same plus what a hand-written mean loss needs (`.mean()`
  and the gradient divided by n);
- `custom`: fastloss.custom(...).loss_grad(y, p) (validation, the checks of
  the functions' results, mean and gradient scaling in one compiled pass);
- `built in`: fastloss.asymmetric_squared.loss_grad (for scale).

Run as a script it imports the installed fastloss.
"""

import argparse

import numpy as np

import fastloss as fl
from fastloss import _bench


def loss(y, p, under=2.0, over=0.5):
    e = y - p
    return np.where(e > 0, under, over) * e * e


def grad(y, p, under=2.0, over=0.5):
    e = y - p
    return -2 * np.where(e > 0, under, over) * e


def by_hand(y, p):
    return loss(y, p).mean(), grad(y, p) / p.size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4_194_304)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    asym = fl.custom("asym", loss, grad, params={"under": 2.0, "over": 0.5})
    rng = np.random.default_rng(0)
    print(f"# {_bench.machine()}")
    print("| dtype | functions | by hand | custom | built in | custom / functions |")
    print("|---|---|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        y = rng.normal(size=args.size).astype(dtype)
        p = rng.normal(size=args.size).astype(dtype)
        fns = {"functions": lambda y=y, p=p: (loss(y, p), grad(y, p)),
               "by hand": lambda y=y, p=p: by_hand(y, p),
               "custom": lambda y=y, p=p: asym.loss_grad(y, p),
               "built in": lambda y=y, p=p: fl.asymmetric_squared.loss_grad(y, p)}
        with fl.threads(args.threads):
            t = _bench.time_impls(fns, args.repeat)
        print(f"| {np.dtype(dtype).name} | " + " | ".join(
            f"{t[k] * 1e3:.1f} ms" for k in fns) + f" | {t['custom'] / t['functions']:.2f} |")


if __name__ == "__main__":
    main()
