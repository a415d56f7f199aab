"""The gradient solvers (skorch) against exact references."""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers._net import LinearNet

# Settings under which each solver converges on the small bundled data sets
# (full batch: mini-batch noise on 20 or 442 rows costs more than 1e-3 of R2).
SOLVER_SETTINGS = {
    "lbfgs": {},
    "adam": {"lr": 0.05, "batch_size": None, "max_iter": 3000, "tol": 1e-8},
    "sgd": {"lr": 0.1, "batch_size": None, "max_iter": 3000, "tol": 1e-8},
}


@pytest.mark.parametrize("solver", SOLVER_SETTINGS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_solvers_reach_least_squares_r2(
    solver, bundled_data, fit_intercept, weighted
):
    """Check that each gradient solver reaches the R2 of LinearRegression to 1e-3."""
    X, y = bundled_data
    sample_weight = None
    if weighted:
        sample_weight = np.random.default_rng(0).uniform(0.1, 3.0, X.shape[0])
    ref = LinearRegression(fit_intercept=fit_intercept)
    ref.fit(X, y, sample_weight=sample_weight)
    reg = TorchLinearRegressor(
        solver=solver,
        fit_intercept=fit_intercept,
        random_state=0,
        device="cpu",
        **SOLVER_SETTINGS[solver],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y, sample_weight=sample_weight)
    assert reg.coef_.shape == ref.coef_.shape
    best = ref.score(X, y, sample_weight=sample_weight)
    assert reg.score(X, y, sample_weight=sample_weight) > best - 1e-3
    assert isinstance(reg.net_, LinearNet)
    assert reg.n_iter_ == len(reg.loss_curve_) < reg.max_iter


def test_lbfgs_solves_noise_free_problem():
    """Check that L-BFGS reaches a training MSE below 1e-12 relative to var(y)."""
    X, y = make_regression(n_samples=2000, n_features=13, random_state=0)
    reg = TorchLinearRegressor(solver="lbfgs", device="cpu").fit(X, y)
    assert np.mean((reg.predict(X) - y) ** 2) / np.var(y) < 1e-12


def test_adam_mini_batches_reach_r2_of_four_nines():
    """Check that Adam (lr=1e-3, batches of 128) reaches a test R2 of 0.9999 within
    the default max_iter."""
    X, y = make_regression(n_samples=10000, n_features=100, noise=0.01, random_state=73)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    reg = TorchLinearRegressor(
        solver="adam", lr=1e-3, batch_size=128, random_state=0, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X_train, y_train)
    assert reg.score(X_test, y_test) >= 0.9999


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_ridge_penalty_matches_exact_solver(solver):
    """Check that the gradient solvers minimise the same penalised objective as the
    exact solver."""
    X, y = load_diabetes(return_X_y=True)
    exact = TorchLinearRegressor(alpha=0.1, device="cpu").fit(X, y)
    reg = TorchLinearRegressor(
        solver=solver,
        alpha=0.1,
        random_state=0,
        device="cpu",
        **SOLVER_SETTINGS[solver],
    ).fit(X, y)
    assert_allclose(reg.loss_curve_[-1], exact.loss_curve_[0], rtol=1e-5)
    assert_allclose(reg.predict(X), exact.predict(X), rtol=1e-3)
    if solver == "lbfgs":
        # Adam and SGD reach the objective to 1e-5 too, but on diabetes' nearly
        # collinear columns that pins the coefficients down only to ~10%.
        assert_allclose(reg.coef_, exact.coef_, rtol=1e-4)


def test_integer_weights_equal_repeated_rows_for_lbfgs():
    """Check that a weight of k is the same as repeating a row k times."""
    X, y = load_diabetes(return_X_y=True)
    counts = np.random.default_rng(0).integers(0, 4, X.shape[0])
    weighted = TorchLinearRegressor(solver="lbfgs", device="cpu")
    weighted.fit(X, y, sample_weight=counts)
    repeated = TorchLinearRegressor(solver="lbfgs", device="cpu")
    repeated.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_random_state_makes_fits_bit_identical(solver):
    """Check that a fixed random_state reproduces a mini-batch fit bit for bit and
    that another seed gives another fit."""
    X, y = load_diabetes(return_X_y=True)
    params = {"solver": solver, "batch_size": 32, "max_iter": 5, "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = TorchLinearRegressor(random_state=3, **params).fit(X, y)
        second = TorchLinearRegressor(random_state=3, **params).fit(X, y)
        other = TorchLinearRegressor(random_state=4, **params).fit(X, y)
    assert_array_equal(first.coef_, second.coef_)
    assert_array_equal(first.loss_curve_, second.loss_curve_)
    assert not np.array_equal(first.coef_, other.coef_)


def test_global_random_generators_are_untouched():
    """Check that fitting consumes nothing of torch's or NumPy's global generator."""
    X, y = load_diabetes(return_X_y=True)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for params in [{"solver": "lbfgs"}, {"solver": "adam", "batch_size": 64}]:
            TorchLinearRegressor(
                max_iter=3, random_state=0, device="cpu", **params
            ).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], numpy_state)


