"""The solver families, each ``solve(problem, config) -> SolverResult``.

- :mod:`.exact`: squared error with a ridge penalty at most, from the
  statistics of the data, refined against them;
- :mod:`.coordinate_descent`: squared error with an L1 (elastic-net) penalty,
  on the same statistics;
- :mod:`.newton`: the Huber loss with its concomitant scale (HuberRegressor's
  objective), with any penalty, to a certified optimum;
- :mod:`.interior_point`: the quantile and absolute-error losses with any
  penalty, to a certified optimum;
- :mod:`.gradient`: every loss and penalty, by a skorch net (L-BFGS, Adam,
  SGD);
- :mod:`._distributed`: the passes of the exact solvers and Adam / SGD epochs
  over rows held in parts by Dask.
"""

from dataclasses import replace

from .._dask import DaskData
from . import (
    _distributed,
    coordinate_descent,
    exact,
    gradient,
    interior_point,
    newton,
)
from ._base import Problem, SolverResult
from ._net import net_state, restored_net, solution_net

__all__ = [
    "Problem",
    "SolverResult",
    "net_state",
    "restored_net",
    "solution_net",
    "solve",
]


def solve(problem, config):
    """Fit ``problem`` with the solver family that ``config.solver`` names."""
    objective = config.objective
    if config.solver != "exact" and isinstance(problem.data, DaskData):
        solver = _distributed.solve_gradient  # squared error (see the estimator)
    elif config.solver != "exact":
        solver = gradient.solve
    elif objective.loss in ("quantile", "absolute_error"):
        solver = interior_point.solve
    elif objective.loss == "huber":
        solver = newton.solve
    elif objective.has_l1:
        solver = coordinate_descent.solve
    else:
        solver = exact.solve
    result = solver(problem, config)
    if objective.loss == "huber":
        mask = newton.outliers(
            problem.data,
            result.coef,
            result.intercept,
            result.scale,
            objective.epsilon,
            config.device,
        )
        result = replace(result, outliers=mask)
    return result
