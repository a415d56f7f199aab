"""Huber's loss along a grid of penalties, for cross-validation: every
candidate solved on each training set by Newton's method (:mod:`.newton`). The
first split's strengths in decreasing order, each from the solution of the
previous one (each mix's first from the least-squares fit, as ``fit``
starts); every other split's candidate, and the chosen model on all rows,
from the first split's solution of it, a few Newton steps away."""

import numpy as np

from .._data import Data
from . import newton
from ._passes import Passes
from .path import log_grid
from .robust_path import Solution, target_scaling

# An L1 strength this many times the bound of the loss's gradient keeps every
# coefficient at zero.
_KEEPS_ZERO = 1e3
# A certified gap above this after a start from another split's solution is
# not the rounding of a minimum: Newton starts again from the least-squares fit.
_WARM_SHORT = 1e-9
# Newton's steps at most for the fit of an intercept and a scale alone.
_GRID_STEPS = 100


def alpha_grid(
    data, scaling, epsilon, *, l1_ratio, n_alphas, eps, fit_intercept, device
):
    """``n_alphas`` strengths decreasing on a log scale from the smallest that
    sets every coefficient to zero with ``l1_ratio`` (the largest over the
    targets; :func:`.path.log_grid`): the largest standardized column's
    product with the loss's derivative at
    the fit of an intercept and a scale alone (Newton's steps with a penalty
    that keeps every coefficient at zero)."""
    passes = Passes.of_data(data, scaling, device, fit_intercept)
    K = data.Y.shape[1]
    # |Z' w psi| / n is at most 2 epsilon times the columns' root mean square
    spread = np.sqrt(scaling.x_var + (scaling.x_mean - scaling.x_center) ** 2)
    bound = 2 * epsilon * np.max(spread / scaling.x_scale, initial=1.0)
    l1 = np.full(K, _KEEPS_ZERO * bound)
    huber, _, _ = newton.minimise(passes, epsilon, l1, np.zeros(K), _GRID_STEPS)
    psi = huber.derivative()
    if passes.w is not None:
        psi = passes.w[:, None] * psi
    product = passes.cross(psi)[:, : huber.p]
    largest = np.max(np.abs(product), initial=0.0) / passes.n
    return log_grid(largest, l1_ratio, n_alphas, eps)


def split_paths(
    data,
    splits,
    statistics,
    epsilon,
    grid,
    *,
    fit_intercept,
    standardize,
    max_iter,
    device,
):
    """Every candidate of ``grid`` solved on the training rows of each of
    ``splits`` (standardized by ``statistics[s]``): coefficients
    ``(n_splits, n_candidates, n_targets, n_features)``, and intercepts,
    scales (original units) and certified gaps ``(n_splits, n_candidates,
    n_targets)``."""
    candidates = [(r, alpha) for r, alphas in grid for alpha in alphas]
    K = data.Y.shape[1]
    shape = (len(splits), len(candidates), K)
    coef = np.zeros(shape + (data.shape[1],))
    intercept, scale, gap = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for s, (train, _) in enumerate(splits):
        part = data.rows(train)
        for k in range(K):
            scaling = target_scaling(statistics[s], k, fit_intercept, standardize)
            target = Data(part.X, part.Y[:, [k]], part.sample_weight)
            passes = Passes.of_data(target, scaling, device, fit_intercept)
            previous, mix = None, None  # (None: the least-squares fit)
            for c in _order(candidates):
                if s:  # the first split's solution
                    previous = coef[0, c, k], intercept[0, c, k], scale[0, c, k]
                elif candidates[c][0] != mix:  # a mix's first strength
                    previous, mix = None, candidates[c][0]
                found = solve_candidate(
                    passes, epsilon, candidates[c], previous, max_iter=max_iter
                )
                coef[s, c, k], intercept[s, c, k] = found.coef, found.intercept
                scale[s, c, k], gap[s, c, k] = found.scale, found.gap
                previous = found.coef, found.intercept, found.scale
    return coef, intercept, scale, gap


def solve_candidate(passes, epsilon, candidate, start, *, max_iter):
    """The minimiser of Huber's objective on ``passes`` (one target) with the
    penalty of ``candidate`` (``(l1_ratio, alpha)``), from ``start``
    (coefficients, intercept and scale in the original units) or from the
    least-squares fit (None): a :class:`~.robust_path.Solution` with its
    scale."""
    scaling = passes.scaling
    l1, l2 = scaling.penalty("huber", candidate[1], candidate[0])
    if start is not None and start[2] > 0:
        start = _standardized(passes, *(np.atleast_1d(part) for part in start))
    else:  # (from a scale of 0, the boundary's, Newton's steps would crawl)
        start = None
    huber, n_iter, gaps = newton.minimise(
        passes, epsilon, l1, l2, max_iter, start=start
    )
    if start is not None and gaps[0] > _WARM_SHORT:
        # a start from other rows that misled Newton (a few rows, a minimum
        # near a scale of 0): fit's own start, kept where it is lower
        cold, more, cold_gaps = newton.minimise(passes, epsilon, l1, l2, max_iter)
        n_iter += more
        if cold.value[0] <= huber.value[0]:
            huber, gaps = cold, cold_gaps
    (coef,), (intercept,) = huber.coefficients()
    scale = huber.sigma[0] * scaling.y_scale[0]
    return Solution(coef, intercept, gaps[0], huber.value[0], n_iter, scale)


def _order(candidates):
    """The candidates' indices, each mix's strengths decreasing."""
    return sorted(
        range(len(candidates)), key=lambda c: (candidates[c][0], -candidates[c][1])
    )


def _standardized(passes, coef, intercept, scale):
    """Coefficients (the intercept last) and scales in the standardized units
    of ``passes``, as Newton's steps take them."""
    scaling = passes.scaling
    coef, intercept = scaling.standardize(np.atleast_2d(coef), intercept)
    x = coef[:, passes.active]
    if passes.bias:
        x = np.c_[x, intercept]
    return x, scale / scaling.y_scale
