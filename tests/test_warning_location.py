"""Warnings point at the user's line: whichever solver, data layer or device
check raises them, their filename is the file that called the package."""

import pickle
import warnings

import numpy as np
import pytest
import torch

from sktorch_linear import TorchLinearRegressor
from sktorch_linear._device import resolve_dtype

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 3))
Y = X @ [1.0, 2.0, 3.0] + RNG.standard_t(3, size=300)


def _fit_short(**params):
    return TorchLinearRegressor(device="cpu", random_state=0, **params).fit(X, Y)


def _short_descent():
    """One sweep of coordinate descent from zero, without the least-angle start
    or the exact finish (which converge at once here)."""
    from unittest import mock

    def no_path(xy, gram, **kwargs):
        return None, None, np.zeros((len(xy), 1))

    module = "sktorch_linear.solvers"
    with (
        mock.patch(f"{module}.coordinate_descent.lars_path_gram", no_path),
        mock.patch(f"{module}._elastic_net._active_set", lambda *a: (None, False)),
    ):
        _fit_short(alpha=0.1, l1_ratio=0.5, max_iter=1, standardize=False)


def _partial_fit_float32():
    X32 = (X + 1e6).astype(np.float32)  # a mean far above its spread
    TorchLinearRegressor(device="cpu").partial_fit(X32, Y)


def _dask(**params):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    with dask.config.set(scheduler="synchronous"):
        reg = TorchLinearRegressor(device="cpu", random_state=0, **params)
        reg.fit(da.from_array(X, chunks=100), da.from_array(Y, chunks=100))


def _device_fallback():
    resolve_dtype(None, np.float64, torch.device("mps"))  # MPS has no float64


def _unpickle_other_version():
    reg = _fit_short()
    state = reg.__getstate__()
    state["_sktorch_linear_version"] = "0.0"
    pickle.loads(pickle.dumps(reg)).__setstate__(state)


CASES = {
    "coordinate_descent": lambda: _short_descent(),
    "newton": lambda: _fit_short(loss="huber", max_iter=1),
    "interior_point": lambda: _fit_short(loss="quantile", max_iter=2),
    "adam": lambda: _fit_short(solver="adam", max_iter=2),
    "sgd": lambda: _fit_short(solver="sgd", max_iter=2),
    "lbfgs": lambda: _fit_short(solver="lbfgs", loss="huber", max_iter=1, tol=0),
    "partial_fit": _partial_fit_float32,
    "dask_adam": lambda: _dask(solver="adam", max_iter=2),
    "dask_interior_point": lambda: _dask(loss="quantile", max_iter=2),
    "device_fallback": _device_fallback,
    "version": _unpickle_other_version,
}


@pytest.mark.parametrize("case", CASES)
def test_warnings_point_at_the_calling_file(case):
    """Check that every warning of the case is attributed to this file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CASES[case]()
    assert caught, "the case raised no warning"
    assert {w.filename for w in caught} == {__file__}, [
        (w.filename, str(w.message)[:80]) for w in caught
    ]
