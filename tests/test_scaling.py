"""The built-in standardization against scikit-learn's StandardScaler, and the
mapping of solutions between the standardized problem and the original units."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from sktorch_linear._data import Data
from sktorch_linear._moments import accumulate
from sktorch_linear._scaling import Scaling, constant_columns


def _scaling(X, y, w=None, *, fit_intercept=True, standardize=True):
    data = Data(X, y.reshape(len(y), -1), w)
    moments = accumulate(
        data, device=torch.device("cpu"), dtype=torch.float64, full=False
    )
    return Scaling.from_moments(
        moments, fit_intercept=fit_intercept, standardize=standardize
    )


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal([1e3, -5.0, 0.0], [1.0, 10.0, 1e-3], (300, 3))
    y = X @ np.array([2.0, -1.0, 300.0]) + 7.0 + rng.normal(size=300)
    return X, y, rng.uniform(0.1, 3.0, 300)


@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_match_standard_scaler(weighted):
    """Check the centres and scales against StandardScaler fitted with the same
    sample weights, and y's against NumPy's weighted moments."""
    X, y, w = _data()
    w = w if weighted else None
    scaling = _scaling(X, y, w)
    scaler = StandardScaler().fit(X, sample_weight=w)
    assert_allclose(scaling.x_mean, scaler.mean_, rtol=1e-13)
    assert_allclose(scaling.x_center, scaler.mean_, rtol=1e-13)
    assert_allclose(scaling.x_var, scaler.var_, rtol=1e-10)
    assert_allclose(scaling.x_scale, scaler.scale_, rtol=1e-10)
    y_mean = np.average(y, weights=w)
    assert_allclose(scaling.y_center, [y_mean], rtol=1e-13)
    y_std = np.sqrt(np.average((y - y_mean) ** 2, weights=w))
    assert_allclose(scaling.y_scale, [y_std], rtol=1e-10)


def test_without_intercept_nothing_is_centred():
    """Check that without an intercept the centres are zero and y is divided by
    its root-mean-square, while the data's means are still reported."""
    X, y, _ = _data()
    scaling = _scaling(X, y, fit_intercept=False)
    assert not scaling.x_center.any() and not scaling.y_center.any()
    assert_allclose(scaling.x_mean, X.mean(axis=0), rtol=1e-13)
    assert_allclose(scaling.y_scale, [np.sqrt(np.mean(y**2))], rtol=1e-12)
    assert not scaling.constant.any()  # only centring makes a column constant


def test_solution_maps_between_units():
    """Check that the least-squares solution of the standardized data, mapped
    back by ``unstandardize``, is LinearRegression's on the raw data, and that
    ``standardize`` inverts it."""
    X, y, _ = _data()
    scaling = _scaling(X, y)
    Z = (X - scaling.x_center) / scaling.x_scale
    t = (y - scaling.y_center) / scaling.y_scale
    standardized = LinearRegression().fit(Z, t)
    coef, intercept = scaling.unstandardize(
        standardized.coef_[None], np.array([standardized.intercept_])
    )
    reference = LinearRegression().fit(X, y)
    assert_allclose(coef[0], reference.coef_, rtol=1e-8)
    assert_allclose(intercept, [reference.intercept_], rtol=1e-8)
    back = scaling.standardize(coef, intercept)
    assert_allclose(back[0][0], standardized.coef_, rtol=1e-10)
    assert_allclose(back[1], [standardized.intercept_], atol=1e-10)


def test_penalty_scales_with_the_degree_of_the_loss():
    """Check that dividing y by its scale rescales the L1 strength for the
    losses of degree two (squared, Huber) and the L2 strength for those of
    degree one (absolute, quantile), the other staying as given."""
    X, y, _ = _data()
    scaling = _scaling(X, y)
    s = scaling.y_scale[0]
    l1, l2 = scaling.penalty("squared_error", 2.0, 0.25)
    assert_allclose([l1[0], l2[0]], [2.0 * 0.25 / s, 2.0 * 0.75])
    l1, l2 = scaling.penalty("quantile", 2.0, 0.25)
    assert_allclose([l1[0], l2[0]], [2.0 * 0.25, 2.0 * 0.75 * s])


def test_constant_columns():
    """Check that a column is constant when its variance is within the rounding
    of its mean (whatever the number of rows), and varies otherwise, even on
    rows of tiny relative weight."""
    eps = np.finfo(np.float64).eps
    mean = np.array([1e8, 1e8, 1.0, 0.0])
    var = np.array([0.0, (eps * 1e8) ** 2, 1e-20, 0.0])
    assert constant_columns(var, mean).tolist() == [True, True, False, True]
    X = np.column_stack([np.full(100, 3.0), np.r_[np.zeros(99), 1.0]])
    w = np.r_[np.ones(99), 1e-30]
    scaling = _scaling(X, X[:, 1] + 1.0, w)
    assert scaling.constant.tolist() == [True, False]


def _whitened(X, y, w=None, fit_intercept=True):
    data = Data(X, y.reshape(len(y), -1), w)
    moments = accumulate(data, device=torch.device("cpu"), dtype=torch.float64)
    scaling = Scaling.from_moments(
        moments, fit_intercept=fit_intercept, standardize=True
    )
    return scaling.whitened(moments, np.finfo(np.float64).eps)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_whitened_columns_are_uncorrelated_with_unit_variance(fit_intercept):
    """Check that the whitened, standardized X has identity (weighted) second
    moments about its centre, and that coefficients map back and forth."""
    X, y, w = _data()
    X = X @ np.array([[1.0, 0.9, 0.0], [0.0, 1.0, 0.0], [0.3, 0.0, 1.0]])  # correlated
    scaling = _whitened(X, y, w, fit_intercept)
    z = (X - scaling.x_center) / scaling.x_scale @ scaling.whitening
    assert_allclose(z.T @ (w[:, None] * z) / w.sum(), np.eye(3), atol=1e-10)
    coef, intercept = np.array([[1.0, -2.0, 3.0]]), np.array([4.0])
    back = scaling.unstandardize(*scaling.standardize(coef, intercept))
    assert_allclose(back[0], coef, rtol=1e-10)
    assert_allclose(back[1], intercept, rtol=1e-10)


def test_whitening_drops_directions_without_variance():
    """Check that a repeated column leaves one direction out (a zero column of
    the whitening), and that L-BFGS then finds the minimum-norm solution, as
    the exact solver does."""
    from sktorch_linear import TorchLinearRegressor

    X, y, _ = _data()
    X = np.c_[X, X[:, 1]]
    scaling = _whitened(X, y)
    assert np.sum(np.all(scaling.whitening == 0, axis=0)) == 1
    exact = TorchLinearRegressor(device="cpu").fit(X, y)
    lbfgs = TorchLinearRegressor(device="cpu", solver="lbfgs").fit(X, y)
    assert_allclose(lbfgs.coef_, exact.coef_, rtol=1e-6)
    assert_allclose(lbfgs.coef_[1], lbfgs.coef_[3], rtol=1e-6)
