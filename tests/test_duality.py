"""The optimality gap of gradient fits of the robust losses: a certified upper
bound of the true gap (measured against independent minimisers: scikit-learn's
QuantileRegressor, SciPy's L-BFGS-B on HuberRegressor's objective), tight, and
a ConvergenceWarning exactly when it exceeds tol."""

import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers import _duality

X, Y = make_regression(n_samples=400, n_features=5, noise=10.0, random_state=0)
X[:, 1] += 0.8 * X[:, 0]  # correlated columns
Y = Y + 30 * np.random.RandomState(1).standard_t(2, size=len(Y))  # outliers
EPSILON = 1.35


def _huber(r, scale, epsilon=EPSILON):
    """HuberRegressor's loss of the residuals ``r`` at the scale ``scale``."""
    z = r / scale
    inside = np.abs(z) <= epsilon
    return scale + scale * np.where(inside, z**2, 2 * epsilon * np.abs(z) - epsilon**2)


def _rho(loss, r, quantile=0.5, scale=None):
    if loss == "huber":
        return _huber(r, scale)
    if loss == "absolute_error":
        return np.abs(r)
    return np.maximum(quantile * r, (quantile - 1) * r)


def _objective(reg, X, y, sample_weight=None):
    """The estimator's objective (see its docstring), computed with NumPy."""
    residual = y - reg.predict(X)
    loss = _rho(reg.loss, residual, reg.quantile, getattr(reg, "scale_", None))
    loss = np.average(loss, weights=sample_weight)
    scale = reg.scaler_.scale_ if reg.standardize else 1.0
    scaled = reg.coef_ * scale
    l1, l2 = reg.alpha * reg.l1_ratio, reg.alpha * (1 - reg.l1_ratio)
    return loss + l1 * np.abs(scaled).sum() + 0.5 * l2 * scaled @ scaled


def _huber_optimum(X, y, l2=0.0, epsilon=EPSILON):
    """The minimum of HuberRegressor's objective over the coefficients and the
    scale (L2 penalty on the standardized coefficients), by SciPy's L-BFGS-B
    from the least-squares fit."""
    Z = np.c_[(X - X.mean(0)) / X.std(0), np.ones(len(y))]

    def objective(theta):
        coef, scale = theta[:-1], theta[-1]
        z = (y - Z @ coef) / scale
        inside = np.abs(z) <= epsilon
        value = np.mean(_huber(z * scale, scale, epsilon))
        value += 0.5 * l2 * coef[:-1] @ coef[:-1]
        psi = np.where(inside, 2 * z, 2 * epsilon * np.sign(z))
        gradient = -Z.T @ psi / len(y)
        gradient[:-1] += l2 * coef[:-1]
        scale_gradient = np.mean(np.where(inside, 1 - z**2, 1 - epsilon**2))
        return value, np.r_[gradient, scale_gradient]

    start = np.linalg.lstsq(Z, y, rcond=None)[0]
    scale = np.std(y - Z @ start)
    bounds = [(None, None)] * Z.shape[1] + [(1e-9 * scale, None)]
    options = {"ftol": 0, "gtol": 1e-13, "maxiter": 100000, "maxcor": 30}
    return minimize(
        objective,
        np.r_[start, scale],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options=options,
    ).fun


def _quantile_optimum(X, y, quantile, alpha=0.0, sample_weight=None, intercept=True):
    reg = QuantileRegressor(
        quantile=quantile, alpha=alpha, fit_intercept=intercept, solver="highs"
    ).fit(X, y, sample_weight=sample_weight)
    residual = y - reg.predict(X)
    loss = np.average(_rho("quantile", residual, quantile), weights=sample_weight)
    return loss + alpha * np.abs(reg.coef_).sum()


