"""The data layer: one hand-over from the estimator to one solver, splits
without copies, and one transfer of X to the device."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sktorch_linear._data as data_module
from sktorch_linear import TorchLinearRegressor, solvers
from sktorch_linear._data import Data, split


@pytest.mark.parametrize("solver", ["exact", "lbfgs", "adam", "sgd"])
def test_fit_hands_the_data_to_one_solver_once(monkeypatch, solver):
    """Check that fit wraps X in the data layer once, calls one solver once, and
    that the solver returns a SolverResult."""
    made, results = [], []
    real_init, real_solve = Data.__init__, solvers.solve

    def init(self, X, *args, **kwargs):
        made.append(X)
        real_init(self, X, *args, **kwargs)

    def solve(problem, config):
        result = real_solve(problem, config)
        results.append(result)
        return result

    monkeypatch.setattr(Data, "__init__", init)  # wherever Data is built
    monkeypatch.setattr(solvers, "solve", solve)
    X = np.random.default_rng(0).normal(size=(200, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        TorchLinearRegressor(solver=solver, max_iter=5, device="cpu").fit(X, X[:, 0])
    assert len(made) == 1 and made[0] is X
    assert len(results) == 1 and isinstance(results[0], solvers.SolverResult)


def test_gradient_fit_copies_nothing_before_the_transfer(monkeypatch):
    """Check that without early stopping the user's X itself (not a copy of
    it) is what is moved to the device."""
    moved = []
    real = data_module._transferred

    def transferred(array, device, dtype):
        moved.append(array)
        return real(array, device, dtype)

    monkeypatch.setattr(data_module, "_transferred", transferred)
    X = np.random.default_rng(0).normal(size=(300, 4))
    y = X.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        TorchLinearRegressor(solver="adam", max_iter=2, device="cpu").fit(X, y)
    assert moved[0] is X
    assert any(np.shares_memory(array, y) for array in moved[1:])


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_gradient_fit_peak_memory_is_one_copy_of_X(solver):
    """Check, in a fresh process, that a gradient fit on the CPU needs at most
    about one more X of memory (the standardized tensor): no host copies, and
    L-BFGS's full-batch steps computed in blocks of rows."""
    script = textwrap.dedent(
        f"""
        import resource, warnings
        import numpy as np
        from sktorch_linear import TorchLinearRegressor
        X = np.random.default_rng(0).standard_normal((400_000, 25))
        y = X @ np.arange(25.0)
        warnings.simplefilter("ignore")
        reg = TorchLinearRegressor(solver={solver!r}, max_iter=1, device="cpu")
        reg.fit(X[:1000], y[:1000])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        reg.fit(X, y)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024 / X.nbytes)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    # It was 2.2 (Adam) and 2.4 (L-BFGS) when X was copied before moving. The
    # rest varies with the allocator's per-thread arenas: 1.11-1.31 (Adam) and
    # 1.23-1.28 (L-BFGS) in repeated runs of the same code. Another copy of X
    # would add 1.
    assert float(out.stdout) < 1.5


def test_split_without_overlap():
    """Check that the validation split is a sorted partition of the rows with
    the requested fraction (rounded up), the same for the same seed."""
    train, valid = split(101, 0.2, seed=3)
    assert len(valid) == 21 and len(train) == 80
    assert np.array_equal(np.sort(np.r_[train, valid]), np.arange(101))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(valid) > 0)
    again = split(101, 0.2, seed=3)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], valid)
    with pytest.raises(ValueError, match="at least 2 training and 2 validation"):
        split(3, 0.5, seed=0)
