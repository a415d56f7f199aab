"""The full-data optimality check of gradient fits: the gap it measures is the
true one, and a ConvergenceWarning comes exactly when the gap exceeds tol."""

import warnings

import numpy as np
import pytest
from nist import load
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning

from sktorch_linear import TorchLinearRegressor


def _objective(reg, X, y, alpha, l1_ratio):
    """The estimator's objective (see its docstring) at its coefficients,
    computed with NumPy."""
    residual = y - reg.predict(X)
    scaled = reg.coef_ * reg.scaler_.scale_
    penalty = alpha * l1_ratio * np.abs(scaled).sum()
    penalty += alpha * (1 - l1_ratio) / 2 * scaled @ scaled
    return 0.5 * np.mean(residual**2) + penalty


def _fit(**params):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        reg = TorchLinearRegressor(device="cpu", random_state=0, **params)
        reg.fit(*DATA)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
    return reg, warned


DATA = make_regression(n_samples=1000, n_features=8, noise=20.0, random_state=0)


SMOOTH = [(0.0, 0.0), (0.3, 0.0)]
WITH_L1 = [(0.3, 0.5), (1.0, 1.0)]


@pytest.mark.parametrize(
    "solver, alpha, l1_ratio",
    [("lbfgs", *penalty) for penalty in SMOOTH]
    + [
        (solver, *penalty) for solver in ("adam", "sgd") for penalty in SMOOTH + WITH_L1
    ],
)
def test_measured_gap_is_the_true_gap(solver, alpha, l1_ratio):
    """Check that optimality_gap_ equals (f - f*) / f*, with f* from the exact
    solver, for every penalty (L-BFGS: the smooth ones), after fits stopped
    early and run to the end."""
    X, y = DATA
    exact = TorchLinearRegressor(alpha=alpha, l1_ratio=l1_ratio, device="cpu")
    best = _objective(exact.fit(X, y), X, y, alpha, l1_ratio)
    for max_iter in (2, 200):
        reg, _ = _fit(solver=solver, alpha=alpha, l1_ratio=l1_ratio, max_iter=max_iter)
        true = (_objective(reg, X, y, alpha, l1_ratio) - best) / best
        assert_allclose(reg.optimality_gap_, true, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
@pytest.mark.parametrize("max_iter", [1, 3, 30, 200])
def test_warning_exactly_when_the_gap_exceeds_tol(solver, max_iter):
    """Check that a ConvergenceWarning is raised if and only if the measured
    gap exceeds tol, whatever stopped training."""
    reg, warned = _fit(solver=solver, max_iter=max_iter)
    assert warned == (reg.optimality_gap_ > reg.tol)


def test_the_advice_helps():
    """Check that the warning's advice works: more epochs reach tol where few
    did not, and the exact solver is at the optimum."""
    reg, warned = _fit(solver="adam", max_iter=20)
    assert warned and reg.optimality_gap_ > reg.tol
    with pytest.warns(ConvergenceWarning, match="or increase max_iter"):
        TorchLinearRegressor(solver="adam", max_iter=20, device="cpu").fit(*DATA)
    reg, warned = _fit(solver="adam", max_iter=1000)
    assert not warned and reg.optimality_gap_ <= reg.tol
    exact = TorchLinearRegressor(device="cpu").fit(*DATA)
    assert exact.optimality_gap_ <= 1e-12  # solved, not iterated


def test_gap_is_relative_to_the_problem():
    """Check that the measured gap does not depend on the units of y or X."""
    X, y = load_diabetes(return_X_y=True)
    gaps = []
    for y_unit, x_unit in [(1.0, 1.0), (1e-6, 1.0), (1e8, 1e3)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg = TorchLinearRegressor(solver="adam", max_iter=5, random_state=0)
            gaps.append(reg.fit(X * x_unit, y * y_unit).optimality_gap_)
    assert_allclose(gaps, gaps[0], rtol=1e-6)


def test_not_measured_where_it_does_not_apply():
    """Check that the gap is None under early stopping and for partial_fit."""
    X, y = DATA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        early = TorchLinearRegressor(solver="adam", early_stopping=True).fit(X, y)
    stream = TorchLinearRegressor(solver="sgd").partial_fit(X, y)
    assert early.optimality_gap_ is None
    assert stream.optimality_gap_ is None


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_defaults_converge_on_correlated_columns(solver):
    """Check that the gradient solvers reach tol at default settings on the
    diabetes data, whose columns are strongly correlated (Adam stopped 4e-3
    above the minimum after 2000 epochs before the data were whitened)."""
    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = TorchLinearRegressor(solver=solver, device="cpu").fit(X, y)
    assert reg.optimality_gap_ <= reg.tol


def _mse_excess(reg, exact, X, y):
    """(f - f*) / f* of the least-squares objective, with NumPy."""
    best = np.mean((y - exact.predict(X)) ** 2)
    return (np.mean((y - reg.predict(X)) ** 2) - best) / best


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_gap_of_columns_too_ill_conditioned_for_training(solver):
    """Check that on NIST's Filip (standardized columns of condition number
    about 1e10, beyond what whitening from the Gram matrix resolves) a gradient
    fit warns, names the exact solver, and reports the true gap, about 0.4
    (it used to report 1e-15 without a warning)."""
    X, y = load("Filip")
    exact = TorchLinearRegressor(device="cpu").fit(X, y)
    with pytest.warns(ConvergenceWarning, match="not exact dependencies") as record:
        reg = TorchLinearRegressor(device="cpu", solver=solver, random_state=0)
        reg.fit(X, y)
    assert "solver='exact'" in str(record[-1].message)
    assert_allclose(reg.optimality_gap_, _mse_excess(reg, exact, X, y), rtol=1e-6)
    assert reg.optimality_gap_ > 0.1


def test_gap_without_standardization_sees_small_curvature():
    """Check that without standardization (no whitening), the gap of an
    L-BFGS fit of Filip comes from the singular values of the data's R factor:
    it is large and warned about (from the Hessian's eigenvalues it was 1e-15
    for a true 3.2)."""
    X, y = load("Filip")
    exact = TorchLinearRegressor(device="cpu").fit(X, y)
    with pytest.warns(ConvergenceWarning):
        reg = TorchLinearRegressor(device="cpu", solver="lbfgs", standardize=False)
        reg.fit(X, y)
    assert reg.optimality_gap_ > 1.0
    assert _mse_excess(reg, exact, X, y) > 1.0


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_exact_dependencies_are_not_warned_about(solver):
    """Check that columns that depend exactly on others (a one-hot encoding with
    an intercept, a duplicated column), which whitening leaves out too, give
    no warning: the fit reaches the least-squares minimum."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, size=600)
    X = np.column_stack([np.eye(4)[groups], rng.normal(size=(600, 3))])
    X = np.column_stack([X, X[:, 4]])
    y = X @ rng.normal(size=X.shape[1]) + rng.normal(size=600)
    exact = TorchLinearRegressor(device="cpu").fit(X, y)
    assert exact.rank_ == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", solver=solver, random_state=0)
        reg.fit(X, y)
    assert reg.optimality_gap_ <= reg.tol
    assert _mse_excess(reg, exact, X, y) <= reg.tol


def test_robust_loss_on_columns_too_ill_conditioned_and_the_advice():
    """Check that a Huber fit of Filip by L-BFGS warns that its gap is not
    measured (inf) and advises a less collinear basis, and that the advice
    helps: on Legendre polynomials of the same variable the fit reaches the
    minimum without a warning."""
    X, y = load("Filip")
    with pytest.warns(ConvergenceWarning, match="Legendre"):
        reg = TorchLinearRegressor(device="cpu", solver="lbfgs", loss="huber")
        reg.fit(X, y)
    assert reg.optimality_gap_ == np.inf
    x = X[:, 0]
    t = (2 * x - x.max() - x.min()) / (x.max() - x.min())
    legendre = np.polynomial.legendre.legvander(t, X.shape[1])[:, 1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", solver="lbfgs", loss="huber")
        reg.fit(legendre, y)
    assert reg.optimality_gap_ <= reg.tol
