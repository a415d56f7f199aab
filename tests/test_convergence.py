"""Every gradient solver and loss at default settings, on data of every kind:
the objective is within 1e-3 (relative) of an independent optimum, or a
ConvergenceWarning says it is not. No silent misses; at least 90% of the fits
converge without a warning."""

import functools
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, QuantileRegressor
from sklearn.linear_model._huber import _huber_loss_and_gradient

from sktorch_linear import TorchLinearRegressor

EPSILON = 1.35  # the default, in units of the estimated scale
LOSSES = {
    "squared_error": {"loss": "squared_error"},
    "huber": {"loss": "huber"},
    "absolute_error": {"loss": "absolute_error"},
    "quantile_0.05": {"loss": "quantile", "quantile": 0.05},
    "quantile_0.5": {"loss": "quantile", "quantile": 0.5},
    "quantile_0.95": {"loss": "quantile", "quantile": 0.95},
}
SMOOTH = ("squared_error", "huber")
DATA = [
    "diabetes",
    "n100_noise0.1",
    "n2000_noise10",
    "n50000_noise1",
    "y_times_1e-6",
    "y_times_1e8",
    "X_columns_1e-3_to_1e3",
]
CELLS = [
    (data, loss, solver)
    for data in DATA
    for loss in LOSSES
    for solver in ("lbfgs", "adam", "sgd")
    if solver != "lbfgs" or loss in SMOOTH
]


@functools.cache
def _data(name):
    if name == "diabetes":
        return load_diabetes(return_X_y=True)
    if name == "n100_noise0.1":
        return make_regression(100, 5, noise=0.1, random_state=0)
    if name == "n50000_noise1":
        return make_regression(50000, 10, noise=1.0, random_state=0)
    X, y = make_regression(2000, 20, noise=10.0, random_state=0)
    if name == "y_times_1e-6":
        return X, y * 1e-6
    if name == "y_times_1e8":
        return X, y * 1e8
    if name == "X_columns_1e-3_to_1e3":
        return X * np.logspace(-3, 3, X.shape[1]), y
    return X, y


def _loss(name, r, scale=None):
    params = LOSSES[name]
    if params["loss"] == "squared_error":
        return 0.5 * r**2
    if params["loss"] == "huber":  # HuberRegressor's, at the scale ``scale``
        z = np.abs(r) / scale
        huber = np.where(z <= EPSILON, z**2, 2 * EPSILON * z - EPSILON**2)
        return scale * (1 + huber)
    if params["loss"] == "absolute_error":
        return np.abs(r)
    q = params["quantile"]
    return np.maximum(q * r, (q - 1) * r)


@functools.cache
def _optimum(data, loss):
    """The minimum of the objective, from solvers independent of this package:
    least squares by NumPy on standardized columns (scikit-learn's
    LinearRegression loses digits on columns scaled 1e-3..1e3), the absolute
    and quantile losses by QuantileRegressor (HiGHS), Huber by HuberRegressor
    refined with SciPy's L-BFGS-B on scikit-learn's own objective (y divided
    by its standard deviation: the objective is of degree one in y)."""
    X, y = _data(data)
    Z = np.c_[(X - X.mean(0)) / X.std(0), np.ones(len(y))]
    if loss == "squared_error":
        return np.mean(_loss(loss, y - Z @ np.linalg.lstsq(Z, y, rcond=None)[0]))
    params = LOSSES[loss]
    if params["loss"] != "huber":
        q = params.get("quantile", 0.5)
        reg = QuantileRegressor(quantile=q, alpha=0, solver="highs-ipm")
        reg.fit(Z[:, :-1], y)
        return np.mean(_loss(loss, y - reg.predict(Z[:, :-1])))
    unit = y.std()
    t, Z = y / unit, Z[:, :-1]
    huber = HuberRegressor(epsilon=EPSILON, alpha=0, tol=1e-12, max_iter=10000)
    huber.fit(Z, t)
    start = np.r_[huber.coef_, huber.intercept_, huber.scale_]
    bounds = [(None, None)] * (len(start) - 1) + [(1e-12, None)]
    options = {"ftol": 0, "gtol": 1e-15, "maxiter": 100000, "maxcor": 50}
    best = minimize(
        _huber_loss_and_gradient,
        start,
        args=(Z, t, EPSILON, 0.0, np.ones(len(t))),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options=options,
    ).fun
    return best / len(t) * unit


def _cell(data, loss, solver):
    X, y = _data(data)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        reg = TorchLinearRegressor(solver=solver, **LOSSES[loss]).fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
    best = _optimum(data, loss)
    scale = getattr(reg, "scale_", None)
    gap = (np.mean(_loss(loss, y - reg.predict(X), scale)) - best) / best
    return gap, warned


@pytest.mark.slow
def test_every_solver_loss_and_data_at_defaults():
    results = {cell: _cell(*cell) for cell in CELLS}
    silent = [
        cell for cell, (gap, warned) in results.items() if gap > 1e-3 and not warned
    ]
    assert not silent, {cell: results[cell] for cell in silent}
    quiet = [gap <= 1e-3 and not warned for gap, warned in results.values()]
    assert np.mean(quiet) >= 0.9, {
        cell: result for cell, result in results.items() if result[1]
    }


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
@pytest.mark.parametrize("shape", [(8, 10), (50, 200), (100, 101)])
def test_gradient_huber_stops_where_the_data_are_interpolated(solver, shape):
    """Check that with more columns than rows, where Huber's minimum is 0 (the
    data interpolated, the scale at 0), L-BFGS and Adam stop well before
    ``max_iter`` epochs (the objective still falling by a steady fraction of
    itself, far below what the gap can tell from 0; SGD's full-batch steps
    hover above it), and every solver ends at that minimum without a warning:
    residuals 0 to 1e-8 of y's spread."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape)
    y = X[:, :5].sum(axis=1) + rng.standard_t(3, shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = TorchLinearRegressor(loss="huber", solver=solver).fit(X, y)
    if solver != "sgd":
        assert reg.n_iter_ < reg.max_iter / 2
    assert reg.optimality_gap_ <= reg.tol
    assert np.abs(y - reg.predict(X)).max() <= 1e-8 * y.std()
