"""Exact robust fits without a penalty on nearly collinear columns.

Where a column is within ``1e-7`` of a combination of others, the dual
constraint of that direction (``Z' w a = 0``) is met only to the rounding of
the columns, so the interior-point method ends at a vertex it cannot certify
(measured: a certified gap of 0.003 for a true gap of 1.5e-6) and Newton's
certificate is as loose. Without a penalty the fit does not depend on the
basis of the columns: on the whitened columns (the directions of the
standardized ``X``, each scaled to unit variance) the same problem is well
conditioned, and its minimiser, mapped back, is certified. That holds while
the whitening is accurate (condition numbers up to ``1 / _RESOLVED``).
"""

import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse

from .._data import Data
from .._warnings import warn
from ._base import Problem
from ._robust import COLLINEAR

# Directions of singular values below this fraction of the largest are not
# resolved: the whitened columns, computed to about eps / this, would be
# another problem than the data's (NIST's Filip: collinear within the
# rounding, where only another basis helps, and the advice says so).
_RESOLVED = 1e-8
# Rows times columns at most of a whitened copy of X.
_MAX_VALUES = 2**24


def solve(family, problem, config):
    """``family.solve(problem, config)``, solved again on the whitened columns
    where that fit (in memory, without a penalty) stopped above ``tol`` on
    nearly collinear columns; the second is taken when its objective is not
    larger, and the warnings of the fit kept are the ones raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = family.solve(problem, config)
    whitened = _whitened(problem, config, result)
    if whitened is not None:
        data, back = whitened
        standardize = replace(config.objective, standardize=False)
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            second = family.solve(Problem(data), replace(config, objective=standardize))
        value, other = (r.diagnostics["objective"] for r in (result, second))
        if other <= value * (1 + 1e-12):
            result, caught = _mapped(result, second, back), again
    for record in caught:
        warn(record.message, record.category)
    return result


def _whitened(problem, config, result):
    """The whitened data of ``problem`` and the map of coefficients back to the
    original columns, when the fit calls for it; else None."""
    data, objective = problem.data, config.objective
    gap = np.max(result.diagnostics.get("optimality_gap", 0.0))
    dense = isinstance(getattr(data, "X", None), np.ndarray)
    sparse = scipy.sparse.issparse(getattr(data, "X", None))
    if not (gap > config.tol and objective.alpha == 0) or not (dense or sparse):
        return None
    n, p, _ = data.shape
    if n * p > _MAX_VALUES or problem.streaming:
        return None
    X = data.X.toarray() if sparse else np.asarray(data.X, dtype=np.float64)
    w = np.ones(n) if data.sample_weight is None else data.sample_weight
    weight = w / w.sum()
    mean = weight @ X
    scale = np.sqrt(weight @ (X - mean) ** 2)
    scale = np.where(scale > 0, scale, 1.0)
    center = mean if objective.fit_intercept else np.zeros(p)
    Z = (X - center) / scale
    # singular values of the weighted rows (their squares are the variances of
    # the directions, resolved without squaring the condition number)
    _, singular, right = np.linalg.svd(
        np.sqrt(weight)[:, None] * Z, full_matrices=False
    )
    kept = singular > p * np.finfo(float).eps * singular.max(initial=0.0)
    if not kept.any() or singular[kept].min() ** 2 >= COLLINEAR * singular.max() ** 2:
        return None
    if singular[kept].min() < _RESOLVED * singular.max():
        return None  # the whitened columns would be another problem
    whitening = right[kept].T / singular[kept]
    return Data(Z @ whitening, data.Y, data.sample_weight), (whitening, scale, center)


def _mapped(result, second, back):
    """``result`` (of the original columns: its scaling and statistics) with
    the coefficients, scale and diagnostics of ``second`` (of the whitened
    ones) mapped back."""
    whitening, scale, center = back
    coef = (second.coef @ whitening.T) / scale
    intercept = second.intercept - coef @ center
    return replace(
        result,
        coef=coef,
        intercept=intercept,
        scale=second.scale,
        n_iter=result.n_iter + second.n_iter,
        converged=second.converged,
        loss_curve=second.loss_curve,
        diagnostics=second.diagnostics,
    )
