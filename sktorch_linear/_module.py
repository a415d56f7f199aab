"""Torch building blocks of the linear net (pure torch)."""

import torch
from torch import nn
from torch.nn.functional import mse_loss


class LinearModule(nn.Module):
    """``y = X @ weight.T + bias`` on standardized data, initialised at zero, with
    an elastic-net penalty.

    The linear layer works on standardized data: ``z = (X - x_center) / x_scale``
    (times 0 for constant columns, then times ``whitening`` when given) in,
    ``(y - y_center) / y_scale`` out. The
    gradient solvers train it on data standardized once, in advance
    (:meth:`standardized`); :meth:`forward` takes ``X`` in its original units
    and returns predictions in those of ``y``, so that the module (and its net)
    predicts as the estimator does.

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
    l1 : float or sequence of float, default=0.0
        Strength of the L1 penalty ``l1[k] * ||weight[k]||_1``, per target. It is
        applied by :meth:`shrink` (a proximal step), not through the gradient.
    l2 : float or sequence of float, default=0.0
        Strength of the L2 penalty ``l2[k] / 2 * ||weight[k]||^2``, per target.
        The bias is never penalised.
    proximal_l2 : bool, default=False
        Whether the L2 penalty is applied by :meth:`shrink` too (a proximal
        step, stable at any strength: Adam and SGD) instead of through the
        gradient (L-BFGS, whose line search handles any curvature).
    dtype : torch.dtype, default=torch.float32
        dtype of the parameters.
    scaling : dict of array-like, default=None
        ``x_center``, ``x_scale`` and ``x_keep`` (1 for varying columns, 0 for
        constant ones) of shape (n_features,), ``y_center`` and ``y_scale`` of
        shape (n_targets,), and ``whitening``, None or of shape (n_features,
        n_features), applied after standardizing; None for data that are
        standardized already.
    scaled : bool, default=False
        Whether the module also learns the scale of the residuals per target
        (the Huber loss with a concomitant scale), as its logarithm
        ``log_scale`` (standardized units, 0 at the start: the scale of
        ``y``).
    """

    def __init__(
        self,
        n_features,
        n_targets,
        bias=True,
        l1=0.0,
        l2=0.0,
        dtype=torch.float32,
        scaling=None,
        scaled=False,
        proximal_l2=False,
    ):
        super().__init__()
        self.linear = nn.utils.skip_init(
            nn.Linear, n_features, n_targets, bias=bias, dtype=dtype
        )
        with torch.no_grad():
            for parameter in self.linear.parameters():
                parameter.zero_()
        self.register_buffer("l1", torch.as_tensor(l1, dtype=dtype).expand(n_targets))
        self.register_buffer("l2", torch.as_tensor(l2, dtype=dtype).expand(n_targets))
        self.penalised = bool(self.l1.any() or self.l2.any())
        self.proximal_l2 = proximal_l2
        identity = {
            "x_center": torch.zeros(n_features),
            "x_scale": torch.ones(n_features),
            "x_keep": torch.ones(n_features),
            "y_center": torch.zeros(n_targets),
            "y_scale": torch.ones(n_targets),
        }
        for name, default in identity.items():
            value = default if scaling is None else scaling[name]
            self.register_buffer(name, torch.as_tensor(value, dtype=dtype))
        whitening = None if scaling is None else scaling.get("whitening")
        if whitening is not None:
            whitening = torch.as_tensor(whitening, dtype=dtype)
        self.register_buffer("whitening", whitening)
        log_scale = (
            nn.Parameter(torch.zeros(n_targets, dtype=dtype)) if scaled else None
        )
        self.register_parameter("log_scale", log_scale)

    def forward(self, X):
        """Predictions in the units of ``y`` for ``X`` in its original units."""
        z = (X - self.x_center) / self.x_scale * self.x_keep
        if self.whitening is not None:
            z = z @ self.whitening
        return self.linear(z) * self.y_scale + self.y_center

    def standardized(self, Z):
        """Standardized predictions for standardized ``Z``."""
        return self.linear(Z)

    @torch.no_grad()
    def load_solution(self, weight, bias, scale=None):
        """Set the standardized coefficients ``(n_targets, n_features)`` and
        intercepts ``(n_targets,)`` (the intercepts are ignored without a
        bias), and the standardized scales ``(n_targets,)`` when given (and
        learnt)."""
        linear = self.linear
        dtype = linear.weight.dtype  # converted on the CPU: MPS has no float64
        linear.weight.copy_(torch.as_tensor(weight, dtype=dtype))
        if linear.bias is not None:
            linear.bias.copy_(torch.as_tensor(bias, dtype=dtype))
        if scale is not None and self.log_scale is not None:
            tiny = torch.finfo(dtype).tiny  # a scale of 0: an exact fit
            scale = torch.as_tensor(scale, dtype=torch.float64).clamp(min=tiny)
            self.log_scale.copy_(scale.log().to(dtype))

    def scale(self):
        """The standardized scales (float64 NumPy), or None."""
        if self.log_scale is None:
            return None
        return self.log_scale.detach().to("cpu", torch.float64).exp().numpy()

    def penalty(self):
        """Return the penalty: the L2 part differentiable (unless
        ``proximal_l2``), the L1 part detached (their minimisation is then the
        job of :meth:`shrink`)."""
        if not self.penalised:
            return 0.0
        weight = self.linear.weight
        squares = (weight.detach() if self.proximal_l2 else weight).square()
        l2 = 0.5 * (self.l2 @ squares.sum(dim=1))
        l1 = self.l1 @ weight.detach().abs().sum(dim=1)
        return l2 + l1

    @torch.no_grad()
    def shrink(self, step, l2_step=None):
        """Proximal step of the L1 penalty: soft-threshold the weights by
        ``step * l1`` (``step`` is a scalar or has the shape of the weights);
        then, with ``proximal_l2``, that of the L2 penalty, a division by ``1 +
        l2_step * l2`` (``l2_step`` defaults to ``step``)."""
        weight = self.linear.weight
        threshold = step * self.l1.unsqueeze(1)
        weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_(min=0))
        if self.proximal_l2:
            l2_step = step if l2_step is None else l2_step
            weight.div_(1 + l2_step * self.l2.unsqueeze(1))


