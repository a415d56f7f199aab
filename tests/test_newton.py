"""Huber regression with a concomitant scale: the exact (Newton) solver against
HuberRegressor's objective minimised precisely, SciPy for the elastic net,
scikit-learn's test_huber.py properties, and equivariance."""

import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, LinearRegression, Ridge
from sklearn.linear_model._huber import _huber_loss_and_gradient

from sktorch_linear import TorchLinearRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 6)) * RNG.uniform(0.1, 10, size=6)
Y = X @ RNG.normal(size=6) + 2 * RNG.standard_t(2, size=400) + 3
Y[RNG.choice(400, 20, replace=False)] += 50  # outliers
WEIGHT = RNG.integers(0, 4, size=400).astype(float)


def _with_outliers(n_samples=50, n_features=20):
    """scikit-learn's data of test_huber.py: 10% of the rows replaced by noise."""
    rng = np.random.RandomState(0)
    X_, y = make_regression(
        n_samples=n_samples, n_features=n_features, random_state=0, noise=0.05
    )
    rows = rng.randint(0, n_samples, int(0.1 * n_samples))
    X_[rows, :] = 2.0 * rng.normal(0, 1, (len(rows), X_.shape[1]))
    return X_, y


def _huber_regressor_optimum(X_, y, alpha, sample_weight, fit_intercept, epsilon):
    """HuberRegressor's fit, refined by SciPy's L-BFGS-B on scikit-learn's own
    objective and gradient until it cannot improve (HuberRegressor stops at
    L-BFGS-B's default tolerance: 1e-4 off in the coefficients here)."""
    hr = HuberRegressor(
        epsilon=epsilon,
        alpha=alpha,
        fit_intercept=fit_intercept,
        tol=1e-12,
        max_iter=10000,
    ).fit(X_, y, sample_weight=sample_weight)
    weight = np.ones(len(y)) if sample_weight is None else sample_weight
    start = np.r_[hr.coef_, [hr.intercept_] if fit_intercept else [], hr.scale_]
    bounds = [(None, None)] * (len(start) - 1) + [(1e-12, None)]
    options = {"ftol": 0, "gtol": 1e-15, "maxiter": 100000, "maxcor": 50}
    result = minimize(
        _huber_loss_and_gradient,
        start,
        args=(X_, y, epsilon, alpha, weight),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options=options,
    )
    coef, scale = result.x[: X_.shape[1]], result.x[-1]
    intercept = result.x[X_.shape[1]] if fit_intercept else 0.0
    return coef, intercept, scale, result.fun


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_huber_regressor(alpha, weighted, fit_intercept):
    """Check the exact solver against HuberRegressor's objective with the
    documented mapping ``alpha = 2 alpha_huber / sum(s)`` (standardize=False):
    coefficients and scale within 1e-6, the same outliers, a lower or equal
    objective, and a certified gap."""
    weight = WEIGHT if weighted else None
    epsilon = 1.35
    coef, intercept, scale, best = _huber_regressor_optimum(
        X, Y, alpha, weight, fit_intercept, epsilon
    )
    total = len(Y) if weight is None else weight.sum()
    ours = TorchLinearRegressor(
        loss="huber",
        epsilon=epsilon,
        alpha=2 * alpha / total,
        standardize=False,
        fit_intercept=fit_intercept,
        device="cpu",
    ).fit(X, Y, sample_weight=weight)
    assert ours.solver_ == "exact" and ours.solver_path_ == "newton"
    assert_allclose(ours.coef_, coef, rtol=1e-6)
    assert ours.intercept_ == pytest.approx(intercept, rel=1e-6, abs=1e-9)
    assert ours.scale_ == pytest.approx(scale, rel=1e-6)
    residual = np.abs(Y - X @ coef - intercept)
    assert_array_equal(ours.outliers_, residual > epsilon * scale)
    ours_value, _ = _huber_loss_and_gradient(
        np.r_[ours.coef_, [ours.intercept_] if fit_intercept else [], ours.scale_],
        X,
        Y,
        epsilon,
        alpha,
        np.ones(len(Y)) if weight is None else weight,
    )
    assert ours_value <= best * (1 + 1e-12)
    assert ours.optimality_gap_ <= 1e-12


