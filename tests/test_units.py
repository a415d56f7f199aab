"""Units of y: which objectives are equivariant (fitting ``c * y`` gives ``c``
times the coefficients and intercept), as the user guide lists them."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_regression

from sktorch_linear import TorchLinearRegressor

X, Y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
Y = Y + 20 * np.random.default_rng(0).standard_t(2, size=len(Y)) + 7.0

EQUIVARIANT = [
    {"loss": "squared_error"},
    {"loss": "squared_error", "alpha": 0.1},  # ridge
    {"loss": "huber"},
    {"loss": "huber", "alpha": 0.05, "l1_ratio": 1.0},
    {"loss": "absolute_error"},
    {"loss": "quantile", "quantile": 0.8},
    {"loss": "quantile", "quantile": 0.3, "alpha": 0.05, "l1_ratio": 1.0},
]
NOT_EQUIVARIANT = [
    {"loss": "squared_error", "alpha": 0.1, "l1_ratio": 1.0},  # as ElasticNet
    {"loss": "huber", "alpha": 0.5},  # as HuberRegressor(alpha > 0)
    {"loss": "quantile", "alpha": 0.5},
]


@pytest.mark.parametrize("c", [1e-6, 1e3])
@pytest.mark.parametrize("params", EQUIVARIANT)
def test_equivariant_objectives(params, c):
    """Check the objectives the user guide calls equivariant, at default
    settings otherwise (the exact solver of each loss)."""
    one = TorchLinearRegressor(device="cpu", **params).fit(X, Y)
    scaled = TorchLinearRegressor(device="cpu", **params).fit(X, c * Y)
    scale = np.abs(one.coef_).max()
    assert_allclose(scaled.coef_, c * one.coef_, rtol=1e-9, atol=1e-12 * c * scale)
    assert scaled.intercept_ == pytest.approx(c * one.intercept_, rel=1e-9)


@pytest.mark.parametrize("params", NOT_EQUIVARIANT)
def test_objectives_whose_penalty_is_in_units_of_y(params):
    """Check that the combinations the user guide calls not equivariant are not
    (the loss and the penalty scale with different powers of ``c``)."""
    one = TorchLinearRegressor(device="cpu", **params).fit(X, Y)
    scaled = TorchLinearRegressor(device="cpu", **params).fit(X, 1e3 * Y)
    assert not np.allclose(scaled.coef_, 1e3 * one.coef_, rtol=1e-3)