def _weighted_mean(sample_weight, values):
    """Mean over rows with weights normalised to mean one (None: unweighted),
    summed over targets."""
    if sample_weight is None:
        return values.sum() / values.shape[0]
    return (sample_weight @ values).sum() / values.shape[0]


class SquaredLoss(nn.Module):
    """Half the squared error: ``r^2 / 2``.

    Like the other losses, it averages over the rows of the batch, weighted by
    ``sample_weight`` (normalised to mean one over the training set) if given,
    and sums over the targets.
    """

    def forward(self, y_pred, y_true, sample_weight=None):
        if sample_weight is None:  # the common case, in one fused kernel
            return 0.5 / y_pred.shape[0] * mse_loss(y_pred, y_true, reduction="sum")
        return _weighted_mean(sample_weight, 0.5 * (y_pred - y_true).square())


class HuberLoss(nn.Module):
    """Huber's loss with a concomitant scale ``sigma`` (HuberRegressor's):
    ``sigma + r^2 / sigma`` for ``|r| <= epsilon sigma``, else ``sigma (1 -
    epsilon^2) + 2 epsilon |r|``, with ``sigma = exp(log_scale)`` per target
    (the module's parameter)."""

    def __init__(self, epsilon):
        super().__init__()
        self.epsilon = float(epsilon)

    def forward(self, y_pred, y_true, sample_weight=None, log_scale=None):
        sigma = log_scale.exp()
        r = (y_pred - y_true).abs()
        inside = torch.minimum(r, self.epsilon * sigma)
        loss = sigma + inside.square() / sigma + 2 * self.epsilon * (r - inside)
        return _weighted_mean(sample_weight, loss)


class QuantileLoss(nn.Module):
    """The pinball loss of ``quantile``: ``quantile * r`` for ``r >= 0``, else
    ``(quantile - 1) * r``, where ``r = y_true - y_pred``; ``quantile`` may
    differ per target."""

    def __init__(self, quantile):
        super().__init__()
        self.register_buffer("quantile", torch.as_tensor(quantile))

    def forward(self, y_pred, y_true, sample_weight=None):
        quantile = self.quantile.to(y_pred.dtype)
        r = y_true - y_pred
        loss = torch.maximum(quantile * r, (quantile - 1) * r)
        return _weighted_mean(sample_weight, loss)


class AbsoluteLoss(nn.Module):
    """The absolute error ``|r|``."""

    def forward(self, y_pred, y_true, sample_weight=None):
        return _weighted_mean(sample_weight, (y_pred - y_true).abs())
