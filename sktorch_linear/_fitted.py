"""The fitted attributes of the estimator, set from a solver's result (and
removed, pickled and unpickled) in one place."""

from contextlib import contextmanager

import numpy as np
from sklearn.preprocessing import StandardScaler

from . import solvers
from ._version import InconsistentVersionWarning, __version__
from ._warnings import warn


def set_fitted(estimator, result, config, y_ndim):
    """Set the fitted attributes of ``estimator`` from a solver's result;
    ``y_ndim`` is that of the first ``y`` fitted (None: keep it)."""
    coef, intercept = result.coef, result.intercept
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise FloatingPointError(
            "The fitted coefficients are not finite: the data overflow float64. "
            "Rescale X and y (e.g. divide by a power of ten) and fit again."
        )
    if y_ndim is not None:
        estimator._y_ndim = y_ndim
    estimator._result, estimator._config = result, config
    estimator.coef_, estimator.intercept_ = (
        _as_y(estimator, coef),
        _as_y(estimator, intercept),
    )
    if not estimator.fit_intercept:
        estimator.intercept_ = 0.0  # as LinearRegression and Ridge report it
    estimator.scaler_ = _scaler(estimator, result.scaling)
    estimator.solver_ = result.solver
    estimator.solver_path_ = result.path
    squared = config.objective.loss == "squared_error"
    estimator.moments_ = (
        result.moments if result.solver == "exact" and squared else None
    )
    estimator.device_ = str(config.device)
    estimator.n_iter_ = result.n_iter
    gap = result.diagnostics.get("optimality_gap")
    if gap is not None:  # per target
        gap = _as_y(estimator, np.broadcast_to(np.asarray(gap, float), len(coef)))
        gap = float(gap) if np.ndim(gap) == 0 else gap.copy()
    estimator.optimality_gap_ = gap
    if result.scale is not None:
        estimator.scale_ = _as_y(estimator, result.scale)
    if result.outliers is not None:
        estimator.outliers_ = _as_y(estimator, result.outliers.T).T
    estimator.loss_curve_ = result.loss_curve
    estimator.best_loss_ = min(result.loss_curve)
    scores = result.validation_scores
    estimator.validation_scores_ = scores
    estimator.best_validation_score_ = None if scores is None else max(scores)


def _as_y(estimator, values):
    """Per-target ``values`` (targets first) as ``y`` was: the first
    target's alone for a 1-D ``y``."""
    return values[0] if estimator._y_ndim == 1 else values


def _scaler(estimator, scaling):
    scaler = StandardScaler(
        with_mean=estimator.fit_intercept, with_std=estimator.standardize
    )
    scaler.mean_ = scaling.x_mean
    scaler.var_ = scaling.x_var
    scaler.scale_ = scaling.x_scale if estimator.standardize else None
    scaler.n_samples_seen_ = scaling.n_samples
    scaler.n_features_in_ = estimator.n_features_in_
    if hasattr(estimator, "feature_names_in_"):
        scaler.feature_names_in_ = estimator.feature_names_in_
    return scaler


def clear_fitted(estimator):
    """Remove the fitted attributes of ``estimator``."""
    private = ("_result", "_config", "_y_ndim")
    for name in [n for n in vars(estimator) if n.endswith("_") or n in private]:
        delattr(estimator, name)


@contextmanager
def kept_on_failure(estimator):
    """Restore every attribute of ``estimator`` (fitted ones included) when the
    block raises: a failed call leaves no trace, as scikit-learn's estimators
    do."""
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def pickled(state):
    """An estimator's pickled state: NumPy and plain Python only (pickle,
    skops), the trained net as its training state, the device as its name, the
    package's version. (A copy: ``object.__getstate__`` returns the instance's
    own ``__dict__``.)"""
    state = dict(state)
    if "_result" in state:
        state["_result"] = solvers.portable(state["_result"])
        state["_config"] = state["_config"].portable()
    state["_sktorch_linear_version"] = __version__
    return state


def unpickled(state, name):
    """The state of :func:`pickled` as the estimator ``name`` takes it back,
    with an ``InconsistentVersionWarning`` when another version pickled it."""
    state = dict(state)
    if "_config" in state:
        state["_config"] = state["_config"].restored()
    version = state.pop("_sktorch_linear_version", None)
    if version != __version__:
        warn(
            InconsistentVersionWarning(
                estimator_name=name,
                original_version=version,
                current_version=__version__,
            )
        )
    return state


def feature_names(estimator):
    """The names of ``estimator``'s features: those it saw, else ``x0``,
    ``x1``, ... (statsmodels' names)."""
    if hasattr(estimator, "feature_names_in_"):
        return [str(name) for name in estimator.feature_names_in_]
    return [f"x{i}" for i in range(estimator.n_features_in_)]
