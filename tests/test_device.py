"""Device and dtype resolution."""

import re
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.utils._param_validation import InvalidParameterError

from sktorch_linear import TorchLinearRegressor
from sktorch_linear._device import accumulation_dtype, resolve_device, resolve_dtype

CPU = torch.device("cpu")
MPS = torch.device("mps")  # constructing it needs no MPS hardware


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def _available_device_names():
    """The devices this machine has, worked out independently of the package."""
    names = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return names + (["mps"] if _mps_available() else [])


def _device_exists(device):
    device = torch.device(device)
    if device.type == "cuda":
        index = 0 if device.index is None else device.index
        return index < torch.cuda.device_count()
    if device.type == "mps":
        return _mps_available()
    return device.type == "cpu"


def _data(n_samples=40, n_features=3, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = X @ np.arange(1.0, n_features + 1) + 0.5 + 0.01 * rng.randn(n_samples)
    return X.astype(dtype), y.astype(dtype)


# resolve_device


def test_resolve_device_auto():
    """Check that 'auto' picks CUDA if available, else MPS if available, else CPU."""
    device = resolve_device("auto")
    assert isinstance(device, torch.device)
    if torch.cuda.is_available():
        assert device == torch.device("cuda", torch.cuda.current_device())
    elif _mps_available():
        assert device == MPS
    else:
        assert device == CPU


def test_fit_device_auto():
    """Check that fitting with device='auto' records the resolved device."""
    X, y = _data()
    reg = TorchLinearRegressor(device="auto").fit(X, y)
    assert reg.device_ == str(resolve_device("auto"))
    assert reg.device_.split(":")[0] in {"cpu", "cuda", "mps"}


@pytest.mark.parametrize(
    "device", ["cuda", "cuda:0", "cuda:7", "mps", torch.device("cuda", 7)]
)
def test_unavailable_device_refused_at_fit(device):
    """Check that a device this machine lacks is refused at fit, not construction."""
    if _device_exists(device):
        pytest.skip(f"{device} exists on this machine")
    X, y = _data()
    reg = TorchLinearRegressor(device=device)
    assert reg.get_params()["device"] is device
    message = (
        f"device={re.escape(repr(device))} was requested but .*Available devices: "
        f"{re.escape(str(_available_device_names()))}. Use device='auto'"
    )
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "coef_")


@pytest.mark.parametrize("device", ["tpu", "gpu0", "GPU", "cuda:x", "meta", ""])
def test_unknown_device_refused_at_fit(device):
    """Check that an unknown or unsupported device string is refused at fit."""
    X, y = _data()
    reg = TorchLinearRegressor(device=device)
    message = (
        f"device={re.escape(repr(device))} is not .*Use 'auto' or one of the "
        f"devices available here: {re.escape(str(_available_device_names()))}"
    )
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_device_of_wrong_type_refused_at_fit():
    """Check that a device that is neither a str nor a torch.device is refused."""
    X, y = _data()
    reg = TorchLinearRegressor(device=0)
    with pytest.raises(
        InvalidParameterError,
        match="The 'device' parameter of TorchLinearRegressor must be an instance of",
    ):
        reg.fit(X, y)


@pytest.mark.parametrize("solver", ["exact", "lbfgs"])
@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu_device(device, solver):
    """Check that device='cpu' and torch.device('cpu') fit on the CPU."""
    X, y = _data()
    reg = TorchLinearRegressor(device=device, solver=solver).fit(X, y)
    assert reg.device_ == "cpu"
    if solver != "exact":
        assert reg.net_.module_.linear.weight.device == CPU
    assert_allclose(reg.coef_, [1.0, 2.0, 3.0], rtol=1e-2)


# resolve_dtype and accumulation_dtype


@pytest.mark.parametrize(
    "dtype, input_dtype, expected",
    [
        (None, np.float32, torch.float32),
        (None, np.float64, torch.float64),
        ("float32", np.float64, torch.float32),
        ("float64", np.float32, torch.float64),
        ("float64", np.float64, torch.float64),
    ],
)
def test_resolve_dtype_cpu(dtype, input_dtype, expected):
    """Check that on the CPU the compute dtype follows dtype, else the input."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_dtype(dtype, input_dtype, CPU) is expected


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_resolve_dtype_mps_float64_falls_back_to_float32(dtype):
    """Check that float64 on MPS computes in float32, with a warning."""
    with pytest.warns(
        UserWarning,
        match=(
            "MPS does not support float64; computing in float32 on device 'mps'. "
            "Pass dtype='float32' to silence this warning, or device='cpu'"
        ),
    ):
        assert resolve_dtype(dtype, np.float64, MPS) is torch.float32


@pytest.mark.parametrize(
    "dtype, input_dtype", [(None, np.float32), ("float32", np.float64)]
)
def test_resolve_dtype_mps_float32_no_warning(dtype, input_dtype):
    """Check that a float32 computation on MPS does not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_dtype(dtype, input_dtype, MPS) is torch.float32


def test_accumulation_dtype_mps():
    """Check that the exact solver accumulates in float32 on MPS, with a warning."""
    with pytest.warns(
        UserWarning,
        match="accumulates its statistics in float32 .* Use device='cpu' for float64",
    ):
        assert accumulation_dtype(MPS) is torch.float32


