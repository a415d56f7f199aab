"""The fitted model outside the estimator: a plain torch module
(:func:`to_torch`) and the converter that lets skl2onnx export it to ONNX
(:func:`register_onnx_converter`)."""

import numpy as np
import torch
from torch import nn


def to_torch(coef, intercept, *, device, dtype):
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


def register_onnx_converter():
    """Register :class:`TorchLinearRegressor` with skl2onnx.

    skl2onnx's shape calculator and converter of scikit-learn's linear
    regressors apply as they are (``coef_`` and ``intercept_`` are all they
    read): float32 and float64 graphs, one or several outputs, the estimator
    alone or in a pipeline. Call it once per process before
    ``skl2onnx.to_onnx``; it needs skl2onnx installed.

    Returns
    -------
    alias : str
        The name the estimator is registered under.

    Examples
    --------
    >>> import numpy as np
    >>> from skl2onnx import to_onnx
    >>> from sktorch_linear import TorchLinearRegressor, register_onnx_converter
    >>> register_onnx_converter()
    'SktorchLinearTorchLinearRegressor'
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> reg = TorchLinearRegressor(device="cpu").fit(X, X.sum(axis=1))
    >>> onnx_model = to_onnx(reg, X.astype(np.float32), target_opset=18)
    >>> [node.op_type for node in onnx_model.graph.node]
    ['LinearRegressor']
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.linear_regressor import (
        convert_sklearn_linear_regressor,
    )
    from skl2onnx.shape_calculators.linear_regressor import (
        calculate_linear_regressor_output_shapes,
    )

    from ._regressor import TorchLinearRegressor

    alias = "SktorchLinearTorchLinearRegressor"
    update_registered_converter(
        TorchLinearRegressor,
        alias,
        calculate_linear_regressor_output_shapes,
        convert_sklearn_linear_regressor,
    )
    return alias
