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


def _read_only(array):
    array = array.copy()
    array.setflags(write=False)
    return array


# Memory layouts of the same rows: reversed views (negative strides), Fortran
# order, read-only buffers. Each gives (X, y, sample_weight) in the original
# row order's model.
LAYOUTS = {
    "reversed_rows": lambda X, y, w: (X[::-1], y[::-1], w[::-1]),
    "flipped_columns": lambda X, y, w: (np.flip(X, 1), y, w),
    "pandas_reversed": lambda X, y, w: (
        _pandas(nullable=False).iloc[::-1],
        y[::-1],
        w[::-1],
    ),
    "fortran": lambda X, y, w: (np.asfortranarray(X), y, w),
    "read_only": lambda X, y, w: (_read_only(X), _read_only(y), _read_only(w)),
    "every_other": lambda X, y, w: (
        np.repeat(X, 2, axis=0)[::2],
        np.repeat(y, 2)[::2],
        np.repeat(w, 2)[::2],
    ),
}
LAYOUT_FITS = {
    "exact": {},
    "lasso": {"alpha": 0.1, "l1_ratio": 1.0},
    "huber": {"loss": "huber"},
    "quantile": {"loss": "quantile", "quantile": 0.3},
    "lbfgs": {"solver": "lbfgs"},
    "adam": {"solver": "adam", "max_iter": 5, "random_state": 0},
}


def _c_ordered(values):
    return np.array(np.asarray(values), order="C", copy=True)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("fit", list(LAYOUT_FITS))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_every_memory_layout_gives_the_same_model(layout, fit):
    """Check that strided views (negative strides included), Fortran-ordered
    and read-only arrays fit, predict and summarise as C-ordered copies of the
    same rows do."""
    w = RNG.uniform(0.5, 2.0, size=len(Y))
    params = {"device": "cpu", **LAYOUT_FITS[fit]}
    data = LAYOUTS[layout](X, Y, w)
    copies = tuple(_c_ordered(values) for values in data)
    reference = TorchLinearRegressor(**params).fit(*copies[:2], sample_weight=copies[2])
    reg = TorchLinearRegressor(**params).fit(*data[:2], sample_weight=data[2])
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(reg.predict(data[0]), reference.predict(copies[0]), rtol=1e-9)
    if fit == "exact":
        summary = reg.summary(cov_type="HC1", data=data)
        expected = reference.summary(cov_type="HC1", data=copies)
        assert_allclose(
            summary.table["std_err"].to_numpy(),
            expected.table["std_err"].to_numpy(),
            rtol=1e-9,
        )


@pytest.fixture
def host_reads(monkeypatch):
    """Record every reading of a guarded tensor's storage into host memory
    (``numpy()``, ``__array__``, ``tolist()``, ``item()``): on an accelerator
    each would be a copy to the host. Guard a tensor with
    ``host_reads.guard(tensor)``; ``host_reads.calls`` lists the readings."""

    class Reads:
        def __init__(self):
            self.pointers, self.calls = set(), []

        def guard(self, tensor):
            self.pointers.add(tensor.untyped_storage().data_ptr())
            return tensor

    reads = Reads()
    for name in ("numpy", "__array__", "tolist", "item"):
        original = getattr(torch.Tensor, name)

        def watched(self, *args, _original=original, _name=name, **kwargs):
            if self.untyped_storage().data_ptr() in reads.pointers:
                reads.calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, watched)
    return reads


