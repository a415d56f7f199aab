"""The absolute and quantile losses along a path of penalties, for
cross-validation: every strength of a grid solved on a training set from a
small programme of the rows near a neighbouring solution's fit.

A neighbouring solution (the next larger strength, or the same strength on
all rows) tells on which side of the minimiser most rows lie; only the rows
near its fit may change sides. Those rows, and each side of the others merged
into one row of their total weight at their weighted mean, make a small
programme (Portnoy and Koenker's preprocessing, 1997, Statistical Science 12).
By convexity its objective is at most the original one everywhere, and it is
equal wherever every merged row keeps its side (the loss is linear on each
side). So the small programme's minimiser is the original minimiser when a
pass over all rows finds each merged row on its side, and the lower bound that
certifies it bounds the original minimum too. The rows found on the wrong
side join the small programme, which is solved again; when they are many, the
start was too far (the top of a path, where the fit changes most from one
strength to the next) and the programme takes every row.
"""

import math
from typing import NamedTuple

import numpy as np
import torch

from .._data import Data, host, matmul
from .._folds import of_target
from .._scaling import Scaling
from .._threads import threads_for
from . import _duality
from ._passes import Passes
from .interior_point import coefficients, minimise

# The rows of the first small programme: this many times sqrt(n) (p + 1) ...
_BAND = 0.2
# ... and at least this many times (p + 1).
_MIN_BAND = 10
# When more rows than this share of the small programme are on the wrong
# side, the start was too far: the programme takes every row.
_MANY_WRONG = 0.1
# For an automatic grid of ridge strengths (as for squared error: glmnet's).
_RIDGE_MIX = 1e-3


class Solution(NamedTuple):
    """One minimiser (original units) and how certain it is."""

    coef: np.ndarray
    intercept: float
    gap: float
    objective: float
    n_iter: int


def loss_of(loss, quantile):
    """The :class:`~._duality.Loss` of ``loss`` (``"quantile"`` or
    ``"absolute_error"``)."""
    if loss == "quantile":
        return _duality.Loss("quantile", float(quantile))
    return _duality.Loss("absolute_error", None)


def alpha_grid(data, scaling, loss, *, l1_ratio, n_alphas, eps, fit_intercept):
    """``n_alphas`` strengths decreasing on a log scale from the smallest that
    sets every coefficient to zero with ``l1_ratio`` (at least
    ``_RIDGE_MIX``; the largest over the targets) down to ``eps`` times it."""
    largest = 0.0
    for k in range(data.Y.shape[1]):
        y, w = data.Y[:, k], _weights(data)
        intercept = _intercept_only(y, w, loss, fit_intercept)
        a = _subgradient(y - intercept, w, loss, fit_intercept)
        # the standardized columns' products with w a, per row of weight
        product = matmul(data.X.T, w * a) - scaling.x_center * np.sum(w * a)
        product = np.abs(product / scaling.x_scale)[~scaling.constant]
        largest = max(largest, float(product.max(initial=0.0)) / w.sum())
    largest = largest / max(l1_ratio, _RIDGE_MIX)
    if largest == 0:  # nothing to penalise: any grid will do
        largest = 1.0
    return np.geomspace(largest, largest * eps, n_alphas)


def split_paths(
    data, splits, statistics, loss, grid, *, fit_intercept, standardize, **solve
):
    """Every candidate of ``grid`` solved on the training rows of each of
    ``splits`` (standardized by the statistics of those rows,
    ``statistics[s]``): coefficients ``(n_splits, n_candidates, n_targets,
    n_features)``, intercepts and certified gaps ``(n_splits, n_candidates,
    n_targets)``, per target. The first split's path goes down the strengths,
    each near the next larger's solution; every other split's candidate is
    solved near the first split's (three quarters of five folds' training rows
    are shared)."""
    K = data.Y.shape[1]
    shape = (len(splits), sum(len(alphas) for _, alphas in grid), K)
    coef, intercept = np.zeros(shape + (data.shape[1],)), np.zeros(shape)
    gap = np.zeros(shape)
    for s, (train, _) in enumerate(splits):
        part = data.rows(train)
        for k in range(K):
            scaling = target_scaling(statistics[s], k, fit_intercept, standardize)
            starts = None if s == 0 else list(zip(coef[0, :, k], intercept[0, :, k]))
            target = Data(part.X, part.Y[:, [k]], part.sample_weight)
            coef[s, :, k], intercept[s, :, k], gap[s, :, k] = penalty_path(
                target,
                scaling,
                loss,
                grid,
                starts=starts,
                fit_intercept=fit_intercept,
                **solve,
            )
    return coef, intercept, gap


def target_scaling(moments, k, fit_intercept, standardize):
    """The scaling of ``X`` and the ``k``-th target, from ``moments``."""
    return Scaling.from_moments(
        of_target(moments, k), fit_intercept=fit_intercept, standardize=standardize
    )


