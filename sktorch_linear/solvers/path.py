"""Squared error along a path of penalties: every ``(l1_ratio, alpha)`` of a
grid solved on one set of statistics, as the exact solver would solve each
(what cross-validation needs per training set), and ridge's leave-one-out
errors for every strength from one pass."""

from functools import partial

import numpy as np
import torch

from .._device import accumulation_dtype, to_numpy
from .._linalg import eigh
from .._scaling import Scaling
from . import coordinate_descent
from ._elastic_net import duality_gap, next_on_path
from ._optimality import OPTIMUM_FLOOR
from ._penalised import EPS, LeastSquares

# A solution along the path whose relative duality gap is above this is solved
# again as fit solves it.
_PATH_GAP = 1e-9
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
    return log_grid(largest, l1_ratio, n_alphas, eps)


def log_grid(largest, l1_ratio, n_alphas, eps):
    """``n_alphas`` strengths decreasing on a log scale from ``largest`` (the
    L1 strength that sets every coefficient to zero) divided by the mix (at
    least ``_RIDGE_MIX``) down to ``eps`` times that."""
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
    (Cholesky, or the SVD of an R factor); elastic-net strengths from the
    solution of the next larger strength (warm starts along the path): the
    exact solve on its support where that is the minimiser, coordinate
    descent with exact active-set solves otherwise.
    """
    base = _base(moments, fit_intercept, standardize)
    gram, cross = _standardized(base)
    yy = np.diag(base.products()[2])  # the targets' second moments
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
            theta, converged = next_on_path(
                gram, cross, theta, l1, float(l2[0]), max_sweeps=max_sweeps
            )
            settled &= converged
            solutions[alpha] = base.original(theta / scale)
            short = _short(gram, cross, yy, theta, l1, float(l2[0]))
            if short.any():  # solved again as fit solves it
                lsq = LeastSquares.of(
                    moments, base.scaling, float(l2[0]), fit_intercept=fit_intercept
                )
                fitted = coordinate_descent.minimise(lsq, l1, max_sweeps)
                for part, again in zip(solutions[alpha], fitted):
                    part[short] = again[short]
        for alpha in alphas:
            coefs.append(solutions[alpha][0])
            intercepts.append(solutions[alpha][1])
    return np.array(coefs), np.array(intercepts), settled


def _short(gram, cross, yy, theta, l1, l2):
    """The targets whose solution ``theta`` (penalised coordinates; ``yy`` the
    targets' second moments) is above ``_PATH_GAP`` of its objective by its
    duality gap: a warm start can end
    short where the columns outnumber the rows (13 x 19 at a small strength:
    2.6e-3 above the minimum)."""
    gaps, values = duality_gap(gram, cross, yy, l1, l2, theta)
    floor = OPTIMUM_FLOOR * 0.5 * yy
    return gaps > _PATH_GAP * np.maximum(values - gaps, np.maximum(floor, 1e-300))


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


def leave_one_out(data, moments, alphas, *, fit_intercept, standardize, device):
    """Per ridge strength and target, the weighted sum of squared leave-one-out
    errors (units of ``y``) of the penalty of all rows, in one pass over
    ``data`` (whose statistics are ``moments``; in memory or in Dask's parts);
    as scikit-learn's ``RidgeCV`` computes them (``cv=None``).

    Each row's error is its residual ``e_i`` of the fit on all rows divided by
    ``1 - h_i``, ``h_i = w_i / sum(w) * (1 + sum_j u_ij^2 / (lam_j + l2))``: the
    leverages of the penalised fit from the eigendecomposition ``V diag(lam)
    V'`` of the standardized Gram matrix (per unit weight), ``u_i = z_i V``
    for the standardized row ``z_i`` (the 1 is the intercept's, when fitted).
    The rows left out keep the scaling and the penalty of all rows.
    """
    base = _base(moments, fit_intercept, standardize)
    gram, cross = _standardized(base)
    lam, vectors = eigh(gram)
    kept = lam > max(lam.max(initial=0.0) * len(lam) * EPS, 0.0)  # minimum norm
    lam, vectors = lam[kept], vectors[:, kept]
    l2 = np.array([base.scaling.penalty("squared_error", a, 0.0)[1][0] for a in alphas])
    inverse = 1.0 / (lam + l2[:, None])  # (n_alphas, rank)
    part = partial(
        _leave_one_out_part,
        scaling=base.scaling,
        active=base.active,
        to_u=vectors / (base.unit * base.penalty_scale)[:, None],
        inverse=inverse,
        weights=inverse[:, :, None] * (vectors.T @ cross),  # fitted = u @ weights[a]
        leverage_scale=np.array([1.0 / moments.weight_sum, float(fit_intercept)]),
    )
    return data.map_reduce(part, np.add, device)


def _leave_one_out_part(
    data, device, *, scaling, active, to_u, inverse, weights, leverage_scale
):
    """:func:`leave_one_out`'s sums over some rows."""
    dtype = accumulation_dtype(device, warn=False)
    as_tensor = partial(torch.as_tensor, device=device, dtype=dtype)
    center, y_center = as_tensor(scaling.x_center[active]), as_tensor(scaling.y_center)
    to_u, inverse, weights = as_tensor(to_u), as_tensor(inverse), as_tensor(weights)
    y_scale = as_tensor(scaling.y_scale)
    per_weight, intercept = leverage_scale
    errors = 0.0
    for x, y, w in data.blocks(device=device, dtype=dtype):
        u = (x[:, active] - center) @ to_u
        fitted = torch.einsum("br,ark->bak", u, weights)
        residual = ((y - y_center) / y_scale).unsqueeze(1) - fitted
        w = torch.ones_like(y[:, 0]) if w is None else w
        leverage = (w * per_weight).unsqueeze(1) * ((u * u) @ inverse.T + intercept)
        loo = residual * y_scale / (1 - leverage).unsqueeze(2)
        errors = errors + torch.einsum("b,bak->ak", w, loo * loo)
    return to_numpy(errors, torch.float64)