def _fit(**params):
    # The certificate of the gradient solvers: the quantile and absolute-error
    # losses would otherwise be fitted by the interior-point method.
    if params.get("loss") in ("quantile", "absolute_error"):
        params.setdefault("solver", "adam")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit_params = params.pop("fit_params", {})
        data, y = params.pop("X", X), params.pop("y", Y)
        reg = TorchLinearRegressor(device="cpu", random_state=0, **params)
        reg.fit(data, y, **fit_params)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
    return reg, warned


CASES = [
    ("huber", 0.5, "lbfgs"),
    ("huber", 0.5, "adam"),
    ("huber", 0.5, "sgd"),
    ("absolute_error", 0.5, "adam"),
    ("quantile", 0.1, "adam"),
    ("quantile", 0.9, "sgd"),
]


@pytest.mark.parametrize("loss, quantile, solver", CASES)
@pytest.mark.parametrize("max_iter", [3, 30, 1000])
def test_certified_gap_is_the_true_gap(loss, quantile, solver, max_iter):
    """Check that optimality_gap_ is at least the true relative gap (a
    certificate) and within 1% of it (tight), from far from the optimum to
    converged."""
    if loss == "huber":
        best = _huber_optimum(X, Y)
    elif loss == "absolute_error":  # twice the pinball loss of the median
        best = 2 * _quantile_optimum(X, Y, 0.5)
    else:
        best = _quantile_optimum(X, Y, quantile)
    reg, _ = _fit(
        loss=loss, quantile=quantile, epsilon=EPSILON, solver=solver, max_iter=max_iter
    )
    true = (_objective(reg, X, Y) - best) / best
    assert reg.optimality_gap_ >= true - 1e-9 * (1 + true)
    assert reg.optimality_gap_ <= 1.01 * true + 1e-8


@pytest.mark.parametrize("quantile", [0.2, 0.5])
def test_gap_with_weights_and_without_intercept(quantile):
    """Check the certificate against QuantileRegressor with sample weights, and
    without an intercept."""
    weight = np.random.RandomState(0).randint(1, 4, size=len(Y)).astype(float)
    best = _quantile_optimum(X, Y, quantile, sample_weight=weight)
    reg, _ = _fit(
        loss="quantile",
        quantile=quantile,
        max_iter=40,
        fit_params={"sample_weight": weight},
    )
    true = (_objective(reg, X, Y, weight) - best) / best
    assert_allclose(reg.optimality_gap_, true, rtol=1e-3, atol=1e-9)
    best = _quantile_optimum(X, Y, quantile, intercept=False)
    reg, _ = _fit(loss="quantile", quantile=quantile, max_iter=40, fit_intercept=False)
    true = (_objective(reg, X, Y) - best) / best
    assert_allclose(reg.optimality_gap_, true, rtol=1e-3, atol=1e-9)


def test_gap_with_an_l1_penalty():
    """Check the certificate of an L1-penalised quantile fit against
    QuantileRegressor (the same objective with standardize=False)."""
    alpha = 0.5
    best = _quantile_optimum(X, Y, 0.3, alpha=alpha)
    for max_iter in (5, 1000):
        reg, _ = _fit(
            loss="quantile",
            quantile=0.3,
            alpha=alpha,
            l1_ratio=1.0,
            standardize=False,
            max_iter=max_iter,
        )
        true = (_objective(reg, X, Y) - best) / best
        assert reg.optimality_gap_ >= true - 1e-9
        assert reg.optimality_gap_ <= 1.01 * true + 1e-8


def test_gap_with_an_l2_penalty():
    """Check the certificate of an L2-penalised Huber fit against SciPy."""
    best = _huber_optimum(X, Y, l2=0.2)
    for solver in ("adam", "lbfgs"):
        reg, _ = _fit(loss="huber", epsilon=EPSILON, alpha=0.2, solver=solver)
        true = (_objective(reg, X, Y) - best) / best
        assert reg.optimality_gap_ >= true - 1e-9
        assert reg.optimality_gap_ <= 1.01 * true + 1e-8


