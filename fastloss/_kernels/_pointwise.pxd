# Point functions of the element-wise losses.
#
# Each `<kernel>_point(y, p, prm, &l, &g, &h)` computes, for ONE element,
#   l = loss(y, p),  g = dl/dp,  h = d2l/dp2
# from the parameters `prm` (doubles, in the order the registry passes them).
# The element-wise loop template (_elementwise.pyx.tp) inlines it; outputs a
# loop does not store are dead code after inlining, so a loss-only loop does
# not pay for the gradient.  Keep them branch-free (conditional expressions
# only) so the loops vectorise, and let NaN propagate to l and g.
#
# Staged kernels.  A kernel whose point function starts with a long
# transcendental chain may also define `<kernel>_stage(y, p, prm)` (that
# first value, e.g. exp(-|x|)) and `<kernel>_point_s(y, p, s, prm, &l, &g,
# &h)` (the rest, from it); the loop template then takes the stage for a
# chunk of elements in one loop and runs the rest in a second (STAGED in
# _elementwise.pyx.tp).  The two chains are then short enough for the
# processor to overlap many elements: BCE from logits 15% faster with
# AVX-512, 20% with AVX2, 30% on the baseline build, with the same bits
# (`<kernel>_point` is the two composed, for the other loops).
#
# Adding an element-wise loss: a point function here, its name in the
# KERNELS list of _elementwise.pyx.tp, a registry entry in its family module
# (fastloss/families/) and a reference function in fastloss/reference/.

from cython cimport floating
from fastloss._kernels._numerics cimport (
    f_abs, f_clip, f_exp, f_expm1, f_log, f_log1p, f_log1p01, f_sign,
)


cdef inline void mse_point(floating y, floating p, const double* prm,
                           floating* l, floating* g, floating* h) noexcept nogil:
    # (p - y)^2;  2 (p - y);  2.
    cdef floating d = p - y
    l[0] = d * d
    g[0] = <floating>2 * d
    h[0] = <floating>2


cdef inline void mae_point(floating y, floating p, const double* prm,
                           floating* l, floating* g, floating* h) noexcept nogil:
    # |p - y|;  sign(p - y) (0 at p == y, the subgradient PyTorch and
    # scikit-learn use);  no hessian (0 almost everywhere).
    cdef floating d = p - y
    l[0] = f_abs(d)
    g[0] = f_sign(d)
    h[0] = <floating>0


