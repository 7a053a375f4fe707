"""Build fused.c into a shared library and wrap it with ctypes (bench only).

`load()` returns None when no C compiler is available or the machine is not
x86-64 with AVX2 (the flags target x86-64-v3).
"""

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
FLAGS = ["-O3", "-march=x86-64-v3", "-ffast-math", "-fPIC", "-shared"]


def load():
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return None
    try:
        from fastloss._kernels import _cpu

        if "avx2" not in _cpu.supported_isas():
            return None
    except ImportError:
        return None
    out = Path(tempfile.gettempdir()) / "fastloss_handwritten.so"
    src = HERE / "fused.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        try:
            subprocess.run([cc, *FLAGS, str(src), "-o", str(out), "-lm", "-lmvec"],
                           check=True, capture_output=True)
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