def test_convergence_warning_at_max_iter():
    """Check that stopping at max_iter short of the optimum warns, with the
    measured gap and advice."""
    X, y = load_diabetes(return_X_y=True)
    reg = TorchLinearRegressor(solver="adam", max_iter=3, device="cpu")
    with pytest.warns(
        ConvergenceWarning,
        match=r"reached max_iter after 3 epoch.*"
        r"training objective [0-9.e+-]+ \(relative\) above its minimum"
        r".*solver='exact' for the optimum, or increase max_iter",
    ):
        reg.fit(X, y)
    assert reg.n_iter_ == 3
    assert len(reg.loss_curve_) == 3


@pytest.mark.parametrize("solver", ["exact", "lbfgs", "adam", "sgd"])
def test_verbose_zero_prints_nothing(solver, capsys):
    """Check that verbose=0 is silent and verbose=1 reports the solver path or a
    progress bar."""
    X, y = load_diabetes(return_X_y=True)
    params = {"solver": solver, "max_iter": 3, "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        TorchLinearRegressor(verbose=0, **params).fit(X, y)
        quiet = capsys.readouterr()
        TorchLinearRegressor(verbose=1, **params).fit(X, y)
    loud = capsys.readouterr()
    assert quiet.out == quiet.err == ""
    if solver == "exact":
        assert "cholesky" in loud.out
    else:  # a progress bar with the loss, on stderr
        assert "3/3" in loud.err and "loss=" in loud.err


def test_constant_column_keeps_zero_coefficient():
    """Check that a constant column gets an exactly zero coefficient."""
    X, y = load_diabetes(return_X_y=True)
    X = np.column_stack([X, np.full(X.shape[0], 3.0)])
    reg = TorchLinearRegressor(solver="adam", batch_size=64, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.coef_[-1] == 0.0


class _Threads(Callback):
    def initialize(self):
        self.seen_ = set()
        return self

    def on_batch_end(self, net, **kwargs):
        self.seen_.add(torch.get_num_threads())


def test_small_batches_train_on_one_thread():
    """Check that mini-batches of fewer than 2**17 values train on one torch
    thread (another process busy on the cores made two threads 3.7x slower) and
    that the thread count is restored afterwards."""
    X, y = load_diabetes(return_X_y=True)
    before = torch.get_num_threads()
    spy = _Threads()
    reg = TorchLinearRegressor(solver="adam", max_iter=2, callbacks=[spy], device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert spy.seen_ == {1}
    assert torch.get_num_threads() == before


def test_large_work_inside_small_work_gets_the_threads_back():
    """Check that threads_for gives work of 2**17 values or more, such as the
    gathering of shuffled rows between the steps, torch's threads back inside
    a one-thread region, and restores each count on the way out."""
    from sktorch_linear._threads import threads_for

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threads_for(10):
            assert torch.get_num_threads() == 1
            with threads_for(2**17):
                assert torch.get_num_threads() == 2
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with threads_for(2**17):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
