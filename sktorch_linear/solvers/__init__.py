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
  SGD).
"""

from dataclasses import replace

from . import coordinate_descent, exact, gradient, interior_point, newton
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
    if config.solver != "exact":
        family = gradient
    elif objective.loss in ("quantile", "absolute_error"):
        family = interior_point
    elif objective.loss == "huber":
        family = newton
    elif objective.has_l1:
        family = coordinate_descent
    else:
        family = exact
    result = family.solve(problem, config)
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
