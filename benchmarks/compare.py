"""The benchmark comparison: `python benchmarks/compare.py [options]`.

The same as `python -m fastloss bench`, plus the hand-written fused C loops of
benchmarks/handwritten as a peer (with --peers, where a C compiler exists).
Run as a script it imports the *installed* fastloss even from the repository
root (a script's folder, not the current one, goes on sys.path).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fastloss import _bench  # noqa: E402
from handwritten import build  # noqa: E402

_KINDS = {
    ("mean_squared_error", ()): "mse",
    ("binary_crossentropy", (("from_logits", True),)): "bce_logits",
    ("sparse_categorical_crossentropy", (("from_logits", True),)): "softmax_ce",
}


def handwritten_peer(loss, params, reuse_out=False):
    """{'handC': f, 'handC512': f} for the cases fused.c implements (float64
    only): its AVX2 and AVX-512 builds, where the CPU runs them."""
    kind = _KINDS.get((loss.name, tuple(sorted(params.items()))))
    if not kind:
        return {}
    out = {}
    for name, level in (("handC", "avx2"), ("handC512", "avx512")):
        lib = build.load(level)
        if lib is None:
            continue
        run = build.wrap(lib, kind)
        if reuse_out:
            run = _bench.reusing(run)

        def guarded(y, p, run=run):
            if p.dtype != "float64":
                raise _bench.NotApplicable("float64 only")
            return run(y, p)

        out[name] = guarded
    return out


if __name__ == "__main__":
    _bench.EXTRA_PEERS.append(handwritten_peer)
    sys.exit(_bench.main())
