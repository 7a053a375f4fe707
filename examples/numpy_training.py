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


def fit_logistic(X, y, C=1.0, max_iter=20_000, gtol=1e-10):
    """Binary logistic regression by gradient descent.

    cost(w, b) = mean_i bce(y_i, x_i.w + b) + ||w||^2 / (2 C n), which has the
    minimiser of scikit-learn's C * sum_i bce_i + ||w||^2 / 2 (the intercept is
    not penalised).  Stops when the cost's gradient is below gtol.  Returns
    (w, b, history)."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    # step 1/L, L a bound on the curvature: bce'' <= 1/4 at any logit
    Xb = np.hstack([X, np.ones((n, 1))])
    step = 1.0 / (0.25 * np.linalg.eigvalsh(Xb.T @ Xb / n)[-1] + 1.0 / (C * n))
    history = {"cost": [], "per_sample_loss": []}
    for _ in range(max_iter):
        z = X @ w + b
        # one fused pass: the mean loss and its gradient with respect to z
        mean_loss, g = fl.binary_crossentropy.loss_grad(y, z, from_logits=True)
        cost = mean_loss + w @ w / (2 * C * n)
        history["cost"].append(cost)
        history["per_sample_loss"].append(
            fl.binary_crossentropy(y, z, from_logits=True, reduction="none"))
        grad_w, grad_b = X.T @ g + w / (C * n), g.sum()   # chain rule: dz/dw = X
        if np.sqrt(grad_w @ grad_w + grad_b**2) < gtol:
            break
        w, b = w - step * grad_w, b - step * grad_b
    return w, b, history


def fit_softmax(X, y, n_classes, C=1.0, max_iter=20_000, gtol=1e-10):
    """Multinomial logistic regression (a linear softmax model) by gradient
    descent on mean_i cce(y_i, x_i W + b) + ||W||^2 / (2 C n).  Returns
    (W, b, history)."""
    n, d = X.shape
    W, b = np.zeros((d, n_classes)), np.zeros(n_classes)
    Xb = np.hstack([X, np.ones((n, 1))])
    # the softmax cross-entropy's hessian in the logits is at most 1/2
    step = 1.0 / (0.5 * np.linalg.eigvalsh(Xb.T @ Xb / n)[-1] + 1.0 / (C * n))
    history = {"cost": [], "per_sample_loss": []}
    for _ in range(max_iter):
        Z = X @ W + b
        mean_loss, G = fl.sparse_categorical_crossentropy.loss_grad(y, Z, from_logits=True)
        cost = mean_loss + np.sum(W * W) / (2 * C * n)
        history["cost"].append(cost)
        history["per_sample_loss"].append(
            fl.sparse_categorical_crossentropy(y, Z, from_logits=True, reduction="none"))
        grad_W, grad_b = X.T @ G + W / (C * n), G.sum(axis=0)
        if np.sqrt(np.sum(grad_W**2) + grad_b @ grad_b) < gtol:
            break
        W, b = W - step * grad_W, b - step * grad_b
    return W, b, history


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
