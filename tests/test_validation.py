"""The bad-input catalogue: what TorchLinearRegressor refuses, and how it says so."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sktorch_linear import TorchLinearRegressor

SOLVERS = ["exact", "lbfgs", "adam", "sgd"]


def _data(n_samples=20, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = X @ np.arange(1.0, n_features + 1) + 0.1 * rng.randn(n_samples)
    return X, y


# Non-finite input


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
        (-np.inf, "Input X contains infinity"),
    ],
)
def test_fit_non_finite_X(value, message):
    """Check that fit refuses X with NaN or an infinity."""
    X, y = _data()
    X[3, 1] = value
    reg = TorchLinearRegressor(device="cpu")
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_fit_nan_X_suggests_imputation():
    """Check that the NaN-in-X error points the user to imputation."""
    X, y = _data()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="using an imputer transformer"):
        TorchLinearRegressor(device="cpu").fit(X, y)


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "Input y contains NaN"),
        (np.inf, "Input y contains infinity"),
        (-np.inf, "Input y contains infinity"),
    ],
)
def test_fit_non_finite_y(value, message):
    """Check that fit refuses y with NaN or an infinity."""
    X, y = _data()
    y[3] = value
    reg = TorchLinearRegressor(device="cpu")
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_fit_non_finite_y_multi_target():
    """Check that fit refuses a 2-D y with a NaN in its second column."""
    X, y = _data()
    Y = np.column_stack([y, y])
    Y[5, 1] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        TorchLinearRegressor(device="cpu").fit(X, Y)


@pytest.mark.parametrize(
    "value, message",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_predict_non_finite_X(value, message):
    """Check that predict refuses X with NaN or an infinity."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu").fit(X, y)
    X_test = X[:5].copy()
    X_test[2, 0] = value
    with pytest.raises(ValueError, match=message):
        reg.predict(X_test)


# Empty input


