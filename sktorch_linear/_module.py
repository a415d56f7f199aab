"""Torch building blocks of the gradient solvers (pure torch)."""

import torch
from torch import nn


class LinearModule(nn.Module):
    """``y = X @ weight.T + bias``, initialised at zero, with an L2 penalty.

    Zero is a natural start for a convex problem, and creating the module
    consumes nothing of torch's global random number generator.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_targets : int
        Number of outputs.
    bias : bool, default=True
        Whether the layer has a bias (the intercept).
    alpha : float, default=0.0
        Strength of the penalty ``alpha / 2 * ||weight||^2`` (the bias is not
        penalised).
    dtype : torch.dtype, default=torch.float32
        dtype of the parameters.
    """

    def __init__(
        self, n_features, n_targets, bias=True, alpha=0.0, dtype=torch.float32
    ):
        super().__init__()
        self.alpha = alpha
        self.linear = nn.utils.skip_init(
            nn.Linear, n_features, n_targets, bias=bias, dtype=dtype
        )
        with torch.no_grad():
            for parameter in self.linear.parameters():
                parameter.zero_()

    def forward(self, X):
        return self.linear(X)

    def penalty(self):
        """Return ``alpha / 2 * ||weight||^2``."""
        return 0.5 * self.alpha * self.linear.weight.square().sum()


class WeightedSquaredLoss(nn.Module):
    """Half the weighted squared error, summed over targets, averaged over rows.

    ``loss = sum_i w_i * ||y_pred_i - y_i||^2 / (2 * n_rows)``, where the weights
    are normalised to mean one over the whole training set, so that the mean over
    mini-batches is the full-batch objective.
    """

    def forward(self, y_pred, y_true, sample_weight):
        residual = y_pred - y_true
        return 0.5 * (sample_weight @ residual.square()).sum() / residual.shape[0]
