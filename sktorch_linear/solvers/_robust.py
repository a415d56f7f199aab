"""What the exact solvers of the robust losses (:mod:`.newton`,
:mod:`.interior_point`) share: the statistics and the passes over the
standardized rows (in memory, or held in parts by Dask), their result with
the warning of a fit that stopped short, and its advice."""

from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .._dask import DaskData, concatenate
from .._data import check_finite, matmul
from .._moments import Moments
from .._scaling import Scaling
from .._threads import where
from .._warnings import warn
from ._base import SolverResult
from ._dask_passes import DaskPasses
from ._optimality import pseudo_solve
from ._passes import Passes, statistics_part

# Whitened directions of variance below this fraction of the largest make the
# columns nearly collinear for the certificates (condition number 1e5).
COLLINEAR = 1e-10
# A root-mean-square residual of the least-squares fit below this fraction of
# that of the targets: the model fits the data exactly.
EXACT_FIT = 1e-12


def prepare(data, objective, device, *, full=False):
    """The statistics of ``data`` (one pass on ``device``; with ``full``, the
    Gram matrix too), the passes over its rows standardized by the scaling they
    give, and the L1 and L2 strengths of ``objective`` on the standardized
    problem."""
    moments, scaling, l1, l2 = scaled_statistics(data, objective, device, full=full)
    if isinstance(data, DaskData):  # persisted by the estimator
        passes = DaskPasses(data, scaling, device, objective.fit_intercept)
    else:
        passes = Passes.of_data(data, scaling, device, objective.fit_intercept)
    return moments, passes, l1, l2


def scaled_statistics(data, objective, device, *, full=False):
    """:func:`prepare` without the passes: the statistics, their scaling and
    the standardized L1 and L2 strengths."""
    part = partial(statistics_part, full=full)
    moments = data.map_reduce(part, Moments.merge, device)
    check_finite(data, moments)
    scaling = Scaling.from_moments(
        moments,
        fit_intercept=objective.fit_intercept,
        standardize=objective.standardize,
    )
    l1, l2 = scaling.penalty(objective.loss, objective.alpha, objective.l1_ratio)
    return moments, scaling, l1, l2


def least_squares_fit(passes, l2, statistics=None):
    """The weighted (ridge, ``l2`` per target) least-squares fit ``x`` (K,
    width) of the standardized rows (the minimum-norm one where the rows do
    not determine it), from ``statistics`` (``Z~' diag(w) Z~`` and ``Z~'
    diag(w) t``) when given, else from a pass over the rows; that Gram matrix,
    the root-mean-square of the residuals per target, and whether it fits each
    target exactly (``EXACT_FIT``)."""
    n, K = passes.t.shape
    w = torch.ones_like(passes.t[:, :1]) if passes.w is None else passes.w[:, None]
    if n <= passes.width:  # as few rows as unknowns: from the rows, by QR
        return _few_rows_fit(passes, w, l2)
    if statistics is None:
        gram = passes.gram_and_product(w)[0][0]
        cross = passes.cross(w * passes.t)
    else:
        gram, cross = statistics
    p = passes.width - passes.bias
    x = np.zeros((K, passes.width))
    for k in range(K):
        matrix = gram / n
        matrix[:p, :p] += l2[k] * np.eye(p)
        x[k] = pseudo_solve(matrix, cross[k] / n)
    r = passes.t - passes.product(x)
    rms = torch.sqrt((w * r.square()).mean(0)).cpu().numpy()
    spread = torch.sqrt((w * passes.t.square()).mean(0)).cpu().numpy()
    return x, gram, rms, rms <= EXACT_FIT * spread


