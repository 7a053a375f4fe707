"""fastloss.dask against one NumPy call on the same data, and its cost per chunk.

    python benchmarks/dask_overhead.py [--n 8388608] [--loss mse --loss log_cosh]

For each loss: one fastloss call on the whole in-memory arrays (1 and 2
kernel threads), then fastloss.dask on the same arrays cut into 1 to 1024
chunks, on dask's threaded scheduler with 2 workers and on a
distributed.LocalCluster of 2 single-threaded workers in this process (the
chunks persisted on the workers beforehand).  Each
dask run computes the value and keeps the gradient as chunks (persist), as a
training step over larger-than-memory data would consume it.  Rounds are
interleaved and the best of --repeat is kept; the overhead per chunk is the
slope of a straight line fitted to time against the number of chunks (from
16 chunks up).
Prints a Markdown table.
"""

import argparse
import time
import warnings

import dask
import dask.array as da
import numpy as np

import fastloss as fl
import fastloss.dask as fld


def _best(fns, repeat):
    """Best time of each function, rounds interleaved."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def _numpy_call(loss, y, p, threads):
    def f():
        with fl.threads(threads):
            loss.loss_grad(y, p)
    return f


def _arrays(y, p, chunks):
    # named explicitly: dask would otherwise hash the whole arrays to name them
    return (da.from_array(y, chunks=chunks, name=f"bench-y-{chunks}"),
            da.from_array(p, chunks=chunks, name=f"bench-p-{chunks}"))


def _dask_call(loss, y, p, chunks, client):
    Y, P = _arrays(y, p, chunks)
    if client is not None:
        # the data lives on the workers (not in every graph sent to the scheduler)
        Y, P = client.persist([Y, P])

    def f():
        v, g = fld.loss_grad(loss, Y, P)
        if client is not None:
            v, g = client.persist([v, g])
            float(v.compute())
            client.cancel([g])
        else:
            v, g = dask.persist(v, g, scheduler="threads", num_workers=2)
            float(v)
    return f


#: The same loss written as a dask expression, as one would without fastloss:
#: name -> (value of d = p - y, gradient of the mean), for comparison.
EXPRESSIONS = {
    "mean_squared_error": (lambda d: (d * d).mean(), lambda d: 2 * d / d.size),
    "log_cosh": (lambda d: da.log(da.cosh(d)).mean(), lambda d: da.tanh(d) / d.size),
}


def _expression_call(name, y, p, chunks):
    Y, P = _arrays(y, p, chunks)
    value, grad = EXPRESSIONS[name]

    def f():
        d = P - Y
        v, g = dask.persist(value(d), grad(d), scheduler="threads", num_workers=2)
        float(v)
    return f


def run(names, n, chunk_counts, repeat, client=None):
    rows = []
    for loss in map(fl.get, names):
        name = loss.name
        y, p = loss.sample({}, (n,))
        fns = [_numpy_call(loss, y, p, 1), _numpy_call(loss, y, p, 2)]
        labels = [("numpy call, 1 thread", 1), ("numpy call, 2 threads", 1)]
        for sched, cl in [("threads", None)] + ([("distributed", client)] if client else []):
            for k in chunk_counts:
                fns.append(_dask_call(loss, y, p, -(-n // k), cl))
                labels.append((f"fastloss.dask, {sched}, 2 workers", k))
        if name in EXPRESSIONS:
            for k in chunk_counts:
                fns.append(_expression_call(name, y, p, -(-n // k)))
                labels.append(("dask expression, threads, 2 workers", k))
        times = _best(fns, repeat)
        for (impl, k), t in zip(labels, times, strict=True):
            rows.append({"loss": name, "impl": impl, "chunks": k, "seconds": t})
    return rows


def per_chunk(rows):
    """(loss, impl) -> seconds per chunk: the slope of a line fitted to time
    against the number of chunks, from 16 chunks up (where the work is spread
    over both workers and the time grows with the chunks)."""
    out = {}
    for key in {(r["loss"], r["impl"]) for r in rows if "dask" in r["impl"]}:
        pts = [(r["chunks"], r["seconds"]) for r in rows
               if (r["loss"], r["impl"]) == key and r["chunks"] >= 16]
        if len(pts) >= 2:
            k, t = np.array(pts, dtype=float).T
            out[key] = float(np.polyfit(k, t, 1)[0])
    return out


def table(rows, n):
    slopes = per_chunk(rows)
    counts = sorted({r["chunks"] for r in rows if "dask" in r["impl"]})
    lines = [f"value + gradient of {n:,} float64 elements, milliseconds (best of the rounds)",
             "",
             "| loss | implementation | " + " | ".join(f"{k} chunks" for k in counts)
             + " | per chunk |",
             "|---|---|" + "---|" * (len(counts) + 1)]
    for name in dict.fromkeys(r["loss"] for r in rows):
        for impl in dict.fromkeys(r["impl"] for r in rows if r["loss"] == name):
            rs = {r["chunks"]: r["seconds"] for r in rows
                  if r["loss"] == name and r["impl"] == impl}
            if impl.startswith("numpy"):
                cells = [f"{rs[1] * 1e3:.1f}"] + [""] * (len(counts) - 1) + [""]
            else:
                cells = [f"{rs[k] * 1e3:.1f}" for k in counts]
                slope = slopes.get((name, impl))
                cells.append("" if slope is None else f"{slope * 1e6:.0f} us")
            lines.append(f"| {name} | {impl} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1 << 23)
    ap.add_argument("--loss", action="append", help="loss to time (repeatable)")
    ap.add_argument("--chunks", default="1,4,16,64,256,1024")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-distributed", action="store_true")
    args = ap.parse_args(argv)
    names = args.loss or ["mean_squared_error", "log_cosh"]
    counts = [int(c) for c in args.chunks.split(",")]
    client = cluster = None
    if not args.no_distributed:
        try:
            import distributed
        except ImportError:
            distributed = None
        if distributed is not None:
            warnings.filterwarnings("ignore", message="Couldn't detect a suitable IP address")
            # the arrays are sent to the workers once per chunking (then persisted)
            warnings.filterwarnings("ignore", message="Sending large graph")
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                               processes=False, dashboard_address=None,
                                               silence_logs=40)
            client = distributed.Client(cluster)
    try:
        rows = run(names, args.n, counts, args.repeat, client)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    print(table(rows, args.n))


if __name__ == "__main__":
    main()
