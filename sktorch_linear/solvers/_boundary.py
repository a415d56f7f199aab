"""Huber's minimum at a scale of zero.

HuberRegressor's objective ``sigma + sigma H(r / sigma)`` (:mod:`.newton`) tends,
as the scale ``sigma`` goes to 0, to ``2 epsilon |r|``: on the boundary of its
domain it is the absolute-error objective. Its derivative in ``sigma`` there is
``1`` on the rows fitted exactly and ``1 - epsilon^2 < 0`` on the others, so the
minimum is on the boundary when the rows that the minimiser of the boundary fits
exactly carry a share of the weight of at least ``1 - 1 / epsilon^2`` (0.45 for
the default 1.35): when rows as many as the coefficients (and the intercept)
carry that share. Such data (fewer rows than about twice the coefficients, or
a few rows of overwhelming weight) are where Newton's steps, which keep the
scale positive, approach the minimum only slowly, or stop at a positive scale
far above it with a penalty.

There the minimiser of the boundary is found by the interior-point method of
the absolute error (the penalty divided by ``2 epsilon``), taken for each target
where its objective is lower, and its dual point (times ``2 epsilon``: the box
of Huber's dual) bounds Huber's minimum from below.
"""

import numpy as np
import torch

from . import _duality
from .interior_point import InteriorPoint


def plausible(huber):
    """The targets (not fitted exactly) whose minimum may be on the boundary:
    the ``width`` rows of largest weight carry at least ``1 - 1 /
    epsilon^2`` of it."""
    passes = huber.passes
    w = huber.w[:, 0].cpu().numpy()
    top = np.sort(w)[::-1][: passes.width].sum()
    share = top / max(w.sum(), np.finfo(float).tiny)
    return ~huber.exact & (share >= 1 - 1 / huber.epsilon**2)


def minimise(huber, max_iter, short):
    """Take, for each target where the boundary is plausible
    (:func:`plausible`) or Newton's fit is ``short`` of a certified minimum
    (data fitted exactly by a penalised model, with its minimum at a scale of
    0 too), the minimiser of the boundary when its objective is lower than
    Newton's; return the lower bounds of every target's minimum that its dual
    point certifies (0 for the others) and the iterations of the
    interior-point method."""
    passes, epsilon = huber.passes, huber.epsilon
    K = len(huber.x)
    candidates = plausible(huber) | (short & ~huber.exact)
    bounds = np.zeros(K)
    if not candidates.any():
        return bounds, 0
    absolute = [_duality.Loss("absolute_error", None)] * K
    method = InteriorPoint(
        passes, absolute, huber.l1 / (2 * epsilon), huber.l2 / (2 * epsilon)
    )
    n_iter, _ = method.run(max_iter)
    x = method.x
    r = passes.t - passes.product(x)
    values = huber._objective(r, x, np.zeros(K))
    w = torch.ones_like(passes.t[:, 0]) if passes.w is None else passes.w
    loss = _duality.Loss("scaled_huber", epsilon)
    for k in np.flatnonzero(candidates):
        problem = _duality.DualProblem(passes, k, loss, huber.l1[k], huber.l2[k])
        a, inside, free = method.dual_point(k, w, factor=2 * epsilon)
        bounds[k] = _duality.bound(problem, a, inside, free, x[k, : huber.p])
        if values[k] < huber.value[k]:
            huber.take(k, x[k], values[k])
    return bounds, n_iter
