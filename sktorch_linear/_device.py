"""Resolve ``device`` and ``dtype`` requests against what this machine has."""

import warnings

import numpy as np
import torch

from . import _warnings


def available_devices():
    """Return the names of the devices torch can use on this machine."""
    names = ["cpu"]
    names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def resolve_device(device):
    """Turn a ``device`` request into an available :class:`torch.device`.

    ``"auto"`` picks the first CUDA device, then MPS, then the CPU. Any other
    request is parsed by torch and refused with a :class:`ValueError` that names
    what is available when this machine cannot run it.
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device torch understands ({exc}). Use "
            f"'auto' or one of the devices available here: {available_devices()}."
        ) from None
    if resolved.type == "cpu":
        return torch.device("cpu")
    if resolved.type == "cuda":
        if resolved.index is None and torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        index = 0 if resolved.index is None else resolved.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s). Available devices: "
                f"{available_devices()}. Use device='auto' to pick the best one."
            )
        return torch.device("cuda", index)
    if resolved.type == "mps" and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this "
            f"machine. Available devices: {available_devices()}. Use "
            "device='auto' to pick the best one."
        )
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not supported. Use 'auto' or one of the "
            f"devices available here: {available_devices()}."
        )
    return resolved


def usable_device(device):
    """``device`` if this machine has it, else the CPU: where to rebuild the
    state of a model that may have been trained on another machine."""
    if device.type == "cpu" or str(device) in available_devices():
        return device
    return torch.device("cpu")


def resolve_dtype(dtype, input_dtype, device):
    """Return the torch dtype the gradient solvers compute in.

    ``dtype=None`` follows the validated input (float32 or float64). MPS has no
    float64: a float64 request there is computed in float32, with a warning.
    """
    name = np.dtype(input_dtype).name if dtype is None else dtype
    if name == "float64" and device.type == "mps":
        _warnings.warn(
            "MPS does not support float64; computing in float32 on device 'mps'. "
            "Pass dtype='float32' to silence this warning, or device='cpu' for "
            "float64 precision.",
            UserWarning,
        )
        name = "float32"
    return getattr(torch, name)


def as_tensor(array, *, device, dtype):
    """Return ``array`` as a tensor on ``device``, sharing memory where torch can.

    Read-only arrays (memmaps, broadcast views) are accepted: callers never
    write to the returned tensor in place. (See :func:`host_tensor`.)
    """
    return host_tensor(array).to(device=device, dtype=dtype)


def host_tensor(array):
    """``array`` (a NumPy array, or anything ``torch.as_tensor`` takes) as a
    tensor on the host sharing its memory, whatever its layout: a view with
    negative strides (``X[::-1]``, ``np.flip``), which torch cannot share, is
    copied; a read-only array is shared (no tensor made from it is written)."""
    if isinstance(array, np.ndarray) and any(s < 0 for s in array.strides):
        array = array.copy()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.as_tensor(array)


def accumulation_dtype(device, *, warn=True):
    """Return the dtype statistics are accumulated in.

    float64 everywhere but on MPS, which has no float64: there they are
    accumulated in float32, with a warning unless ``warn=False``.
    """
    if device.type != "mps":
        return torch.float64
    if warn:
        _warnings.warn(
            "MPS does not support float64; the exact solver accumulates its statistics "
            "in float32 there (about 7 significant digits). Use device='cpu' for "
            "float64 accuracy.",
            UserWarning,
        )
    return torch.float32


def float64_device(device):
    """Where float64 work on data held on ``device`` runs: ``device``, or the
    CPU for MPS, which has no float64."""
    return torch.device("cpu") if device.type == "mps" else device


def to_numpy(value, dtype=None):
    """``value`` with its tensors (nested in dicts, lists and tuples) as NumPy
    arrays on the host, copied (in ``dtype`` when given)."""
    if torch.is_tensor(value):
        return value.detach().to("cpu", dtype).numpy().copy()
    if isinstance(value, dict):
        return {key: to_numpy(item, dtype) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(item, dtype) for item in value)
    return value
