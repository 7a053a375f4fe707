"""Per-element time of fastloss's exp / expm1 / log / log1p against NumPy's
ufuncs on the same array: `python benchmarks/math_speed.py [--n 65536]`.

Both write into a preallocated output (`out=`), timed interleaved in many
short rounds, best kept (fastloss._bench.time_impls with fine=True).  The
fastloss functions are the ones the loss kernels inline (fastloss/_src/
fl_math.h), run by fastloss._kernels.<isa>._mathcheck for the SIMD level in
use (FASTLOSS_ISA=avx2 to time the AVX2 build).  NumPy's own choice of SIMD
code can be narrowed with NPY_DISABLE_CPU_FEATURES (e.g. "X86_V4" for its
AVX2 loops on an AVX-512 machine).
"""

import argparse
import sys

import numpy as np

from fastloss import _bench
from fastloss._core import dispatch

#: argument ranges: typical of the losses (logits, probabilities, rates)
RANGES = {"exp": (-20.0, 20.0), "expm1": (-5.0, 5.0), "log": (0.01, 100.0),
          "log1p": (-0.5, 100.0)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=65536, help="array size (default 65536)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    mc = dispatch.kernels("_mathcheck")
    rng = np.random.default_rng(0)
    print(f"# ns per element, n = {args.n}, fastloss ISA {dispatch.ISA}, NumPy {np.__version__}")
    print("| function | dtype | fastloss | numpy | numpy / fastloss |")
    print("|---|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        for name, (lo, hi) in RANGES.items():
            x = rng.uniform(lo, hi, args.n).astype(dtype)
            y = np.empty_like(x)
            f = getattr(np, name)
            t = _bench.time_impls({"fastloss": lambda name=name, x=x, y=y: mc.apply(name, x, y),
                                   "numpy": lambda f=f, x=x, y=y: f(x, out=y)},
                                  args.repeat, fine=True)
            a, b = t["fastloss"] / args.n * 1e9, t["numpy"] / args.n * 1e9
            print(f"| {name} | {np.dtype(dtype).name} | {a:.2f} | {b:.2f} | {b / a:.2f}x |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