@pytest.mark.parametrize("alpha, l1_ratio", [(0.5, 1.0), (0.05, 0.5), (0.2, 0.0)])
def test_penalties_match_scipy(alpha, l1_ratio):
    """Check L1, elastic-net and L2 penalties (on the standardized coefficients)
    against SciPy's L-BFGS-B with the weights split in positive and negative
    parts (a smooth problem with bounds): objective within 1e-9; with the L1
    penalty, an exact zero for a column of noise."""
    X_ = np.c_[X, np.random.default_rng(5).normal(size=len(Y))]
    Z = (X_ - X_.mean(0)) / X_.std(0)
    p, eps = Z.shape[1], 1.35

    def objective(theta):
        plus, minus, b, scale = theta[:p], theta[p : 2 * p], theta[-2], theta[-1]
        beta = plus - minus
        z = (Y - Z @ beta - b) / scale
        inside = np.abs(z) <= eps
        loss = scale * np.where(inside, 1 + z**2, 1 + 2 * eps * np.abs(z) - eps**2)
        l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
        value = loss.mean() + l1 * (plus + minus).sum() + 0.5 * l2 * beta @ beta
        psi = np.where(inside, 2 * z, 2 * eps * np.sign(z))
        g_beta = -Z.T @ psi / len(Y) + l2 * beta
        g_scale = np.mean(np.where(inside, 1 - z**2, 1 - eps**2))
        return value, np.r_[g_beta + l1, -g_beta + l1, -psi.mean(), g_scale]

    start = np.r_[np.zeros(2 * p), np.median(Y), np.std(Y)]
    bounds = [(0, None)] * (2 * p) + [(None, None), (1e-9, None)]
    options = {"ftol": 0, "gtol": 1e-14, "maxiter": 100000, "maxcor": 50}
    best = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options
    ).fun
    ours = TorchLinearRegressor(
        loss="huber", alpha=alpha, l1_ratio=l1_ratio, device="cpu"
    ).fit(X_, Y)
    coef = ours.coef_ * X_.std(0)
    z = (Y - ours.predict(X_)) / ours.scale_
    loss = ours.scale_ * np.where(
        np.abs(z) <= eps, 1 + z**2, 1 + 2 * eps * np.abs(z) - eps**2
    )
    value = loss.mean() + alpha * l1_ratio * np.abs(coef).sum()
    value += 0.5 * alpha * (1 - l1_ratio) * coef @ coef
    assert value <= best * (1 + 1e-9)
    assert ours.optimality_gap_ <= 1e-12
    if l1_ratio == 1.0:
        assert ours.coef_[-1] == 0.0


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_gradient_solvers_reach_the_exact_fit(solver):
    """Check that the gradient solvers end at the exact solver's minimum (the
    optimality check's Newton steps), scale included."""
    exact = TorchLinearRegressor(loss="huber", device="cpu").fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fitted = TorchLinearRegressor(
            loss="huber", solver=solver, device="cpu", random_state=0
        ).fit(X, Y)
    assert_allclose(fitted.coef_, exact.coef_, rtol=1e-6)
    assert fitted.scale_ == pytest.approx(exact.scale_, rel=1e-6)
    assert_array_equal(fitted.outliers_, exact.outliers_)


@pytest.mark.parametrize("c", [1e-6, 1e3])
@pytest.mark.parametrize(
    "solver, penalty",
    [("exact", {}), ("adam", {}), ("exact", {"alpha": 0.05, "l1_ratio": 1.0})],
)
def test_units_of_y(c, solver, penalty):
    """Check that without a penalty, and with an L1 penalty (of degree one in
    y, as the loss), the fit of ``c * y`` is ``c`` times that of ``y`` (epsilon
    is in units of the estimated scale), with the same outliers."""
    params = {"loss": "huber", "solver": solver, "device": "cpu", "random_state": 0}
    params.update(penalty)
    one = TorchLinearRegressor(**params).fit(X, Y)
    scaled = TorchLinearRegressor(**params).fit(X, c * Y)
    assert_allclose(scaled.coef_, c * one.coef_, rtol=1e-9)
    assert scaled.intercept_ == pytest.approx(c * one.intercept_, rel=1e-9)
    assert scaled.scale_ == pytest.approx(c * one.scale_, rel=1e-9)
    assert_array_equal(scaled.outliers_, one.outliers_)


