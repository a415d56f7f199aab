"""The gradient solvers: a skorch net around :class:`LinearModule`.

skorch drives the training loop (callbacks, history, optimizers); this module
supplies what makes it fast and correct for a linear model: a batch iterator that
slices tensors already on the device, a sample-weighted loss batched with the
data, a convergence rule, and a divergence check.
"""

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PrintLog

from ._device import as_tensor
from ._module import LinearModule, WeightedSquaredLoss

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "lbfgs": torch.optim.LBFGS,
}
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "lbfgs": 1.0}


class SliceBatches:
    """Iterate over mini-batches that are slices of tensors on the device.

    Replaces skorch's per-sample ``Dataset`` + ``DataLoader`` collation: each
    epoch permutes the rows once (when shuffling) and then yields contiguous
    slices, so a batch costs a view, not a gather of Python objects.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` as a dict of tensors (``"X"``, ``"sample_weight"``) and ``y``.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Whether to permute the rows at the start of each epoch.
    generator : torch.Generator or None, default=None
        Source of the permutations (a CPU generator, so that runs are
        reproducible without touching torch's global generator).
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return math.ceil(len(self.dataset.y) / self.batch_size)

    def __iter__(self):
        X, y = self.dataset.X, self.dataset.y
        n_rows = len(y)
        if self.shuffle and self.batch_size < n_rows:
            order = torch.randperm(n_rows, generator=self.generator).to(y.device)
            X = {key: value[order] for key, value in X.items()}
            y = y[order]
        for start in range(0, n_rows, self.batch_size):
            stop = start + self.batch_size
            yield {key: value[start:stop] for key, value in X.items()}, y[start:stop]


class LinearNet(NeuralNet):
    """skorch net for :class:`LinearModule` with a sample-weighted loss.

    Its input is a dict with the standardised data (``"X"``) and the sample
    weights (``"sample_weight"``), already on the device.
    """

    def infer(self, x, **fit_params):
        return self.module_(x["X"])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, y_true, X["sample_weight"])
        return loss + self.module_.penalty()

    def __getstate__(self):
        # Record the CPU as the device so that unpickling maps every tensor to the
        # CPU: a net trained on CUDA or MPS then loads on any machine.
        state = super().__getstate__()
        state["device"] = "cpu"
        return state


class ConvergenceMonitor(Callback):
    """Decide when training has converged; refuse a non-finite loss.

    A non-finite loss, or one ``EXPLOSION`` times the loss at zero coefficients,
    is divergence and raises :class:`FloatingPointError`.

    The loss has stalled when it has not improved on its best value by at least
    ``tol`` for ``n_iter_no_change`` consecutive epochs. L-BFGS has then
    converged. Adam and SGD, whose iterates hover at a level set by the learning
    rate (mini-batch noise, or oscillation of a step too long for the
    curvature), first divide the learning rate by ``LR_DECAY`` and carry on, up
    to ``MAX_LR_DECAYS`` times. Stopping is
    signalled to skorch the way its ``EarlyStopping`` does, by
    ``KeyboardInterrupt``.
    """

    LR_DECAY = 10.0
    MAX_LR_DECAYS = 3
    # A loss this many times the loss at zero coefficients has diverged.
    EXPLOSION = 1e4

    def __init__(self, tol, n_iter_no_change, lr, decay_lr, initial_loss):
        self.tol = tol
        self.initial_loss = initial_loss
        self.n_iter_no_change = n_iter_no_change
        self.lr = lr
        self.decay_lr = decay_lr

    def initialize(self):
        self.converged_ = False
        self.best_loss_ = np.inf
        self.epochs_without_improvement_ = 0
        self.lr_decays_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        epoch = len(net.history)
        if not loss <= self.EXPLOSION * self.initial_loss:
            raise FloatingPointError(
                f"The training loss became {loss:.3g} at epoch {epoch} (it starts "
                f"at {self.initial_loss:.3g}): the solver diverged (lr={self.lr:g}). "
                "Lower lr, keep standardize=True, or use solver='exact' (squared "
                "loss) or solver='lbfgs'."
            )
        if loss > self.best_loss_ - self.tol:
            self.epochs_without_improvement_ += 1
        else:
            self.epochs_without_improvement_ = 0
        self.best_loss_ = min(self.best_loss_, loss)
        if self.epochs_without_improvement_ < self.n_iter_no_change:
            return
        if self.decay_lr and self.lr_decays_ < self.MAX_LR_DECAYS:
            self.lr_decays_ += 1
            self.epochs_without_improvement_ = 0
            self.best_loss_ = loss
            for group in net.optimizer_.param_groups:
                group["lr"] /= self.LR_DECAY
            return
        self.converged_ = True
        raise KeyboardInterrupt


def build_net(
    *,
    solver,
    n_features,
    n_targets,
    fit_intercept,
    alpha,
    lr,
    momentum,
    max_iter,
    tol,
    n_iter_no_change,
    batch_size,
    n_samples,
    device,
    dtype,
    seed,
    verbose,
):
    """Return an initialised :class:`LinearNet` for one of the gradient solvers."""
    optimizer_params = {}
    if solver == "sgd" and momentum > 0:
        optimizer_params = {
            "optimizer__momentum": momentum,
            "optimizer__nesterov": True,
        }
    if solver == "lbfgs":
        eps = torch.finfo(dtype).eps
        optimizer_params = {
            "optimizer__line_search_fn": "strong_wolfe",
            "optimizer__tolerance_grad": eps**0.75,
            "optimizer__tolerance_change": eps,
        }
    full_batch = solver == "lbfgs" or batch_size is None or batch_size >= n_samples
    rows = n_samples if full_batch else batch_size
    net = LinearNet(
        module=LinearModule,
        module__n_features=n_features,
        module__n_targets=n_targets,
        module__bias=fit_intercept,
        module__alpha=alpha,
        module__dtype=dtype,
        criterion=WeightedSquaredLoss,
        optimizer=OPTIMIZERS[solver],
        lr=lr,
        max_epochs=max_iter,
        batch_size=rows,
        iterator_train=SliceBatches,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        train_split=None,
        callbacks=[
            (
                "convergence",
                ConvergenceMonitor(
                    tol,
                    n_iter_no_change,
                    lr,
                    decay_lr=solver != "lbfgs",
                    # zero coefficients on the standardised problem
                    initial_loss=0.5 * n_targets,
                ),
            ),
        ],
        device=device,
        verbose=verbose,
        # Without output, skip skorch's PrintLog: it formats a table every epoch.
        callbacks__print_log=None if verbose == 0 else PrintLog(),
        **optimizer_params,
    )
    return net.initialize()


def standardized_tensors(X, Y, sample_weight, scaling, *, device, dtype):
    """Move ``X``, ``Y`` and the weights to ``device``, standardised.

    Returns the dict input of :class:`LinearNet` and the target tensor. Columns
    that are constant (when centring) become exact zeros, so their coefficients
    stay at zero. Weights are normalised to mean one.
    """

    def tensor(array):
        return as_tensor(array, device=device, dtype=dtype)

    x = torch.sub(tensor(X), tensor(scaling.x_mean)).div_(tensor(scaling.x_scale))
    x[:, torch.as_tensor(scaling.constant, device=device)] = 0
    y = torch.sub(tensor(Y), tensor(scaling.y_mean)).div_(tensor(scaling.y_scale))
    if sample_weight is None:
        w = torch.ones(x.shape[0], device=device, dtype=dtype)
    else:
        w = tensor(sample_weight / np.mean(sample_weight))
    return {"X": x, "sample_weight": w}, y
