"""The best concomitant scale of Huber's objective for fixed residuals.

The derivative of the objective in the scale ``sigma``, ``(W - S(sigma) /
sigma^2 - epsilon^2 (W - W_in(sigma))) / n`` with ``W`` the weight of all rows,
``W_in`` that of the rows inside ``epsilon sigma`` and ``S`` their sum of ``w
r^2``, increases with ``sigma`` (from ``(1 - epsilon^2) W < 0`` with every row
outside). For a set of rows inside, ``sigma^2 = S / (W - epsilon^2 (W -
W_in))`` is a candidate root; the root is the candidate that keeps exactly
those rows inside.
"""

import torch

# Fixed-point steps tried before the residuals are sorted.
_ITERATIONS = 8


def best_scale(size, w, epsilon, start):
    """The root of the derivative in ``sigma`` for the absolute residuals
    ``size`` with weights ``w`` (1-D tensors), or None where there is none
    above 0.

    From ``start``, each step takes the candidate of the rows inside the
    current scale (a few passes over the rows, each a handful of operations);
    a candidate that keeps its own rows inside is the root. Where that has
    not happened after ``_ITERATIONS`` steps, the residuals are sorted and
    every candidate is tried (one sort of the rows).
    """
    total = w.sum()
    sigma = start
    for _ in range(_ITERATIONS):
        inside = size <= epsilon * sigma
        candidate = _candidate(size, w, inside, total, epsilon)
        if candidate is None:
            break
        if bool(torch.equal(size <= epsilon * candidate, inside)):
            return candidate if candidate > 0 else None
        sigma = candidate
    return _sorted_root(size, w, epsilon)


def _candidate(size, w, inside, total, epsilon):
    w_in = torch.where(inside, w, 0.0)
    denominator = float(total - epsilon**2 * (total - w_in.sum()))
    if denominator <= 0:
        return None
    return float(torch.sqrt((w_in * size.square()).sum() / denominator))


def _sorted_root(size, w, epsilon):
    size, order = torch.sort(size)
    w = w[order]
    zero = size.new_zeros(1)
    weight = torch.cat([zero, torch.cumsum(w, 0)])
    squares = torch.cat([zero, torch.cumsum(w * size.square(), 0)])
    total = weight[-1]
    denominator = total - epsilon**2 * (total - weight)
    root = torch.sqrt(squares / torch.where(denominator > 0, denominator, 1.0))
    low = torch.cat([zero, size]) / epsilon
    high = torch.cat([size, size.new_full((1,), torch.inf)]) / epsilon
    valid = (denominator > 0) & (root >= low) & (root < high)
    best = float(torch.where(valid, root, torch.inf).min())
    return best if 0 < best < float("inf") else None