def test_scaling_invariant():
    """Check scikit-learn's test: the outliers do not change when y, or X and
    y, are scaled."""
    X_, y = _with_outliers()
    huber = TorchLinearRegressor(loss="huber", fit_intercept=False, device="cpu")
    first = huber.fit(X_, y).outliers_
    assert not np.all(first)
    assert_array_equal(huber.fit(X_, 2.0 * y).outliers_, first)
    assert_array_equal(huber.fit(2.0 * X_, 2.0 * y).outliers_, first)


def test_equals_least_squares_for_high_epsilon():
    """Check scikit-learn's test: with a large epsilon no row is an outlier and
    the fit is least squares."""
    X_, y = _with_outliers()
    huber = TorchLinearRegressor(loss="huber", epsilon=1e3, device="cpu").fit(X_, y)
    lr = LinearRegression().fit(X_, y)
    assert_allclose(huber.coef_, lr.coef_, atol=1e-3)
    assert huber.intercept_ == pytest.approx(lr.intercept_, abs=1e-2)
    assert not huber.outliers_.any()


def test_sample_weights_and_sparse():
    """Check scikit-learn's test: unit weights change nothing, integer weights
    are repeated rows, and sparse X gives the dense fit (here to 1e-9)."""
    X_, y = _with_outliers()
    huber = TorchLinearRegressor(loss="huber", device="cpu")
    coef = huber.fit(X_, y).coef_
    assert_allclose(huber.fit(X_, y, sample_weight=np.ones(len(y))).coef_, coef)
    X_, y = _with_outliers(n_samples=30, n_features=5)
    repeated = huber.fit(np.r_[X_, X_[[1, 1, 3]]], np.r_[y, y[[1, 1, 3]]]).coef_
    weight = np.ones(len(y))
    weight[1], weight[3] = 3, 2
    assert_allclose(huber.fit(X_, y, sample_weight=weight).coef_, repeated, rtol=1e-9)
    sparse = TorchLinearRegressor(loss="huber", device="cpu")
    sparse.fit(scipy.sparse.csr_matrix(X_), y, sample_weight=weight)
    assert_allclose(sparse.coef_, repeated, rtol=1e-9)
    assert_array_equal(sparse.outliers_, huber.outliers_)


def test_better_r2_score():
    """Check scikit-learn's test: Huber fits the rows that are not outliers
    better than ridge, and the outliers worse."""
    X_, y = _with_outliers()
    huber = TorchLinearRegressor(
        loss="huber", alpha=2 * 0.01 / len(y), standardize=False, device="cpu"
    ).fit(X_, y)
    mask = np.abs(X_ @ huber.coef_ + huber.intercept_ - y) < 1.35 * huber.scale_
    ridge = Ridge(alpha=0.01).fit(X_, y)
    assert huber.score(X_[mask], y[mask]) > ridge.score(X_[mask], y[mask])
    assert ridge.score(X_[~mask], y[~mask]) > huber.score(X_[~mask], y[~mask])


