"""The model a cross-validation chooses, solved from the statistics of all
rows as ``fit`` would solve it: a :class:`TorchLinearRegressor` per choice."""

from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import solvers
from ._config import Config
from ._data import Data
from ._fitted import set_fitted
from ._folds import of_target
from ._regressor import TorchLinearRegressor
from ._scaling import Scaling
from ._warnings import warn
from .solvers import huber_path, robust_path
from .solvers._base import SolverResult
from .solvers._passes import Passes
from .solvers._robust import outliers


def refit(search, moments, data, y_ndim, device, n_passes, paths=None):
    """Set ``search``'s chosen model from the statistics of all rows
    ``moments`` (refined against ``data`` only where ``fit`` would be; for a
    robust loss, solved on the rows of ``data`` near the first split's
    solution of the chosen candidate, from ``paths``): ``best_estimator_``, or
    with one choice per target ``estimators_``, and the coefficients,
    intercepts, gaps and iterations of the choice."""
    solve = partial(_solved, search, device=device, n_passes=n_passes)
    if search.loss != "squared_error":
        coef, intercept, scale = paths
        starts = coef[0], intercept[0], None if scale is None else scale[0]
        solve = partial(_solved_robust, search, starts=starts, device=device)
    if np.ndim(search.alpha_) == 0:
        best = solve(search.alpha_, search.l1_ratio_, moments, data, y_ndim)
        search.best_estimator_ = best
        search.coef_, search.intercept_ = best.coef_, best.intercept_
        search.optimality_gap_, search.n_iter_ = best.optimality_gap_, best.n_iter_
        return
    in_memory = isinstance(data, Data)  # (Dask's parts hold every target)
    search.estimators_ = [
        solve(
            alpha,
            l1_ratio,
            of_target(moments, k),
            Data(data.X, data.Y[:, [k]], data.sample_weight) if in_memory else None,
            1,
            targets=[k],
        )
        for k, (alpha, l1_ratio) in enumerate(zip(search.alpha_, search.l1_ratio_))
    ]
    fitted = search.estimators_
    search.coef_ = np.array([e.coef_ for e in fitted])
    search.intercept_ = np.array([e.intercept_ for e in fitted])
    search.optimality_gap_ = np.array([e.optimality_gap_ for e in fitted])
    search.n_iter_ = max(e.n_iter_ for e in fitted)


def _solved(
    search, alpha, l1_ratio, moments, data, y_ndim, *, device, n_passes, targets=None
):
    """A :class:`TorchLinearRegressor` with ``search``'s parameters, ``alpha``
    and ``l1_ratio``, fitted from ``moments`` (of all targets, or of those
    numbered ``targets``)."""
    model, config = _model(search, alpha, l1_ratio, device)
    result = solvers.solve_statistics(moments, config, n_passes, data)
    set_fitted(model, result, config, y_ndim)
    return model


def _solved_robust(
    search, alpha, l1_ratio, moments, data, y_ndim, *, starts, device, targets=None
):
    """As :func:`_solved`, for a robust loss: each target solved on the rows of
    ``data`` near its solution of the chosen candidate in ``starts``
    (coefficients, intercepts and Huber's scales of every candidate and
    target, on other rows)."""
    model, config = _model(search, alpha, l1_ratio, device)
    params = search.cv_results_["params"]
    c = params.index({"alpha": float(alpha), "l1_ratio": float(l1_ratio)})
    targets = range(data.Y.shape[1]) if targets is None else targets
    solutions = []
    for j, k in enumerate(targets):
        scaling = robust_path.target_scaling(
            moments, j, search.fit_intercept, search.standardize
        )
        start = [part if part is None else part[c, k] for part in starts]
        target = Data(data.X, data.Y[:, [j]], data.sample_weight)
        solutions += _solved_target(
            search, target, scaling, alpha, l1_ratio, start, device
        )
    gaps = np.array([solution.gap for solution in solutions])
    huber = search.loss == "huber"
    if np.any(gaps > search.tol):
        method = "Newton's method" if huber else "The interior-point method"
        warn(
            f"{method} stopped with a certified relative gap of {gaps.max():.2g} "
            f"to the minimum (tol={search.tol:g}). Increase max_iter.",
            ConvergenceWarning,
        )
    coef = np.array([solution.coef for solution in solutions])
    intercept = np.array([solution.intercept for solution in solutions])
    scale = np.array([solution.scale for solution in solutions]) if huber else None
    result = SolverResult(
        coef,
        intercept,
        scaling=Scaling.from_moments(
            moments, fit_intercept=search.fit_intercept, standardize=search.standardize
        ),
        solver="exact",
        path="newton" if huber else "interior_point",
        n_iter=max(solution.n_iter for solution in solutions),
        converged=bool(np.all(gaps <= search.tol)),
        loss_curve=[float(sum(solution.objective for solution in solutions))],
        diagnostics={"optimality_gap": gaps},
        moments=moments,
        scale=scale,
        outliers=None
        if scale is None
        else outliers(data, coef, intercept, scale, search.epsilon, device),
    )
    set_fitted(model, result, config, y_ndim)
    return model


def _solved_target(search, data, scaling, alpha, l1_ratio, start, device):
    """The chosen candidate's solution of one target (``data``), from
    ``start`` (coefficients, intercept and Huber's scale)."""
    options = {
        "fit_intercept": search.fit_intercept,
        "max_iter": search.max_iter,
        "device": device,
    }
    if search.loss == "huber":
        passes = Passes.of_data(data, scaling, device, search.fit_intercept)
        solution = huber_path.solve_candidate(
            passes, search.epsilon, (l1_ratio, alpha), start, max_iter=search.max_iter
        )
        return [solution]
    l1, l2 = scaling.penalty(search.loss, alpha, l1_ratio)
    loss = robust_path.loss_of(search.loss, search.quantile)
    return robust_path.solve_near(data, scaling, loss, l1, l2, [start[:2]], **options)


def _model(search, alpha, l1_ratio, device):
    """An unfitted :class:`TorchLinearRegressor` with ``search``'s parameters,
    ``alpha`` and ``l1_ratio``, its features those of ``search``; and its
    configuration."""
    model = TorchLinearRegressor(
        alpha=alpha,
        l1_ratio=l1_ratio,
        loss=search.loss,
        epsilon=search.epsilon,
        quantile=search.quantile,
        fit_intercept=search.fit_intercept,
        standardize=search.standardize,
        max_iter=search.max_iter,
        tol=search.tol,
        device=search.device,
    )
    model.n_features_in_ = search.n_features_in_
    if hasattr(search, "feature_names_in_"):
        model.feature_names_in_ = search.feature_names_in_
    config = Config.from_params(model.get_params(), solver="exact", device=device)
    return model, config