@pytest.mark.parametrize("shape, what", [((0, 3), "sample"), ((20, 0), "feature")])
def test_fit_empty_X(shape, what):
    """Check that fit refuses X with no rows or no columns."""
    X = np.empty(shape)
    y = np.ones(shape[0])
    message = (
        f"Found array with 0 {what}(s) (shape={shape}) while a minimum of 1 is "
        "required by TorchLinearRegressor"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        TorchLinearRegressor(device="cpu").fit(X, y)


def test_predict_empty_X():
    """Check that predict refuses X with no rows."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        reg.predict(X[:0])


# Shapes


def test_fit_1d_X():
    """Check that a 1-D X is refused with advice on how to reshape it."""
    X, y = _data()
    with pytest.raises(ValueError, match=r"Reshape your data either using"):
        TorchLinearRegressor(device="cpu").fit(X[:, 0], y)


def test_predict_1d_X():
    """Check that predict on a single 1-D sample is refused with reshape advice."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"array.reshape\(1, -1\)"):
        reg.predict(X[0])


@pytest.mark.parametrize("which", ["X", "y"])
def test_fit_3d_input(which):
    """Check that a 3-D X or y is refused, stating that at most 2-D is allowed."""
    X, y = _data()
    if which == "X":
        X = X[:, :, np.newaxis]
    else:
        y = y[:, np.newaxis, np.newaxis]
    with pytest.raises(ValueError, match="Found array with dim 3, while dim <= 2"):
        TorchLinearRegressor(device="cpu").fit(X, y)


def test_fit_inconsistent_n_samples():
    """Check that a y whose length differs from the rows of X is refused."""
    X, y = _data()
    with pytest.raises(
        ValueError, match=re.escape("inconsistent numbers of samples: [20, 19]")
    ):
        TorchLinearRegressor(device="cpu").fit(X, y[:-1])


@pytest.mark.parametrize("n_weights", [19, 21])
def test_fit_sample_weight_wrong_length(n_weights):
    """Check that sample_weight of the wrong length is refused."""
    X, y = _data()
    with pytest.raises(
        ValueError,
        match=re.escape(f"sample_weight.shape == ({n_weights},), expected (20,)"),
    ):
        TorchLinearRegressor(device="cpu").fit(X, y, sample_weight=np.ones(n_weights))


@pytest.mark.parametrize("shape", [(20, 1), (20, 2), (1, 20)])
def test_fit_sample_weight_2d(shape):
    """Check that a 2-D sample_weight is refused, asking for a 1-D array."""
    X, y = _data()
    with pytest.raises(
        ValueError, match="Expected either a scalar value or a 1D array of length 20"
    ):
        TorchLinearRegressor(device="cpu").fit(X, y, sample_weight=np.ones(shape))


# Dtypes


@pytest.mark.parametrize("where", ["fit", "predict"])
def test_string_X(where):
    """Check that an object X holding strings is refused."""
    X, y = _data()
    X_str = X.astype(object)
    X_str[4, 2] = "a"
    reg = TorchLinearRegressor(device="cpu")
    if where == "predict":
        reg.fit(X, y)
    with pytest.raises(ValueError, match="could not convert string to float: 'a'"):
        if where == "fit":
            reg.fit(X_str, y)
        else:
            reg.predict(X_str)


def test_fit_string_y():
    """Check that a y of strings is refused."""
    X, y = _data()
    y_str = np.array(["a"] * X.shape[0], dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float"):
        TorchLinearRegressor(device="cpu").fit(X, y_str)


@pytest.mark.parametrize("where", ["fit", "predict"])
def test_complex_X(where):
    """Check that a complex X is refused."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu")
    if where == "predict":
        reg.fit(X, y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        if where == "fit":
            reg.fit(X + 1j, y)
        else:
            reg.predict(X + 1j)


# Sample weights


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_negative_sample_weight(solver):
    """Check that a negative sample weight is refused by every solver."""
    X, y = _data()
    sample_weight = np.ones(X.shape[0])
    sample_weight[7] = -0.5
    reg = TorchLinearRegressor(device="cpu", solver=solver)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        reg.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_all_zero_sample_weight(solver):
    """Check that all-zero sample weights are refused by every solver."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu", solver=solver)
    with pytest.raises(
        ValueError, match="Sample weights must contain at least one non-zero number"
    ):
        reg.fit(X, y, sample_weight=np.zeros(X.shape[0]))


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "Input sample_weight contains NaN"),
        (np.inf, "Input sample_weight contains infinity"),
    ],
)
def test_fit_non_finite_sample_weight(value, message):
    """Check that a NaN or infinite sample weight is refused."""
    X, y = _data()
    sample_weight = np.ones(X.shape[0])
    sample_weight[2] = value
    with pytest.raises(ValueError, match=message):
        TorchLinearRegressor(device="cpu").fit(X, y, sample_weight=sample_weight)


# Fitted state


@pytest.mark.parametrize("solver", ["exact", "lbfgs"])
@pytest.mark.parametrize("n_features_predict", [2, 4])
def test_predict_wrong_n_features(solver, n_features_predict):
    """Check that predict refuses X with a different number of features than fit."""
    X, y = _data(n_features=3)
    reg = TorchLinearRegressor(device="cpu", solver=solver).fit(X, y)
    X_test, _ = _data(n_features=n_features_predict)
    with pytest.raises(
        ValueError,
        match=(
            f"X has {n_features_predict} features, but TorchLinearRegressor is "
            "expecting 3 features as input"
        ),
    ):
        reg.predict(X_test)


