"""The solver families, each ``solve(problem, config) -> SolverResult``.

- :mod:`.exact`: squared error with a ridge penalty at most, from the
  statistics of the data, refined against them;
- :mod:`.coordinate_descent`: squared error with an L1 (elastic-net) penalty,
  on the same statistics;
- :mod:`.interior_point`: the quantile and absolute-error losses with any
  penalty, to a certified optimum;
- :mod:`.gradient`: every loss and penalty, by a skorch net (L-BFGS, Adam,
  SGD).
"""

from . import coordinate_descent, exact, gradient, interior_point
from ._base import Problem, SolverResult
from ._net import solution_net

__all__ = ["Problem", "SolverResult", "solution_net", "solve"]


def solve(problem, config):
    """Fit ``problem`` with the solver family that ``config.solver`` names."""
    if config.solver != "exact":
        family = gradient
    elif config.objective.loss in ("quantile", "absolute_error"):
        family = interior_point
    elif config.objective.has_l1:
        family = coordinate_descent
    else:
        family = exact
    return family.solve(problem, config)
