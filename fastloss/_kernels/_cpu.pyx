# cython: language_level=3
"""What the running CPU and this build offer: SIMD levels and OpenMP.

Built once, with baseline flags, so it imports on any CPU.
"""

cdef extern from *:
    """
    #if defined(_OPENMP)
    #include <omp.h>
    static int fl_have_openmp(void) { return 1; }
    static int fl_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fl_have_openmp(void) { return 0; }
    static int fl_omp_max_threads(void) { return 1; }
    #endif

    #if defined(__APPLE__) && defined(__x86_64__)
    /* Apple clang lacks libgcc's __cpu_model, and macOS enables AVX-512
       state lazily (XGETBV under-reports it): ask the kernel instead. */
    #include <sys/sysctl.h>
    static int fl_sysctl_flag(const char *name) {
        int v = 0;
        size_t len = sizeof(v);
        return sysctlbyname(name, &v, &len, NULL, 0) == 0 && v != 0;
    }
    static int fl_has_avx2(void) {
        return fl_sysctl_flag("hw.optional.avx2_0") && fl_sysctl_flag("hw.optional.fma");
    }
    static int fl_has_avx512(void) {
        return fl_has_avx2() && fl_sysctl_flag("hw.optional.avx512f")
            && fl_sysctl_flag("hw.optional.avx512dq") && fl_sysctl_flag("hw.optional.avx512vl");
    }
    #elif (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    /* libgcc / compiler-rt check the CPUID bits and that the OS saves the
       wider registers (XGETBV). */
    static int fl_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int fl_has_avx512(void) {
        __builtin_cpu_init();
        return fl_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <intrin.h>
    static int fl_os_saves(unsigned long long mask) {
        int r[4];
        __cpuid(r, 1);
        if (!(r[2] & (1 << 27))) return 0;             /* OSXSAVE */
        return (_xgetbv(0) & mask) == mask;
    }
    static int fl_has_avx2(void) {
        int r1[4], r7[4];
        __cpuid(r1, 1);
        __cpuidex(r7, 7, 0);
        return (r1[2] & (1 << 12)) && (r1[2] & (1 << 28))  /* FMA, AVX */
            && (r7[1] & (1 << 5)) && fl_os_saves(0x6);       /* AVX2; XMM+YMM */
    }
    static int fl_has_avx512(void) {
        int r7[4];
        __cpuidex(r7, 7, 0);
        return fl_has_avx2() && (r7[1] & (1 << 16)) && (r7[1] & (1 << 17))
            && (r7[1] & (1 << 31)) && fl_os_saves(0xE6);     /* F, DQ, VL; ZMM state */
    }
    #else
    static int fl_has_avx2(void) { return 0; }
    static int fl_has_avx512(void) { return 0; }
    #endif
    """
    int fl_have_openmp() nogil
    int fl_omp_max_threads() nogil
    int fl_has_avx2() nogil
    int fl_has_avx512() nogil


HAVE_OPENMP = bool(fl_have_openmp())


def omp_max_threads():
    """omp_get_max_threads() now (follows OMP_NUM_THREADS and threadpoolctl)."""
    return fl_omp_max_threads()


def supported_isas():
    """ISA levels this CPU can run, narrowest first."""
    levels = ["baseline"]
    if fl_has_avx2():
        levels.append("avx2")
    if fl_has_avx512():
        levels.append("avx512")
    return levels
