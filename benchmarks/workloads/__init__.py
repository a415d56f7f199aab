"""The benchmark workloads.

Every workload function takes a :class:`Context` and returns a list of result
rows (one per contender; see ``ROW_COLUMNS`` in ``_report``) and a list of
headline ratios. Rows of one workload (and one problem size) share a reference
contender, against which ``ratio_to_reference`` is computed by the runner.

One module per family of workloads: ``exact`` (exact fits), ``costs`` (the
passes of an exact fit), ``predict``, ``gradient`` (an epoch of Adam),
``accuracy`` (training to accuracy, defaults), ``robust`` (quantile and Huber
regression), ``shapes`` (a grid search on small data, more columns than rows,
the lasso with many columns), ``tuning`` (cross-validation of the penalty),
``inference`` (standard errors against statsmodels), ``load`` (fits beside a
busy process), ``memory`` (peak memory) and ``parquet`` (Dask).
:data:`WORKLOADS` lists them in the order the runner runs them.
"""

from dataclasses import dataclass

from ._context import FLOOR, OURS, SIZES, Context
from ._rows import headline, ratio, row
from .accuracy import defaults, to_accuracy, to_accuracy_huber
from .costs import exact_costs
from .exact import (
    exact_diabetes,
    exact_ill_conditioned,
    exact_tall,
    exact_vs_n,
    exact_wide,
    partial_fit,
)
from .gradient import adam_epoch
from .inference import inference_cluster, inference_quantile
from .load import contention
from .memory import memory_exact, memory_gradient
from .parquet import dask_parquet
from .predict import predict_batch, predict_one_row
from .robust import huber, quantile
from .shapes import degenerate, grid_search, lasso_wide
from .tuning import cv_diabetes, cv_huber, cv_quantile, cv_tall

__all__ = [
    "FLOOR",
    "OURS",
    "SIZES",
    "WORKLOADS",
    "Context",
    "Workload",
    "headline",
    "ratio",
    "row",
]


@dataclass(frozen=True)
class Workload:
    """A workload of the suite.

    Parameters
    ----------
    name : str
        Its name in the results and on the command line.
    function : callable
        Takes a :class:`Context`; returns the rows and the headlines. Its
        docstring is the workload's description in the reports.
    uses : tuple of str, default=()
        The cached data of the :class:`Context` it reads (``"tall"``).
    """

    name: str
    function: object
    uses: tuple = ()

    @property
    def description(self):
        return " ".join(self.function.__doc__.split())


WORKLOADS = [
    Workload("exact_diabetes", exact_diabetes),
    Workload("exact_vs_n", exact_vs_n),
    Workload("exact_tall", exact_tall, ("tall",)),
    Workload("partial_fit", partial_fit, ("tall",)),
    Workload("exact_costs", exact_costs, ("tall",)),
    Workload("predict_batch", predict_batch, ("tall",)),
    Workload("predict_one_row", predict_one_row, ("tall",)),
    Workload("exact_wide", exact_wide),
    Workload("exact_ill_conditioned", exact_ill_conditioned),
    Workload("grid_search", grid_search),
    Workload("cv_diabetes", cv_diabetes),
    Workload("cv_tall", cv_tall, ("tall",)),
    Workload("cv_quantile", cv_quantile),
    Workload("cv_huber", cv_huber),
    Workload("inference_cluster", inference_cluster, ("tall",)),
    Workload("inference_quantile", inference_quantile),
    Workload("lasso_wide", lasso_wide),
    Workload("adam_epoch", adam_epoch),
    Workload("to_accuracy", to_accuracy),
    Workload("to_accuracy_huber", to_accuracy_huber),
    Workload("quantile", quantile),
    Workload("huber", huber),
    Workload("degenerate", degenerate),
    Workload("contention", contention, ("tall",)),
    Workload("defaults", defaults),
    Workload("memory_exact", memory_exact),
    Workload("memory_gradient", memory_gradient),
    Workload("dask_parquet", dask_parquet),
]
