"""Gradient solvers that stream, resume and stop without losing a fitted model."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from skorch.callbacks import Callback, LRScheduler

from sktorch_linear import TorchLinearRegressor


def _data(n_samples=500, n_features=5, noise=1.0, seed=0):
    return make_regression(
        n_samples=n_samples, n_features=n_features, noise=noise, random_state=seed
    )


def _quiet_fit(reg, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X, y, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_row_at_a_time_streaming_reaches_the_optimum(solver):
    """Check that Adam and SGD at default settings, fed one row per partial_fit
    call from the first row on, reach an R² within 1e-2 of the least-squares
    optimum over 2000 rows."""
    X, y = _data(2000, 20, noise=10.0)
    best = LinearRegression().fit(X, y).score(X, y)
    reg = TorchLinearRegressor(solver=solver, random_state=0, device="cpu")
    for i in range(len(y)):
        reg.partial_fit(X[i : i + 1], y[i : i + 1])
    assert reg.n_iter_ == 2000
    assert best - reg.score(X, y) < 1e-2


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_one_row_first_chunk_then_chunks(solver):
    """Check that a one-row first chunk (every column constant) is followed by
    chunks that train: no divergence, and the model approaches the optimum."""
    X, y = _data(3000, 5, noise=1.0)
    reg = TorchLinearRegressor(
        solver=solver, lr=0.01, batch_size=10, random_state=0, device="cpu"
    )
    reg.partial_fit(X[:1], y[:1])
    assert_allclose(reg.predict(X[:1]), y[:1])  # the intercept alone fits it
    for start in range(1, 3000, 100):
        reg.partial_fit(X[start : start + 100], y[start : start + 100])
    assert reg.score(X, y) > 0.99


def test_failed_updates_leave_the_model():
    """Check that a partial_fit that diverges, a chunk or a warm-started fit
    with another number of targets, leave the fitted model as it was."""
    X, y = _data()
    reg = TorchLinearRegressor(solver="sgd", random_state=0, device="cpu")
    reg.partial_fit(X, y)
    coef, n_iter = reg.coef_.copy(), reg.n_iter_
    with pytest.raises(ValueError, match="same targets"):
        reg.partial_fit(X, np.c_[y, y])
    with pytest.raises(FloatingPointError, match="diverged"):
        reg.set_params(lr=1e6).partial_fit(X * 1e3, y)
    assert_array_equal(reg.coef_, coef)
    assert reg.n_iter_ == n_iter == len(reg.net_.history)
    warm = _quiet_fit(
        TorchLinearRegressor(solver="adam", max_iter=3, warm_start=True), X, y
    )
    coef = warm.coef_.copy()
    with pytest.raises(ValueError, match="same targets"):
        warm.fit(X, np.c_[y, y])
    assert_array_equal(warm.coef_, coef)


class _Interrupt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_interrupting_training_keeps_the_model_with_a_warning():
    """Check that a KeyboardInterrupt (Ctrl-C) after some epochs ends training
    with a warning and a fitted model at those epochs; one before any epoch
    ends propagates."""
    X, y = _data()
    reg = TorchLinearRegressor(
        solver="adam", max_iter=50, callbacks=[_Interrupt(4)], device="cpu"
    )
    with pytest.warns(UserWarning, match="interrupted after 4 complete epoch"):
        reg.fit(X, y)
    assert reg.n_iter_ == 4 and np.isfinite(reg.predict(X)).all()

    class _Early(Callback):
        def on_batch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        TorchLinearRegressor(solver="adam", callbacks=(_Early(),)).fit(X, y)


def test_verbose_partial_fit_prints_one_line_per_call(capsys):
    """Check that verbose partial_fit reports each call on one line."""
    X, y = _data()
    reg = TorchLinearRegressor(solver="adam", verbose=1, device="cpu")
    for start in range(0, 300, 100):
        reg.partial_fit(X[start : start + 100], y[start : start + 100])
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"partial_fit call {k}" for k in (1, 2, 3)
    ]


def _scheduler():
    return LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=1)


def test_checkpoint_fingerprint_covers_the_callbacks(tmp_path):
    """Check that a fit with a learning-rate scheduler and a fit without it do
    not share a checkpoint: the second trains, as it would without one."""
    X, y = _data()
    params = {"solver": "sgd", "max_iter": 5, "random_state": 0, "device": "cpu"}
    with_scheduler = _quiet_fit(
        TorchLinearRegressor(checkpoint=tmp_path, callbacks=[_scheduler()], **params),
        X,
        y,
    )
    without = _quiet_fit(TorchLinearRegressor(checkpoint=tmp_path, **params), X, y)
    reference = _quiet_fit(TorchLinearRegressor(**params), X, y)
    assert len(list(tmp_path.glob("*.ckpt"))) == 2
    assert not np.allclose(without.coef_, with_scheduler.coef_)
    assert_array_equal(without.coef_, reference.coef_)


def test_checkpoint_refuses_callbacks_it_cannot_fingerprint(tmp_path):
    """Check that a callback with a parameter that prints differently in every
    run (a lambda) is refused under checkpoint, before any training."""
    X, y = _data()
    schedule = LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR, lr_lambda=lambda epoch: 0.9**epoch
    )
    reg = TorchLinearRegressor(checkpoint=tmp_path, callbacks=[schedule], solver="sgd")
    with pytest.raises(ValueError, match="no stable representation"):
        reg.fit(X, y)
    assert not list(tmp_path.glob("*.ckpt"))


def test_unwritable_checkpoint_folder_fails_before_training(tmp_path):
    """Check that a checkpoint folder that cannot be created fails at once."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    reg = TorchLinearRegressor(checkpoint=blocker / "folder", solver="adam")
    X, y = _data()
    with pytest.raises(OSError, match="cannot be written"):
        reg.fit(X, y)
    assert not hasattr(reg, "coef_")


def test_early_stopped_model_pickles_without_the_validation_data():
    """Check that an early-stopped model pickles to within twice the size of a
    plain fit's (the held-out rows are not kept), and predicts alike."""
    X, y = _data(20_000, 20)
    plain = _quiet_fit(TorchLinearRegressor(solver="adam", max_iter=5), X, y)
    early = _quiet_fit(
        TorchLinearRegressor(solver="adam", max_iter=5, early_stopping=True), X, y
    )
    size = len(pickle.dumps(early))
    assert size < 2 * len(pickle.dumps(plain))
    assert size < 0.01 * X.nbytes
    assert_allclose(pickle.loads(pickle.dumps(early)).predict(X), early.predict(X))
