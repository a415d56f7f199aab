"""Property-based tests of the exact solver against a reference least squares."""

import warnings

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sktorch_linear import TorchLinearRegressor


@st.composite
def problems(draw):
    """Least-squares problems with random sizes (n < p included), column scales,
    duplicated and constant columns, integer weights and dense or sparse X."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(2, 40))
    p = draw(st.integers(1, 8))
    X = rng.normal(size=(n, p)) * 10.0 ** rng.integers(-3, 4, size=p)
    if draw(st.booleans()) and p > 1:
        X[:, -1] = X[:, 0] * rng.uniform(0.5, 2.0)  # collinear pair
    if draw(st.booleans()):
        X[:, rng.integers(p)] = rng.normal() * 10.0 ** rng.integers(-3, 4)  # constant
    if draw(st.booleans()):
        X[rng.random((n, p)) < 0.5] = 0.0
    y = X @ rng.normal(size=p) + rng.normal(size=n) * 10.0 ** rng.integers(-3, 2)
    y *= 10.0 ** rng.integers(-3, 4)
    weights = None
    if draw(st.booleans()):
        weights = rng.integers(0, 4, size=n).astype(float)
        weights[rng.integers(n)] = 1.0
    sparse = draw(st.booleans())
    return X, y, weights, sparse


def _reference(X, y, weights):
    """Fitted values and effective condition number of weighted least squares
    with an intercept, from numpy's SVD-based lstsq on the centred data."""
    w = np.ones(len(y)) if weights is None else weights
    mean_x, mean_y = np.average(X, axis=0, weights=w), np.average(y, weights=w)
    root = np.sqrt(w)[:, None]
    Z = (X - mean_x) * root
    scale = np.linalg.norm(Z, axis=0)
    scale[scale == 0] = 1.0
    coef, _, _, singular = np.linalg.lstsq(Z / scale, (y - mean_y) * root[:, 0])
    kept = singular[singular > singular[0] * 1e-12] if singular.size else singular
    cond = kept[0] / kept[-1] if kept.size else 1.0
    return (X - mean_x) @ (coef / scale) + mean_y, cond


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_exact_fitted_values_match_reference_least_squares(problem):
    """Check that the exact solver's fitted values, dense or sparse, match a
    reference least-squares solve within a tolerance set by the condition number,
    are never NaN, and come without a warning."""
    X, y, weights, sparse = problem
    reg = TorchLinearRegressor(device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.fit(sp.csr_matrix(X) if sparse else X, y, sample_weight=weights)
    prediction = reg.predict(sp.csr_matrix(X) if sparse else X)
    assert np.all(np.isfinite(prediction))
    expected, cond = _reference(X, y, weights)
    seen = np.ones(len(y), bool) if weights is None else weights > 0
    spread = np.max(np.abs(y - y.mean())) + np.finfo(float).tiny
    tolerance = 1e-9 * spread * (1.0 + cond)
    assert_allclose(prediction[seen], expected[seen], rtol=0, atol=tolerance)