def _few_rows_fit(passes, w, l2):
    """:func:`least_squares_fit` from the rows themselves (``lstsq`` of the
    weighted rows, stacked with ``sqrt(n l2) I`` for a ridge penalty), where
    the Gram matrix would square their condition number."""
    n, K = passes.t.shape
    p = passes.width - passes.bias
    z = passes.rows(torch.arange(n, device=passes.t.device)).cpu().numpy()
    root = torch.sqrt(w[:, 0]).cpu().numpy()
    t = passes.t.cpu().numpy()
    x = np.zeros((K, passes.width))
    for k in range(K):
        ridge = np.sqrt(n * l2[k]) * np.eye(p, passes.width)
        matrix = np.vstack([root[:, None] * z, ridge])
        target = np.r_[root * t[:, k], np.zeros(p)]
        x[k] = np.linalg.lstsq(matrix, target, rcond=None)[0]
    r = t - z @ x.T
    rms = np.sqrt(np.mean(root[:, None] ** 2 * r**2, axis=0))
    spread = np.sqrt(np.mean(root[:, None] ** 2 * t**2, axis=0))
    gram = z.T @ (root[:, None] ** 2 * z)
    return x, gram, rms, rms <= EXACT_FIT * spread


def advice_when_stopped(data, objective, device):
    """What to do about an exact robust fit that stopped above ``tol``: more
    iterations, unless the standardized columns of ``data`` are collinear
    within the rounding of float64 (directions of variance below ``p eps``
    relative, as :meth:`Scaling.whitened` counts them; one more pass for their
    Gram matrix) or nearly (below ``COLLINEAR``). Then more iterations do
    not help (measured on NIST's Filip: the same certified gap after 200 and
    2,000), and a less collinear basis does (Legendre polynomials of Filip's
    variable: a gap of 4e-15)."""
    moments = data.map_reduce(
        partial(statistics_part, full=True), Moments.merge, device
    )
    scaling = Scaling.from_moments(
        moments, fit_intercept=objective.fit_intercept, standardize=True
    )
    whitened = scaling.whitened(moments, np.finfo(np.float64).eps)
    variances = whitened.whitened_variances
    kept = variances[variances > 0]
    # directions left out, and those kept of variance below COLLINEAR relative
    # (a near-duplicate column: its dual constraint is met only to rounding)
    collinear = int(np.sum(~scaling.constant)) - kept.size
    if kept.size:
        collinear += int(np.sum(kept < COLLINEAR * kept.max()))
    if not collinear:
        return "Increase max_iter."
    return (
        f"The columns of X are (nearly) collinear ({collinear} direction(s) "
        "of too small a variance relative to the largest), which this method "
        "cannot resolve: more iterations do not help. Make the columns less "
        "collinear (drop columns that depend on others; for powers of one "
        "variable, an orthogonal basis such as Legendre polynomials fits the same "
        "model)."
    )


def outliers(data, coef, intercept, scale, epsilon, device):
    """The rows whose residual exceeds ``epsilon`` times the scale, (n, K), as
    ``HuberRegressor.outliers_`` marks them; none for a target fitted exactly
    (a scale of 0)."""
    part = partial(_outliers, coef=coef, intercept=intercept, limit=epsilon * scale)
    return data.map_reduce(part, concatenate, device)


def _outliers(data, device, *, coef, intercept, limit):
    residual = np.abs(data.Y - matmul(data.X, coef.T) - intercept)
    return (residual > limit) & (limit > 0)


def finished(problem, config, device, fit, *, method, step, path, **extra):
    """The :class:`SolverResult` of an exact robust fit, ``fit`` its
    coefficients, intercepts, certified gaps, steps and objective; with a
    ``ConvergenceWarning`` (and the advice) when a gap exceeds ``tol``, and
    the verbose line. ``method`` and ``step`` name the method and its steps,
    ``path`` is the result's; ``extra``: the result's other fields."""
    coef, intercept, gaps, n_iter, value = fit
    gap = float(np.max(gaps))
    if gap > config.tol:
        warn(
            f"{method[0].upper()}{method[1:]} stopped after {n_iter} {step}(s) "
            f"with a certified relative gap of {gap:.2g} to the minimum (tol="
            f"{config.tol:g}). "
            + advice_when_stopped(problem.data, config.objective, device),
            ConvergenceWarning,
        )
    if config.verbose:
        print(
            f"[TorchLinearRegressor] {method.removeprefix('the ')} on "
            f"{where(device)}: {n_iter} {step}s, certified relative gap {gap:.1e}"
        )
    return SolverResult(
        coef,
        intercept,
        solver="exact",
        path=path,
        n_iter=n_iter,
        converged=gap <= config.tol,
        loss_curve=[value],
        diagnostics={"optimality_gap": gaps, "objective": value},
        **extra,
    )
