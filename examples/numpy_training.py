"""Train logistic regression and a softmax model in plain NumPy with fastloss.

The loss is a number per sample (`reduction="none"`: how wrong the model is on
that sample); the cost is what training minimises: here the mean loss plus an
L2 penalty.  The loop records both at every iteration, stops when the cost
no longer moves, and plots the history.  Same data and regularisation as
scikit-learn's LogisticRegression(C=...), whose solution it reaches.

    python examples/numpy_training.py --plot history.png
"""

import argparse

import numpy as np

import fastloss as fl


def make_data(n=600, d=4, classes=2, seed=0):
    """Standardised features and integer labels drawn from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=1.5, size=(d, classes))
    logits = X @ W + rng.gumbel(size=(n, classes))     # argmax of Gumbel-perturbed logits
    return X, np.argmax(logits, axis=1)


def gradient_descent(loss, X, y, n_outputs, curvature, C=1.0, max_iter=20_000, gtol=1e-10,
                     **params):
    """Fit a linear model z = X W + b (W of shape (d,) for one output, else
    (d, n_outputs)) by gradient descent on

        cost(W, b) = mean_i loss(y_i, z_i) + ||W||^2 / (2 C n),

    which has the minimiser of scikit-learn's C * sum_i loss_i + ||W||^2 / 2
    (the intercept is not penalised).  `curvature` bounds the loss's second
    derivative in z, so that the step 1/L is safe.  Stops when the cost's
    gradient is below gtol.  Returns (W, b, history)."""
    n, d = X.shape
    shape = (d,) if n_outputs == 1 else (d, n_outputs)
    W, b = np.zeros(shape), np.zeros(shape[1:])
    Xb = np.hstack([X, np.ones((n, 1))])
    step = 1.0 / (curvature * np.linalg.eigvalsh(Xb.T @ Xb / n)[-1] + 1.0 / (C * n))
    history = {"cost": [], "per_sample_loss": []}
    for _ in range(max_iter):
        z = X @ W + b
        # one fused pass: the mean loss and its gradient with respect to z
        mean_loss, g = loss.loss_grad(y, z, **params)
        cost = mean_loss + np.sum(W * W) / (2 * C * n)
        history["cost"].append(cost)
        history["per_sample_loss"].append(loss(y, z, reduction="none", **params))
        grad_W, grad_b = X.T @ g + W / (C * n), g.sum(axis=0)   # chain rule: dz/dW = X
        if np.sqrt(np.sum(grad_W**2) + np.sum(grad_b**2)) < gtol:
            break
        W, b = W - step * grad_W, b - step * grad_b
    return W, b, history


def fit_logistic(X, y, C=1.0, **kw):
    """Binary logistic regression: binary cross-entropy of the logit x.w + b
    (its second derivative in the logit is at most 1/4).  Returns (w, b,
    history)."""
    w, b, history = gradient_descent(fl.binary_crossentropy, X, y, 1, 0.25, C,
                                     from_logits=True, **kw)
    return w, float(b), history


def fit_softmax(X, y, n_classes, C=1.0, **kw):
    """Multinomial logistic regression, a linear softmax model: the softmax
    cross-entropy of the integer labels (its hessian in the logits is at most
    1/2).  Returns (W, b, history)."""
    return gradient_descent(fl.sparse_categorical_crossentropy, X, y, n_classes, 0.5, C,
                            from_logits=True, **kw)


def plot_history(histories, path):
    """Cost per iteration (left) and the spread of the per-sample losses
    (right): the cost is one number; the losses say which samples stay hard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_c, ax_l) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, h in histories.items():
        cost = np.array(h["cost"])
        (line,) = ax_c.semilogy(cost - cost.min() + 1e-16, label=label)
        losses = np.array(h["per_sample_loss"])
        it = np.arange(len(losses))
        ax_l.plot(it, np.median(losses, axis=1), color=line.get_color(), label=f"{label}: median")
        ax_l.fill_between(it, np.quantile(losses, 0.1, axis=1), np.quantile(losses, 0.9, axis=1),
                          color=line.get_color(), alpha=0.2, label=f"{label}: 10-90%")
    ax_c.set(xlabel="iteration", ylabel="cost - final cost", title="cost (what is minimised)")
    ax_l.set(xlabel="iteration", ylabel="per-sample loss", yscale="log",
             title="loss of each sample (reduction='none')")
    ax_c.legend()
    ax_l.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=600, help="samples")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--plot", metavar="PATH", help="write the training history (matplotlib)")
    args = ap.parse_args(argv)

    X, y = make_data(args.n, classes=2)
    w, b, h2 = fit_logistic(X, y, args.C)
    print(f"logistic: {len(h2['cost'])} iterations, cost {h2['cost'][-1]:.6f}, "
          f"w = {np.round(w, 4)}, b = {b:.4f}")
    X3, y3 = make_data(args.n, classes=3, seed=1)
    W, b3, h3 = fit_softmax(X3, y3, 3, args.C)
    print(f"softmax:  {len(h3['cost'])} iterations, cost {h3['cost'][-1]:.6f}")
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        print("(scikit-learn not installed: no comparison)")
    else:
        ref = LogisticRegression(C=args.C, tol=1e-12, max_iter=10_000).fit(X, y)
        print(f"scikit-learn: w = {np.round(ref.coef_[0], 4)}, b = {ref.intercept_[0]:.4f}; "
              f"largest difference {np.max(np.abs(ref.coef_[0] - w)):.1e}")
    if args.plot:
        plot_history({"logistic": h2, "softmax": h3}, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
