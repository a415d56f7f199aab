"""The interface every solver family implements: ``solve(problem, config)``."""

from dataclasses import dataclass, field

import numpy as np

from .._data import Data
from .._scaling import Scaling


@dataclass(frozen=True)
class Problem:
    """What a solver is asked to fit.

    Attributes
    ----------
    data : Data
        The validated rows of this call.
    previous : SolverResult or None
        The result this call continues from: the fit of earlier chunks
        (``partial_fit``), or the previous fit under ``warm_start``.
    streaming : bool
        Whether ``data`` is one chunk of rows that a gradient solver sees once
        per epoch and continues from ``previous`` over: a chunk of a stream
        (``partial_fit``), or a part of rows held by Dask (see :meth:`part`).
        A gradient solver runs one epoch over it and does not measure the fit.
    all_rows : tuple or None
        For a part (:meth:`part`), ``(moments, scaling)`` of all the rows it is
        a part of: the solver standardizes by them, as they are, instead of
        by the statistics of the chunks seen so far.
    """

    data: Data
    previous: "SolverResult | None" = None
    streaming: bool = False
    all_rows: tuple | None = None

    @classmethod
    def part(cls, data, previous, all_rows):
        """One epoch's pass over ``data``, a part of rows held by Dask, from
        the state ``previous``, standardized as ``all_rows`` are."""
        return cls(data, previous=previous, streaming=True, all_rows=all_rows)


@dataclass(frozen=True)
class SolverResult:
    """What every solver returns.

    The solution is in the original units of ``X`` and ``y``: solvers that
    work on standardized data fold the scaling back (``scaling.unstandardize``)
    and the exact solver refines its solution in the original units, where
    folding would round it again.

    Attributes
    ----------
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    scaling : Scaling
        How the data were standardized for solving.
    solver : str
        The solver's name (``"exact"``, ``"lbfgs"``, ``"adam"``, ``"sgd"``).
    path : str
        How the solution was obtained (``"cholesky"``, ``"qr"``,
        ``"coordinate_descent"``, ``"newton"``, ``"interior_point"``, or the
        gradient solver's name): one of the policy's ``Route.paths``.
    n_iter : int
        Epochs, sweeps or passes over the data (see the estimator's ``n_iter_``).
    converged : bool
        Whether the solver met its stopping criterion (it has warned if not).
    loss_curve : list of float
        The training objective per epoch, on the standardized problem.
    validation_scores : list of float or None
        Held-out R² per epoch under early stopping.
    diagnostics : dict
        Solver-specific figures (the exact solver's ``objective``, ``error``
        and ``rank``).
    moments : Moments or None
        The statistics of all data seen, for solvers that solve from them.
    net : LinearNet or None
        The trained net of a gradient solver, with its optimizer state,
        history and shuffling state (what ``partial_fit`` and ``warm_start``
        continue from).
    seed : int or None
        The seed of the fit's random choices (shuffling, validation split).
    scale : ndarray of shape (n_targets,) or None
        The scale of the residuals estimated with the coefficients (the Huber
        loss), in the units of ``y``; None for the other losses.
    outliers : ndarray of shape (n_samples, n_targets) or None
        The training rows whose residual exceeds ``epsilon`` times the scale
        (the Huber loss); None for the other losses.
    """

    coef: np.ndarray
    intercept: np.ndarray
    scaling: Scaling
    solver: str
    path: str
    n_iter: int
    converged: bool
    loss_curve: list
    validation_scores: list | None = None
    diagnostics: dict = field(default_factory=dict)
    moments: object = None
    net: object = None
    seed: int | None = None
    scale: np.ndarray | None = None
    outliers: np.ndarray | None = None
