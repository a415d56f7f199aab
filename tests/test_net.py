"""Every fitted estimator holds its torch linear net, which predicts as the
estimator does and travels to machines without a GPU."""

import pickle
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers._net import LinearNet

SOLVERS = ["exact", "lbfgs", "adam", "sgd"]


def _data(n_targets=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal([100.0, -3.0, 0.0, 5.0], [10.0, 1.0, 1e-2, 0.0], (150, 4))
    coef = rng.normal(size=(4, n_targets))
    Y = X @ coef + 20.0 + rng.normal(size=(150, n_targets))
    return X, Y[:, 0] if n_targets == 1 else Y


def _fit(solver, X, y, **params):
    if solver == "sgd":
        # Uncentred (no intercept), the column of mean 100 and spread 10 gives a
        # curvature of about 100 that SGD's default step would diverge on.
        params["lr"] = 1e-3
    reg = TorchLinearRegressor(solver=solver, device="cpu", max_iter=20, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X, y)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("solver", SOLVERS)
def test_net_predicts_as_the_estimator(solver, n_targets, fit_intercept):
    """Check that ``net_.predict(X)`` equals ``predict(X)`` to 1e-12 in float64
    after a fit with every solver (one column per target), a constant column
    included."""
    X, y = _data(n_targets)
    reg = _fit(solver, X, y, fit_intercept=fit_intercept)
    assert isinstance(reg.net_, LinearNet)
    assert reg.net_.module_.linear.weight.dtype is torch.float64
    expected = reg.predict(X).reshape(len(X), n_targets)
    assert_allclose(reg.net_.predict(X), expected, rtol=1e-12, atol=1e-12)


def test_net_after_streaming_holds_the_latest_solution():
    """Check that after partial_fit calls the net holds the updated solution,
    and that float32 input predicts through the float64 net."""
    X, y = _data()
    reg = TorchLinearRegressor(device="cpu")
    reg.partial_fit(X[:50], y[:50])
    first = reg.net_.predict(X)
    reg.partial_fit(X[50:], y[50:])
    assert not np.allclose(reg.net_.predict(X), first)
    assert_allclose(reg.net_.predict(X)[:, 0], reg.predict(X), rtol=1e-12)
    X32 = X.astype(np.float32)
    assert_allclose(reg.net_.predict(X32)[:, 0], reg.predict(X32), rtol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_net_pickles_and_loads_without_a_gpu(tmp_path, solver):
    """Check that the net, pickled alone, loads and predicts in a fresh process
    that sees no GPU."""
    X, y = _data()
    reg = _fit(solver, X, y)
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(reg.net_))
    np.save(tmp_path / "X.npy", X)
    script = (
        "import pickle, sys, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        "net = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "np.save(sys.argv[3], net.predict(np.load(sys.argv[2])))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, path, tmp_path / "X.npy", tmp_path / "p.npy"],
        check=True,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""},
    )
    predicted = np.load(tmp_path / "p.npy")
    assert_allclose(predicted[:, 0], reg.predict(X), rtol=1e-12)


def test_net_of_an_exact_fit_survives_the_estimator_pickle():
    """Check that an exact fit pickled before and after its net was built
    predicts through the net alike."""
    X, y = _data()
    reg = _fit("exact", X, y)
    before = pickle.loads(pickle.dumps(reg))
    reg.net_
    after = pickle.loads(pickle.dumps(reg))
    for loaded in (before, after):
        assert_allclose(loaded.net_.predict(X)[:, 0], reg.predict(X), rtol=1e-12)


def test_net_of_an_exact_fit_from_a_missing_device_is_built_on_the_cpu():
    """Check that the net of an exact fit made on a device this machine lacks
    (as after loading a GPU-trained model on a CPU-only machine) is built on the
    CPU."""
    X, y = _data()
    reg = _fit("exact", X, y)
    reg._config = replace(reg._config, device=torch.device("cuda", 7))
    loaded = pickle.loads(pickle.dumps(reg))
    assert loaded.net_.module_.linear.weight.device.type == "cpu"
    assert_allclose(loaded.net_.predict(X)[:, 0], reg.predict(X), rtol=1e-12)


def test_large_batch_steps_in_blocks_equal_one_step(monkeypatch):
    """Check that a full-batch step computed over blocks of rows (as L-BFGS's
    steps on large data are) trains as the step on the whole batch does."""
    X, y = _data(n_targets=2)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    for loss in ("squared_error", "huber"):
        whole = _fit("lbfgs", X, y, loss=loss, alpha=0.1, fit_intercept=True)
        monkeypatch.setattr("sktorch_linear.solvers._net.STEP_ROWS", 7)
        blocks = _fit("lbfgs", X, y, loss=loss, alpha=0.1, fit_intercept=True)
        monkeypatch.undo()
        assert blocks.n_iter_ == whole.n_iter_
        assert_allclose(blocks.coef_, whole.coef_, rtol=1e-9, atol=1e-15)
        assert_allclose(blocks.loss_curve_, whole.loss_curve_, rtol=1e-12)
    weighted = TorchLinearRegressor(solver="adam", batch_size=None, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = weighted.fit(X, y, sample_weight=w).coef_
        monkeypatch.setattr("sktorch_linear.solvers._net.STEP_ROWS", 7)
        blocked = weighted.fit(X, y, sample_weight=w).coef_
    assert_allclose(blocked, reference, rtol=1e-12)


class _GradientSpy(Callback):
    def initialize(self):
        self.norms_ = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.norms_.append(sum(float(p.grad.norm()) for _, p in named_parameters))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_user_callbacks_see_the_gradients(solver):
    """Check that a callback's on_grad_computed receives the gradients of every
    step, with or without the optimizer's closure."""
    X, y = _data()
    spy = _GradientSpy()
    reg = TorchLinearRegressor(solver=solver, max_iter=2, callbacks=[spy])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert len(spy.norms_) >= 2 and all(np.isfinite(spy.norms_))
    assert spy.norms_[0] > 0
