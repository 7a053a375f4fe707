"""Evaluate losses over a chunked array with Dask, and take a gradient step.

The data here is generated block by block (it never exists whole), as data
read from Zarr, HDF5 or Parquet would be.  The losses are lazy 0-d dask
arrays; one `dask.compute` runs them all in one pass over the blocks, on any
scheduler (threads here; a distributed.Client works the same way).

    python examples/dask_evaluation.py --rows 2000000 --chunk 250000
"""

import argparse

import dask
import dask.array as da
import numpy as np

import fastloss.dask as fld

D = 8
TRUE_W = np.linspace(-1.0, 1.0, D)


def _block(what, sizes, seed, block_id=None):
    """One block of the features X, or of the targets y = X w + noise, with
    heavy-tailed (Student-t) noise: a few large outliers."""
    b = block_id[0]
    X = np.random.default_rng((seed, b)).normal(size=(sizes[b], D))
    if what == "X":
        return X
    return X @ TRUE_W + np.random.default_rng((seed, b, 1)).standard_t(2.0, size=sizes[b])


def make_data(rows, chunk, seed=0):
    """(X, y) as dask arrays of `rows` rows, generated chunk by chunk."""
    sizes = (chunk,) * (rows // chunk) + ((rows % chunk,) if rows % chunk else ())
    X = da.map_blocks(_block, "X", sizes, seed, chunks=(sizes, (D,)), dtype=np.float64,
                      meta=np.empty((0, 0)))
    y = da.map_blocks(_block, "y", sizes, seed, chunks=(sizes,), dtype=np.float64,
                      meta=np.empty((0,)))
    return X, y


def evaluate(X, y, w):
    """The losses of the predictions X @ w, lazily: {name: 0-d dask array}."""
    p = X @ w
    return {
        "mse": fld.loss("mse", y, p),
        "mae": fld.loss("mae", y, p),
        "huber": fld.loss("huber", y, p, delta=1.0),
        "log_cosh": fld.loss("log_cosh", y, p),
    }


def huber_step(X, y, w, lr=1.0):
    """One gradient step of the Huber cost: fastloss gives d loss / d p block
    by block, and X.T @ g carries it to the weights."""
    value, g = fld.loss_grad("huber", y, X @ w, delta=1.0)
    return value, w - lr * (X.T @ g)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--chunk", type=int, default=250_000)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args(argv)

    X, y = make_data(args.rows, args.chunk)
    w = np.zeros(D)
    with dask.config.set(scheduler="threads"):
        for step in range(args.steps):
            value, w_next = huber_step(X, y, w)
            value, w = dask.compute(value, w_next)
            print(f"step {step}: huber cost {value:.4f}")
        losses = dask.compute(evaluate(X, y, w))[0]
    print(", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    print(f"weights {np.round(w, 3)} (true {np.round(TRUE_W, 3)})")


if __name__ == "__main__":
    main()
