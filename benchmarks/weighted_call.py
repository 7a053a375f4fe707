"""Small weighted calls against NumPy: `python benchmarks/weighted_call.py`.

`loss_grad(y, p, sample_weight=w)` of mean_squared_error and
binary_crossentropy (from logits) on 32, 256 and 1024 float64 elements, and
of sparse_categorical_crossentropy (from logits) on as many rows of 10
classes, against the leanest NumPy expression of the same weighted mean and
its gradient, timed interleaved in many short rounds (fastloss._bench.time_impls
with fine=True), best kept, one thread.
"""

import argparse
import sys

import numpy as np

import fastloss as fl
from fastloss import _bench


def _np_mse(y, p, w):
    d = p - y
    s = w.sum()
    return (w * d * d).sum() / s, (2 / s) * (w * d)


def _np_bce(y, x, w):
    # softplus(x) - y x, stable; gradient sigmoid(x) - y
    s = w.sum()
    lo = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    return (w * lo).sum() / s, (w / s) * (1 / (1 + np.exp(-x)) - y)


def _np_scce(lab, x, w):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    S = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(lab))
    lo = np.log(S[:, 0]) + m[:, 0] - x[rows, lab]
    s = w.sum()
    g = e / S
    g[rows, lab] -= 1
    return (w * lo).sum() / s, g * (w / s)[:, None]


CASES = [("mean_squared_error", {}, _np_mse), ("binary_crossentropy", {"from_logits": True},
         _np_bce), ("sparse_categorical_crossentropy", {"from_logits": True}, _np_scce)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"# {_bench.machine()}")
    print("| loss | shape | fastloss | numpy | numpy / fastloss |")
    print("|---|---|---|---|---|")
    for name, params, ref in CASES:
        loss = fl.get(name)
        for n in (32, 256, 1024):
            if loss.kind == "rowwise":
                y, p = rng.integers(0, 10, n), rng.normal(size=(n, 10))
            else:
                y = rng.integers(0, 2, n).astype(float) if "from_logits" in params \
                    else rng.normal(size=n)
                p = rng.normal(size=n)
            w = rng.uniform(0.5, 2.0, n)
            v, g = loss.loss_grad(y, p, sample_weight=w, **params)
            rv, rg = ref(y, p, w)
            assert np.isclose(v, rv) and np.allclose(g, rg), name  # the same numbers
            with fl.threads(1):
                t = _bench.time_impls(
                    {"fastloss": lambda loss=loss, y=y, p=p, w=w, params=params:
                        loss.loss_grad(y, p, sample_weight=w, **params),
                     "numpy": lambda ref=ref, y=y, p=p, w=w: ref(y, p, w)},
                    args.repeat, fine=True)
            shape = f"{n}x10" if loss.kind == "rowwise" else f"{n}"
            print(f"| {name} | {shape} | {t['fastloss'] * 1e6:.2f} us | "
                  f"{t['numpy'] * 1e6:.2f} us | {t['numpy'] / t['fastloss']:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
