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

import warnings

import numpy as np
import scipy.optimize
import torch

from . import _duality
from .interior_point import InteriorPoint

# A bound below the objective by more than this (relative) is improved on the
# free rows, when they are at most _FREE_ROWS.
_LOOSE = 1e-12
_FREE_ROWS = 200


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
        if values[k] - bounds[k] > _LOOSE * abs(values[k]):
            better = _free_rows_dual(problem, inside, free)
            if better is not None:
                bound = _duality.bound(problem, better, better, free, x[k, : huber.p])
                bounds[k] = max(bounds[k], bound)
        if values[k] < huber.value[k]:
            huber.take(k, x[k], values[k])
    return bounds, n_iter


def _free_rows_dual(problem, a, free):
    """``a`` with its values on the few ``free`` rows (those the boundary's
    minimiser fits exactly) chosen to maximise Huber's dual bound given the
    others: a small concave programme (SLSQP) under the box, the ball and the
    intercept's equality. The dual point of the absolute error, scaled into
    Huber's box, can break the ball, and scaling it into the ball then loses
    (a certified gap of 1e-3 at a minimum that CLARABEL's dual equals, on 9
    rows with tied targets); None where the free rows are many."""
    index = np.flatnonzero(free.cpu().numpy() > 0)
    if not 0 < len(index) <= _FREE_ROWS:
        return None
    w, t = problem.w.cpu().numpy(), problem.t.cpu().numpy()
    n, loss, p = problem.n, problem.loss, problem.n_columns - 1
    fixed = a.cpu().numpy().copy()
    fixed[index] = 0.0
    v0 = problem.cross(torch.as_tensor(w * fixed, device=a.device))
    zw = problem.rows(index) * (w[index] / n)[:, None]  # rows' share of v
    linear0, second0 = (w * fixed) @ t / n, (w * fixed**2).sum()

    def bound(values):  # minus the dual objective
        v = v0 + values @ zw
        excess = np.maximum(np.abs(v[:p]) - problem.l1, 0.0)
        penalty = excess @ excess / (2 * problem.l2) if problem.l2 > 0 else 0.0
        return -(linear0 + (w[index] * values) @ t[index] / n - penalty)

    constraints = [
        {"type": "ineq", "fun": lambda u: loss.ball * n - second0 - w[index] @ u**2}
    ]
    if problem.bias:  # the intercept's: sum w a = 0
        constraints.append({"type": "eq", "fun": lambda u: v0[p] + u @ zw[:, p]})
    if problem.l2 == 0:  # |v| <= l1 (the pure L1 penalty's conjugate)
        constraints.append(
            {
                "type": "ineq",
                "fun": lambda u: problem.l1 - np.abs(v0[:p] + u @ zw[:, :p]),
            }
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a point is a point: bound() checks it)
        solution = scipy.optimize.minimize(
            bound,
            a.cpu().numpy()[index],
            method="SLSQP",
            bounds=[(loss.lower, loss.upper)] * len(index),
            constraints=constraints,
        )
    better = a.clone()
    better[torch.as_tensor(index, device=a.device)] = torch.as_tensor(
        solution.x, dtype=a.dtype, device=a.device
    )
    return better
