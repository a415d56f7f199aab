"""Elastic net from the Gram matrix: the exact lasso path by least-angle
regression, finished by coordinate descent with exact solves on the active
set, and certified by its duality gap."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lars_path_gram

from .._warnings import warn
from . import least_squares
from ._elastic_net import duality_gap, solve_elastic_net
from ._optimality import OPTIMUM_FLOOR


def solve(problem, config):
    """Solve squared-error least squares with an L1 (elastic-net) penalty by
    coordinate descent on the Gram matrix of the statistics (the exact solver's
    statistics, merged over ``partial_fit`` calls).

    ``n_iter`` of the result counts the sweeps of the slowest target.
    """
    return solve_statistics(
        problem, config, *least_squares.penalised_problem(problem, config)
    )


def solve_statistics(problem, config, lsq, l1, n_passes):
    """:func:`solve` once the statistics are in: ``lsq``, ``l1`` and
    ``n_passes`` as :func:`.least_squares.penalised_problem` returns them."""
    if not lsq.n_active:  # no column varies: the exact solution is all there is
        return least_squares.solve_statistics(problem, config, lsq, l1, n_passes)
    coef, intercept, sweeps, _ = minimise(lsq, l1, config.max_iter)
    gap = relative_gaps(lsq, l1, coef)
    if gap.max() > config.tol:
        warn(
            f"Coordinate descent reached max_iter={config.max_iter} sweeps with a "
            f"certified relative gap of {gap.max():.2g} to the minimum (tol="
            f"{config.tol:g}). Increase max_iter.",
            ConvergenceWarning,
        )
    return least_squares.result(
        lsq,
        coef,
        intercept,
        path="coordinate_descent",
        n_iter=sweeps,
        converged=bool(gap.max() <= config.tol),
        objective=lsq.objective(coef, l1),
        error=np.nan,
        rank=lsq.n_active,
        config=config,
        gap=gap,
    )


def minimise(lsq, l1, max_sweeps):
    """The minimiser of the penalised least-squares problem ``lsq`` with L1
    strengths ``l1`` (per target), in original units: the exact path of the
    lasso by least-angle regression (scikit-learn's ``lars_path_gram``, the
    L2 term as a ridge on the Gram matrix) to its ``l1``, then coordinate
    descent with exact active-set solves from there (rounding, and the
    degenerate paths of duplicated columns); the sweeps of the slowest target
    and whether every target settled."""
    gram, xy, _ = lsq.products()
    scale = lsq.penalty_scale
    gram, xy = gram / np.outer(scale, scale), xy / scale[:, None]
    start = np.zeros_like(xy)
    ridge = gram + lsq.l2 * np.eye(len(gram))
    last = xy.shape[1] - 1
    for k in range(xy.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate paths: descent finishes
            _, _, path = lars_path_gram(
                xy[:, k],
                ridge if k == last else ridge.copy(),  # it may be reordered
                n_samples=1,
                alpha_min=l1[k],
                method="lasso",
                copy_Gram=False,
            )
        start[:, k] = path[:, -1]
    theta, sweeps, converged = solve_elastic_net(
        gram, xy, l1, lsq.l2, max_sweeps=max_sweeps, start=start
    )
    return *lsq.original(theta / scale[:, None]), sweeps, converged


def relative_gaps(lsq, l1, coef):
    """The duality gap of ``coef`` (original units) per target, relative to
    its objective (a bound of the minimum's distance above it), or to
    ``OPTIMUM_FLOOR`` of the objective at zero coefficients when smaller."""
    gram, xy, yy = lsq.products()
    scale = lsq.penalty_scale
    theta = scale[:, None] * lsq.equilibrated(coef)
    gaps, values = duality_gap(
        gram / np.outer(scale, scale),
        xy / scale[:, None],
        np.diag(yy),
        l1,
        lsq.l2,
        theta,
    )
    floor = OPTIMUM_FLOOR * 0.5 * np.diag(yy)
    return gaps / np.maximum(values - gaps, np.maximum(floor, 1e-300))