cdef inline void huber_point(floating y, floating p, const double* prm,
                             floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (delta,).  d = p - y:
    #   |d| <= delta: d^2 / 2,               gradient d,            hessian 1
    #   otherwise:    delta (|d| - delta/2), gradient delta sign(d), hessian 0
    # (torch.nn.functional.huber_loss and Keras Huber).
    cdef floating delta = <floating>prm[0]
    cdef floating d = p - y
    cdef floating a = f_abs(d)
    cdef bint inside = a <= delta
    l[0] = <floating>0.5 * d * d if inside else delta * (a - <floating>0.5 * delta)
    g[0] = f_clip(d, -delta, delta)
    h[0] = <floating>1 if inside else <floating>0


cdef inline floating log_cosh_stage(floating y, floating p, const double* prm) noexcept nogil:
    # u = expm1(|p - y| / 2), the start of log_cosh_point_s
    return f_expm1(f_abs(p - y) * <floating>0.5)


cdef inline void log_cosh_point(floating y, floating p, const double* prm,
                                floating* l, floating* g, floating* h) noexcept nogil:
    log_cosh_point_s(y, p, log_cosh_stage(y, p, prm), prm, l, g, h)


cdef inline void log_cosh_point_s(floating y, floating p, floating u, const double* prm,
                                  floating* l, floating* g, floating* h) noexcept nogil:
    # log(cosh(d)), d = p - y;  tanh(d);  1 - tanh(d)^2, all from one
    # u = expm1(a/2) >= 0, a = |d|, with v = 1 + u = e^(a/2) and iv = 1/v:
    #   s = sinh(a/2) = u (u + 2) iv / 2,  c = cosh(a/2) = (v + iv) / 2,
    #   ch = cosh a = 1 + 2 s^2,  log cosh a = log1p(2 s^2),
    #   tanh a = 2 s c / ch,  1 - tanh^2 a = 1 / ch^2,
    # with no cancellation anywhere (every term is >= 0) and full relative
    # accuracy near 0 (where the loss is a^2/2).  For a > 40: log cosh a =
    # a - log 2 + log1p(e^(-2a)) with the last term below 1e-34, tanh a = 1
    # exactly, 1 - tanh^2 a = 4 e^(-2a) = 4 iv^4 (this avoids the overflow of
    # s^2 and ch beyond a ~ 710; iv = 0 once u overflows).
    cdef floating d = p - y
    cdef floating a = f_abs(d)
    cdef floating v = <floating>1 + u
    cdef floating iv = <floating>1 / v
    cdef floating s = <floating>0.5 * (u * (u + <floating>2)) * iv
    cdef floating c = <floating>0.5 * (v + iv)
    cdef floating s2 = <floating>2 * s * s
    cdef floating rch = <floating>1 / (<floating>1 + s2)
    cdef floating lc = f_log1p(s2)
    cdef floating iv2 = iv * iv
    l[0] = (a - <floating>0.6931471805599453) if a > 40 else lc
    g[0] = f_sign(d) * (<floating>1 if a > 40 else <floating>2 * s * c * rch)
    h[0] = <floating>4 * (iv2 * iv2) if a > 40 else rch * rch


cdef inline void quantile_point(floating y, floating p, const double* prm,
                                floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (q,).  Pinball loss, d = y - p:
    #   q max(d, 0) + (1 - q) max(-d, 0);  gradient -q if d > 0 else 1 - q
    # (scikit-learn's PinballLoss convention at d == 0);  no hessian.
    cdef floating q = <floating>prm[0]
    cdef floating d = y - p
    l[0] = q * d if d >= 0 else (q - <floating>1) * d
    g[0] = -q if d > 0 else ((<floating>1 - q) if d <= 0 else d)
    h[0] = <floating>0


cdef inline void poisson_point(floating y, floating p, const double* prm,
                               floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (eps,).  Rate input p >= 0 (torch poisson_nll_loss, log_input=False):
    #   p - y log(p + eps);  1 - y / (p + eps);  y / (p + eps)^2.
    # y == 0 contributes no log term (so p == 0, eps == 0 gives 0, not NaN).
    cdef floating q = p + <floating>prm[0]
    cdef floating r = y / q
    l[0] = p - (y * f_log(q) if y != 0 else <floating>0)
    g[0] = <floating>1 - r
    h[0] = r / q


cdef inline void poisson_log_point(floating y, floating p, const double* prm,
                                   floating* l, floating* g, floating* h) noexcept nogil:
    # Log-rate input p (torch poisson_nll_loss, log_input=True, no Stirling term):
    #   exp(p) - y p;  exp(p) - y;  exp(p).
    cdef floating e = f_exp(p)
    l[0] = e - y * p
    g[0] = e - y
    h[0] = e


cdef inline void msle_point(floating y, floating p, const double* prm,
                            floating* l, floating* g, floating* h) noexcept nogil:
    # r = log1p(p) - log1p(y), for y, p > -1 (validated):
    #   r^2;  2 r / (1 + p);  2 (1 - r) / (1 + p)^2.
    cdef floating q = <floating>1 + p
    cdef floating r = f_log1p(p) - f_log1p(y)
    l[0] = r * r
    g[0] = <floating>2 * r / q
    h[0] = <floating>2 * (<floating>1 - r) / (q * q)


# --- binary classification ---------------------------------------------------------
#
# Labels t in [0, 1] (hinge: +-1 after conversion), logits x or probabilities p.
# Products t * log(...) are written as selects `t != 0 ? t * a : 0` (xlogy), so
# an infinite log term times a zero weight gives 0, not NaN: that is what makes
# +-inf logits and probabilities of exactly 0 or 1 give the exact limits.



cdef inline floating logistic_stage(floating x) noexcept nogil:
    # e = exp(-|x|), the stage of _logistic_e (a staged kernel's stage)
    return f_exp(-f_abs(x))


cdef inline void _logistic(floating x, floating* s, floating* sn, floating* spx,
                           floating* spn) noexcept nogil:
    _logistic_e(x, logistic_stage(x), s, sn, spx, spn)


cdef inline void _logistic_e(floating x, floating e, floating* s, floating* sn, floating* spx,
                             floating* spn) noexcept nogil:
    # sigmoid(x), sigmoid(-x), softplus(x), softplus(-x) from e = exp(-|x|)
    # <= 1 and one log1p of it: nothing overflows, both tails keep full
    # relative accuracy (softplus(x) = max(x, 0) + log1p(e), Maechler 2012),
    # +-inf give the exact limits and NaN propagates.
    cdef floating lp = f_log1p01(e)
    cdef floating r = <floating>1 / (<floating>1 + e)
    cdef bint nonneg = x >= 0
    s[0] = r if nonneg else e * r
    sn[0] = e * r if nonneg else r
    spx[0] = (x if x > 0 else <floating>0) + lp
    spn[0] = (-x if x < 0 else <floating>0) + lp


cdef inline void bce_logit_point(floating y, floating x, const double* prm,
                                 floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (label_smoothing, pos_weight).  t = y (1 - ls) + ls / 2 (Keras).
    #   l = pw t softplus(-x) + (1 - t) softplus(x)      (= -pw t log s - (1-t) log(1-s))
    #   g = (1 - t) s - pw t (1 - s),  s = sigmoid(x)   (1 - s = sigmoid(-x), exact tails)
    #   h = ((1 - t) + pw t) s (1 - s)
    # torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
    # except that x = +-inf gives the exact limits where torch gives NaN.
    bce_logit_core_e(y, x, logistic_stage(x), <floating>prm[0], <floating>prm[1], l, g, h)


cdef inline floating bce_logit_stage(floating y, floating x, const double* prm) noexcept nogil:
    return logistic_stage(x)


cdef inline void bce_logit_point_s(floating y, floating x, floating e, const double* prm,
                                   floating* l, floating* g, floating* h) noexcept nogil:
    bce_logit_core_e(y, x, e, <floating>prm[0], <floating>prm[1], l, g, h)


cdef inline void bce_logit_core(floating y, floating x, floating ls, floating pw,
                                floating* l, floating* g, floating* h) noexcept nogil:
    # bce_logit_point with its parameters as arguments (per-column pos_weight
    # loops in _rowwise.pyx.tp call it directly).
    bce_logit_core_e(y, x, logistic_stage(x), ls, pw, l, g, h)


cdef inline void bce_logit_core_e(floating y, floating x, floating e, floating ls, floating pw,
                                  floating* l, floating* g, floating* h) noexcept nogil:
    # bce_logit_core from e = exp(-|x|)
    cdef floating t = y * (<floating>1 - ls) + <floating>0.5 * ls
    cdef floating a = pw * t
    cdef floating b = <floating>1 - t
    cdef floating s, sn, spx, spn
    _logistic_e(x, e, &s, &sn, &spx, &spn)
    l[0] = (a * spn if a != 0 else <floating>0) + (b * spx if b != 0 else <floating>0)
    g[0] = b * s - a * sn
    h[0] = (b + a) * (s * sn)


cdef inline void bce_prob_point(floating y, floating p, const double* prm,
                                floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (label_smoothing, pos_weight, eps).  Probabilities p in [0, 1] are
    # clipped to c = clip(p, eps, 1 - eps) (Keras, epsilon=1e-7), so p = 0 or 1
    # gives a finite loss; the gradient is 0 where the clip is active.
    #   l = -(pw t log c + (1 - t) log(1 - c))
    #   g = -pw t / c + (1 - t) / (1 - c);  h = pw t / c^2 + (1 - t) / (1 - c)^2
    bce_prob_core(y, p, <floating>prm[0], <floating>prm[1], <floating>prm[2], l, g, h)


cdef inline void bce_prob_core(floating y, floating p, floating ls, floating pw, floating eps,
                               floating* l, floating* g, floating* h) noexcept nogil:
    cdef floating t = y * (<floating>1 - ls) + <floating>0.5 * ls
    cdef floating a = pw * t
    cdef floating b = <floating>1 - t
    cdef floating c = f_clip(p, eps, <floating>1 - eps)
    cdef floating cn = <floating>1 - c
    cdef bint inside = (p > eps) & (p < <floating>1 - eps)
    cdef floating ga = a / c if a != 0 else <floating>0
    cdef floating gb = b / cn if b != 0 else <floating>0
    l[0] = -((a * f_log(c) if a != 0 else <floating>0)
             + (b * f_log1p(-c) if b != 0 else <floating>0))
    g[0] = (gb - ga) if inside else (p - p) * 0
    h[0] = (ga / c + gb / cn) if inside else (p - p) * 0


cdef inline floating _hinge_label(floating y) noexcept nogil:
    # Labels are all in {0, 1} (Keras converts them to 2y - 1) or all in
    # {-1, 1} (checked before the loop): either way a 0 stands for -1 and the
    # rest are as given.  NaN stays NaN.
    return <floating>-1 if y == 0 else y


cdef inline void hinge_point(floating y, floating p, const double* prm,
                             floating* l, floating* g, floating* h) noexcept nogil:
    # u = 1 - t p with t = +-1:
    #   l = max(0, u);  g = -t where u > 0, else 0;  no hessian.
    cdef floating t = _hinge_label(y)
    cdef floating u = <floating>1 - t * p
    l[0] = u if u > 0 else u * 0
    g[0] = -t if u > 0 else u * 0
    h[0] = <floating>0


cdef inline void squared_hinge_point(floating y, floating p, const double* prm,
                                     floating* l, floating* g, floating* h) noexcept nogil:
    # u = 1 - t p:  l = max(0, u)^2;  g = -2 t max(0, u);
    # h = 2 t^2 where u > 0.
    cdef floating t = _hinge_label(y)
    cdef floating u = <floating>1 - t * p
    cdef floating m = u if u > 0 else u * 0
    l[0] = m * m
    g[0] = <floating>-2 * t * m
    h[0] = <floating>2 * t * t if u > 0 else u * 0


cdef inline floating _powq(floating q, floating a) noexcept nogil:
    # q^a for q >= 0 as exp(a log q), with q^0 = 1 (also for q = 0) and 0^a = 0
    # for a > 0 (log 0 = -inf, exp(-inf) = 0), 0^a = inf for a < 0.  The exp
    # and log are computed unconditionally, then selected (easier to
    # vectorise than a conditional call).
    cdef floating v = f_exp(a * f_log(q))
    return v if a != 0 else <floating>1


cdef inline void focal_logit_point(floating y, floating x, const double* prm,
                                   floating* l, floating* g, floating* h) noexcept nogil:
    focal_logit_core(y, x, logistic_stage(x), prm, l, g, h, False)


cdef inline void focal_logit_g2_point(floating y, floating x, const double* prm,
                                      floating* l, floating* g, floating* h) noexcept nogil:
    # the variant for gamma == 2 (the default): q^2 instead of exp(2 log q)
    focal_logit_core(y, x, logistic_stage(x), prm, l, g, h, True)


cdef inline floating focal_logit_stage(floating y, floating x, const double* prm) noexcept nogil:
    return logistic_stage(x)


cdef inline floating focal_logit_g2_stage(floating y, floating x, const double* prm) noexcept nogil:
    return logistic_stage(x)


cdef inline void focal_logit_point_s(floating y, floating x, floating e, const double* prm,
                                     floating* l, floating* g, floating* h) noexcept nogil:
    focal_logit_core(y, x, e, prm, l, g, h, False)


cdef inline void focal_logit_g2_point_s(floating y, floating x, floating e, const double* prm,
                                        floating* l, floating* g, floating* h) noexcept nogil:
    focal_logit_core(y, x, e, prm, l, g, h, True)


cdef inline void focal_logit_core(floating y, floating x, floating e, const double* prm,
                                  floating* l, floating* g, floating* h,
                                  bint square) noexcept nogil:
    # prm = (gamma, alpha, use_alpha).  torchvision.ops.sigmoid_focal_loss:
    #   ce = t softplus(-x) + (1 - t) softplus(x)
    #   q = 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x)   (from the logit: exact
    #       where p_t rounds to 1, so (1 - p_t)^gamma keeps full relative accuracy)
    #   l = a_t q^gamma ce,  a_t = alpha t + (1 - alpha)(1 - t)  (or 1)
    #   g = a_t q^gamma [gamma k r ce + (s - t)],  k = 1 - 2t, r = v / q <= 1,
    #       v = s (1 - s)
    #   h = a_t q^gamma [gamma (gamma - 1) k^2 r^2 ce + gamma k r ((1 - 2s) ce
    #       + 2 (s - t)) + v]
    # (q^(gamma-1) v = q^gamma r has no singularity at q = 0).  Terms in r ce
    # are taken as 0 where r == 0 (|x| huge or infinite), their limit.
    cdef floating gam = <floating>prm[0]
    cdef floating al = <floating>prm[1]
    cdef floating at = (al * y + (<floating>1 - al) * (<floating>1 - y)) if prm[2] != 0 else <floating>1
    cdef floating b = <floating>1 - y
    cdef floating s, sn, spx, spn
    _logistic_e(x, e, &s, &sn, &spx, &spn)
    cdef floating ce = (y * spn if y != 0 else <floating>0) + (b * spx if b != 0 else <floating>0)
    cdef floating q = y * sn + b * s
    cdef floating qg = q * q if square else _powq(q, gam)
    cdef floating v = s * sn
    cdef floating k = <floating>1 - <floating>2 * y
    cdef floating r = v / q if q > 0 else q * 0
    cdef floating rce = gam * k * r * ce if r != 0 else r * 0
    # s - t and 1 - 2s without cancellation where s rounds to 1
    cdef floating st = b * s - y * sn
    l[0] = at * qg * ce
    g[0] = at * qg * (rce + st)
    h[0] = at * qg * ((rce * ((gam - <floating>1) * k * r + (sn - s)) if r != 0 else r * 0)
                      + <floating>2 * gam * k * r * st + v)


cdef inline void focal_prob_point(floating y, floating p, const double* prm,
                                  floating* l, floating* g, floating* h) noexcept nogil:
    focal_prob_core(y, p, prm, l, g, h, False)


cdef inline void focal_prob_g2_point(floating y, floating p, const double* prm,
                                     floating* l, floating* g, floating* h) noexcept nogil:
    # the variant for gamma == 2 (the default): q^2, 2 q, 2 for the powers
    focal_prob_core(y, p, prm, l, g, h, True)


cdef inline void focal_prob_core(floating y, floating p, const double* prm,
                                 floating* l, floating* g, floating* h,
                                 bint square) noexcept nogil:
    # prm = (gamma, alpha, use_alpha, eps).  Keras binary_focal_crossentropy:
    #   bce = -(t log c + (1 - t) log(1 - c)),  c = clip(p, eps, 1 - eps)
    #   q = 1 - p_t = t (1 - p) + (1 - t) p     (unclipped p, as Keras)
    #   l = a_t q^gamma bce
    #   g = a_t [gamma q^(gamma-1) k bce + q^gamma dbce/dp],  k = 1 - 2t
    #   h = a_t [gamma (gamma-1) q^(gamma-2) k^2 bce + 2 gamma q^(gamma-1) k dbce/dp
    #            + q^gamma d2bce/dp2]
    # with dbce/dp = (c - t) / (c (1 - c)) and d2bce/dp2 = t / c^2 + (1 - t) /
    # (1 - c)^2 where the clip is inactive, else 0.  Terms with a zero factor
    # (gamma, gamma - 1, dbce/dp) are 0, not 0 * inf at q = 0.
    cdef floating gam = <floating>prm[0]
    cdef floating al = <floating>prm[1]
    cdef floating eps = <floating>prm[3]
    cdef floating at = (al * y + (<floating>1 - al) * (<floating>1 - y)) if prm[2] != 0 else <floating>1
    cdef floating b = <floating>1 - y
    cdef floating c = f_clip(p, eps, <floating>1 - eps)
    cdef floating cn = <floating>1 - c
    cdef bint inside = (p > eps) & (p < <floating>1 - eps)
    cdef floating bce = -((y * f_log(c) if y != 0 else <floating>0)
                          + (b * f_log1p(-c) if b != 0 else <floating>0))
    cdef floating dbce = ((b / cn if b != 0 else <floating>0)
                          - (y / c if y != 0 else <floating>0)) if inside else (p - p) * 0
    cdef floating d2bce = ((b / (cn * cn) if b != 0 else <floating>0)
                           + (y / (c * c) if y != 0 else <floating>0)) if inside else (p - p) * 0
    cdef floating k = <floating>1 - <floating>2 * y
    cdef floating q = y * (<floating>1 - p) + b * p
    cdef floating qg, qg1, qg2
    cdef floating gg1 = gam * (gam - <floating>1)
    if square:
        qg = q * q
        qg1 = <floating>2 * q * k
        qg2 = <floating>2 * k * k
    else:
        qg = _powq(q, gam)
        qg1 = gam * _powq(q, gam - <floating>1) * k if gam != 0 else <floating>0
        qg2 = gg1 * _powq(q, gam - <floating>2) * k * k if gg1 != 0 else <floating>0
    l[0] = at * qg * bce
    g[0] = at * (qg1 * bce + qg * dbce)
    h[0] = at * (qg2 * bce + (<floating>2 * qg1 * dbce if dbce != 0 else dbce) + qg * d2bce)


# --- asymmetric regression (the generative family's entry) --------------------------


cdef inline void asymmetric_squared_point(floating y, floating p, const double* prm,
                                          floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (under, over).  e = y - p: the squared residual weighted by `under`
    # where e > 0 (an under-prediction) and by `over` elsewhere:
    #   l = c e^2,  dl/dp = -2 c e,  hessian 2 c,   c = under if e > 0 else over.
    # under = tau, over = 1 - tau is the expectile-regression loss of level tau
    # (Newey and Powell 1987); NaN propagates through e.
    # (Both weights are loaded before the select: a select between two loads
    # stays a branch, and the loop scalar.)
    cdef floating under = <floating>prm[0]
    cdef floating over = <floating>prm[1]
    cdef floating e = y - p
    cdef floating c = under if e > 0 else over
    l[0] = c * e * e
    g[0] = <floating>-2 * c * e
    h[0] = <floating>2 * c


# --- embedding and ranking -----------------------------------------------------------


cdef inline void contrastive_point(floating y, floating d, const double* prm,
                                   floating* l, floating* g, floating* h) noexcept nogil:
    # prm = (margin,).  Contrastive loss on a distance d >= 0 (Hadsell, Chopra
    # and LeCun 2006), y = 1 similar, 0 dissimilar (soft labels in [0, 1]):
    #   l = y d^2 + (1 - y) max(0, m - d)^2;  g = 2 y d - 2 (1 - y) max(0, m - d);
    #   h = 2 y + 2 (1 - y) [d < m]  (the hinge's side at d == m: 0).
    cdef floating u = <floating>prm[0] - d
    cdef floating a = u if u > 0 else u * <floating>0
    cdef floating ny = <floating>1 - y
    l[0] = y * (d * d) + ny * (a * a)
    g[0] = <floating>2 * (y * d) - <floating>2 * (ny * a)
    h[0] = <floating>2 * y + (<floating>2 * ny if u > 0 else u * <floating>0)
