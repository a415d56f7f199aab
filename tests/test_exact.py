"""The exact solver against scikit-learn, closed forms and its own invariances."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes, make_regression
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktorch_linear import TorchLinearRegressor


def _weights(n_samples, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 3.0, n_samples)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("standardize", [True, False])
def test_exact_matches_linear_regression(
    bundled_data, fit_intercept, weighted, standardize
):
    """Check that the exact solver reproduces LinearRegression to rtol 1e-8."""
    X, y = bundled_data
    sample_weight = _weights(X.shape[0]) if weighted else None
    ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight)
    reg = TorchLinearRegressor(
        fit_intercept=fit_intercept, standardize=standardize, device="cpu"
    ).fit(X, y, sample_weight=sample_weight)
    assert reg.coef_.shape == ref.coef_.shape
    assert np.shape(reg.intercept_) == np.shape(ref.intercept_)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.01, 1.0])
def test_exact_matches_ridge(bundled_data, fit_intercept, weighted, alpha):
    """Check that standardize=False is Ridge with alpha_ridge = alpha * sum(w)."""
    X, y = bundled_data
    sample_weight = _weights(X.shape[0]) if weighted else None
    weight_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    ref = Ridge(alpha=alpha * weight_sum, fit_intercept=fit_intercept, tol=1e-12)
    ref.fit(X, y, sample_weight=sample_weight)
    reg = TorchLinearRegressor(
        alpha=alpha, fit_intercept=fit_intercept, standardize=False, device="cpu"
    ).fit(X, y, sample_weight=sample_weight)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_standardized_penalty_matches_scaled_ridge(bundled_data, weighted):
    """Check that with standardize=True alpha penalises standardized coefficients,
    as Ridge does after a (weighted) StandardScaler."""
    X, y = bundled_data
    sample_weight = _weights(X.shape[0]) if weighted else None
    weight_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    alpha = 0.1
    ref = make_pipeline(StandardScaler(), Ridge(alpha=alpha * weight_sum, tol=1e-12))
    ref.fit(
        X,
        y,
        standardscaler__sample_weight=sample_weight,
        ridge__sample_weight=sample_weight,
    )
    reg = TorchLinearRegressor(alpha=alpha, device="cpu")
    reg.fit(X, y, sample_weight=sample_weight)
    assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-8)
    scaler = ref[0]
    assert_allclose(reg.scaler_.mean_, scaler.mean_, rtol=1e-10, atol=1e-14)
    assert_allclose(reg.scaler_.scale_, scaler.scale_, rtol=1e-10)
    assert_allclose(reg.coef_ * scaler.scale_, ref[-1].coef_, rtol=1e-8)


def test_noise_free_training_error_is_at_rounding_level():
    """Check that a noise-free problem is solved to a relative MSE below 1e-20."""
    X, y = make_regression(n_samples=2000, n_features=13, random_state=0)
    reg = TorchLinearRegressor(solver="exact", device="cpu").fit(X, y)
    assert np.mean((reg.predict(X) - y) ** 2) / np.var(y) < 1e-20
    assert reg.n_iter_ == 2  # the statistics, then one refinement pass
    assert reg.solver_path_ == "cholesky"


def test_chunked_accumulation_matches_single_chunk(monkeypatch):
    """Check that accumulating in many small chunks gives the one-chunk answer."""
    X, y = make_regression(n_samples=3000, n_features=8, noise=1.0, random_state=1)
    X += 1e4  # a large mean makes naive uncentred accumulation lose digits
    w = _weights(3000, seed=1)
    ref = LinearRegression().fit(X, y, sample_weight=w)
    monkeypatch.setattr("sktorch_linear._data.BLOCK_BYTES", 8 * 10 * 37)
    reg = TorchLinearRegressor(device="cpu").fit(X, y, sample_weight=w)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8)


def test_constant_and_duplicate_columns_give_minimum_norm_solution():
    """Check that constant columns get zero coefficients and duplicated columns the
    minimum-norm split, as a least-squares solver (numpy lstsq) gives."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 3))
    X = np.column_stack([base, base[:, 0], np.full(200, 7.0)])
    y = base @ [1.0, -2.0, 0.5] + 3.0
    reg = TorchLinearRegressor(device="cpu").fit(X, y)
    assert reg.solver_path_ == "qr"
    assert reg.rank_ == 3
    assert reg.coef_[4] == 0.0
    assert_allclose(reg.coef_[[0, 3]], [0.5, 0.5], rtol=1e-8)
    assert_allclose(reg.predict(X), y, rtol=1e-10)
    assert np.all(np.isfinite(reg.coef_))


def test_float32_input_matches_float64_reference():
    """Check that float32 input is accumulated in float64: the answer is that of the
    float64 solve on the same (rounded) data."""
    X, y = load_diabetes(return_X_y=True)
    X32 = X.astype(np.float32)
    reg = TorchLinearRegressor(device="cpu").fit(X32, y)
    ref = LinearRegression().fit(X32.astype(np.float64), y)
    assert reg.coef_.dtype == np.float64
    assert reg.predict(X32).dtype == np.float64
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)


def test_loss_curve_is_the_objective_at_the_solution():
    """Check that loss_curve_ holds the standardized objective at the solution."""
    X, y = load_diabetes(return_X_y=True)
    alpha = 0.05
    reg = TorchLinearRegressor(alpha=alpha, device="cpu").fit(X, y)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    beta = reg.coef_ * X.std(axis=0) / y.std()
    residual = (y - y.mean()) / y.std() - z @ beta
    objective = 0.5 * np.mean(residual**2) + 0.5 * alpha * beta @ beta
    assert_allclose(reg.loss_curve_, [objective], rtol=1e-10)


def test_rank_and_singular_values():
    """Check that rank_ and singular_ are those of the standardized, centred
    data (numpy's SVD), that duplicated and constant columns lower the rank, and
    that gradient fits do not have them."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 3)) * [1.0, 10.0, 0.1]
    X = np.column_stack([base, 2 * base[:, 0], np.full(100, 4.0)])
    y = base @ [1.0, 2.0, 3.0]
    reg = TorchLinearRegressor(device="cpu").fit(X, y)
    Z = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    Z[:, 4] = 0.0
    assert_allclose(
        reg.singular_[:3], np.linalg.svd(Z, compute_uv=False)[:3], rtol=1e-10
    )
    assert reg.rank_ == 3
    full = TorchLinearRegressor(device="cpu").fit(base, y)
    assert full.rank_ == 3 and full.singular_.shape == (3,)
    gradient = TorchLinearRegressor(solver="lbfgs", device="cpu").fit(base, y)
    assert not hasattr(gradient, "singular_") and not hasattr(gradient, "rank_")