@pytest.mark.parametrize("method", ["predict", "score"])
def test_not_fitted(method):
    """Check that predict and score before fit raise NotFittedError."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu")
    args = (X,) if method == "predict" else (X, y)
    with pytest.raises(NotFittedError, match="Call 'fit' with appropriate arguments"):
        getattr(reg, method)(*args)


# Parameters


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": -1},
        {"alpha": "1"},
        {"solver": "foo"},
        {"solver": "Exact"},
        {"lr": 0},
        {"lr": -0.1},
        {"max_iter": 0},
        {"max_iter": 1.5},
        {"tol": -1e-4},
        {"n_iter_no_change": 0},
        {"batch_size": 0},
        {"batch_size": "full"},
        {"dtype": "float16"},
        {"dtype": np.float32},
        {"device": 0},
        {"fit_intercept": "yes"},
        {"standardize": None},
        {"verbose": -1},
    ],
)
def test_invalid_parameters(params):
    """Check that invalid parameters raise InvalidParameterError at fit."""
    X, y = _data()
    (name,) = params
    # Construction never validates: scikit-learn's convention.
    reg = TorchLinearRegressor(**{"device": "cpu", **params})
    with pytest.raises(
        InvalidParameterError,
        match=f"The '{name}' parameter of TorchLinearRegressor must be .* Got",
    ):
        reg.fit(X, y)


@pytest.mark.parametrize("batch_size", [1, 10, 200])
def test_lbfgs_with_integer_batch_size(batch_size):
    """Check that solver='lbfgs' with an integer batch_size is refused with advice."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu", solver="lbfgs", batch_size=batch_size)
    with pytest.raises(
        ValueError,
        match=(
            rf"batch_size={batch_size} was given\. Use batch_size=None \(or "
            r"'auto'\), or solver='adam'/'sgd' for mini-batches"
        ),
    ):
        reg.fit(X, y)


