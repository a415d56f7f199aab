"""The gradient solvers: a skorch net around :class:`LinearModule`.

skorch drives the training loop (callbacks, history, optimizers); this module
supplies what makes it fast and correct for a linear model: a batch iterator that
slices tensors already on the device, a sample-weighted loss batched with the
data, the proximal step of the L1 penalty, validation scoring, a progress bar,
and the rules for convergence, divergence and checkpoints.
"""

import copy
import math

import numpy as np
import scipy.sparse
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.history import History
from tqdm.auto import tqdm

from . import _checkpoint
from ._device import as_tensor
from ._module import AbsoluteLoss, HuberLoss, LinearModule, QuantileLoss, SquaredLoss

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "lbfgs": torch.optim.LBFGS,
}
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "lbfgs": 1.0}


class SliceBatches:
    """Iterate over mini-batches that are slices of tensors on the device.

    Replaces skorch's per-sample ``Dataset`` + ``DataLoader`` collation: each
    epoch draws a permutation of the rows (when shuffling) and each batch gathers
    its rows with one indexing operation (without shuffling, a batch is a view),
    never a collation of Python objects.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` as a dict of tensors (``"X"`` and, when weighted,
        ``"sample_weight"``) and ``y``.
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
        if not (self.shuffle and self.batch_size < n_rows):
            for start in range(0, n_rows, self.batch_size):
                stop = start + self.batch_size
                yield (
                    {key: value[start:stop] for key, value in X.items()},
                    y[start:stop],
                )
            return
        order = torch.randperm(n_rows, generator=self.generator).to(y.device)
        for start in range(0, n_rows, self.batch_size):
            rows = order[start : start + self.batch_size]
            yield {key: _take(value, rows) for key, value in X.items()}, y[rows]


def _take(rows, order):
    """The rows of a tensor, or the dense rows of :class:`SparseRows`, in the
    given order."""
    if isinstance(rows, SparseRows):
        return rows.take(order.cpu())[:]
    return rows[order]


class SparseRows:
    """A sparse matrix whose rows are standardised and densified a batch at a time.

    Slicing returns the dense, standardised rows on the device: a sparse ``X``
    is never densified whole.

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or array
    mean, scale, keep : torch.Tensor
        Centres, divisors, and 0/1 multipliers (0 for constant columns) on the
        device.
    """

    def __init__(self, matrix, mean, scale, keep):
        self.matrix = matrix
        self.mean = mean
        self.scale = scale
        self.keep = keep

    def __len__(self):
        return self.matrix.shape[0]

    def take(self, order):
        return SparseRows(self.matrix[order.numpy()], self.mean, self.scale, self.keep)

    def __getitem__(self, rows):
        dense = as_tensor(
            self.matrix[rows].toarray(), device=self.mean.device, dtype=self.mean.dtype
        )
        return dense.sub_(self.mean).div_(self.scale).mul_(self.keep)


class LinearNet(NeuralNet):
    """skorch net for :class:`LinearModule` with a sample-weighted loss.

    Its input is a dict with the standardised data (``"X"``) and the sample
    weights (``"sample_weight"``, absent when unweighted), already on the device.
    """

    def infer(self, x, **fit_params):
        return self.module_(x["X"])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        """Record nothing per batch (skorch would start a history entry)."""

    def initialize_callbacks(self):
        super().initialize_callbacks()
        # skorch announces every batch's gradients to the callbacks, building a
        # generator of the parameters each time; only do it for callbacks that
        # listen (gradient clipping, say).
        self.gradient_listeners_ = [
            cb
            for _, cb in self.callbacks_
            if type(cb).on_grad_computed is not Callback.on_grad_computed
        ]
        return self

    def notify(self, method_name, **cb_kwargs):
        if method_name == "on_grad_computed" and not self.gradient_listeners_:
            return
        super().notify(method_name, **cb_kwargs)

    def _set_training(self, training=True):
        # Called for every batch; a linear module has no train/eval behaviour to
        # switch, so only switch when the mode changes.
        if getattr(self, "training_mode_", None) != training:
            super()._set_training(training)
            self.training_mode_ = training

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch, recording the row-weighted mean batch loss as
        ``<prefix>_loss``.

        skorch records every batch's loss with ``.item()``, a device
        synchronisation per batch; here the losses add up on the device and are
        read once per epoch. Callbacks still see every batch.
        """
        if iterator is None:
            return
        total, rows = 0.0, 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[1])
            total = total + step["loss"].detach() * size
            rows += size
            self.notify("on_batch_end", batch=batch, training=training, **step)
        self.history.record(prefix + "_loss", float(total) / rows)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, y_true, X.get("sample_weight"))
        return loss + self.module_.penalty()

    def __getstate__(self):
        # Record the CPU as the device so that unpickling maps every tensor to the
        # CPU: a net trained on CUDA or MPS then loads on any machine.
        state = super().__getstate__()
        state["device"] = "cpu"
        return state


