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
# Adding an element-wise loss: a point function here, its name in the
# KERNELS list of _elementwise.pyx.tp, an entry in fastloss/_registry.py and
# a reference function in fastloss/reference.py.

from cython cimport floating
from fastloss._kernels._numerics cimport (
    f_abs, f_clip, f_exp, f_expm1, f_log, f_log1p, f_sign,
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


cdef inline void log_cosh_point(floating y, floating p, const double* prm,
                                floating* l, floating* g, floating* h) noexcept nogil:
    # log(cosh(d)), d = p - y;  tanh(d);  1 - tanh(d)^2.
    # Value: log cosh a = log1p(2 sinh(a/2)^2) with sinh(a/2) = u(u+2)/(2(u+1)),
    # u = expm1(a/2): full relative accuracy near 0 (where it is a^2/2) and
    # no cancellation.  For a > 40, log cosh a = a - log 2 + log1p(exp(-2a))
    # and the last term is below 1e-34: a - log 2 is exact to rounding, and
    # avoids the overflow of u^2 (a > ~709).
    # Gradient/hessian from t = expm1(-2a) in (-1, 0]:
    #   tanh a = -t / (2 + t),  1 - tanh^2 a = 4 (1 + t) / (2 + t)^2.
    cdef floating d = p - y
    cdef floating a = f_abs(d)
    cdef floating u = f_expm1(a * <floating>0.5)
    cdef floating s = u * (u + <floating>2) / (<floating>2 * (u + <floating>1))
    cdef floating t = f_expm1(<floating>-2 * a)
    cdef floating two_t = <floating>2 + t
    l[0] = (a - <floating>0.6931471805599453) if a > 40 else f_log1p(<floating>2 * s * s)
    g[0] = f_sign(d) * (-t / two_t)
    h[0] = <floating>4 * (<floating>1 + t) / (two_t * two_t)


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
