# Point functions of the generative family's loops (_generative.pyx.tp).
#
# Unary terms `<name>_unary(x, prm, &l, &g, &h)`: the loss of ONE element of
# a single input (a GAN logit), its derivative and second derivative.  Every
# GAN loss of shared/API.md is one of four shapes with loop-invariant
# parameters (s = +-1 a sign, c = +-1 a factor, t a target):
#   softplus  c softplus(s x)      minimax / non-saturating terms
#   relu      max(0, 1 + s x)      hinge terms
#   linear    s x                  Wasserstein terms
#   square    (x - t)^2 / 2        least-squares terms
#
# A staged unary kernel (STAGED_UNARY in _generative.pyx.tp; softplus) also
# has `<name>_stage(x)` and `<name>_unary_s(x, stage value, ...)`: its loops
# take the stage, exp(-|x|), for a chunk of elements first (see "Staged
# kernels" in _pointwise.pxd; GAN minimax terms 20-30% faster, same bits).
#
# Pair terms `<name>_pair(a, b, prm, &l, &ga, &gb, &ha, &hb)`: the loss of one
# element of two same-shape inputs, both partial derivatives and both second
# derivatives; the per-sample loop sums l over a sample's features.  Outputs a
# loop does not store are dead code after inlining.
#
# Like _pointwise.pxd: branch-free (selects only) so the loops vectorise, NaN
# propagates to l and g, and +-inf give the exact limits.

from cython cimport floating
from fastloss._kernels._numerics cimport f_exp, f_expm1
from fastloss._kernels._pointwise cimport (
    _logistic_e, bce_logit_core, bce_prob_core, logistic_stage, mae_point, mse_point,
)


cdef inline void softplus_unary(floating x, const double* prm,
                                floating* l, floating* g, floating* h) noexcept nogil:
    softplus_unary_s(x, softplus_stage(x), prm, l, g, h)


cdef inline floating softplus_stage(floating x) noexcept nogil:
    return logistic_stage(x)


cdef inline void softplus_unary_s(floating x, floating e, const double* prm,
                                  floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (s, c).  l = c softplus(s x), g = c s sigmoid(s x),
    # h = c sigmoid(x) sigmoid(-x) (s^2 = 1).  _logistic_e takes both tails
    # from e = exp(-|x|): exact at +-1e4 and at +-inf (softplus(-inf) = 0,
    # sigmoid exact).
    cdef floating s = <floating>prm[0]
    cdef floating c = <floating>prm[1]
    cdef floating sp, sn, spx, spn
    _logistic_e(x, e, &sp, &sn, &spx, &spn)
    cdef bint pos = s > 0
    l[0] = c * (spx if pos else spn)
    g[0] = (c * s) * (sp if pos else sn)
    h[0] = c * (sp * sn)


cdef inline void relu_unary(floating x, const double* prm,
                            floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (s,).  u = 1 + s x:  l = max(0, u), g = s where u > 0 else 0, h = 0.
    # Written so that u = -inf gives 0 (not -inf * 0 = NaN) and NaN stays NaN.
    cdef floating s = <floating>prm[0]
    cdef floating u = <floating>1 + s * x
    l[0] = u if not (u <= 0) else <floating>0
    g[0] = s if u > 0 else (<floating>0 if u <= 0 else u)
    h[0] = <floating>0 if u == u else u


cdef inline void linear_unary(floating x, const double* prm,
                              floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (s,).  l = s x, g = s, h = 0 (NaN where x is NaN; +-inf keep g = s).
    cdef floating s = <floating>prm[0]
    l[0] = s * x
    g[0] = s if x == x else x
    h[0] = <floating>0 if x == x else x


cdef inline void square_unary(floating x, const double* prm,
                              floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (t,).  d = x - t:  l = d^2 / 2, g = d, h = 1.
    cdef floating d = x - <floating>prm[0]
    l[0] = <floating>0.5 * d * d
    g[0] = d
    h[0] = <floating>1 if x == x else x


cdef inline void kl_pair(floating mu, floating lv, const double* prm,
                         floating* l, floating* ga, floating* gb,
                         floating* ha, floating* hb) noexcept nogil:
    # KL(N(mu, exp(lv)) || N(0, 1)) of one latent dimension:
    #   l = (mu^2 + exp(lv) - 1 - lv) / 2 = (mu^2 + (expm1(lv) - lv)) / 2
    #   dl/dmu = mu,  dl/dlv = expm1(lv) / 2,  hessians 1 and exp(lv) / 2.
    # expm1 keeps exp(lv) - 1 exact where lv is small (no cancellation against
    # the 1) and exact at lv = -700 (-1 + 700); lv up to ~709 stays finite in
    # float64 (exp(700) = 1.01e304), beyond the value itself overflows.
    cdef floating em1 = f_expm1(lv)
    l[0] = <floating>0.5 * (mu * mu + (em1 - lv))
    ga[0] = mu
    gb[0] = <floating>0.5 * em1
    ha[0] = <floating>1
    hb[0] = <floating>0.5 * f_exp(lv)


cdef inline void rec_mse_pair(floating x, floating xh, const double* prm,
                              floating* l, floating* ga, floating* gb,
                              floating* ha, floating* hb) noexcept nogil:
    # (xh - x)^2 of mse_point; only x_hat is differentiated.
    mse_point(x, xh, prm, l, gb, hb)


cdef inline void rec_mae_pair(floating x, floating xh, const double* prm,
                              floating* l, floating* ga, floating* gb,
                              floating* ha, floating* hb) noexcept nogil:
    # |xh - x| of mae_point (hessian 0).
    mae_point(x, xh, prm, l, gb, hb)


cdef inline void rec_bce_logit_pair(floating x, floating xh, const double* prm,
                                    floating* l, floating* ga, floating* gb,
                                    floating* ha, floating* hb) noexcept nogil:
    # binary cross-entropy of target x in [0, 1] and logit xh (softplus forms
    # of bce_logit_core, no smoothing, pos_weight 1).
    bce_logit_core(x, xh, <floating>0, <floating>1, l, gb, hb)


cdef inline void rec_bce_prob_pair(floating x, floating xh, const double* prm,
                                   floating* l, floating* ga, floating* gb,
                                   floating* ha, floating* hb) noexcept nogil:
    # prm = (eps,).  binary cross-entropy of target x and probability xh
    # clipped to [eps, 1 - eps] (bce_prob_core, Keras's clip).
    bce_prob_core(x, xh, <floating>0, <floating>1, <floating>prm[0], l, gb, hb)
