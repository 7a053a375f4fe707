"""The benchmark comparison: `python benchmarks/compare.py [options]`.

The same as `python -m fastloss bench`, plus, with --peers, the hand-written
fused C loops of benchmarks/handwritten as a peer (where a C compiler exists)
and, for the blocked softmax losses (info_nce, nt_xent), the three matrix
products of their size that value and gradients need ("3gemm", NumPy into
buffers made once): the floor a BLAS-bound loss can reach.
Run as a script it imports the *installed* fastloss even from the repository
root (a script's folder, not the current one, goes on sys.path).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from handwritten import build  # noqa: E402

from fastloss import _bench  # noqa: E402

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


def gemm_floor(loss, params, reuse_out=False):
    """{'3gemm': f} for the blocked softmax losses: the logits L = X Y^T and
    the gradient products G Y and G^T X (with G the size of L) for their m
    rows X, Y (m = n; for NT-Xent 2n, X = Y = [z1; z2])."""
    if loss.kind != "softmax_contrastive":
        return {}
    import numpy as np

    bufs = {}

    def run(a, b):
        views = loss.name == "nt_xent"
        key = (a.shape, a.dtype.str)
        if key not in bufs:
            x = np.concatenate([a, b]) if views else a
            y = x if views else b
            m = x.shape[0]
            bufs[key] = (x, y, np.empty((m, m), a.dtype), np.empty_like(x), np.empty_like(y))
        x, y, L, gx, gy = bufs[key]
        np.matmul(x, y.T, out=L)
        np.matmul(L, y, out=gx)
        np.matmul(L.T, x, out=gy)
        return float("nan"), (gx, gy)

    return {"3gemm": run}


if __name__ == "__main__":
    _bench.EXTRA_PEERS.append(handwritten_peer)
    _bench.EXTRA_PEERS.append(gemm_floor)
    sys.exit(_bench.main())
