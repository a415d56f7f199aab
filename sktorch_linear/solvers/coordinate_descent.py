"""Elastic net by cyclic coordinate descent on the Gram matrix."""

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._warnings import warn
from . import least_squares
from ._elastic_net import solve_elastic_net


def solve(problem, config):
    """Solve squared-error least squares with an L1 (elastic-net) penalty by
    coordinate descent on the Gram matrix of the statistics (the exact solver's
    statistics, merged over ``partial_fit`` calls).

    ``n_iter`` of the result counts the sweeps of the slowest target.
    """
    lsq, l1, n_passes = least_squares.penalised_problem(problem, config)
    if not lsq.n_active:  # no column varies: the exact solution is all there is
        return least_squares.solve_statistics(problem, config, lsq, l1, n_passes)
    coef, intercept, sweeps, converged = minimise(lsq, l1, config.max_iter)
    if not converged:
        warn(
            f"Coordinate descent reached max_iter={config.max_iter} sweeps before "
            "the coefficients settled to a relative change of 1e-12. Increase "
            "max_iter.",
            ConvergenceWarning,
        )
    return least_squares.result(
        lsq,
        coef,
        intercept,
        path="coordinate_descent",
        n_iter=sweeps,
        converged=converged,
        objective=lsq.objective(coef, l1),
        error=np.nan,
        rank=lsq.n_active,
        config=config,
    )


def minimise(lsq, l1, max_sweeps):
    """The minimiser of the penalised least-squares problem ``lsq`` with L1
    strengths ``l1`` (per target), in original units, by coordinate descent
    on its Gram matrix; the sweeps of the slowest target and whether every
    target settled."""
    gram, xy, _ = lsq.products()
    scale = lsq.penalty_scale
    theta, sweeps, converged = solve_elastic_net(
        gram / np.outer(scale, scale),
        xy / scale[:, None],
        l1,
        lsq.l2,
        max_sweeps=max_sweeps,
    )
    return *lsq.original(theta / scale[:, None]), sweeps, converged