@pytest.mark.parametrize("batch_size", [None, "auto"])
def test_lbfgs_with_full_batch_size(batch_size):
    """Check that solver='lbfgs' accepts batch_size=None and 'auto'."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu", solver="lbfgs", batch_size=batch_size)
    reg.fit(X, y)
    exact = TorchLinearRegressor(device="cpu", solver="exact").fit(X, y)
    assert_allclose(reg.coef_, exact.coef_, rtol=1e-5)


# Divergence and overflow


def _unscaled_regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return X * 1e3, y


def test_divergence_raises_and_leaves_an_unfitted_estimator_unfitted():
    """Check that a diverging SGD raises FloatingPointError and leaves no fit
    on an estimator that had none."""
    X, y = _unscaled_regression()
    reg = TorchLinearRegressor(
        device="cpu", solver="sgd", random_state=0, lr=1e3, standardize=False
    )
    with pytest.raises(
        FloatingPointError, match=r"the solver diverged \(lr=1000\)\. Lower lr"
    ):
        reg.fit(X, y)

    # No stale or non-finite state survives the failed fit: every prediction path
    # refuses to run instead of returning NaN.
    assert not hasattr(reg, "coef_")
    assert not hasattr(reg, "intercept_")
    with pytest.raises(NotFittedError):
        reg.predict(X)
    with pytest.raises(NotFittedError):
        reg.score(X, y)


def _failing_calls():
    X, y = _unscaled_regression()
    nan = X.copy()
    nan[3, 1] = np.nan
    return {
        "nan_X": ({}, (nan, y), {}, ValueError),
        "wrong_shape": ({}, (X[:, :2], y[:-1]), {}, ValueError),
        "negative_weights": (
            {},
            (X, y),
            {"sample_weight": -np.ones(len(y))},
            ValueError,
        ),
        "missing_device": ({"device": "cuda:9"}, (X, y), {}, ValueError),
        "bad_quantiles": (
            {"loss": "quantile", "quantile": [0.1, 1.5]},
            (X, y),
            {},
            ValueError,
        ),
        "diverged": (
            {"solver": "sgd", "lr": 1e3, "standardize": False, "random_state": 0},
            (X, y),
            {},
            FloatingPointError,
        ),
    }


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("failure", list(_failing_calls()))
def test_failed_fit_leaves_the_estimator_exactly_as_it_was(failure, method):
    """Check that a fit or partial_fit that raises on bad data, a missing device,
    bad quantiles or divergence leaves a fitted estimator exactly as it was:
    the same attributes, holding the same objects, and the same predictions
    (as scikit-learn's estimators do)."""
    params, args, kwargs, error = _failing_calls()[failure]
    X, y = _unscaled_regression()
    reg = TorchLinearRegressor(device="cpu", solver="sgd", random_state=0)
    reg.fit(X / 1e3, y)
    before = dict(vars(reg))
    prediction = reg.predict(X)
    reg.set_params(**params)
    before.update(reg.get_params())
    with pytest.raises(error):
        getattr(reg, method)(*args, **kwargs)
    after = vars(reg)
    assert after.keys() == before.keys()
    assert all(after[name] is value for name, value in before.items())
    assert_allclose(reg.predict(X), prediction, rtol=0, atol=0)


def test_divergence_with_finite_loss_is_detected():
    """Check that an SGD loss blowing up while finite is refused, not converged."""
    X, y = _unscaled_regression()
    # With the default lr the loss climbs from 0.5 towards ~1e200 and stays finite:
    # the solver must not stop there and call the result converged.
    reg = TorchLinearRegressor(
        device="cpu", solver="sgd", standardize=False, random_state=0
    )
    with pytest.raises(FloatingPointError, match="Lower lr"):
        reg.fit(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("target", ["X", "y"])
def test_overflowing_data_raises(solver, target):
    """Check that data whose variance overflows float64 raise FloatingPointError
    before any training, and leave the estimator unfitted."""
    X, y = _data()
    if target == "X":
        X = X * 1e200
    else:
        y = y * 1e200
    reg = TorchLinearRegressor(device="cpu", solver=solver)
    with pytest.raises(
        FloatingPointError, match=f"variance of {target} overflows.*Rescale"
    ):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        reg.predict(X)


# Property: finite input gives finite output


def _finite_dataset(kind):
    rng = np.random.RandomState(42)
    X = rng.randn(30, 4)
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.randn(30)
    sample_weight = None
    if kind == "constant column":
        X[:, 1] = 5.0
    elif kind == "duplicated column":
        X[:, 2] = X[:, 0]
    elif kind == "more features than samples":
        X = rng.randn(8, 20)
        y = rng.randn(8)
    elif kind == "constant y":
        y = np.full(X.shape[0], 3.0)
    elif kind == "single sample":
        X, y = X[:1], y[:1]
    elif kind == "two targets":
        y = np.column_stack([y, -y + 1.0])
    elif kind == "integer X":
        X = rng.randint(0, 5, size=X.shape)
    elif kind == "float32 X":
        X = X.astype(np.float32)
    elif kind == "zero weights":
        sample_weight = rng.uniform(0, 2, size=X.shape[0])
        sample_weight[::3] = 0.0
    elif kind == "wide range":
        X = X * np.array([1e-6, 1.0, 1e3, 1e6])
    return X, y, sample_weight


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "kind",
    [
        "regression",
        "constant column",
        "duplicated column",
        "more features than samples",
        "constant y",
        "single sample",
        "two targets",
        "integer X",
        "float32 X",
        "zero weights",
        "wide range",
    ],
)
def test_finite_input_gives_finite_predictions(solver, kind):
    """Check that every solver predicts finite values on ordinary finite input."""
    X, y, sample_weight = _finite_dataset(kind)
    reg = TorchLinearRegressor(device="cpu", solver=solver, max_iter=30, random_state=0)
    reg.fit(X, y, sample_weight=sample_weight)
    y_pred = reg.predict(X)

    assert y_pred.shape == y.shape
    assert y_pred.dtype == np.float64
    assert np.all(np.isfinite(y_pred))
    assert np.all(np.isfinite(reg.coef_))
    assert np.all(np.isfinite(reg.intercept_))
    assert np.all(np.isfinite(reg.loss_curve_))


def test_convergence_warning_tells_what_to_do():
    """Check that hitting max_iter warns with advice on what to change."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu", solver="adam", max_iter=2)
    with pytest.warns(
        ConvergenceWarning,
        match="Use solver='exact' for the optimum, or increase max_iter",
    ):
        reg.fit(X, y)
    assert np.all(np.isfinite(reg.predict(X)))


def test_warnings_point_at_the_callers_line():
    """Check that the package's warnings (convergence, float32 resolution)
    name the line of the user's code that called fit, not the package's."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    X32 = (X + 1e6).astype(np.float32)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        TorchLinearRegressor(solver="adam", max_iter=2, device="cpu").fit(X, X[:, 0])
        TorchLinearRegressor(alpha=1e-3, l1_ratio=1.0, max_iter=1).fit(X, X[:, 0])
        TorchLinearRegressor(device="cpu").fit(X32, X[:, 0])
        TorchLinearRegressor(solver="lbfgs", device="cpu").fit(X32, X[:, 0])
    assert len(record) >= 4
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}