class L1Proximal(Callback):
    """Apply the proximal step of the L1 penalty after every optimizer step.

    The step size is the optimizer's: the learning rate for SGD, and for Adam
    the learning rate divided by its per-coordinate scale
    ``sqrt(v_hat) + eps``, so that the shrinkage matches the step each weight
    took. Weights shrunk past zero become exact zeros.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        optimizer = net.optimizer_
        group = optimizer.param_groups[0]
        step = group["lr"]
        if isinstance(optimizer, torch.optim.Adam):
            state = optimizer.state[net.module_.linear.weight]
            beta2 = group["betas"][1]
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))
            step = group["lr"] / (v_hat.sqrt() + group["eps"])
        net.module_.shrink(step)


class ValidationScore(Callback):
    """Record the R^2 of the model on held-out data as ``valid_r2`` each epoch.

    Parameters
    ----------
    inputs : dict
        Standardised validation data, in the input format of :class:`LinearNet`.
    target : torch.Tensor
        Standardised validation targets.
    """

    def __init__(self, inputs, target):
        self.inputs = inputs
        self.target = target

    @torch.no_grad()
    def on_epoch_end(self, net, **kwargs):
        prediction = net.module_(self.inputs["X"])
        w = self.inputs.get("sample_weight")
        if w is None:
            w = torch.ones_like(prediction[:, 0])
        mean = (w @ self.target) / w.sum()
        residual = w @ (self.target - prediction).square()
        total = w @ (self.target - mean).square()
        score = torch.where(total > 0, 1 - residual / total, 0.0).mean()
        net.history.record("valid_r2", float(score))


class Progress(Callback):
    """A tqdm progress bar over epochs with the training loss and, when
    validating, the validation R^2."""

    def on_train_begin(self, net, **kwargs):
        done = len(net.history)
        self.bar_ = tqdm(
            total=done + net.max_epochs, initial=done, unit="epoch", leave=True
        )

    def on_epoch_end(self, net, **kwargs):
        record = net.history[-1]
        postfix = {"loss": f"{record['train_loss']:.4g}"}
        if "valid_r2" in record:
            postfix["valid R2"] = f"{record['valid_r2']:.4f}"
        self.bar_.set_postfix(postfix, refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        del self.bar_  # a terminal handle: it would make the net unpicklable


class ConvergenceMonitor(Callback):
    """Decide when training has converged; refuse divergence; checkpoint.

    A non-finite loss, or one ``EXPLOSION`` times the loss at zero coefficients,
    is divergence and raises :class:`FloatingPointError`.

    The metric is the training loss, or minus the validation R^2 when
    validating (early stopping). It has stalled when it has not improved on its
    best value by at least ``tol`` for ``n_iter_no_change`` consecutive epochs.
    L-BFGS, and any solver under early stopping, has then converged. Adam and
    SGD, whose iterates hover at a level set by the learning rate (mini-batch
    noise, or oscillation of a step too long for the curvature), first divide
    the learning rate by ``LR_DECAY`` and carry on, up to ``MAX_LR_DECAYS``
    times. Stopping is signalled to skorch the way its ``EarlyStopping`` does,
    by ``KeyboardInterrupt``.

    With early stopping, the parameters of the epoch with the best validation
    score are kept and restored by :meth:`restore_best`. With a checkpoint, the
    whole training state is saved after every epoch.
    """

    LR_DECAY = 10.0
    MAX_LR_DECAYS = 3
    # A loss this many times the loss at zero coefficients has diverged.
    EXPLOSION = 1e4

    def __init__(
        self,
        tol,
        n_iter_no_change,
        lr,
        decay_lr,
        initial_loss,
        validating=False,
        stop=True,
        checkpoint=None,
    ):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.lr = lr
        self.decay_lr = decay_lr
        self.initial_loss = initial_loss
        self.validating = validating
        self.stop = stop
        self.checkpoint = checkpoint

    def initialize(self):
        self.converged_ = False
        self.best_metric_ = np.inf
        self.epochs_without_improvement_ = 0
        self.lr_decays_ = 0
        self.best_module_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        record = net.history[-1]
        loss = record["train_loss"]
        if not loss <= self.EXPLOSION * self.initial_loss:
            raise FloatingPointError(
                f"The training loss became {loss:.3g} at epoch {record['epoch']} "
                f"(at zero coefficients it is at most {self.initial_loss:.3g}): the "
                "solver diverged "
                f"(lr={self.lr:g}). Lower lr, keep standardize=True, or use "
                "solver='exact' (squared loss) or solver='lbfgs'."
            )
        if self.stop:
            self._update(net, -record["valid_r2"] if self.validating else loss)
        if self.checkpoint is not None:
            self.checkpoint.save(net, self)
        if self.converged_:
            raise KeyboardInterrupt

    def _update(self, net, metric):
        if metric < self.best_metric_ - self.tol:
            self.epochs_without_improvement_ = 0
        else:
            self.epochs_without_improvement_ += 1
        if metric < self.best_metric_:
            self.best_metric_ = metric
            if self.validating:
                self.best_module_state_ = copy.deepcopy(net.module_.state_dict())
        if self.epochs_without_improvement_ < self.n_iter_no_change:
            return
        if (
            self.decay_lr
            and not self.validating
            and self.lr_decays_ < (self.MAX_LR_DECAYS)
        ):
            self.lr_decays_ += 1
            self.epochs_without_improvement_ = 0
            self.best_metric_ = metric
            for group in net.optimizer_.param_groups:
                group["lr"] /= self.LR_DECAY
            return
        self.converged_ = True

    def restore_best(self, net):
        """Load the parameters of the best validation epoch into the module."""
        if self.best_module_state_ is not None:
            net.module_.load_state_dict(self.best_module_state_)

    def state_dict(self):
        return {
            "converged": self.converged_,
            "best_metric": self.best_metric_,
            "epochs_without_improvement": self.epochs_without_improvement_,
            "lr_decays": self.lr_decays_,
            "best_module_state": self.best_module_state_,
        }

    def load_state_dict(self, state):
        self.converged_ = state["converged"]
        self.best_metric_ = state["best_metric"]
        self.epochs_without_improvement_ = state["epochs_without_improvement"]
        self.lr_decays_ = state["lr_decays"]
        self.best_module_state_ = state["best_module_state"]


class Checkpoint:
    """Saves and restores the training state of one fit in one file.

    Parameters
    ----------
    path : path-like
        The checkpoint file of this fit.
    key : str
        Fingerprint of the fit, stored in the file and checked on loading.
    seed : int
        The fit's seed (shuffling and the validation split), restored with it.
    """

    def __init__(self, path, key, seed):
        self.path = path
        self.key = key
        self.seed = seed

    def save(self, net, monitor):
        _checkpoint.save(
            self.path,
            {
                "key": self.key,
                "seed": self.seed,
                "module": net.module_.state_dict(),
                "optimizer": net.optimizer_.state_dict(),
                "history": [dict(record) for record in net.history],
                "generator": net.iterator_train__generator.get_state(),
                "monitor": monitor.state_dict(),
            },
        )

    @staticmethod
    def restore(state, net):
        """Put a loaded checkpoint ``state`` into an initialised ``net``."""
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.history = History(state["history"])
        net.iterator_train__generator.set_state(state["generator"])
        dict(net.callbacks_)["convergence"].load_state_dict(state["monitor"])


def build_net(
    *,
    solver,
    loss,
    n_features,
    n_targets,
    fit_intercept,
    l1,
    l2,
    epsilon,
    quantile,
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
    validating=False,
    checkpoint=None,
    callbacks=(),
):
    """Return an initialised :class:`LinearNet` for one of the gradient solvers.

    ``l1``, ``l2`` and ``epsilon`` are per target, for the standardised problem.
    With ``validating``, the net has a :class:`ValidationScore` callback named
    ``"validation"`` whose data the caller sets.
    """
    optimizer_params = {}
    has_l1 = bool(np.any(np.asarray(l1) > 0))
    # Proximal steps and momentum do not mix: the momentum buffer keeps pushing
    # weights that the L1 step set to zero. With L1, SGD is proximal SGD.
    if solver == "sgd" and momentum > 0 and not has_l1:
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
    criterion, criterion_params = SquaredLoss, {}
    if loss == "huber":
        criterion, criterion_params = HuberLoss, {"criterion__epsilon": epsilon}
    elif loss == "quantile":
        criterion, criterion_params = QuantileLoss, {"criterion__quantile": quantile}
    elif loss == "absolute_error":
        criterion = AbsoluteLoss
    full_batch = solver == "lbfgs" or batch_size is None or batch_size >= n_samples
    extra = list(callbacks)
    if has_l1:
        extra.append(("l1_proximal", L1Proximal()))
    if validating:
        extra.append(("validation", ValidationScore(inputs=None, target=None)))
    if verbose:
        extra.append(("progress", Progress()))
    monitor = ConvergenceMonitor(
        tol,
        n_iter_no_change,
        lr,
        decay_lr=solver != "lbfgs",
        # The loss at zero coefficients is at most this on the standardised data.
        initial_loss=0.5 * n_targets
        if loss in ("squared_error", "huber")
        else (n_targets),
        validating=validating,
        checkpoint=checkpoint,
    )
    net = LinearNet(
        module=LinearModule,
        module__n_features=n_features,
        module__n_targets=n_targets,
        module__bias=fit_intercept,
        module__l1=l1,
        module__l2=l2,
        module__dtype=dtype,
        criterion=criterion,
        optimizer=OPTIMIZERS[solver],
        lr=lr,
        max_epochs=max_iter,
        batch_size=n_samples if full_batch else batch_size,
        iterator_train=SliceBatches,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        train_split=None,
        callbacks=[*extra, ("convergence", monitor)],
        # The progress bar replaces skorch's PrintLog, which would also format a
        # table every epoch; the epoch losses are recorded by run_single_epoch.
        callbacks__print_log=None,
        callbacks__train_loss=None,
        callbacks__valid_loss=None,
        device=device,
        **criterion_params,
        **optimizer_params,
    )
    return net.initialize()


def standardized_tensors(X, Y, sample_weight, scaling, *, device, dtype, densify=False):
    """Move ``X``, ``Y`` and the weights to ``device``, standardised.

    Returns the dict input of :class:`LinearNet` and the target tensor. Columns
    that are constant (when centring) become exact zeros, so their coefficients
    stay at zero. Weights are normalised to mean one; without weights the dict
    has no ``"sample_weight"``. A sparse ``X`` becomes
    :class:`SparseRows` (dense a batch at a time), or dense with ``densify``.
    """

    def tensor(array):
        return as_tensor(array, device=device, dtype=dtype)

    keep = tensor(~scaling.constant)
    x = SparseRows(X, tensor(scaling.x_mean), tensor(scaling.x_scale), keep)
    if not scipy.sparse.issparse(X):
        x = torch.sub(tensor(X), x.mean).div_(x.scale).mul_(keep)
    elif densify:
        x = x[:]
    y = torch.sub(tensor(Y), tensor(scaling.y_mean)).div_(tensor(scaling.y_scale))
    if sample_weight is None:
        return {"X": x}, y
    return {"X": x, "sample_weight": tensor(sample_weight / np.mean(sample_weight))}, y


def continue_from(previous, net):
    """Start ``net`` where the fit of ``previous`` ended (warm start,
    ``partial_fit``): its coefficients, history and shuffling state, and its
    optimizer state when the optimizer is the same. The hyperparameters are
    ``net``'s own, so parameters changed since are honoured.
    """
    net.module_.linear.load_state_dict(previous.module_.linear.state_dict())
    if type(previous.optimizer_) is type(net.optimizer_):
        state = previous.optimizer_.state_dict()
        state["param_groups"] = [
            {
                **{k: v for k, v in fresh.items() if k != "params"},
                "params": old["params"],
            }
            for old, fresh in zip(state["param_groups"], net.optimizer_.param_groups)
        ]
        net.optimizer_.load_state_dict(state)
    net.history = previous.history
    net.iterator_train__generator.set_state(
        previous.iterator_train__generator.get_state()
    )


def train(net, inputs, target, epochs):
    """Run up to ``epochs`` epochs unless the monitor says the fit has converged;
    return the monitor.

    A ``KeyboardInterrupt`` that skorch swallowed but the monitor did not raise
    came from the user and is raised again.
    """
    monitor = dict(net.callbacks_)["convergence"]
    if epochs > 0 and not monitor.converged_:
        net.max_epochs = epochs
        done = len(net.history)
        net.partial_fit(inputs, target)
        if not monitor.converged_ and len(net.history) - done < epochs:
            raise KeyboardInterrupt
    return monitor
