"""Hostile and extreme input, and concurrent use of fitted estimators."""

import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression

from sktorch_linear import TorchLinearRegressor

X, Y = make_regression(n_samples=60, n_features=4, noise=0.5, random_state=0)


def test_bool_only_X_is_used_as_numbers():
    """Check that a boolean X is treated as 0/1 numbers, as LinearRegression
    treats it."""
    X_bool = X > 0
    reg = TorchLinearRegressor(device="cpu").fit(X_bool, Y)
    assert_allclose(reg.coef_, LinearRegression().fit(X_bool, Y).coef_, rtol=1e-10)


def test_ragged_list_is_refused():
    """Check that a ragged nested list raises a ValueError about its shape."""
    ragged = [[1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(ValueError, match="inhomogeneous|setting an array element"):
        TorchLinearRegressor(device="cpu").fit(ragged, [1.0, 2.0, 3.0])


def test_single_row_fits_its_target():
    """Check that one row gives zero coefficients and its target as intercept."""
    reg = TorchLinearRegressor(device="cpu").fit(X[:1], Y[:1])
    assert_array_equal(reg.coef_, np.zeros(4))
    assert_allclose(reg.predict(X), np.full(60, Y[0]))


def test_pandas_nullable_with_missing_values_is_refused():
    """Check that pandas nullable columns holding pd.NA raise the NaN error that
    points to imputation."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([1, 2, None, 4], dtype="Int64"), "b": 1.5})
    with pytest.raises(ValueError, match="(?s)Input X contains NaN.*imputer"):
        TorchLinearRegressor(device="cpu").fit(frame, [1.0, 2.0, 3.0, 4.0])


def test_pandas_nullable_without_missing_values_fits():
    """Check that pandas nullable columns without missing values fit as floats."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array(X[:, 0]), "b": pd.array([1, 2] * 30)})
    reg = TorchLinearRegressor(device="cpu").fit(frame, Y)
    ref = LinearRegression().fit(frame.to_numpy(dtype=float), Y)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)


def test_reordered_or_renamed_columns_at_predict():
    """Check that predict refuses reordered or renamed columns and warns when the
    names are missing, as scikit-learn estimators do."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=list("abcd"))
    reg = TorchLinearRegressor(device="cpu").fit(frame, Y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        reg.predict(frame[list("dcba")])
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        reg.predict(frame.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        reg.predict(X)


@pytest.mark.slow
def test_hundred_million_ones_do_not_lose_count():
    """Check that a column of 10^8 ones (float32) is counted exactly: the
    statistics accumulate in float64, where float32 sums stall at 2^24."""
    n = 10**8
    X_ones = np.ones((n, 1), dtype=np.float32)
    y = np.full(n, 3.0, dtype=np.float32)
    reg = TorchLinearRegressor(device="cpu").fit(X_ones, y)
    assert reg.moments_.weight_sum == n
    assert reg.scaler_.mean_[0] == 1.0
    assert reg.coef_[0] == 0.0
    assert reg.intercept_ == 3.0


def test_huge_constant_column_is_recognised():
    """Check that a constant column of 1e150 is recognised as constant."""
    X_big = np.column_stack([X, np.full(60, 1e150)])
    reg = TorchLinearRegressor(device="cpu").fit(X_big, Y)
    assert reg.coef_[-1] == 0.0
    assert_allclose(reg.coef_[:4], LinearRegression().fit(X, Y).coef_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["exact", "lbfgs"])
def test_extreme_column_scales(solver):
    """Check that columns scaled from 1e-150 to 1e150 and y of 1e12 give the
    coefficients of the unscaled problem, rescaled."""
    scales = np.array([1e-150, 1e-50, 1e50, 1e150])
    reg = TorchLinearRegressor(solver=solver, device="cpu").fit(X * scales, Y * 1e12)
    ref = LinearRegression().fit(X, Y)
    assert_allclose(reg.coef_ * scales / 1e12, ref.coef_, rtol=1e-6)
    assert_allclose(reg.intercept_ / 1e12, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert np.all(np.isfinite(reg.predict(X * scales)))


def test_values_near_float_max_are_refused_clearly():
    """Check that values near the largest float64 raise the overflow error."""
    with pytest.raises(FloatingPointError, match="overflows float64.*Rescale"):
        TorchLinearRegressor(device="cpu").fit(X * 1e307, Y)


def test_read_only_memmap(tmp_path):
    """Check that read-only memory-mapped input fits and predicts as an array."""
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    reg = TorchLinearRegressor(device="cpu").fit(mapped, Y)
    assert_allclose(reg.predict(mapped), LinearRegression().fit(X, Y).predict(X))


def test_predictions_from_many_threads_match_serial_calls():
    """Check that 8 threads predicting with one fitted estimator get the answers
    of serial calls."""
    X_big, y_big = make_regression(n_samples=5000, n_features=20, random_state=1)
    reg = TorchLinearRegressor(device="cpu").fit(X_big, y_big)
    chunks = np.array_split(X_big, 8)
    expected = [reg.predict(chunk) for chunk in chunks]
    results = [None] * 8

    def work(i):
        for _ in range(20):
            results[i] = reg.predict(chunks[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        assert_array_equal(got, want)


@pytest.mark.parametrize("solver", ["exact", "adam"])
def test_fit_in_one_thread_while_another_predicts(solver):
    """Check that fitting one estimator while another thread predicts with a
    second one works and changes nothing of the second."""
    X_big, y_big = make_regression(n_samples=3000, n_features=10, random_state=2)
    fitted = TorchLinearRegressor(device="cpu").fit(X_big, y_big)
    expected = fitted.predict(X_big)
    errors, predictions = [], []

    def predict():
        try:
            for _ in range(50):
                predictions.append(fitted.predict(X_big))
        except Exception as exc:  # reported below
            errors.append(exc)

    other = TorchLinearRegressor(solver=solver, max_iter=5, device="cpu")
    thread = threading.Thread(target=predict)
    thread.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other.fit(X_big, 2 * y_big)
    thread.join()
    assert not errors
    for prediction in predictions:
        assert_array_equal(prediction, expected)
    assert np.all(np.isfinite(other.coef_))


def test_float32_without_enough_precision_warns():
    """Check that float32 X whose columns vary far below their magnitude warns
    that float32 cannot resolve them, and float64 or centred data do not."""
    rng = np.random.default_rng(0)
    X_far = (1e6 + rng.normal(size=(200, 2))).astype(np.float32)
    y = rng.normal(size=200)
    with pytest.warns(UserWarning, match="Column 0 of the float32 X.*float64"):
        TorchLinearRegressor(device="cpu").fit(X_far, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TorchLinearRegressor(device="cpu").fit(X_far.astype(np.float64), y)
        TorchLinearRegressor(device="cpu").fit(X_far - X_far.mean(axis=0), y)
