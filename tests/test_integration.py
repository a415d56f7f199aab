"""TorchLinearRegressor inside scikit-learn's machinery, pickled, in other processes."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktorch_linear import TorchLinearRegressor

X, y = load_diabetes(return_X_y=True)
WEIGHTS = np.random.default_rng(0).uniform(0.1, 3.0, X.shape[0])


def test_pipeline_with_imputer_matches_linear_regression():
    """Check that the estimator works as the last step of a Pipeline with missing
    values imputed before it."""
    X_missing = X.copy()
    X_missing[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    ours = make_pipeline(SimpleImputer(), TorchLinearRegressor(device="auto"))
    ref = make_pipeline(SimpleImputer(), LinearRegression())
    assert_allclose(
        ours.fit(X_missing, y).predict(X_missing),
        ref.fit(X_missing, y).predict(X_missing),
        rtol=1e-8,
    )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_alpha_and_solver(n_jobs):
    """Check that GridSearchCV (in-process and in worker processes) ranks the
    candidates as Ridge would, and selects the alpha that Ridge's search selects.

    Ridge's alpha on standardized columns is ours times the rows of the training
    fold: 353 or 354 of these 442 rows, 0.8 * 442 = 353.6 within 0.2% of both.
    """
    grid = {"alpha": [0.0, 0.01, 1.0], "solver": ["exact", "lbfgs"]}
    cv = KFold(5, shuffle=True, random_state=0)
    search = GridSearchCV(
        TorchLinearRegressor(device="cpu"), grid, cv=cv, n_jobs=n_jobs
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    for params, score in zip(search.cv_results_["params"], scores):
        ridge = make_pipeline(
            StandardScaler(), Ridge(alpha=params["alpha"] * 0.8 * X.shape[0])
        )
        expected = cross_val_score(ridge, X, y, cv=cv).mean()
        assert_allclose(score, expected, rtol=1e-3)
    to_ridge = {alpha: alpha * 0.8 * X.shape[0] for alpha in grid["alpha"]}
    ridge_search = GridSearchCV(
        make_pipeline(StandardScaler(), Ridge()),
        {"ridge__alpha": list(to_ridge.values())},
        cv=cv,
    )
    ridge_search.fit(X, y)
    ridge_best = ridge_search.best_params_["ridge__alpha"]
    assert to_ridge[search.best_params_["alpha"]] == ridge_best
    assert isinstance(search.best_estimator_, TorchLinearRegressor)


def test_cross_val_score_matches_linear_regression():
    """Check that cross_val_score gives LinearRegression's fold scores."""
    cv = KFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(TorchLinearRegressor(device="cpu"), X, y, cv=cv)
    ref = cross_val_score(LinearRegression(), X, y, cv=cv)
    assert_allclose(ours, ref, rtol=1e-8)


def test_clone_copies_parameters_not_fit():
    """Check that clone keeps the parameters and drops the fitted state."""
    reg = TorchLinearRegressor(alpha=0.3, solver="lbfgs", device="cpu").fit(X, y)
    copy = clone(reg)
    assert copy.get_params() == reg.get_params()
    assert not hasattr(copy, "coef_")


@pytest.mark.parametrize("solver", ["exact", "lbfgs"])
def test_pandas_input_keeps_feature_names(solver):
    """Check that DataFrame input records feature names and that predict warns
    when they are missing, as scikit-learn estimators do."""
    pd = pytest.importorskip("pandas")
    frame = load_diabetes(as_frame=True).frame
    X_df, y_series = frame.drop(columns="target"), frame["target"]
    reg = TorchLinearRegressor(solver=solver, device="cpu").fit(X_df, y_series)
    assert_array_equal(reg.feature_names_in_, X_df.columns)
    assert_array_equal(reg.scaler_.feature_names_in_, X_df.columns)
    assert reg.predict(X_df).shape == (len(X_df),)
    with pytest.warns(UserWarning, match="fitted with feature names"):
        reg.predict(X_df.to_numpy())
    with pytest.raises(ValueError, match="feature names should match"):
        reg.predict(X_df[X_df.columns[::-1]])
    assert isinstance(pd.DataFrame(reg.scaler_.transform(X_df)), pd.DataFrame)


@pytest.mark.parametrize("solver", ["exact", "adam"])
def test_sample_weight_routed_through_pipeline_and_grid_search(solver):
    """Check that metadata routing passes sample_weight to fit inside a Pipeline
    and GridSearchCV, giving the weighted fit."""
    params = {"solver": solver, "device": "cpu", "random_state": 0, "max_iter": 20}
    with (
        sklearn.config_context(enable_metadata_routing=True),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        step = TorchLinearRegressor(**params).set_fit_request(sample_weight=True)
        pipe = make_pipeline(SimpleImputer(), step).fit(X, y, sample_weight=WEIGHTS)
        direct = TorchLinearRegressor(**params).fit(X, y, sample_weight=WEIGHTS)
        assert_allclose(pipe.predict(X), direct.predict(X), rtol=1e-10)
        unweighted = TorchLinearRegressor(**params).fit(X, y)
        assert not np.allclose(pipe.predict(X), unweighted.predict(X), rtol=1e-6)

        step = (
            TorchLinearRegressor(**params)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True)
        )
        search = GridSearchCV(step, {"alpha": [0.0, 0.1]}, cv=3)
        search.fit(X, y, sample_weight=WEIGHTS)
        best = TorchLinearRegressor(**params, alpha=search.best_params_["alpha"])
        best.fit(X, y, sample_weight=WEIGHTS)
        assert_allclose(search.best_estimator_.predict(X), best.predict(X), rtol=1e-10)


def _run_python(code):
    """Run ``code`` in a fresh interpreter; return its standard output."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("solver", ["exact", "lbfgs", "adam"])
def test_joblib_round_trip_in_fresh_process(solver, tmp_path):
    """Check that a joblib-dumped model predicts identically in a new process."""
    reg = TorchLinearRegressor(solver=solver, device="cpu", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        reg.fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(reg, path)
    data, predictions = tmp_path / "X.npy", tmp_path / "pred.npy"
    np.save(data, X)
    out = _run_python(
        f"""
        import joblib, numpy as np
        model = joblib.load({str(path)!r})
        np.save({str(predictions)!r}, model.predict(np.load({str(data)!r})))
        """
    )
    assert out == ""
    assert_array_equal(np.load(predictions), reg.predict(X))


@pytest.mark.parametrize("device", ["cuda:0", "mps"])
@pytest.mark.parametrize(
    "params",
    [
        {"solver": "exact"},
        {"solver": "lbfgs"},
        {"solver": "adam", "early_stopping": True},
    ],
    ids=["exact", "lbfgs", "adam-early-stopping"],
)
def test_model_trained_on_accelerator_loads_without_it(device, params, tmp_path):
    """Check that a model whose net and record say it was trained on CUDA or MPS
    unpickles, without warnings, and predicts in a process where torch has no such
    device (an early-stopped one too: it keeps no held-out data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", **params).fit(X, y)
    reg.device_ = device
    if reg.net_ is not None:
        reg.net_.device = device  # what a net trained there records
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(reg))
    out = _run_python(
        f"""
        import os
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        import pickle, torch
        from sklearn.datasets import load_diabetes
        assert not torch.cuda.is_available()
        assert not torch.backends.mps.is_available()
        model = pickle.loads(open({str(path)!r}, "rb").read())
        X, y = load_diabetes(return_X_y=True)
        print(model.device_, model.score(X, y))
        """
    )
    recorded, score = out.split()
    assert recorded == device
    assert_allclose(float(score), reg.score(X, y), rtol=1e-12)
