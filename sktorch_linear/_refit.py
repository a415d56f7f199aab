"""The model a cross-validation chooses, solved from the statistics of all
rows as ``fit`` would solve it: a :class:`TorchLinearRegressor` per choice."""

from functools import partial

import numpy as np

from . import solvers
from ._config import Config
from ._data import Data
from ._fitted import set_fitted
from ._folds import of_target
from ._regressor import TorchLinearRegressor


def refit(search, moments, data, y_ndim, device, n_passes):
    """Set ``search``'s chosen model from the statistics of all rows
    ``moments`` (refined against ``data`` only where ``fit`` would be):
    ``best_estimator_``, or with one choice per target ``estimators_``, and
    the coefficients, intercepts, gaps and iterations of the choice."""
    solve = partial(_solved, search, device=device, n_passes=n_passes)
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
        )
        for k, (alpha, l1_ratio) in enumerate(zip(search.alpha_, search.l1_ratio_))
    ]
    fitted = search.estimators_
    search.coef_ = np.array([e.coef_ for e in fitted])
    search.intercept_ = np.array([e.intercept_ for e in fitted])
    search.optimality_gap_ = np.array([e.optimality_gap_ for e in fitted])
    search.n_iter_ = max(e.n_iter_ for e in fitted)


def _solved(search, alpha, l1_ratio, moments, data, y_ndim, *, device, n_passes):
    """A :class:`TorchLinearRegressor` with ``search``'s parameters, ``alpha``
    and ``l1_ratio``, fitted from ``moments``."""
    model = TorchLinearRegressor(
        alpha=alpha,
        l1_ratio=l1_ratio,
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
    result = solvers.solve_statistics(moments, config, n_passes, data)
    set_fitted(model, result, config, y_ndim)
    return model