@pytest.mark.parametrize("device", [CPU, torch.device("cuda"), torch.device("cuda:1")])
def test_accumulation_dtype_float64(device):
    """Check that the exact solver accumulates in float64 off MPS, silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert accumulation_dtype(device) is torch.float64


# Compute dtype of a fit


def _assert_float64_outputs(reg, X):
    assert isinstance(reg.coef_, np.ndarray)
    assert reg.coef_.dtype == np.float64
    assert np.asarray(reg.intercept_).dtype == np.float64
    y_pred = reg.predict(X)
    assert isinstance(y_pred, np.ndarray)
    assert y_pred.dtype == np.float64


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
@pytest.mark.parametrize(
    "input_dtype, dtype, expected",
    [
        (np.float32, None, torch.float32),
        (np.float64, None, torch.float64),
        (np.float64, "float32", torch.float32),
        (np.float32, "float64", torch.float64),
    ],
)
def test_gradient_solver_compute_dtype(solver, input_dtype, dtype, expected):
    """Check that the gradient solvers train in the resolved dtype."""
    X, y = _data(dtype=input_dtype)
    reg = TorchLinearRegressor(
        device="cpu", solver=solver, dtype=dtype, max_iter=5, random_state=0
    ).fit(X, y)
    assert reg.net_.module_.linear.weight.dtype is expected
    assert reg.net_.module_.linear.bias.dtype is expected
    _assert_float64_outputs(reg, X)


@pytest.mark.parametrize("dtype", [None, "float32"])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_exact_solver_float64_outputs(input_dtype, dtype):
    """Check that the exact solver reports float64 whatever the input dtype."""
    X, y = _data(dtype=input_dtype)
    reg = TorchLinearRegressor(device="cpu", solver="exact", dtype=dtype).fit(X, y)
    assert reg.net_.module_.linear.weight.dtype is torch.float64  # holds the solution
    _assert_float64_outputs(reg, X)
    assert_allclose(reg.coef_, [1.0, 2.0, 3.0], rtol=1e-2)


# CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("solver", ["exact", "lbfgs"])
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_cuda_matches_cpu(solver, device):
    """Check that fitting on CUDA gives the CPU coefficients (float64)."""
    X, y = _data(n_samples=500, n_features=5)
    params = {"solver": solver, "random_state": 0}
    reg_cuda = TorchLinearRegressor(device=device, **params).fit(X, y)
    reg_cpu = TorchLinearRegressor(device="cpu", **params).fit(X, y)

    assert reg_cuda.device_.startswith("cuda")
    if solver != "exact":
        assert reg_cuda.net_.module_.linear.weight.device.type == "cuda"
        assert reg_cuda.net_.module_.linear.weight.dtype is torch.float64
    _assert_float64_outputs(reg_cuda, X)
    assert_allclose(reg_cuda.coef_, reg_cpu.coef_, rtol=1e-6)
    assert_allclose(reg_cuda.intercept_, reg_cpu.intercept_, rtol=1e-6)
    assert_allclose(reg_cuda.predict(X), reg_cpu.predict(X), rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "params",
    [
        {"loss": "quantile", "quantile": [0.1, 0.9]},
        {"loss": "absolute_error", "alpha": 0.01, "l1_ratio": 1.0},
        {"loss": "huber"},
        {"loss": "huber", "solver": "adam", "random_state": 0},
    ],
)
def test_cuda_robust_losses_match_cpu(params):
    """Check that the exact solvers of the robust losses (rows held on the GPU)
    and the gradient fit of Huber give the CPU's answer on CUDA."""
    X, y = _data(n_samples=2000, n_features=5)
    y = y + 5 * np.random.default_rng(0).standard_t(2, size=len(y))
    reg_cuda = TorchLinearRegressor(device="cuda", **params).fit(X, y)
    reg_cpu = TorchLinearRegressor(device="cpu", **params).fit(X, y)
    assert reg_cuda.device_.startswith("cuda")
    assert reg_cuda.optimality_gap_ <= 1e-8
    assert_allclose(reg_cuda.coef_, reg_cpu.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(reg_cuda.predict(X), reg_cpu.predict(X), rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_float32_input_trains_in_float32():
    """Check that float32 input trains in float32 on CUDA and reports float64."""
    X, y = _data(n_samples=500, n_features=5, dtype=np.float32)
    reg = TorchLinearRegressor(device="cuda", solver="lbfgs").fit(X, y)
    assert reg.net_.module_.linear.weight.dtype is torch.float32
    _assert_float64_outputs(reg, X)
    # L-BFGS in float32 stops ~1e-4 (relative) from the float64 solution.
    reg_cpu = TorchLinearRegressor(device="cpu", solver="exact").fit(X, y)
    assert_allclose(reg.coef_, reg_cpu.coef_, rtol=1e-3)


def test_float64_work_leaves_mps_for_the_cpu():
    """Check where the optimality checks' float64 work runs: on the data's
    device, except MPS (no float64), where it runs on the CPU."""
    from sktorch_linear._device import float64_device

    assert float64_device(torch.device("mps")) == torch.device("cpu")
    assert float64_device(torch.device("cpu")) == torch.device("cpu")
    assert float64_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
