"""A scikit-learn linear regressor on PyTorch, with exact and gradient solvers."""

from ._checkpoint import CheckpointError
from ._inference import RegressionSummary
from ._regressor import TorchLinearRegressor

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "RegressionSummary",
    "TorchLinearRegressor",
    "__version__",
]
