"""fastloss.torch against PyTorch's native losses: `python benchmarks/torch_adapter.py`.

Times value + backward of the adapter (the "fastloss.torch" peer), of the
native torch loss (the "torch" peer) and of fastloss called from NumPy, with
fastloss._bench's machinery (interleaved rounds, best kept), for every loss
that has a native torch peer, and reports how much of fastloss's own
speed-up over torch the adapter keeps:

    kept = (t_torch / t_adapter) / (t_torch / t_fastloss) = t_fastloss / t_adapter

Options: --sizes (default small,minibatch,large), --threads (default 1,2),
--dtypes, --loss (repeatable), --repeat, --json PATH.
"""

import argparse
import sys

from fastloss import _bench, peers
from fastloss._core import registry


def torch_cases(names=None):
    """The losses whose first example keywords have a native torch peer."""
    out = []
    for name in names or registry.available():
        loss = registry.get(name)
        if "torch" in peers.for_loss(loss, loss.examples[0]):
            out.append(loss.name)
    return out


def summarise(rows):
    """A Markdown table of the adapter against torch and fastloss, per case."""
    head = ["loss", "dtype", "shape", "thr", "torch", "fastloss", "fastloss.torch",
            "fastloss vs torch", "adapter vs torch", "kept"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s = r["seconds"]
        if "torch" not in s or "fastloss.torch" not in s:
            continue
        lines.append("| " + " | ".join([
            r["loss"], r["dtype"], "x".join(map(str, r["shape"])), str(r["threads"]),
            _bench._fmt_time(s["torch"]).strip(), _bench._fmt_time(s["fastloss"]).strip(),
            _bench._fmt_time(s["fastloss.torch"]).strip(),
            f"{s['torch'] / s['fastloss']:.1f}x", f"{s['torch'] / s['fastloss.torch']:.1f}x",
            f"{s['fastloss'] / s['fastloss.torch']:.0%}"]) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="small,minibatch,large")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--loss", action="append")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    names = torch_cases(args.loss)
    rows = _bench.run(args.sizes.split(","), args.dtypes.split(","), names,
                      [int(t) for t in args.threads.split(",")], peers=True,
                      repeat=args.repeat, only=("fastloss", "torch", "fastloss.torch"),
                      progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"# fastloss.torch vs torch: {_bench.machine()}")
    print(summarise(rows))
    if args.json:
        _bench.write_json(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
