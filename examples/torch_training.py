"""A PyTorch CPU training loop whose loss is computed by fastloss.

`fastloss.torch` wraps every loss as a differentiable torch operation (the
fused fastloss kernel runs forward and hands its gradient to autograd), with
the inputs and keywords of the NumPy call.  Here a small MLP classifier is
trained with it and, from the same initial weights, with torch's own
cross-entropy: the two runs follow the same path.

    python examples/torch_training.py
"""

import copy

import numpy as np
import torch
from torch import nn

import fastloss.torch as flt


def spirals(n=600, classes=3, seed=0):
    """Points on interleaved spiral arms, one class per arm."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.2, 1.0, size=n)
    k = rng.integers(0, classes, size=n)
    angle = 4.0 * t + 2 * np.pi * k / classes + rng.normal(scale=0.15, size=n)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(k, dtype=torch.int64)


def make_model(classes=3, hidden=32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                         nn.Tanh(), nn.Linear(hidden, classes))


def train(model, X, y, loss_fn, steps=200, lr=0.05):
    """Full-batch Adam; returns the loss at every step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(y, model(X))
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def fastloss_ce(y, logits):
    # the fastloss argument order: (y_true, y_pred)
    return flt.sparse_categorical_crossentropy(y, logits, from_logits=True)


def torch_ce(y, logits):
    return nn.functional.cross_entropy(logits, y)


def main(steps=200):
    X, y = spirals()
    model = make_model()
    reference = copy.deepcopy(model)
    ours = train(model, X, y, fastloss_ce, steps)
    theirs = train(reference, X, y, torch_ce, steps)
    acc = (model(X).argmax(dim=1) == y).float().mean().item()
    print(f"fastloss.torch: loss {ours[0]:.4f} -> {ours[-1]:.4f}, accuracy {acc:.3f}")
    print(f"torch:          loss {theirs[0]:.4f} -> {theirs[-1]:.4f}; largest difference "
          f"along the path {np.max(np.abs(np.array(ours) - np.array(theirs))):.1e}")
    return ours, theirs, acc


if __name__ == "__main__":
    main()
