"""Build the fastloss kernels.

Each kernel template ``fastloss/_kernels/*.pyx.tp`` is rendered once per
instruction-set level ("ISA") into ``fastloss/_kernels/<isa>/<name>.pyx`` and
compiled with that level's flags.  ``fastloss._core.dispatch`` imports the widest
level the running CPU supports, so one wheel is both portable (the baseline
runs on any x86-64 / arm64 CPU) and fast (AVX2 / AVX-512 where present).

Environment switches (all optional):

FASTLOSS_OPENMP=0      build without OpenMP (kernels then run on one thread)
FASTLOSS_ISAS=a,b      ISA levels to build (default: all the platform has)
FASTLOSS_SANITIZE=1    AddressSanitizer + UBSan build for the test suite
FASTLOSS_DEBUG=1       -O1 -g, no optimisation-only flags
FASTLOSS_MACOS_OPENMP=1  macOS: build with OpenMP through Apple clang's
                       `-Xpreprocessor -fopenmp -lomp`; needs a libomp, found
                       through CPPFLAGS/LDFLAGS or FASTLOSS_LIBOMP_PREFIX
                       (e.g. `$(brew --prefix libomp)`).  Without it macOS
                       builds are single-threaded (Apple clang has no OpenMP).
"""

import os
import platform
import sys
import sysconfig
from pathlib import Path

import numpy
from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
KERNELS = ROOT / "fastloss" / "_kernels"
SHARED_DEPENDS = list((ROOT / "fastloss" / "_src").glob("*.h")) + list(KERNELS.glob("*.pxd"))


def _flag(name, default="0"):
    return os.environ.get(name, default).strip().lower() not in ("0", "", "no", "false")


def _is_msvc():
    return sys.platform == "win32" and not sysconfig.get_config_var("CC")


def _is_gcc():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or ""
    return sys.platform.startswith("linux") and "clang" not in cc and "icx" not in cc


def _machine():
    # cibuildwheel cross-compiles macOS arm64 from x86_64 via ARCHFLAGS.
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags and "x86_64" not in archflags:
        return "arm64"
    if "x86_64" in archflags and "arm64" not in archflags:
        return "x86_64"
    m = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(m, m)


# ISA level -> extra compile flags (GCC/Clang, MSVC).  The baseline carries no
# -m flag at all: it must run on plain x86-64 (auditwheel refuses wheels whose
# code requires x86-64-v2..v4).  Keep in sync with fastloss/_core/dispatch.py.
X86_ISAS = {
    "baseline": ([], []),
    "avx2": (["-mavx2", "-mfma"], ["/arch:AVX2"]),
    "avx512": (["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"],
               ["/arch:AVX512"]),
}


def isa_levels():
    wanted = os.environ.get("FASTLOSS_ISAS")
    levels = list(X86_ISAS) if _machine() in ("x86_64", "i686") else ["baseline"]
    if wanted:
        levels = [lv for lv in levels if lv in wanted.split(",")] or ["baseline"]
    if "baseline" not in levels:
        levels.insert(0, "baseline")
    return levels


