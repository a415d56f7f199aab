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
from .path import log_grid

# The rows of the first small programme: this many times sqrt(n) (p + 1) ...
_BAND = 0.2
# ... and at least this many times (p + 1).
_MIN_BAND = 10
# When more rows than this share of the small programme are on the wrong
# side, the start was too far: the programme takes every row.
_MANY_WRONG = 0.1
# Candidates are solved together while their programme's rows are at most this
# many times one candidate's.
_BATCH = 1.5
# The largest strength of an automatic grid is this much (relative) above the
# smallest that sets every coefficient to zero.
_ABOVE = 1e-6


class Solution(NamedTuple):
    """One minimiser (original units) and how certain it is."""

    coef: np.ndarray
    intercept: float
    gap: float
    objective: float
    n_iter: int
    scale: float | None = None  # Huber's, in the units of y


def loss_of(loss, quantile):
    """The :class:`~._duality.Loss` of ``loss`` (``"quantile"`` or
    ``"absolute_error"``)."""
    if loss == "quantile":
        return _duality.Loss("quantile", float(quantile))
    return _duality.Loss("absolute_error", None)


def alpha_grid(data, scaling, loss, *, l1_ratio, n_alphas, eps, fit_intercept):
    """``n_alphas`` strengths decreasing on a log scale from just above the
    smallest that sets every coefficient to zero with ``l1_ratio`` (the
    largest over the targets; :func:`.path.log_grid`)."""
    largest = 0.0
    for k in range(data.Y.shape[1]):
        y, w = data.Y[:, k], _weights(data)
        intercept = _intercept_only(y, w, loss, fit_intercept)
        a = _subgradient(y - intercept, w, loss, fit_intercept)
        # the standardized columns' products with w a, per row of weight
        product = matmul(data.X.T, w * a) - scaling.x_center * np.sum(w * a)
        product = np.abs(product / scaling.x_scale)[~scaling.constant]
        largest = max(largest, float(product.max(initial=0.0)) / w.sum())
    # just above: at the threshold itself a linear programme's minimisers are a
    # segment from zero (scores would depend on which one a solver takes)
    return log_grid((1 + _ABOVE) * largest, l1_ratio, n_alphas, eps)


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
    grid's order. With ``starts`` (each candidate's solution on other rows),
    the candidates whose starts are near one another are solved together, each
    near its own; without, each strength near the solution of the next larger
    one (the first near the fit of an intercept alone)."""
    candidates = [(r, alpha) for r, alphas in grid for alpha in alphas]
    penalties = [scaling.penalty(loss.kind, a, r) for r, a in candidates]
    options = dict(fit_intercept=fit_intercept, **solve)
    solutions = [None] * len(candidates)
    if starts is None:
        y, w = data.Y[:, 0], _weights(data)
        origin = np.zeros(data.shape[1]), _intercept_only(y, w, loss, fit_intercept)
        for l1_ratio, alphas in grid:
            previous = origin
            for c in sorted(
                (c for c, (r, _) in enumerate(candidates) if r == l1_ratio),
                key=lambda c: -candidates[c][1],
            ):
                l1, l2 = penalties[c]
                (solutions[c],) = solve_near(
                    data, scaling, loss, l1, l2, [previous], **options
                )
                previous = solutions[c].coef, solutions[c].intercept
    else:
        residuals = fit_residuals(data, starts)  # every start's, in one pass
        for group in _batches(residuals, _weights(data) > 0, scaling):
            l1, l2 = (
                np.concatenate(part) for part in zip(*(penalties[c] for c in group))
            )
            found = solve_near(
                data,
                scaling,
                loss,
                l1,
                l2,
                [starts[c] for c in group],
                residuals=residuals[:, group],
                **options,
            )
            for c, solution in zip(group, found):
                solutions[c] = solution
    return (
        np.array([solution.coef for solution in solutions]),
        np.array([solution.intercept for solution in solutions]),
        np.array([solution.gap for solution in solutions]),
    )


def solve_near(
    data,
    scaling,
    loss,
    l1,
    l2,
    starts,
    *,
    residuals=None,
    size=None,
    fit_intercept,
    max_iter,
    device,
):
    """The minimisers of ``loss`` with the penalties ``l1``, ``l2`` (standardized
    units, one per candidate) on ``data`` (one target) standardized by
    ``scaling``, together, from small programmes of the rows nearest the fits
    of ``starts`` (a coefficients and intercept per candidate, in the original
    units): a :class:`Solution` per candidate, with the certified relative gap
    of the minimum of all rows, the objective there (per unit of weight,
    standardized units) and the iterations of the interior-point method, all
    programmes together. ``residuals``: the starts' (n, K), when known;
    ``size``: the rows nearest each start's fit that the first programme takes
    (by default ``max(10, 0.2 sqrt(n)) (p + 1)``)."""
    y, w = data.Y[:, 0], _weights(data)
    live = w > 0
    if residuals is None:
        residuals = fit_residuals(data, starts)
    band = _band(residuals, live, size or _size(scaling, live))
    positive = residuals[:, 0] > 0  # the side of the rows outside the band
    n_iter = 0
    while True:
        passes = _small_programme(
            data, w, band & live, positive, len(starts), scaling, fit_intercept, device
        )
        with threads_for(passes.n * passes.width):
            method, iterations, _ = minimise(
                passes, [loss] * len(starts), l1, l2, max_iter
            )
        n_iter += iterations
        coef, intercept = coefficients(method)
        residuals = fit_residuals(data, list(zip(coef, intercept)))
        wrong = np.where(positive[:, None], residuals < 0, residuals > 0).any(1)
        wrong &= live & ~band
        if not wrong.any():
            break
        # many: a start was too far for a small programme
        band |= live if wrong.sum() > _MANY_WRONG * band.sum() else wrong
    at_zero = _objective(y - scaling.y_center[0], w, loss, scaling, 0 * coef[0], 0, 0)
    solutions = []
    for k in range(len(starts)):
        value = _objective(residuals[:, k], w, loss, scaling, coef[k], l1[k], l2[k])
        gap = _duality.relative(value, method.bounds[k], at_zero)
        solutions.append(
            Solution(coef[k], intercept[k], float(gap), float(value), n_iter)
        )
    return solutions


def fit_residuals(data, solutions):
    """``y - X coef - intercept`` of each of ``solutions``: (n, K)."""
    coef = np.array([c for c, _ in solutions])
    intercept = np.array([b for _, b in solutions])
    return data.Y[:, :1] - matmul(data.X, coef.T) - intercept


def _size(scaling, live):
    """The rows nearest a start's fit that its first small programme takes."""
    p = int(np.sum(~scaling.constant)) + 1
    return max(_MIN_BAND * p, math.ceil(_BAND * math.sqrt(live.sum()) * p))


