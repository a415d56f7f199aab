"""The solver families, each ``solve(problem, config) -> SolverResult``, as
peers; :mod:`._policy` says which one fits what.

- :mod:`.least_squares`: squared error with a ridge penalty at most, from the
  statistics of the data, refined against them;
- :mod:`.coordinate_descent`: squared error with an L1 (elastic-net) penalty,
  on the same statistics;
- :mod:`.newton`: the Huber loss with its concomitant scale (HuberRegressor's
  objective), with any penalty, to a certified optimum;
- :mod:`.interior_point`: the quantile and absolute-error losses with any
  penalty, to a certified optimum (:mod:`.preprocessed` on many rows: a
  subsample's minimiser, then a small programme near it);
- :mod:`.gradient`: every loss and penalty, by a skorch net (L-BFGS, Adam,
  SGD), measured by :mod:`._certify`;
- :mod:`.dask_gradient`: Adam and SGD epochs over rows held in parts by Dask
  (the exact families run over such rows through :mod:`._dask_passes`).
"""

import math
from dataclasses import replace

from .._dask import DaskData
from .._threads import one_blas_thread, threads_for
from . import (
    _collinear,
    _policy,
    coordinate_descent,
    dask_gradient,
    gradient,
    least_squares,
    newton,
    preprocessed,
)
from ._base import Problem, SolverResult
from ._persist import portable, with_net
from ._policy import Route, route
from ._robust import outliers

__all__ = [
    "Problem",
    "Route",
    "SolverResult",
    "portable",
    "route",
    "solve",
    "solve_statistics",
    "with_net",
]

_FAMILIES = {
    "least_squares": least_squares,
    "coordinate_descent": coordinate_descent,
    "newton": newton,
    "interior_point": preprocessed,  # (interior_point's, preprocessed when large)
    "gradient": gradient,
    "dask_gradient": dask_gradient,
}


def solve(problem, config):
    """Fit ``problem`` with the family that the policy gives ``config.solver``
    (resolved) and the objective, on the CPU threads its size and the load of
    the machine call for (:mod:`.._threads`; Dask's rows count as large), with
    NumPy's BLAS on one thread."""
    dask = isinstance(problem.data, DaskData)
    elements = math.inf if dask else math.prod(problem.data.shape[:2])
    with threads_for(elements), one_blas_thread():
        return _solve(problem, config, dask)


def _solve(problem, config, dask):
    objective = config.objective
    family = _policy.family(objective, config.solver, dask)
    if family in ("newton", "interior_point"):
        result = _collinear.solve(_FAMILIES[family], problem, config)
    else:
        result = _FAMILIES[family].solve(problem, config)
    if objective.loss == "huber":
        mask = outliers(
            problem.data,
            result.coef,
            result.intercept,
            result.scale,
            objective.epsilon,
            config.device,
        )
        result = replace(result, outliers=mask)
    return result


def solve_statistics(moments, config, n_passes, data):
    """Fit ``config``'s squared-error objective from the statistics ``moments``
    of ``data``: coordinate descent with an L1 penalty, the exact solver
    otherwise, whose solution is refined against ``data`` only where ``fit``
    would refine it (small or ill-conditioned problems; never without
    ``data``, as after ``partial_fit``). ``n_passes`` are the passes over the
    data that gave the statistics."""
    problem = Problem(data, streaming=data is None)
    lsq, l1 = least_squares.penalised(moments, config.objective)
    family = coordinate_descent if config.objective.has_l1 else least_squares
    return family.solve_statistics(problem, config, lsq, l1, n_passes)
