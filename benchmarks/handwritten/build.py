"""Build fused.c into shared libraries and wrap them with ctypes (bench only).

Two builds of the same loops, both `-O3 -ffast-math` (so that GCC vectorises
exp/log1p through glibc's libmvec): `-march=x86-64-v3` (AVX2) and
`-march=x86-64-v4` (AVX-512).  `load(level)` returns None when no C compiler
is available or the CPU lacks the level.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
BASE_FLAGS = ["-O3", "-ffast-math", "-fPIC", "-shared"]
#: level -> (march flag, fastloss ISA level the CPU must support)
LEVELS = {"avx2": ("-march=x86-64-v3", "avx2"), "avx512": ("-march=x86-64-v4", "avx512")}
_loaded = {}


def load(level="avx2"):
    if level in _loaded:
        return _loaded[level]
    _loaded[level] = lib = _load(level)
    return lib


def _load(level):
    march, isa = LEVELS[level]
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return None
    try:
        from fastloss._kernels import _cpu

        if isa not in _cpu.supported_isas():
            return None
    except ImportError:
        return None
    out = Path(tempfile.gettempdir()) / f"fastloss_handwritten_{level}.so"
    src = HERE / "fused.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        tmp = out.with_suffix(f".{os.getpid()}.so")
        try:
            subprocess.run([cc, *BASE_FLAGS, march, str(src), "-o", str(tmp), "-lm", "-lmvec"],
                           check=True, capture_output=True)
            os.replace(tmp, out)
        except (subprocess.CalledProcessError, OSError):
            return None
    lib = ctypes.CDLL(str(out))
    dp, lp, sz = ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ssize_t
    for fn in (lib.mse_f64, lib.bce_logits_f64):
        fn.argtypes, fn.restype = [dp, dp, dp, sz], ctypes.c_double
    lib.softmax_ce_f64.argtypes = [lp, dp, dp, sz, sz]
    lib.softmax_ce_f64.restype = ctypes.c_double
    return lib


def wrap(lib, kind):
    """f(y, p, out=None) -> (loss, grad) for kind in mse / bce_logits / softmax_ce
    (float64); the gradient goes to `out` when given, else to a new array."""
    def ptr(a):
        return a.ctypes.data

    if kind == "softmax_ce":
        def run(y, p, out=None):
            g = np.empty_like(p) if out is None else out
            y64 = np.ascontiguousarray(y, dtype=np.int64)
            return lib.softmax_ce_f64(ptr(y64), ptr(p), ptr(g), p.shape[0], p.shape[1]), g
        return run
    fn = {"mse": lib.mse_f64, "bce_logits": lib.bce_logits_f64}[kind]

    def run(y, p, out=None):
        g = np.empty_like(p) if out is None else out
        return fn(ptr(y), ptr(p), ptr(g), p.size), g
    return run