def _band(residuals, live, size):
    """The live rows among the ``size`` nearest each fit (columns of
    ``residuals``), and those on different sides of different fits."""
    band = np.zeros(len(residuals), dtype=bool)
    for r in residuals.T:
        band[_nearest(r, live, size)] = True
    positive = residuals > 0
    return live & (band | (positive.any(1) & ~positive.all(1)))


def _batches(residuals, live, scaling):
    """Groups of consecutive candidates whose starts' fits (``residuals``, a
    column each) are near one another: each group's rows (:func:`_band`) at
    most ``_BATCH`` times one start's."""
    size = min(int(live.sum()), _size(scaling, live))
    groups = [[0]]
    for c in range(1, residuals.shape[1]):
        rows = _band(residuals[:, groups[-1] + [c]], live, size).sum()
        if rows <= _BATCH * size:
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def _small_programme(
    data, w, band, positive, n_candidates, scaling, fit_intercept, device
):
    """The passes over the rows of ``band`` and, for each side (``positive``)
    of the rows outside it, one row of its total weight at its weighted mean
    (standardized by ``scaling``), the target repeated for each candidate."""
    sides = np.c_[~positive, positive] & (~band & (w > 0))[:, None]
    totals = w @ sides
    sides = sides[:, totals > 0]  # (a side with no rows has no merged row)
    totals = totals[totals > 0]
    shares = np.where(sides, w[:, None] / totals, 0.0)
    merged = np.asarray(matmul(data.X.T, shares), dtype=np.float64).T  # one pass
    target = np.r_[data.Y[band, 0], shares.T @ data.Y[:, 0]]
    small = Data(
        np.vstack([np.asarray(host(data.X[band]), dtype=np.float64), merged]),
        np.repeat(target[:, None], n_candidates, axis=1),
        np.r_[w[band], totals],
    )
    return Passes.of_data(
        small, scaling.repeated(n_candidates), device, fit_intercept, hold="always"
    )


def _nearest(r, live, size):
    """The ``size`` live rows whose residuals are nearest zero."""
    distance = np.where(live, np.abs(r), np.inf)
    size = min(size, int(np.sum(live)))
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
