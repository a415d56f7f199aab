"""The fitted model outside the estimator as a plain torch module
(``TorchLinearRegressor.to_torch``)."""

import numpy as np
import torch
from torch import nn

from ._device import resolve_device, usable_device


def to_torch(coef, intercept, *, device, dtype, fitted_on):
    """:func:`module` on ``device`` (None: ``fitted_on``, the device of the
    fit, or the CPU where this machine lacks it) in ``dtype`` (a name)."""
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}.")
    device = usable_device(fitted_on) if device is None else resolve_device(device)
    if device.type == "mps" and dtype == "float64":
        raise ValueError("MPS has no float64: pass dtype='float32' for MPS.")
    return module(coef, intercept, device=device, dtype=getattr(torch, dtype))


def module(coef, intercept, *, device, dtype):
    """A :class:`torch.nn.Module` computing ``X @ coef.T + intercept`` in the
    original units of ``X`` and ``y`` (the scaling folded into the weights): an
    ``nn.Linear``, followed by ``nn.Flatten(0)`` when ``coef`` is 1-D (one
    target, predictions of shape ``(n,)`` as ``predict`` returns them)."""
    weight = np.atleast_2d(coef)
    linear = nn.Linear(weight.shape[1], weight.shape[0], device=device, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(weight, dtype=dtype))
        linear.bias.copy_(torch.as_tensor(np.atleast_1d(intercept), dtype=dtype))
    linear.requires_grad_(False)
    if np.ndim(coef) == 1:
        return nn.Sequential(linear, nn.Flatten(0)).eval()
    return linear.eval()
