"""Small dense algebra and the least-squares factorisations against NumPy and
scikit-learn: condition estimates, the choice of factorisation, and coordinate
descent against scikit-learn's ``enet_path`` on a precomputed Gram matrix."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.linear_model import enet_path

from sktorch_linear._data import Data
from sktorch_linear._linalg import cholesky, cholesky_solve, eigh, qr_r, svd
from sktorch_linear._moments import statistics
from sktorch_linear._scaling import Scaling
from sktorch_linear.solvers._elastic_net import solve_elastic_net
from sktorch_linear.solvers._penalised import (
    CholeskySolver,
    FactorSolver,
    LeastSquares,
)


def _spd(condition, size=6, seed=0):
    """A symmetric positive definite matrix of a given 2-norm condition number."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(size, size)))
    return (q * np.geomspace(1.0, 1.0 / condition, size)) @ q.T


@pytest.mark.parametrize("condition", [1e2, 1e6, 1e10])
def test_cholesky_condition_estimate(condition):
    """Check that the reciprocal condition estimate is within a factor of 10 of
    NumPy's exact 1-norm value, and that the factor solves the system."""
    matrix = _spd(condition)
    factor, rcond = cholesky(matrix)
    exact = 1.0 / np.linalg.cond(matrix, 1)
    assert exact / 10 <= rcond <= exact * 10
    rhs = np.arange(12.0).reshape(6, 2)
    assert_allclose(matrix @ cholesky_solve(factor, rhs), rhs, atol=1e-12 * condition)


def test_cholesky_of_an_indefinite_matrix_reports_failure():
    """Check that a matrix that is not positive definite gives (None, 0.0)."""
    assert cholesky(np.diag([1.0, -1.0, 2.0])) == (None, 0.0)


def test_qr_r_svd_and_eigh_agree_with_numpy():
    """Check the R factor (R'R = A'A, rows of very different sizes), the SVD and
    the symmetric eigendecomposition against NumPy."""
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(40, 5)) * np.geomspace(1e-8, 1e8, 40)[:, None]
    R = qr_r(rows)
    assert_allclose(R.T @ R, rows.T @ rows, rtol=1e-12, atol=1e-12 * 1e16)
    left, singular, right_t = svd(rows)
    assert_allclose(singular, np.linalg.svd(rows, compute_uv=False), rtol=1e-12)
    assert_allclose((left * singular) @ right_t, rows, atol=1e-12 * singular[0])
    matrix = _spd(1e3)
    values, vectors = eigh(matrix)
    assert_allclose(values, np.linalg.eigvalsh(matrix), rtol=1e-12)
    assert_allclose((vectors * values) @ vectors.T, matrix, atol=1e-14)


def _least_squares(X, y, alpha=0.0):
    data = Data(X, y.reshape(len(y), -1), None)
    cpu = torch.device("cpu")
    moments = statistics(data, exact=False, device=cpu, dtype=torch.float64)[0]
    scaling = Scaling.from_moments(moments, fit_intercept=True, standardize=True)
    return LeastSquares.of(moments, scaling, alpha, fit_intercept=True)


def test_factorisation_follows_the_condition_number():
    """Check that well-conditioned data are solved by Cholesky and that the
    condition number it reports is that of the standardized data; and that
    polynomial columns (condition ~1e5 after standardizing) go to the SVD of
    the R factor, which reports the condition number exactly."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 4)) @ np.triu(np.ones((4, 4)))
    y = X.sum(axis=1) + rng.normal(size=500)
    Z = (X - X.mean(0)) / X.std(0)
    expected = np.linalg.cond(Z)
    solver = _least_squares(X, y).solver()
    assert isinstance(solver, CholeskySolver)
    assert expected / 3 <= solver.condition <= expected * 3
    x = rng.uniform(0, 1, 500)
    X = np.column_stack([x**k for k in range(1, 7)])
    solver = _least_squares(X, np.sin(x)).solver()
    assert isinstance(solver, FactorSolver)
    Z = (X - X.mean(0)) / X.std(0)
    assert_allclose(solver.condition, np.linalg.cond(Z), rtol=1e-6)


@pytest.mark.parametrize("l1_ratio", [0.3, 1.0])
@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_coordinate_descent_matches_enet_path(alpha, l1_ratio):
    """Check that coordinate descent on a Gram matrix gives the coefficients of
    scikit-learn's ``enet_path`` with the same precomputed Gram matrix
    (objective ``||y - X b||^2 / (2 n) + alpha l1_ratio |b|_1 + alpha (1 -
    l1_ratio) |b|^2 / 2``)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 8))
    y = X @ np.array([3.0, -2.0, 0.0, 0.0, 1.0, 0.5, 0.0, 0.1]) + rng.normal(size=200)
    X, y = X - X.mean(0), y - y.mean()
    n = len(y)
    _, coefs, _ = enet_path(
        X,
        y,
        l1_ratio=l1_ratio,
        alphas=[alpha],
        precompute=X.T @ X,
        Xy=X.T @ y,
        tol=1e-14,
        max_iter=100_000,
    )
    coef, sweeps, converged = solve_elastic_net(
        X.T @ X / n,
        (X.T @ y / n)[:, None],
        np.array([alpha * l1_ratio]),
        alpha * (1 - l1_ratio),
        max_sweeps=10_000,
    )
    assert converged and sweeps < 10_000
    assert_allclose(coef[:, 0], coefs[:, 0], rtol=1e-8, atol=1e-10)
    assert np.array_equal(coef[:, 0] == 0, coefs[:, 0] == 0)
