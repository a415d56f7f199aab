"""Losses, penalties, early stopping, streaming and warm starts against references."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, QuantileRegressor
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback, LRScheduler

from sktorch_linear import TorchLinearRegressor

X_RAW, Y = load_diabetes(return_X_y=True)
X_STD = StandardScaler().fit_transform(X_RAW)
WEIGHTS = np.random.default_rng(0).uniform(0.1, 3.0, len(Y))


# Full-batch Adam with patience: piecewise-linear objectives stall on plateaus of
# the best loss long before they stop improving on average.
NON_SMOOTH = {
    "standardize": False,
    "solver": "adam",
    "lr": 0.01,
    "batch_size": None,
    "max_iter": 20_000,
    "tol": 0.0,
    "n_iter_no_change": 100,
    "random_state": 0,
    "device": "cpu",
}


def _weights(weighted):
    return WEIGHTS if weighted else None


def _mean(values, sample_weight):
    return np.average(values, weights=sample_weight)


@pytest.mark.parametrize("weighted", [False, True])
def test_quantile_objective_matches_quantile_regressor(weighted):
    """Check that the quantile loss reaches the objective of QuantileRegressor's
    linear program to 1e-4 relative."""
    sample_weight = _weights(weighted)
    ref = QuantileRegressor(quantile=0.7, alpha=0.0, solver="highs")
    ref.fit(X_STD, Y, sample_weight=sample_weight)
    reg = TorchLinearRegressor(loss="quantile", quantile=0.7, **NON_SMOOTH)
    reg.fit(X_STD, Y, sample_weight=sample_weight)

    def pinball(model):
        r = Y - model.predict(X_STD)
        return _mean(np.maximum(0.7 * r, -0.3 * r), sample_weight)

    assert abs(pinball(reg) / pinball(ref) - 1) < 1e-4
    assert_allclose(reg.loss_curve_[-1] * reg._result.scaling.y_scale[0], pinball(reg))


def test_absolute_error_is_the_median_regression():
    """Check that absolute_error minimises the same objective as the 0.5 quantile
    (up to the factor 2)."""
    absolute = TorchLinearRegressor(loss="absolute_error", **NON_SMOOTH).fit(X_STD, Y)
    ref = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X_STD, Y)
    mae = np.mean(np.abs(Y - absolute.predict(X_STD)))
    assert abs(mae / np.mean(np.abs(Y - ref.predict(X_STD))) - 1) < 1e-4


def _elastic_net_objective(model, X, alpha, l1_ratio, sample_weight):
    r = Y - model.predict(X)
    coef = model.coef_
    return (
        0.5 * _mean(r**2, sample_weight)
        + alpha * l1_ratio * np.abs(coef).sum()
        + 0.5 * alpha * (1 - l1_ratio) * coef @ coef
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_elastic_net_matches_sklearn(weighted, l1_ratio):
    """Check that the exact solver's coordinate descent reaches ElasticNet's
    objective to 1e-6 relative, with the same exact zeros."""
    sample_weight = _weights(weighted)
    alpha = 3.0
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    ref.fit(X_STD, Y, sample_weight=sample_weight)
    reg = TorchLinearRegressor(
        alpha=alpha, l1_ratio=l1_ratio, standardize=False, max_iter=10_000, device="cpu"
    ).fit(X_STD, Y, sample_weight=sample_weight)
    assert reg.solver_path_ == "coordinate_descent"
    assert np.any(ref.coef_ == 0)
    assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)
    ours = _elastic_net_objective(reg, X_STD, alpha, l1_ratio, sample_weight)
    theirs = _elastic_net_objective(ref, X_STD, alpha, l1_ratio, sample_weight)
    assert abs(ours / theirs - 1) < 1e-6


def test_elastic_net_penalises_standardized_coefficients():
    """Check that with standardize=True the penalty applies to the coefficients of
    the standardized data, as ElasticNet after a StandardScaler."""
    ref = ElasticNet(alpha=0.5, l1_ratio=0.5, tol=1e-12, max_iter=100_000)
    ref.fit(X_STD, Y)
    reg = TorchLinearRegressor(alpha=0.5, l1_ratio=0.5, device="cpu").fit(X_RAW, Y)
    assert_allclose(reg.coef_ * X_RAW.std(axis=0), ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(reg.predict(X_RAW), ref.predict(X_STD), rtol=1e-7)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_gradient_l1_gives_exact_zeros(solver):
    """Check that the proximal L1 step of Adam and SGD gives exact zeros where
    ElasticNet has them, and nearly its objective."""
    alpha, l1_ratio = 1.0, 1.0
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    ref.fit(X_STD, Y)
    reg = TorchLinearRegressor(
        alpha=alpha,
        l1_ratio=l1_ratio,
        standardize=False,
        solver=solver,
        lr=0.05 if solver == "adam" else 0.1,
        batch_size=None,
        max_iter=5000,
        tol=1e-9,
        random_state=0,
        device="cpu",
    ).fit(X_STD, Y)
    assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)
    ours = _elastic_net_objective(reg, X_STD, alpha, l1_ratio, None)
    theirs = _elastic_net_objective(ref, X_STD, alpha, l1_ratio, None)
    assert abs(ours / theirs - 1) < 1e-4


@pytest.mark.parametrize("loss", ["huber", "absolute_error", "quantile"])
def test_auto_solver_for_non_squared_losses(loss):
    """Check that solver='auto' picks the exact solver for the robust losses
    (Adam in partial_fit), which streams on from an exact fit with Adam."""
    reg = TorchLinearRegressor(loss=loss, max_iter=5, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_STD, Y)
        assert reg.solver_ == "exact"
        streamed = TorchLinearRegressor(loss=loss, device="cpu").partial_fit(X_STD, Y)
    assert streamed.solver_ == "adam"
    exact = reg.set_params(max_iter=200).fit(X_STD, Y).score(X_STD, Y)
    reg.partial_fit(X_STD, Y)  # one epoch of a fresh Adam, from the minimum
    assert reg.solver_ == "adam"
    assert reg.score(X_STD, Y) == pytest.approx(exact, abs=0.01)


def test_lbfgs_refuses_non_smooth_objectives():
    """Check that L-BFGS refuses an L1 penalty and non-smooth losses."""
    for params in [{"alpha": 1.0, "l1_ratio": 0.5}, {"loss": "quantile"}]:
        reg = TorchLinearRegressor(solver="lbfgs", device="cpu", **params)
        with pytest.raises(ValueError, match="smooth objective"):
            reg.fit(X_STD, Y)


def _uneven_chunks(n_samples, n_chunks, seed=0):
    cuts = np.random.default_rng(seed).choice(
        np.arange(1, n_samples), n_chunks - 1, replace=False
    )
    bounds = np.r_[0, np.sort(cuts), n_samples]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("n_chunks", [1, 7, 100])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_exact_partial_fit_equals_fit(n_chunks, alpha):
    """Check that exact partial_fit over any chunking, with weights, gives the
    coefficients of fit on the concatenation."""
    X, y = make_regression(n_samples=1000, n_features=8, noise=1.0, random_state=0)
    X += 50.0  # far from zero: merging must be done on centred moments
    w = np.random.default_rng(1).uniform(0.0, 2.0, len(y))
    ref = TorchLinearRegressor(alpha=alpha, device="cpu").fit(X, y, sample_weight=w)
    reg = TorchLinearRegressor(alpha=alpha, device="cpu")
    for chunk in _uneven_chunks(len(y), n_chunks):
        reg.partial_fit(X[chunk], y[chunk], sample_weight=w[chunk])
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-10)
    assert reg.n_iter_ >= n_chunks  # passes over the data accumulate


def test_partial_fit_predicts_pickles_and_continues():
    """Check that after partial_fit the model predicts, survives pickling, and
    continues with more chunks to the answer of fit on all the data."""
    X, y = make_regression(n_samples=600, n_features=5, noise=1.0, random_state=2)
    ref = TorchLinearRegressor(device="cpu").fit(X, y)
    reg = TorchLinearRegressor(device="cpu").partial_fit(X[:200], y[:200])
    assert reg.predict(X).shape == (600,)
    reg = pickle.loads(pickle.dumps(reg))
    reg.partial_fit(X[200:400], y[200:400]).partial_fit(X[400:], y[400:])
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    with pytest.raises(ValueError, match="target"):
        reg.partial_fit(X[:10], np.c_[y[:10], y[:10]])


def test_fit_then_partial_fit_continues_the_statistics():
    """Check that partial_fit after fit adds to the statistics of fit."""
    X, y = make_regression(n_samples=400, n_features=4, noise=1.0, random_state=3)
    reg = TorchLinearRegressor(device="cpu").fit(X[:300], y[:300])
    reg.partial_fit(X[300:], y[300:])
    ref = TorchLinearRegressor(device="cpu").fit(X, y)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_gradient_partial_fit_runs_one_epoch_per_chunk(solver):
    """Check that gradient partial_fit runs one epoch per call, scales by the
    statistics of all chunks seen (those of the whole data after one pass),
    carries the optimizer state, and approaches the optimum."""
    X, y = make_regression(n_samples=2000, n_features=5, noise=0.1, random_state=4)
    reg = TorchLinearRegressor(solver=solver, random_state=0, device="cpu")
    reg.set_params(batch_size=50, lr=0.01)
    chunks = _uneven_chunks(len(y), 10, seed=5)
    reg.partial_fit(X[chunks[0]], y[chunks[0]])
    assert_allclose(reg.scaler_.scale_, X[chunks[0]].std(axis=0), rtol=1e-10)
    for chunk in chunks[1:]:
        reg.partial_fit(X[chunk], y[chunk])
    assert_allclose(reg.scaler_.scale_, X.std(axis=0), rtol=1e-10)
    assert_allclose(reg.scaler_.mean_, X.mean(axis=0), rtol=1e-10, atol=1e-12)
    for _ in range(2):
        for chunk in chunks:
            reg.partial_fit(X[chunk], y[chunk])
    assert reg.n_iter_ == 30 == len(reg.loss_curve_)
    if solver == "adam":
        state = reg.net_.optimizer_.state[reg.net_.module_.linear.weight]
        assert int(state["step"]) > 30  # several batches per chunk, carried over
    assert reg.score(X, y) > 0.99


def test_lbfgs_partial_fit_is_refused_and_auto_streams_huber_with_adam():
    """Check that L-BFGS, which would forget earlier chunks, has no partial_fit
    (an AttributeError with advice), and that solver='auto' streams Huber with
    Adam."""
    X, y = make_regression(n_samples=200, n_features=3, random_state=0)
    lbfgs = TorchLinearRegressor(solver="lbfgs", device="cpu")
    assert not hasattr(lbfgs, "partial_fit")
    with pytest.raises(AttributeError, match="no attribute 'partial_fit'") as info:
        lbfgs.partial_fit(X, y)
    assert "would forget earlier chunks" in str(info.value.__cause__)
    reg = TorchLinearRegressor(loss="huber", device="cpu").partial_fit(X, y)
    assert reg.solver_ == "adam"
    assert TorchLinearRegressor(loss="huber", device="cpu").fit(X, y).solver_ == "exact"


def test_early_stopping_stops_and_restores_best_epoch():
    """Check that early stopping stops before max_iter and keeps the parameters
    of the epoch with the best validation R2."""
    X, y = make_regression(n_samples=3000, n_features=20, noise=5.0, random_state=6)
    reg = TorchLinearRegressor(
        solver="adam",
        lr=0.05,
        batch_size=32,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        max_iter=500,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert reg.n_iter_ < 500
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    # The kept parameters are those of the best epoch: its R2 on the held-out rows.
    valid = np.sort(np.random.default_rng(reg._result.seed).permutation(3000)[:600])
    assert_allclose(reg.score(X[valid], y[valid]), reg.best_validation_score_, 1e-6)
    assert np.argmax(reg.validation_scores_) < reg.n_iter_ - 1


def test_early_stopping_needs_enough_rows():
    """Check that a validation split too small to use is refused clearly."""
    reg = TorchLinearRegressor(
        solver="adam", early_stopping=True, validation_fraction=0.1, device="cpu"
    )
    with pytest.raises(ValueError, match="at least 2 training and 2 validation"):
        reg.fit(X_STD[:10], Y[:10])


def test_warm_start_continues_training():
    """Check that a warm start continues from the previous state: the loss keeps
    falling from where it stopped and n_iter_ accumulates."""
    reg = TorchLinearRegressor(
        solver="adam", max_iter=5, warm_start=True, random_state=0, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_RAW, Y)
        first_curve = list(reg.loss_curve_)
        steps = int(reg.net_.optimizer_.state[reg.net_.module_.linear.weight]["step"])
        reg.fit(X_RAW, Y)
    state = reg.net_.optimizer_.state[reg.net_.module_.linear.weight]
    assert int(state["step"]) == 2 * steps  # Adam's state carried over
    assert reg.n_iter_ == 10
    assert reg.loss_curve_[:5] == first_curve
    assert reg.loss_curve_[5] < first_curve[-1]
    assert reg.loss_curve_[-1] < reg.loss_curve_[5]
    cold = TorchLinearRegressor(solver="adam", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.set_params(warm_start=False, device="cpu").fit(X_RAW, Y)
    assert cold.loss_curve_ == first_curve


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_callbacks_are_passed_to_skorch():
    """Check that extra skorch callbacks run: an epoch counter and a learning-rate
    scheduler that changes the optimizer's learning rate."""
    counter = _CountEpochs()
    scheduler = LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=1)
    reg = TorchLinearRegressor(
        solver="sgd",
        lr=0.01,
        max_iter=4,
        callbacks=[("count", counter), ("schedule", scheduler)],
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_RAW, Y)
    assert dict(reg.net_.callbacks_)["count"].epochs_ == 4
    assert reg.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.1**4)


def test_warm_start_applies_changed_parameters():
    """Check that parameters changed between warm-started fits take effect: a new
    learning rate and penalty are used, and switching on early stopping works."""
    reg = TorchLinearRegressor(
        solver="sgd", lr=0.01, max_iter=3, warm_start=True, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_RAW, Y)
        coef = reg.coef_.copy()
        reg.set_params(lr=0.02, alpha=0.5, early_stopping=True, max_iter=2).fit(
            X_RAW, Y
        )
    assert reg.net_.optimizer_.param_groups[0]["lr"] == 0.02
    assert reg.net_.module_.l2[0] == 0.5
    assert reg.n_iter_ == 5
    assert len(reg.validation_scores_) == 2  # the first 3 epochs did not validate
    assert not np.array_equal(reg.coef_, coef)
