"""Squared error along a path of penalties, from statistics alone: every
``(l1_ratio, alpha)`` of a grid solved on one set of statistics, as the exact
solver would solve each (what cross-validation needs per training set)."""

import numpy as np

from .._scaling import Scaling
from ._elastic_net import solve_elastic_net
from ._penalised import LeastSquares

# For an automatic grid of ridge strengths, the largest is that of the lasso
# with this mix (glmnet's rule), where the lasso's would be infinite.
_RIDGE_MIX = 1e-3


def alpha_grid(moments, *, l1_ratio, n_alphas, eps, fit_intercept, standardize):
    """``n_alphas`` penalty strengths, decreasing on a log scale from the
    smallest that sets every coefficient to zero with ``l1_ratio`` (at least
    ``_RIDGE_MIX``) down to ``eps`` times it, as scikit-learn's ``LassoCV``
    chooses them (in this estimator's units of ``alpha``)."""
    base = _base(moments, fit_intercept, standardize)
    if not base.n_active:  # nothing to penalise: every strength is the same fit
        return np.full(n_alphas, 1.0)
    _, cross = _standardized(base)
    # zero is the minimiser iff |cross| <= alpha * mix / y_scale everywhere
    largest = np.max(np.abs(cross) * base.scaling.y_scale)
    largest = largest / max(l1_ratio, _RIDGE_MIX)
    if largest == 0:  # y is constant about its fit: any grid will do
        largest = 1.0
    return np.geomspace(largest, largest * eps, n_alphas)


def penalty_path(moments, grid, *, fit_intercept, standardize, max_sweeps):
    """Coefficients and intercepts (original units) for every ``(l1_ratio,
    alphas)`` of ``grid``: arrays of shapes ``(n_candidates, n_targets,
    n_features)`` and ``(n_candidates, n_targets)`` in the grid's order, and
    whether coordinate descent settled for every candidate.

    Ridge strengths are solved by the exact solver's factorisation of each
    (Cholesky, or the SVD of an R factor); elastic-net strengths by coordinate
    descent with exact active-set solves, each started from the solution of
    the next larger strength (warm starts along the path).
    """
    base = _base(moments, fit_intercept, standardize)
    gram, cross = _standardized(base)
    scale = base.penalty_scale[:, None]
    coefs, intercepts, settled = [], [], True
    for l1_ratio, alphas in grid:
        theta = np.zeros_like(cross)
        solutions = {}
        for alpha in sorted(set(alphas), reverse=True):
            l1, l2 = base.scaling.penalty("squared_error", alpha, l1_ratio)
            if not base.n_active or l1_ratio == 0 or alpha == 0:
                lsq = LeastSquares.of(
                    moments, base.scaling, float(l2[0]), fit_intercept=fit_intercept
                )
                solutions[alpha] = lsq.original(lsq.solver().initial())
                continue
            theta, _, converged = solve_elastic_net(
                gram, cross, l1, float(l2[0]), max_sweeps=max_sweeps, start=theta
            )
            settled &= converged
            solutions[alpha] = base.original(theta / scale)
        for alpha in alphas:
            coefs.append(solutions[alpha][0])
            intercepts.append(solutions[alpha][1])
    return np.array(coefs), np.array(intercepts), settled


def _base(moments, fit_intercept, standardize):
    scaling = Scaling.from_moments(
        moments, fit_intercept=fit_intercept, standardize=standardize
    )
    return LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)


def _standardized(lsq):
    """The Gram matrix and cross-products in the penalised coordinates."""
    gram, cross, _ = lsq.products()
    scale = lsq.penalty_scale
    return gram / np.outer(scale, scale), cross / scale[:, None]
