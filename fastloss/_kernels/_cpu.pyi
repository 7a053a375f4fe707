"""Type stub for the compiled fastloss._kernels._cpu (CPU features, OpenMP).

The kernel modules themselves (fastloss._kernels.<isa>._elementwise, ...) are
imported dynamically by fastloss._core.dispatch and are not public.
"""

#: Whether this build has OpenMP compiled in (False: kernels run on one thread).
HAVE_OPENMP: bool

def omp_max_threads() -> int:
    """omp_get_max_threads() now (1 without OpenMP)."""

def supported_isas() -> list[str]:
    """ISA levels this CPU can run, narrowest first (e.g. ["baseline", "avx2"])."""
