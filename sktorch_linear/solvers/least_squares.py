"""Exact least squares: statistics of the data, one factorisation, refinement.

The statistics of the rows (a Gram matrix, or an R factor where the Gram matrix
would be too ill conditioned to keep; see :mod:`.._moments`) are merged into
those of earlier chunks, the penalised least-squares problem of the merged
statistics is solved by Cholesky or by an SVD of the R factor
(:mod:`._penalised`), and, when the rows are at hand (``fit``), the
solution is refined against them (:mod:`._refinement`).
"""

from functools import partial

import numpy as np
import scipy.linalg

from .._data import check_finite, warn_float32_resolution
from .._device import accumulation_dtype
from .._moments import statistics
from .._scaling import Scaling
from .._threads import where
from .._warnings import warn
from ._base import SolverResult
from ._optimality import OPTIMUM_FLOOR
from ._penalised import LeastSquares
from ._refinement import DataPass, ExactStatistics, needed, refine

# A LinAlgWarning is raised when the estimated relative error of the coefficients
# (of the fitted values, for a rank-deficient fit) exceeds this.
WARN_ERROR = 1e-6
# Why each path was taken, for verbose output.
_PATH_REASONS = {
    "cholesky": "well-conditioned normal equations",
    "qr": "ill-conditioned or rank-deficient: SVD of the R factor of the data",
    "coordinate_descent": "L1 penalty",
}


def solve(problem, config):
    """Solve squared-error least squares (ridge penalty at most) exactly.

    ``n_iter`` of the result counts the passes over the data: statistics, R
    factor and refinement, summed over ``partial_fit`` calls.
    """
    return solve_statistics(problem, config, *penalised_problem(problem, config))


def solve_statistics(problem, config, lsq, l1, n_passes):
    """:func:`solve` once the statistics are in: ``lsq``, ``l1`` and
    ``n_passes`` as :func:`penalised_problem` returns them."""
    solver = lsq.solver()
    gamma = solver.initial()
    coef, intercept = lsq.original(gamma)
    moments = lsq.moments
    source = None
    if moments.exact is not None:
        source = ExactStatistics(moments)
    elif not problem.streaming:
        source = DataPass(problem.data, config.device)
    values = lsq.objectives(coef, l1)
    if source is not None and not needed(source, lsq, solver, gamma):
        source = None
    if source is None:
        error, n_refinements = solver.unrefined_error(gamma), 0
        # the error bound of the coefficients, squared, of what they explain
        decrease = error**2 * np.maximum(0.5 * lsq.scaling.y_second_moment - values, 0)
    else:
        coef, intercept, error, n_refinements, decrease = refine(
            source, lsq, solver, coef, intercept
        )
        values = lsq.objectives(coef, l1)
    if not problem.streaming:
        n_passes += n_refinements
    if error > WARN_ERROR:
        _warn_inaccurate(solver, error, refined=source is not None)
    floor = OPTIMUM_FLOOR * 0.5 * lsq.scaling.y_second_moment
    return result(
        lsq,
        coef,
        intercept,
        path=solver.path,
        n_iter=n_passes,
        converged=True,
        objective=float(values.sum()),
        error=error,
        rank=solver.rank,
        config=config,
        gap=decrease / np.maximum(values - decrease, np.maximum(floor, 1e-300)),
    )


def penalised_problem(problem, config):
    """The penalised least-squares problem of the statistics of ``problem``'s
    rows merged into those of the chunks before it, its L1 strengths per target,
    and the number of passes over the data so far."""
    data = problem.data
    accumulation_dtype(config.device)  # warns where float64 is missing
    part = partial(_statistics, exact=problem.streaming)
    moments, n_passes = data.map_reduce(part, _merge_statistics, config.device)
    check_finite(data, moments)
    warn_float32_resolution(data, moments)
    if problem.previous is not None:
        moments = problem.previous.moments.merge(moments)
        n_passes += problem.previous.n_iter
    return *penalised(moments, config.objective), n_passes


def penalised(moments, objective):
    """The penalised least-squares problem of ``objective`` on the statistics
    ``moments`` (standardized by the scaling they give), and its L1 strengths
    per target."""
    scaling = Scaling.from_moments(
        moments,
        fit_intercept=objective.fit_intercept,
        standardize=objective.standardize,
    )
    l1, l2 = scaling.penalty("squared_error", objective.alpha, objective.l1_ratio)
    lsq = LeastSquares.of(
        moments, scaling, float(l2[0]), fit_intercept=objective.fit_intercept
    )
    return lsq, l1


def _statistics(data, device, *, exact):
    """The statistics of some rows, and the passes over them they took."""
    dtype = accumulation_dtype(device, warn=False)
    return statistics(data, exact=exact, device=device, dtype=dtype)


def _merge_statistics(a, b):
    """Statistics of two parts of the rows merged (their passes ran side by
    side)."""
    return a[0].merge(b[0]), max(a[1], b[1])


def result(
    lsq,
    coef,
    intercept,
    *,
    path,
    n_iter,
    converged,
    objective,
    error,
    rank,
    config,
    gap,
):
    """The :class:`SolverResult` of a solution of ``lsq``, ``gap`` its estimated
    relative distance to the minimum per target."""
    if config.verbose:
        active = int((~lsq.scaling.constant).sum())
        print(
            f"[TorchLinearRegressor] exact solver on {where(config.device)}: {path} "
            f"({_PATH_REASONS[path]}) on {active} standardized features, "
            f"rank {rank}, objective {objective:.6g}, estimated relative error "
            f"{error:.1e}"
        )
    return SolverResult(
        coef=coef,
        intercept=intercept,
        scaling=lsq.scaling,
        solver="exact",
        path=path,
        n_iter=n_iter,
        converged=converged,
        loss_curve=[objective],
        diagnostics={
            "objective": objective,
            "error": error,
            "rank": rank,
            "optimality_gap": gap,
        },
        moments=lsq.moments,
    )


def _warn_inaccurate(solver, error, *, refined):
    what = "coefficients"
    if solver.rank < solver.lsq.n_active:
        what = "fitted values"
    if refined:
        how = (
            f"refinement against the data stopped contracting at an estimated "
            f"relative error of the {what} of {error:.1e}. Add a small alpha, or "
            "remove or combine nearly collinear columns."
        )
    else:
        how = (
            f"the estimated relative error of the {what} is {error:.1e} (a "
            "first-order bound, often pessimistic by a factor of up to a few "
            "hundred). Statistics merged by partial_fit cannot be refined against "
            "the data: fit all the data at once with fit() for refined "
            "coefficients, or add a small alpha."
        )
    warn(
        f"The least-squares problem is ill conditioned (condition number "
        f"{solver.condition:.1e} after standardizing): {how}",
        scipy.linalg.LinAlgWarning,
    )