TENSOR_FITS = {
    "exact": {},
    "exact-ridge": {"alpha": 0.1},
    "exact-lasso": {"alpha": 0.01, "l1_ratio": 1.0},
    "quantile": {"loss": "quantile", "quantile": [0.2, 0.7]},
    "huber": {"loss": "huber"},
    "adam": {"solver": "adam", "max_iter": 5, "batch_size": 16},
    "adam-early-stopping": {"solver": "adam", "max_iter": 5, "early_stopping": True},
    "lbfgs": {"solver": "lbfgs", "max_iter": 20},
    "sgd-huber": {"solver": "sgd", "loss": "huber", "max_iter": 5},
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", list(TENSOR_FITS))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tensor_is_read_where_it_lies(case, dtype, host_reads):
    """Check that a tensor ``X`` (and tensor ``y`` and weights) fit and predict
    as the same data in NumPy, with ``X``'s storage never read into host memory:
    on an accelerator the data stay on the device."""
    weight = np.linspace(0.5, 2.0, len(X))
    params = {"device": "cpu", "random_state": 0, **TENSOR_FITS[case]}
    reference = TorchLinearRegressor(**params).fit(
        X.astype(str(dtype).removeprefix("torch.")), Y, weight
    )
    tensor = host_reads.guard(torch.as_tensor(X, dtype=dtype))
    reg = TorchLinearRegressor(**params).fit(
        tensor, torch.as_tensor(Y), torch.as_tensor(weight)
    )
    predicted = reg.predict(tensor)
    assert host_reads.calls == []
    assert isinstance(predicted, np.ndarray) and predicted.dtype == np.float64
    rtol = 1e-12 if dtype == torch.float64 else 1e-6
    assert_allclose(predicted, reference.predict(X), rtol=rtol, atol=rtol)


def test_tensor_streams_and_summarises_where_it_lies(host_reads):
    """Check that ``partial_fit`` chunks and the robust ``summary()`` pass read
    tensors without host copies and give the NumPy results."""
    chunks = [slice(0, 20), slice(20, 45), slice(45, 60)]
    reference = TorchLinearRegressor(device="cpu")
    reg = TorchLinearRegressor(device="cpu")
    tensors = [host_reads.guard(torch.as_tensor(X[rows])) for rows in chunks]
    for rows, tensor in zip(chunks, tensors):
        reference.partial_fit(X[rows], Y[rows])
        reg.partial_fit(tensor, Y[rows])
    table = reg.summary(cov_type="HC3", data=list(zip(tensors, np.split(Y, [20, 45]))))
    assert host_reads.calls == []
    expected = reference.summary(
        cov_type="HC3", data=[(X[rows], Y[rows]) for rows in chunks]
    )
    assert_allclose(table.table["std_err"], expected.table["std_err"], rtol=1e-12)
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.full((4, 2), float("nan")), "Input X contains NaN"),
        (torch.full((4, 2), float("inf")), "Input X contains infinity"),
        (torch.ones(4), "Expected a 2-D tensor X"),
        (torch.ones((0, 2)), r"0 sample\(s\)"),
        (torch.ones((4, 0)), r"0 feature\(s\)"),
        (torch.ones((4, 2), dtype=torch.complex64), "Complex data not supported"),
        (torch.eye(4).to_sparse(), "sparse torch tensor"),
    ],
)
def test_bad_tensors_are_refused_clearly(bad, message):
    """Check that tensors are refused with scikit-learn's messages for arrays."""
    with pytest.raises((ValueError, TypeError), match=message):
        TorchLinearRegressor(device="cpu").fit(bad, np.ones(len(bad)))


def test_tensor_of_integers_and_wrong_width():
    """Check that an integer tensor is fitted as float64 and that a tensor of
    another width is refused at predict, as arrays are."""
    Xi = np.arange(40).reshape(20, 2) % 7
    y = Xi @ [1.0, -1.0] + 2.0
    reg = TorchLinearRegressor(device="cpu").fit(torch.as_tensor(Xi), y)
    assert_allclose(reg.coef_, [1.0, -1.0], atol=1e-12)
    with pytest.raises(ValueError, match="X has 3 features"):
        reg.predict(torch.ones((2, 3)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("case", ["exact", "quantile", "huber", "adam"])
def test_cuda_tensor_stays_on_the_device(case, host_reads):
    """Check that a CUDA tensor fits and predicts without a copy to the host,
    with the NumPy fit's predictions."""
    params = {"random_state": 0, **TENSOR_FITS[case]}
    reference = TorchLinearRegressor(device="cpu", **params).fit(X, Y)
    tensor = host_reads.guard(torch.as_tensor(X, device="cuda"))
    reg = TorchLinearRegressor(device="cuda", **params).fit(tensor, Y)
    predicted = reg.predict(tensor)
    assert host_reads.calls == []
    rtol = 1e-3 if case == "adam" else 1e-10
    assert_allclose(predicted, reference.predict(X), rtol=rtol, atol=rtol)