def compile_args(isa):
    if _is_msvc():
        args = ["/O2", "/fp:precise"] + X86_ISAS.get(isa, ([], []))[1]
        if _flag("FASTLOSS_OPENMP", "1"):
            args.append("/openmp")
        return args, []
    args = ["-g0"]
    if _flag("FASTLOSS_DEBUG") or _flag("FASTLOSS_SANITIZE"):
        args += ["-O1", "-g"]
    else:
        args += ["-O3"]
    # No -ffast-math: NaN and inf must keep their meaning.  These two only
    # drop errno and FP-trap semantics, which lets GCC if-convert the
    # branch-free selects in the point functions and vectorise the loops.
    args += ["-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
    # No FMA contraction: a loss-only loop and a loss+gradient loop inline the
    # same point function differently, and contraction would then round
    # them differently (loss() must equal loss_grad()[0] bit for bit).  It
    # also makes every ISA level compute the same bits.
    args += ["-ffp-contract=off"]
    args += X86_ISAS.get(isa, ([], []))[0]
    if _is_gcc() and not (_flag("FASTLOSS_DEBUG") or _flag("FASTLOSS_SANITIZE")):
        # The point functions (a loss with its inlined exp/log) exceed GCC's
        # default inlining budget; a point function left out of line makes its
        # loop scalar (the call clobbers memory), e.g. 10x slower log_cosh.
        # Not in the -O1 checking builds: there the budget only slows the
        # compiler (2.7x for an ASan build of a loop template), and the
        # memory accesses the checkers see are the same.
        args += ["--param=max-inline-insns-single=2000", "--param=max-inline-insns-auto=400",
                 "--param=large-function-growth=1000", "--param=inline-unit-growth=400"]
    link = []
    if _flag("FASTLOSS_OPENMP", "1") and sys.platform != "darwin":
        args.append("-fopenmp")
        link.append("-fopenmp")
    elif _flag("FASTLOSS_OPENMP", "1") and _flag("FASTLOSS_MACOS_OPENMP"):
        # Apple clang: needs libomp from the environment (see the docstring).
        args += ["-Xpreprocessor", "-fopenmp"]
        prefix = os.environ.get("FASTLOSS_LIBOMP_PREFIX")
        if prefix:
            args.append(f"-I{prefix}/include")
            link += [f"-L{prefix}/lib", f"-Wl,-rpath,{prefix}/lib"]
        link.append("-lomp")
    if _flag("FASTLOSS_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        args += san
        link += san
    return args, link


def _extension(name, source, isa):
    args, link = compile_args(isa)
    return Extension(
        name,
        [str(source.relative_to(ROOT))],
        # rebuild when a shared header or .pxd changes (setuptools compares
        # the .so with these, not only with its .c)
        depends=[str(f.relative_to(ROOT)) for f in sorted(SHARED_DEPENDS)],
        include_dirs=[str(ROOT / "fastloss" / "_src"), numpy.get_include()],
        # One NumPy C-API floor for every wheel, matching the runtime numpy>=1.25.
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION")],
        extra_compile_args=args,
        extra_link_args=link,
    )


def render_templates():
    """Render every kernel template once per ISA level; return Extensions."""
    exts = []
    for tp in sorted(KERNELS.glob("*.pyx.tp")):
        stem = tp.name[: -len(".pyx.tp")]
        source = tp.read_text()
        for isa in isa_levels():
            out_dir = KERNELS / isa
            out_dir.mkdir(exist_ok=True)
            init = out_dir / "__init__.py"
            if not init.exists():
                init.write_text("# generated by setup.py: kernels built for this ISA level\n")
            text = Tempita.sub(source, ISA=isa)
            header = (f"# generated from {tp.name} by setup.py for ISA level {isa!r}; "
                      "edit the template\n")
            out = out_dir / f"{stem}.pyx"
            if not out.exists() or out.read_text() != header + text:
                out.write_text(header + text)
            exts.append(_extension(f"fastloss._kernels.{isa}.{stem}", out, isa))
    # Plain (non-templated) helper modules: built once, at the baseline level.
    for pyx in sorted(KERNELS.glob("*.pyx")):
        exts.append(_extension(f"fastloss._kernels.{pyx.stem}", pyx, "baseline"))
    return exts


class BuildExt(build_ext):
    """Compile the extensions in parallel (one job per core)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
    "freethreading_compatible": True,
}

setup(
    packages=["fastloss", "fastloss._core", "fastloss.families", "fastloss.reference",
              "fastloss.peers",
              "fastloss._kernels"] + [f"fastloss._kernels.{isa}" for isa in isa_levels()],
    ext_modules=cythonize(
        render_templates(),
        compiler_directives=COMPILER_DIRECTIVES,
        include_path=[str(ROOT)],
        nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": BuildExt},
)
