"""Pick, once at import, the widest kernel build the CPU runs.

setup.py compiles every kernel template once per ISA level into
fastloss._kernels.<level>; this module imports the best level the CPU
supports (AVX-512 > AVX2 > baseline) among those that were built.
Set FASTLOSS_ISA=baseline (or avx2, avx512) to force a narrower level, e.g.
to test the portable path on a wide machine.
"""

import importlib
import os
import warnings

try:
    from fastloss._kernels import _cpu
except ImportError as exc:  # pragma: no cover - depends on how it was run
    raise ImportError(
        "fastloss's compiled kernels are missing. Install the package "
        "(python -m pip install .) and run Python outside the source tree: "
        "'python -m ...' from the repository root imports the uncompiled "
        "sources in ./fastloss instead of the installed package."
    ) from exc

ORDER = ("baseline", "avx2", "avx512")
HAVE_OPENMP = _cpu.HAVE_OPENMP
omp_max_threads = _cpu.omp_max_threads


def _built(level):
    try:
        importlib.import_module(f"fastloss._kernels.{level}._elementwise")
    except ImportError:
        return False
    return True


def _choose():
    supported = _cpu.supported_isas()
    candidates = [lv for lv in ORDER if lv in supported and _built(lv)]
    forced = os.environ.get("FASTLOSS_ISA", "").strip().lower()
    if forced:
        if forced not in ORDER:
            warnings.warn(f"FASTLOSS_ISA={forced!r} is not one of {ORDER}; ignored",
                          RuntimeWarning, stacklevel=3)
        elif forced in candidates:
            return forced
        else:
            warnings.warn(f"FASTLOSS_ISA={forced!r} is not available on this CPU/build; "
                          f"using {candidates[-1]!r}", RuntimeWarning, stacklevel=3)
    return candidates[-1]


ISA = _choose()


_modules = {}


def kernels(family):
    """The compiled kernel module of a family ('_elementwise', ...) at ISA."""
    try:
        return _modules[family]
    except KeyError:
        m = _modules[family] = importlib.import_module(f"fastloss._kernels.{ISA}.{family}")
        return m