def test_data_fitted_exactly():
    """Check the documented answer when the model fits every row exactly (more
    columns than rows): the minimum-norm least-squares fit, a scale of 0 and no
    outliers."""
    X_, y = RNG.normal(size=(5, 10)), RNG.normal(size=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huber = TorchLinearRegressor(loss="huber", device="cpu").fit(X_, y)
    assert_allclose(huber.predict(X_), y, atol=1e-12)
    assert huber.scale_ == 0.0 and not huber.outliers_.any()


def test_epsilon_must_exceed_one():
    """Check that epsilon <= 1 is refused (at 1 the minimum is least absolute
    deviations with a scale of 0)."""
    with pytest.raises(ValueError, match="epsilon"):
        TorchLinearRegressor(loss="huber", epsilon=1.0).fit(X, Y)


def test_several_targets_and_streaming():
    """Check that each target of a multi-output fit is the fit of that target
    alone, and that partial_fit streams Huber with Adam, scale included."""
    Y2 = np.c_[Y, -3 * Y + X[:, 0]]
    both = TorchLinearRegressor(loss="huber", device="cpu").fit(X, Y2)
    assert both.scale_.shape == (2,) and both.outliers_.shape == Y2.shape
    for k in range(2):
        alone = TorchLinearRegressor(loss="huber", device="cpu").fit(X, Y2[:, k])
        assert_allclose(both.coef_[k], alone.coef_, rtol=1e-9)
        assert both.scale_[k] == pytest.approx(alone.scale_, rel=1e-9)
    stream = TorchLinearRegressor(loss="huber", device="cpu", random_state=0)
    for rows in np.array_split(np.arange(len(Y)), 4):
        stream.partial_fit(X[rows], Y[rows])
    assert stream.solver_ == "adam" and stream.scale_ > 0
    assert stream.outliers_.shape == Y[rows].shape  # the rows of the last call


def test_square_data_minimum_at_zero_scale_found_first(monkeypatch):
    """30 rows and 30 columns with an elastic net: the minimum is at a scale of
    0, where Newton's steps only crawl (200 steps, 16 s). The boundary is tried
    first where it is plausible, and certified there: few iterations, the
    certified minimum (an exact fit of every row would cost the penalty; the
    scale is 0)."""
    rng = np.random.default_rng(3)
    X_ = rng.normal(size=(30, 30))
    y = X_ @ rng.normal(size=30) + rng.normal(size=30)
    reg = TorchLinearRegressor(loss="huber", alpha=0.09, l1_ratio=0.5, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X_, y)
    assert reg.scale_ == 0 and reg.optimality_gap_ <= 1e-12
    assert reg.n_iter_ <= 40


def test_boundary_not_tried_at_the_certificate_rounding(monkeypatch):
    """At small strengths Newton's certified gap stops at the rounding of the
    certificate (1e-12 to 1e-11), not a sign of a minimum at a scale of 0: the
    boundary's interior-point method (ten times Newton's time) is not run."""
    from sktorch_linear.solvers import _boundary

    runs = []
    original = _boundary.InteriorPoint

    def counted(*args, **kwargs):
        runs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_boundary, "InteriorPoint", counted)
    rng = np.random.default_rng(0)
    X_ = rng.normal(size=(20_000, 50))
    y = X_ @ rng.uniform(-2, 2, 50) + 3 + rng.normal(size=20_000)
    y[rng.uniform(size=20_000) < 0.05] += 15
    reg = TorchLinearRegressor(loss="huber", alpha=4.3e-4, l1_ratio=1.0, device="cpu")
    reg.fit(X_, y)
    assert 1e-13 < reg.optimality_gap_ <= 1e-9 and not runs


def test_no_false_warning_at_a_minimum_of_zero_scale():
    """Nine rows with tied targets and an elastic net: the minimum is at a
    scale of 0 (cvxpy with CLARABEL: the same objective to 1e-9, and a dual
    optimum equal to it). The dual point of the absolute error, scaled into
    Huber's ball, bounded it 1e-3 below: a warning at the minimum. Re-chosen
    on the rows fitted exactly, it certifies the fit."""
    X_ = np.array(
        [[1, 4], [2, 1], [2, 2], [2, 3], [2, 4], [3, 1], [3, 2], [3, 3], [3, 4]]
    )
    y = np.array([1.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0])
    alpha = 0.051639777949432225  # (a strength of an automatic grid on them)
    reg = TorchLinearRegressor(loss="huber", alpha=alpha, l1_ratio=0.5, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X_, y)
    assert reg.scale_ <= 1e-12 and reg.optimality_gap_ <= 1e-8
