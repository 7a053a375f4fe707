"""CTC against PyTorch and Optax on the same arrays:
`python benchmarks/ctc.py [--dtypes float32,float64] [--threads 1,2] [--cpu-time]`.

The cases are ctc's bench sizes (fastloss.families.sequence: warp-ctc's
T=150 n=64 C=28 L=40, a 5000-class alphabet, 1000-frame sequences with 150
labels, a batch of 256); each is value + gradient from raw scores
(from_logits=True, reduction="mean"): fastloss, torch's log_softmax +
ctc_loss + backward, and optax.ctc_loss under jax.jit (fastloss.peers.sequence),
timed interleaved (best of --repeat rounds), so the ratios of a run hold
better than its times on a busy machine.

Optax is timed in a second pass, against fastloss alone: XLA's worker
threads keep running after each of its calls, so that, interleaved with it,
fastloss and torch lose the second core (and, with --cpu-time, are charged
for those threads; in one run fastloss measured 17.8 ms alone and 29.8 ms
beside optax on the 5000-class case).  The table gives the fastloss and torch
times of the first pass, optax's time and ratio from its own pass.

--cpu-time times CPU time instead of wall time (one thread only: CPU time
adds up the threads).  Prints a Markdown table.  Run as a script it imports
the *installed* fastloss.
"""

import argparse
import time

from fastloss import _bench

SIZES = ("minibatch", "wide", "long", "large")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cpu-time", action="store_true")
    a = ap.parse_args(argv)
    threads = tuple(int(t) for t in a.threads.split(","))
    if a.cpu_time and threads != (1,):
        ap.error("--cpu-time measures one thread only")
    clock = time.process_time if a.cpu_time else time.perf_counter
    timer = _bench.time_impls
    _bench.time_impls = lambda *args, **kw: timer(*args, **kw, clock=clock)
    try:
        rows, rows_optax = (
            _bench.run(sizes=tuple(a.sizes.split(",")), dtypes=tuple(a.dtypes.split(",")),
                       names=["ctc"], threads=threads, peers=True, repeat=a.repeat, only=only)
            for only in ({"fastloss", "torch"}, {"fastloss", "optax"}))
    finally:
        _bench.time_impls = timer

    def cells(s, k):
        return (f"{s[k] * 1e3:.1f}", f"{s[k] / s['fastloss']:.1f}x") if k in s else ("-", "-")

    print("| T, n, C, L | dtype | threads | fastloss ms | torch ms | optax ms "
          "| torch / fastloss | optax / fastloss |")
    print("|---|---|---|---|---|---|---|---|")
    for r, ro in zip(rows, rows_optax, strict=True):
        (t_ms, t_x), (o_ms, o_x) = cells(r["seconds"], "torch"), cells(ro["seconds"], "optax")
        print(f"| {', '.join(map(str, r['shape']))} | {r['dtype']} | {r['threads']} | "
              f"{r['seconds']['fastloss'] * 1e3:.1f} | {t_ms} | {o_ms} | {t_x} | {o_x} |")


if __name__ == "__main__":
    main()
