"""How far large calls are from the memory floor: `python benchmarks/memory_floor.py`.

Times, interleaved and best of --repeat rounds, one thread, float64, value
and gradient with the gradient written into a reused buffer (`out=`):

* element-wise losses on 4M values against `mean_squared_error` (three
  32 MB streams, bound by memory), and the hand-written fused C loops of
  benchmarks/handwritten (glibc's vector exp/log1p) built for AVX2 and
  AVX-512, against the same;
* the softmax cross-entropies on 262144 x 16 logits against `np.copyto` of
  the same 32 MB (two streams: the logits in, the gradient out);
* binary cross-entropy with and without `out=`;
* the losses of several inputs whose work is a stream over their rows or
  elements (triplet, contrastive and cosine embeddings on 65536 x 128,
  margin ranking on 4M values) against copies of the same bytes: each
  gradient written as a copy of an input (`np.copyto` into reused buffers,
  or `np.copy` into fresh ones, which the kernel must zero-fill page by page
  as it does for fastloss's and PyTorch's fresh gradients), plus a read of
  the inputs that have no gradient.  Timed with `out=` and without.

--cpu-time times the calling thread's CPU time instead of the wall clock:
on a shared machine it leaves out the time the process waits for a core
(it still counts waiting for memory).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from handwritten import build  # noqa: E402

import fastloss as fl  # noqa: E402
from fastloss._core.samples import draw  # noqa: E402

ELEMENTWISE = [("mean_squared_error", {}), ("binary_crossentropy", {"from_logits": True}),
               ("binary_focal_crossentropy", {"from_logits": True}), ("log_cosh", {}),
               ("poisson", {})]
# losses of several inputs: (name, shape); their gradients are those of the
# first len(wrt) inputs, so the floor copies those and reads the rest
STREAMS = [("triplet", (1 << 16, 128)), ("contrastive_embedding", (1 << 16, 128)),
           ("cosine_embedding", (1 << 16, 128)), ("margin_ranking", (1 << 22,))]
SOFTMAX = ["sparse_categorical_crossentropy", "categorical_crossentropy",
           "categorical_focal_crossentropy"]


def best(fns, repeat, clock):
    out = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = clock()
            f()
            out[k] = min(out[k], clock() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args(argv)
    n, rows, classes = 1 << 22, 1 << 18, 16
    fns, keep = {}, []
    for name, params in ELEMENTWISE:
        loss = fl.get(name)
        y, p = draw(loss, params, (n,), np.dtype(np.float64), seed=0)
        out = np.empty_like(p)
        keep.append((y, p, out))
        fns[name] = lambda loss=loss, y=y, p=p, out=out, params=params: loss.loss_grad(
            y, p, out=out, **params)
        if name == "binary_crossentropy":
            fns[name + " (no out=)"] = lambda loss=loss, y=y, p=p: loss.loss_grad(
                y, p, from_logits=True)
            for level in ("avx2", "avx512"):
                lib = build.load(level)
                if lib is not None:
                    run, o2 = build.wrap(lib, "bce_logits"), np.empty_like(p)
                    fns[f"handC {level} bce_logits"] = lambda run=run, y=y, p=p, o2=o2: run(
                        y, p, o2)
    for name in SOFTMAX:
        loss = fl.get(name)
        y, p = draw(loss, {"from_logits": True}, (rows, classes), np.dtype(np.float64), seed=0)
        out = np.empty_like(p)
        keep.append((y, p, out))
        fns[name] = lambda loss=loss, y=y, p=p, out=out: loss.loss_grad(
            y, p, out=out, from_logits=True)
    for name, shape in STREAMS:
        loss = fl.get(name)
        ins = draw(loss, {}, shape, np.dtype(np.float64), seed=0)
        k = len(loss.wrt)
        outs = tuple(np.empty_like(a) for a in ins[:k])
        keep.append((ins, outs))
        fns[f"{name} {shape}, out="] = lambda loss=loss, ins=ins, outs=outs: loss.loss_grad(
            *ins, out=outs)
        fns[f"{name} {shape}, fresh"] = lambda loss=loss, ins=ins: loss.loss_grad(*ins)

        def floor(ins=ins, outs=outs, k=k, fresh=False):
            for a, o in zip(ins[:k], outs, strict=True):
                np.copy(a) if fresh else np.copyto(o, a)
            for a in ins[k:]:
                a.max()
        fns[f"{name} floor, reused"] = floor
        fns[f"{name} floor, fresh"] = lambda floor=floor: floor(fresh=True)
    src = np.random.default_rng(0).random(rows * classes)
    dst = np.empty_like(src)
    fns["np.copyto, 32 MB"] = lambda: np.copyto(dst, src)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    with fl.threads(1):
        t = best(fns, args.repeat, clock)
    mse, copy = t["mean_squared_error"], t["np.copyto, 32 MB"]
    print(f"# {'CPU' if args.cpu_time else 'wall'} time, best of {args.repeat}, one thread, "
          f"ISA {fl.build_info()['isa']}")
    print("| case | ms | / mse | / copy | / its floor |")
    print("|---|---|---|---|---|")
    for k, v in t.items():
        name = k.split(" ")[0]
        kind = "reused" if k.endswith("out=") else "fresh" if k.endswith("fresh") else None
        own = t.get(f"{name} floor, {kind}") if "floor" not in k else None
        rel = f"{v / own:.2f}x" if own else ""
        print(f"| {k} | {v * 1e3:.2f} | {v / mse:.2f}x | {v / copy:.2f}x | {rel} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
