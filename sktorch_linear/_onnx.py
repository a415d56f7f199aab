"""The converter that lets skl2onnx export the estimator to ONNX."""

from ._regressor import TorchLinearRegressor


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

    alias = "SktorchLinearTorchLinearRegressor"
    update_registered_converter(
        TorchLinearRegressor,
        alias,
        calculate_linear_regressor_output_shapes,
        convert_sklearn_linear_regressor,
    )
    return alias
