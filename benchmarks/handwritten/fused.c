/* Hand-written fused loops: the yardstick for fastloss's kernels.
 *
 * Plain C, one pass, value + gradient (mean reduction), compiled by
 * benchmarks/handwritten/build.py with `-O3 -ffast-math` twice, for
 * x86-64-v3 (AVX2) and x86-64-v4 (AVX-512), so that GCC vectorises exp/log1p
 * through glibc's libmvec.  This is what a careful engineer would write for
 * one machine and one loss; fastloss aims to beat it while staying portable
 * and IEEE-correct.  Not shipped.
 */
#include <math.h>
#include <stddef.h>

double mse_f64(const double *y, const double *p, double *g, ptrdiff_t n) {
    double s = 0.0, inv = 1.0 / (double)n;
    for (ptrdiff_t i = 0; i < n; i++) {
        double d = p[i] - y[i];
        s += d * d;
        g[i] = 2.0 * d * inv;
    }
    return s * inv;
}

double bce_logits_f64(const double *y, const double *x, double *g, ptrdiff_t n) {
    double s = 0.0, inv = 1.0 / (double)n;
    for (ptrdiff_t i = 0; i < n; i++) {
        double e = exp(-fabs(x[i]));
        double sp = fmax(x[i], 0.0) + log1p(e);          /* softplus(x) */
        double sig = x[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        s += sp - y[i] * x[i];
        g[i] = (sig - y[i]) * inv;
    }
    return s * inv;
}

double softmax_ce_f64(const long *y, const double *x, double *g, ptrdiff_t n, ptrdiff_t c) {
    double s = 0.0, inv = 1.0 / (double)n;
    for (ptrdiff_t r = 0; r < n; r++) {
        const double *xr = x + r * c;
        double *gr = g + r * c;
        double m = xr[0];
        for (ptrdiff_t j = 1; j < c; j++) m = xr[j] > m ? xr[j] : m;
        double z = 0.0;
        for (ptrdiff_t j = 0; j < c; j++) { gr[j] = exp(xr[j] - m); z += gr[j]; }
        double lz = log(z), iz = inv / z;
        for (ptrdiff_t j = 0; j < c; j++) gr[j] *= iz;
        gr[y[r]] -= inv;
        s += lz + m - xr[y[r]];
    }
    return s * inv;
}
