"""Fit and predict from every kind of input users pass: the same model."""

import numpy as np
import pytest
import scipy.sparse
import torch
from numpy.testing import assert_allclose

from sktorch_linear import TorchLinearRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = X @ [1.0, 2.0, 3.0] + 1.0 + RNG.normal(size=60)
NAMES = ["a", "b", "c"]


def _pandas(nullable):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=NAMES)
    return frame.astype("Float64") if nullable else frame


def _polars():
    pl = pytest.importorskip("polars")
    return pl.DataFrame(X, schema=NAMES)


INPUTS = {
    "numpy": lambda: X,
    "list": lambda: X.tolist(),
    "csr": lambda: scipy.sparse.csr_matrix(X),
    "csc": lambda: scipy.sparse.csc_matrix(X),
    "pandas": lambda: _pandas(nullable=False),
    "pandas_nullable": lambda: _pandas(nullable=True),
    "polars": _polars,
    "torch": lambda: torch.as_tensor(X),
}


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("loss", ["squared_error", "quantile", "huber"])
def test_every_input_kind_gives_the_same_model(kind, loss):
    """Check that fit and predict on each input kind give the predictions of
    NumPy input (to rounding: sums in another order), with the column names
    of data frames kept."""
    reference = TorchLinearRegressor(loss=loss, device="cpu").fit(X, Y)
    data = INPUTS[kind]()
    reg = TorchLinearRegressor(loss=loss, device="cpu").fit(data, Y)
    assert_allclose(reg.predict(data), reference.predict(X), rtol=1e-12, atol=1e-12)
    if kind in ("pandas", "pandas_nullable", "polars"):
        assert list(reg.feature_names_in_) == NAMES
    else:
        assert not hasattr(reg, "feature_names_in_")


def test_cpu_tensor_is_not_copied(monkeypatch):
    """Check that a float64 CPU tensor reaches the solver as a view of its own
    storage: validation converts it to NumPy without a copy."""
    import sktorch_linear._regressor as regressor

    seen = []

    def capture(X, Y, sample_weight):
        seen.append(X)
        return regressor_data(X, Y, sample_weight)

    regressor_data = regressor.Data
    monkeypatch.setattr(regressor, "Data", capture)
    tensor = torch.as_tensor(X)
    TorchLinearRegressor(device="cpu").fit(tensor, Y)
    assert np.shares_memory(seen[0], tensor.numpy())
