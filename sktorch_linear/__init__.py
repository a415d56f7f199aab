"""A scikit-learn linear regressor on PyTorch, with exact and gradient solvers."""

from ._regressor import TorchLinearRegressor

__version__ = "0.1.0"

__all__ = ["TorchLinearRegressor", "__version__"]