@pytest.mark.parametrize("loss", ["huber", "quantile", "absolute_error"])
@pytest.mark.parametrize("alpha, l1_ratio", [(0.1, 0.0), (0.1, 0.5), (0.3, 1.0)])
def test_penalised_bounds_are_valid(loss, alpha, l1_ratio):
    """Check, for every penalty, that the lower bound of the minimum that each
    fit certifies, f / (1 + gap), is below the objective of every other fit
    (whatever the minimum is)."""
    objectives, bounds = [], []
    for solver, max_iter in [("adam", 3), ("adam", 30), ("adam", 1000), ("sgd", 1000)]:
        reg, _ = _fit(
            loss=loss,
            epsilon=EPSILON,
            quantile=0.7,
            alpha=alpha,
            l1_ratio=l1_ratio,
            solver=solver,
            max_iter=max_iter,
        )
        f = _objective(reg, X, Y)
        objectives.append(f)
        bounds.append(f / (1 + reg.optimality_gap_))
    assert max(bounds) <= min(objectives) * (1 + 1e-9)
    assert max(bounds) >= min(objectives) * (1 - 1e-2)  # and tight


def test_multi_output_sums_the_targets():
    """Check that two identical targets have the gap of one."""
    single, _ = _fit(loss="quantile", quantile=0.3, max_iter=20)
    double, _ = _fit(loss="quantile", quantile=0.3, max_iter=20, y=np.c_[Y, Y])
    assert_allclose(
        double.optimality_gap_, single.optimality_gap_, rtol=1e-6, atol=1e-14
    )


@pytest.mark.parametrize("loss", ["huber", "quantile"])
@pytest.mark.parametrize("max_iter", [2, 20, 1000])
def test_warning_exactly_when_the_gap_exceeds_tol(loss, max_iter):
    reg, warned = _fit(loss=loss, epsilon=EPSILON, solver="adam", max_iter=max_iter)
    assert warned == (reg.optimality_gap_ > reg.tol)


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_huber_is_free_of_the_units_of_y(solver):
    """Check that the gradient fits of Huber at default parameters give ``c``
    times the coefficients and scale for ``c * y`` (with epsilon in the units of
    y, the default gave all-zero coefficients at std(y) ~ 1e8)."""
    one, _ = _fit(loss="huber", solver=solver)
    for c in (1e-6, 1e8):
        scaled, warned = _fit(loss="huber", solver=solver, y=c * Y)
        assert not warned
        assert_allclose(scaled.coef_, c * one.coef_, rtol=1e-7)
        assert_allclose(scaled.scale_, c * one.scale_, rtol=1e-7)


def test_the_finishing_step_needs_the_signs_settled(monkeypatch):
    """Check, with the programme limited to 30 rows (as the rows beyond
    _MAX_ROWS of a large data set), that a fit far from the minimum warns with
    advice that helps (more epochs), and a valid gap."""
    monkeypatch.setattr(_duality, "_MIN_ROWS", 30)
    monkeypatch.setattr(_duality, "_MAX_ROWS", 30)
    best = _quantile_optimum(X, Y, 0.2)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        reg = TorchLinearRegressor(loss="quantile", quantile=0.2, max_iter=1)
        reg.fit(X, Y)
    true = (_objective(reg, X, Y) - best) / best
    assert true - 1e-9 <= reg.optimality_gap_ < np.inf
    reg, warned = _fit(loss="quantile", quantile=0.2)
    assert not warned and reg.optimality_gap_ <= reg.tol


def test_sparse_input():
    """Check the certificate of a fit on sparse X (densified a block at a
    time) against QuantileRegressor."""
    dense = np.where(np.abs(X) > 0.5, X, 0.0)
    best = _quantile_optimum(dense, Y, 0.3)
    reg, _ = _fit(
        loss="quantile", quantile=0.3, max_iter=20, X=scipy.sparse.csr_matrix(dense)
    )
    true = (_objective(reg, dense, Y) - best) / best
    assert_allclose(reg.optimality_gap_, true, rtol=1e-3, atol=1e-9)
