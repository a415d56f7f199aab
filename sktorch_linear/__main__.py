"""Command line: ``python -m sktorch_linear demo``."""

import argparse
import io
import time

import joblib
import numpy as np
from sklearn.datasets import load_diabetes, make_regression
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline

from . import TorchLinearRegressor, TorchLinearRegressorCV, __version__


def _timed_fit(estimator, X, y, repeats):
    """Fit ``repeats`` times; return the estimator and the median fit time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return estimator, float(np.median(times))


def _compare(title, X, y, contenders, repeats):
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    reference, _ = _timed_fit(LinearRegression(), X_train, y_train, 1)
    best = np.mean((y_train - reference.predict(X_train)) ** 2)
    print(f"\n{title}: {X_train.shape[0]} training rows x {X.shape[1]} features")
    print(
        f"{'model':<34}{'test R2':>10}{'fit time':>12}{'train MSE gap':>15}"
        f"{'max |coef diff|':>18}"
    )
    for name, estimator in contenders:
        estimator, seconds = _timed_fit(estimator, X_train, y_train, repeats)
        score = estimator.score(X_test, y_test)
        gap = np.mean((y_train - estimator.predict(X_train)) ** 2) / best - 1
        diff = np.max(np.abs(estimator.coef_ - reference.coef_))
        print(
            f"{name:<34}{score:>10.6f}{seconds * 1e3:>10.1f}ms{gap:>15.2g}{diff:>18.3g}"
        )


def demo():
    """Fit, compare, tune, pickle and reload on bundled and synthetic data."""
    print(f"sktorch_linear {__version__}")
    X, y = load_diabetes(return_X_y=True)
    _compare(
        "Diabetes (bundled with scikit-learn)",
        X,
        y,
        [
            ("sklearn LinearRegression", LinearRegression()),
            ("TorchLinearRegressor exact", TorchLinearRegressor()),
            ("TorchLinearRegressor lbfgs", TorchLinearRegressor(solver="lbfgs")),
            (
                "TorchLinearRegressor adam",
                TorchLinearRegressor(
                    solver="adam", lr=0.05, batch_size=None, max_iter=3000, tol=1e-8
                ),
            ),
        ],
        repeats=5,
    )
    X_big, y_big = make_regression(
        n_samples=200_000, n_features=50, noise=1.0, random_state=0
    )
    _compare(
        "Synthetic (make_regression)",
        X_big,
        y_big,
        [
            ("sklearn LinearRegression", LinearRegression()),
            ("TorchLinearRegressor exact", TorchLinearRegressor()),
        ],
        repeats=3,
    )
    return _workflow(X, y)


def _workflow(X, y):
    """Missing values in a Pipeline, a grid search, a joblib round trip."""
    rng = np.random.default_rng(0)
    X_missing = X.copy()
    X_missing[rng.random(X.shape) < 0.1] = np.nan
    pipeline = make_pipeline(SimpleImputer(), TorchLinearRegressor())
    pipeline.fit(X_missing, y)
    print(
        "\nPipeline(SimpleImputer, TorchLinearRegressor) on diabetes with 10% "
        f"missing values: training R2 = {pipeline.score(X_missing, y):.4f}"
    )

    search = GridSearchCV(
        TorchLinearRegressor(),
        {"alpha": [0.0, 0.01, 0.1, 1.0], "solver": ["exact", "lbfgs"]},
        cv=5,
    ).fit(X, y)
    print(
        f"GridSearchCV over alpha x solver (8 candidates, 5 folds): best "
        f"{search.best_params_}, CV R2 = {search.best_score_:.4f}"
    )

    _tuning(X, y)

    buffer = io.BytesIO()
    joblib.dump(search.best_estimator_, buffer)
    buffer.seek(0)
    restored = joblib.load(buffer)
    same = np.array_equal(restored.predict(X), search.best_estimator_.predict(X))
    print(
        f"joblib round trip ({len(buffer.getvalue())} bytes): predictions "
        f"{'identical' if same else 'DIFFER'} after reloading"
    )
    return 0 if same else 1


def _tuning(X, y):
    """TorchLinearRegressorCV against GridSearchCV over the same candidates."""
    folds = KFold(5, shuffle=True, random_state=0)
    start = time.perf_counter()
    tuned = TorchLinearRegressorCV(alphas=30, l1_ratio=[0.1, 0.5, 1.0], cv=folds)
    tuned.fit(X, y)
    seconds = time.perf_counter() - start
    candidates = tuned.cv_results_["params"]
    start = time.perf_counter()
    reference = GridSearchCV(
        TorchLinearRegressor(),
        [{name: [value] for name, value in c.items()} for c in candidates],
        cv=folds,
    ).fit(X, y)
    reference_seconds = time.perf_counter() - start
    difference = np.max(
        np.abs(
            tuned.cv_results_["mean_test_score"]
            - reference.cv_results_["mean_test_score"]
        )
    )
    print(
        f"TorchLinearRegressorCV, {len(candidates)} candidates x 5 folds from one "
        f"pass: {seconds * 1e3:.0f} ms, alpha={tuned.alpha_:.4g}, "
        f"l1_ratio={tuned.l1_ratio_:g}, CV R2 = {tuned.best_score_:.4f}; "
        f"GridSearchCV over the same candidates: {reference_seconds * 1e3:.0f} ms, "
        f"largest difference of a mean score {difference:.1e}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sktorch_linear")
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.parse_args(argv)
    return demo()


if __name__ == "__main__":
    raise SystemExit(main())