def penalty_path(data, scaling, loss, grid, *, starts=None, fit_intercept, **solve):
    """Coefficients (original units), intercepts and certified relative gaps of
    every ``(l1_ratio, alpha)`` of ``grid`` for ``data`` (one target), in the
    grid's order: each solved near ``starts[c]`` (candidate ``c``'s solution
    on other rows) when given, else near the solution of the next larger
    strength (the first near the fit of an intercept alone)."""
    y, w = data.Y[:, 0], _weights(data)
    coefs, intercepts, gaps, c = [], [], [], 0
    for l1_ratio, alphas in grid:
        solutions, gaps_of = {}, {}
        previous = (
            np.zeros(data.shape[1]),
            _intercept_only(y, w, loss, fit_intercept),
        )
        for alpha in sorted(set(alphas), reverse=True):
            l1, l2 = scaling.penalty(loss.kind, alpha, l1_ratio)
            index = c + int(np.flatnonzero(alphas == alpha)[0])
            start = previous if starts is None else starts[index]
            solution = solve_near(
                data, scaling, loss, l1, l2, start, fit_intercept=fit_intercept, **solve
            )
            previous = solutions[alpha] = solution.coef, solution.intercept
            gaps_of[alpha] = solution.gap
        for alpha in alphas:
            coefs.append(solutions[alpha][0])
            intercepts.append(solutions[alpha][1])
            gaps.append(gaps_of[alpha])
        c += len(alphas)
    return np.array(coefs), np.array(intercepts), np.array(gaps)


def solve_near(data, scaling, loss, l1, l2, start, *, fit_intercept, max_iter, device):
    """The minimiser of ``loss`` with the penalty ``l1``, ``l2`` (standardized
    units, one target) on ``data`` standardized by ``scaling``, from small
    programmes of the rows nearest the fit of ``start`` (coefficients and
    intercept in the original units): the coefficients and intercept, the
    certified relative gap of the minimum of all rows, the objective there
    (per unit of weight, standardized units) and the iterations of the
    interior-point method, all programmes together (a :class:`Solution`)."""
    y, w = data.Y[:, 0], _weights(data)
    live = w > 0
    r = y - matmul(data.X, start[0]) - start[1]
    band = np.zeros(len(y), dtype=bool)
    p = int(np.sum(~scaling.constant)) + 1
    size = max(_MIN_BAND * p, math.ceil(_BAND * math.sqrt(live.sum()) * p))
    band[_nearest(r, live, band, size)] = True
    n_iter = 0
    while True:
        passes = _small_programme(
            data, w, band & live, r, scaling, fit_intercept, device
        )
        with threads_for(passes.n * passes.width):
            method, iterations, _ = minimise(passes, [loss], l1, l2, max_iter)
        n_iter += iterations
        coef, intercept = (values[0] for values in coefficients(method))
        r_new = y - matmul(data.X, coef) - intercept
        wrong = live & ~band & np.where(r > 0, r_new < 0, r_new > 0)
        if not wrong.any():
            break
        # many: the start was too far for a small programme
        band |= live if wrong.sum() > _MANY_WRONG * band.sum() else wrong
        r = r_new
    value = _objective(r_new, w, loss, scaling, coef, l1, l2)
    at_zero = _objective(y - scaling.y_center[0], w, loss, scaling, 0 * coef, 0, 0)
    gap = _duality.relative(value, method.bounds[0], at_zero)
    return Solution(coef, intercept, float(gap), float(value), n_iter)


def _small_programme(data, w, band, r, scaling, fit_intercept, device):
    """The passes over the rows of ``band`` and, for each side of the fit
    with residuals ``r`` outside it, one row of its total weight at its
    weighted mean (standardized by ``scaling``)."""
    rows, targets, weights = [host(data.X[band])], [data.Y[band, 0]], [w[band]]
    for side in (r <= 0, r > 0):
        side &= ~band & (w > 0)
        total = w[side].sum()
        if total > 0:
            share = np.where(side, w / total, 0.0)
            rows.append(matmul(data.X.T, share)[None])
            targets.append([share @ data.Y[:, 0]])
            weights.append([total])
    small = Data(
        np.vstack([np.asarray(x, dtype=np.float64) for x in rows]),
        np.concatenate(targets)[:, None],
        np.concatenate(weights),
    )
    return Passes.of_data(small, scaling, device, fit_intercept, hold="always")


def _nearest(r, live, band, size):
    """The ``size`` live rows outside ``band`` whose residuals are nearest
    zero."""
    distance = np.where(live & ~band, np.abs(r), np.inf)
    size = min(size, int(np.sum(live & ~band)))
    return np.argpartition(distance, size - 1)[:size] if size else []


def _objective(r, w, loss, scaling, coef, l1, l2):
    """The objective per unit of weight (standardized units) at residuals
    ``r`` (original units) and coefficients ``coef``."""
    y_scale = scaling.y_scale[0]
    value = loss.value(torch.as_tensor(r / y_scale)).numpy() @ w / w.sum()
    beta = (coef * scaling.x_scale / y_scale)[~scaling.constant]
    return value + np.sum(l1 * np.abs(beta)) + 0.5 * np.sum(l2 * beta**2)


def _intercept_only(y, w, loss, fit_intercept):
    """The minimiser of the loss of an intercept alone (the weighted quantile
    of ``y``), or 0 without an intercept."""
    if not fit_intercept:
        return 0.0
    q = loss.upper / (loss.upper - loss.lower)  # 1/2 for the absolute error
    order = np.argsort(y, kind="stable")
    cumulative = np.cumsum(w[order])
    index = np.searchsorted(cumulative, q * cumulative[-1])
    return float(y[order][min(index, len(y) - 1)])


def _subgradient(r, w, loss, fit_intercept):
    """The loss's subgradient at residuals ``r``, the rows fitted exactly given
    the value in its box that balances the others' weight (the intercept's
    condition, with one)."""
    a = np.where(r > 0, loss.upper, loss.lower)
    tied = r == 0
    if tied.any():
        balance = -np.sum(w * a * ~tied) / max(np.sum(w * tied), np.finfo(float).tiny)
        a[tied] = np.clip(balance, loss.lower, loss.upper) if fit_intercept else 0.0
    return a


def _weights(data):
    w = data.sample_weight
    return np.ones(data.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
