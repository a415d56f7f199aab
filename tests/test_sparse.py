"""Sparse X: every solver, the same answers as dense, never densified whole."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from sktorch_linear import TorchLinearRegressor
from sktorch_linear._data import StandardizedRows

RNG = np.random.default_rng(0)
X_SPARSE = sp.random(400, 15, density=0.2, random_state=0, format="csr")
Y = X_SPARSE @ RNG.normal(size=15) + 0.1 * RNG.normal(size=400)
WEIGHTS = RNG.uniform(0.1, 2.0, 400)


@pytest.mark.parametrize("solver", ["exact", "lbfgs", "adam", "sgd"])
@pytest.mark.parametrize(
    "container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.coo_array]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_matches_dense(solver, container, weighted):
    """Check that every solver gives on sparse X the fit it gives on the same
    data dense, whatever the sparse container."""
    sample_weight = WEIGHTS if weighted else None
    params = {"solver": solver, "random_state": 0, "device": "cpu", "max_iter": 20}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_sparse = TorchLinearRegressor(**params).fit(
            container(X_SPARSE), Y, sample_weight=sample_weight
        )
        on_dense = TorchLinearRegressor(**params).fit(
            X_SPARSE.toarray(), Y, sample_weight=sample_weight
        )
    assert_allclose(on_sparse.coef_, on_dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(
        on_sparse.predict(container(X_SPARSE)), on_dense.predict(X_SPARSE.toarray())
    )


def test_sparse_exact_matches_linear_regression():
    """Check that the exact solver on sparse X matches LinearRegression's direct
    solve (on sparse X it would use the iterative, less accurate LSQR)."""
    reg = TorchLinearRegressor(device="cpu").fit(X_SPARSE, Y, sample_weight=WEIGHTS)
    ref = LinearRegression().fit(X_SPARSE.toarray(), Y, sample_weight=WEIGHTS)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-8)


def test_sparse_rows_densify_and_standardize_per_slice():
    """Check that StandardizedRows yields, per slice, the dense standardized rows, with
    constant columns zeroed, and permutes without densifying."""
    dense = X_SPARSE.toarray()
    mean, scale = dense.mean(axis=0), dense.std(axis=0)
    keep = np.ones(15)
    keep[3] = 0.0
    rows = StandardizedRows(
        X_SPARSE, *(torch.as_tensor(v) for v in (mean, scale, keep))
    )
    expected = (dense - mean) / scale * keep
    assert len(rows) == 400
    assert_allclose(rows[10:20].numpy(), expected[10:20], rtol=1e-12)
    order = torch.randperm(400, generator=torch.Generator().manual_seed(0))
    shuffled = rows.take(order)
    assert sp.issparse(shuffled.matrix)
    assert_allclose(shuffled[:5].numpy(), expected[order[:5].numpy()], rtol=1e-12)


def test_sparse_partial_fit_equals_fit():
    """Check that exact partial_fit over sparse chunks equals fit."""
    reg = TorchLinearRegressor(device="cpu")
    for start in range(0, 400, 150):
        reg.partial_fit(X_SPARSE[start : start + 150], Y[start : start + 150])
    ref = TorchLinearRegressor(device="cpu").fit(X_SPARSE, Y)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)


def test_sparse_rank_deficient_gives_the_dense_minimum_norm_solution():
    """Check that a rank-deficient sparse problem (a duplicated column) is solved
    without a warning, with the rank and the minimum-norm coefficients of the
    same problem dense."""
    X = sp.hstack([X_SPARSE, X_SPARSE[:, :1]], format="csr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = TorchLinearRegressor(device="cpu").fit(X, Y)
    dense = TorchLinearRegressor(device="cpu").fit(X.toarray(), Y)
    assert reg.solver_path_ == dense.solver_path_ == "qr"
    assert reg.rank_ == dense.rank_ == 15
    assert_allclose(reg.coef_, dense.coef_, rtol=1e-12)
    assert_allclose(reg.coef_[0], reg.coef_[-1], rtol=1e-12)
    ref = LinearRegression().fit(X_SPARSE.toarray(), Y)
    # Near-zero predictions carry the rounding of the larger ones (whose last
    # digits depend on the BLAS kernel): an absolute tolerance in units of y.
    atol = 1e-12 * np.abs(Y).max()
    assert_allclose(
        reg.predict(X), ref.predict(X_SPARSE.toarray()), rtol=1e-12, atol=atol
    )


def test_sparse_predict_returns_dense_float64():
    """Check that predict on sparse X returns a dense float64 array."""
    reg = TorchLinearRegressor(device="cpu").fit(X_SPARSE, Y)
    prediction = reg.predict(X_SPARSE.astype(np.float32))
    assert isinstance(prediction, np.ndarray) and prediction.dtype == np.float64
    assert_array_equal(prediction.shape, (400,))
