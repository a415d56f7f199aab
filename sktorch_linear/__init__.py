"""A scikit-learn linear regressor on PyTorch, with exact and gradient solvers."""

from ._checkpoint import CheckpointError
from ._cv import TorchLinearRegressorCV
from ._onnx import register_onnx_converter
from ._regressor import TorchLinearRegressor
from ._results import LinearTest, QuantileSummary, RegressionSummary
from ._version import InconsistentVersionWarning, __version__

__all__ = [
    "CheckpointError",
    "InconsistentVersionWarning",
    "LinearTest",
    "QuantileSummary",
    "RegressionSummary",
    "TorchLinearRegressor",
    "TorchLinearRegressorCV",
    "__version__",
    "register_onnx_converter",
]
