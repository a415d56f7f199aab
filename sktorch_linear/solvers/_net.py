"""The skorch net of the linear model: :class:`LinearNet` and how it is built.

skorch drives the training loop (callbacks, history, optimizers); this module
supplies what makes it fast and correct for a linear model: a batch iterator
that slices tensors already on the device, a sample-weighted loss batched with
the data, and one function that configures the net from a :class:`Config`
through skorch's own constructor arguments.
"""

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator

from .._data import StandardizedRows
from .._module import AbsoluteLoss, HuberLoss, LinearModule, QuantileLoss, SquaredLoss
from .._threads import threads_for
from . import _duality, _optimality
from ._callbacks import (
    ConvergenceCheck,
    DivergenceGuard,
    KeepBest,
    Progress,
    Proximal,
)

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "lbfgs": torch.optim.LBFGS,
}
DEFAULT_LR = {"adam": 1e-2, "sgd": 1e-2, "lbfgs": 1.0}
# batch_size="auto": this many rows per mini-batch at most (as scikit-learn's
# MLPRegressor), and at least this many batches per epoch (one step per epoch on
# small data moved a coefficient by at most lr per epoch).
AUTO_BATCH_SIZE = 200
AUTO_BATCHES_PER_EPOCH = 10
# Adam's default lr is DEFAULT_LR["adam"] up to this many rows, and shrinks as
# the square root of the rows beyond.
ADAM_ROWS = 2000
# The events skorch announces to callbacks.
# Rows per block of a training step on a larger batch (L-BFGS's full batch).
STEP_ROWS = 2**16
# Shuffled batches are gathered this many bytes of rows at a time.
GATHER_BYTES = 4 * 2**20
# Per target, at most the loss at zero coefficients on standardized data
# (Huber: sigma + r^2 / sigma with sigma = 1).
_INITIAL_LOSS = {
    "squared_error": 0.5,
    "huber": 2.0,
    "absolute_error": 1.0,
    "quantile": 1.0,
}
_EVENTS = tuple(name for name in vars(Callback) if name.startswith("on_"))
_CRITERIA = {
    "squared_error": SquaredLoss,
    "huber": HuberLoss,
    "absolute_error": AbsoluteLoss,
    "quantile": QuantileLoss,
}


class SliceBatches:
    """Iterate over mini-batches that are slices of tensors on the device.

    Replaces skorch's per-sample ``Dataset`` + ``DataLoader`` collation: each
    epoch draws a permutation of the rows (when shuffling), whose rows are
    gathered by one indexing operation per ``GATHER_BYTES`` of data (a
    gather per batch cost 66 us of a 0.26 ms Adam step on 256 x 50 float32),
    and each batch is a view of those (without shuffling, of the data): never
    a collation of Python objects, and never a shuffled copy of all the data.

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
        width = sum(value[:1].numel() for value in X.values()) + y[:1].numel()
        batches = max(1, GATHER_BYTES // (self.batch_size * width * y.element_size()))
        chunk = self.batch_size * batches
        for first in range(0, n_rows, chunk):
            rows = order[first : first + chunk]
            with threads_for(len(rows) * width):
                X_rows = {key: _take(value, rows) for key, value in X.items()}
                y_rows = y[rows]
            for start in range(0, len(rows), self.batch_size):
                stop = start + self.batch_size
                yield (
                    {key: value[start:stop] for key, value in X_rows.items()},
                    y_rows[start:stop],
                )


def _take(rows, order):
    """The rows of a tensor, or the dense rows of :class:`StandardizedRows`, in the
    given order."""
    if isinstance(rows, StandardizedRows):
        return rows.take(order.cpu())[:]
    return rows[order]


class LinearNet(NeuralNet):
    """skorch net for :class:`LinearModule` with a sample-weighted loss.

    Trained on a dict with the standardized data (``"X"``) and the sample
    weights (``"sample_weight"``, absent when unweighted), already on the
    device. Given anything else (``net.predict(X)``), it predicts from ``X`` in
    its original units, as the estimator does.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, dict):
            return self.module_.standardized(x["X"])
        return self.module_(x.to(self.module_.linear.weight.dtype))

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        """Record nothing per batch (skorch would start a history entry)."""

    def initialize_callbacks(self):
        super().initialize_callbacks()
        # skorch calls every callback for every event, several times per batch;
        # call only those that implement the event (the others would do
        # nothing), and skip building the generator of parameters that
        # on_grad_computed receives when nobody listens.
        self.listeners_ = {
            name: [
                callback
                for _, callback in self.callbacks_
                if getattr(type(callback), name, None) is not getattr(Callback, name)
            ]
            for name in _EVENTS
        }
        return self

    def notify(self, method_name, **cb_kwargs):
        listeners = self.listeners_.get(method_name)
        if listeners is None:  # an event skorch added later: every callback
            super().notify(method_name, **cb_kwargs)
            return
        if method_name == "on_grad_computed" and not listeners:
            return
        getattr(self, method_name)(self, **cb_kwargs)
        for callback in listeners:
            getattr(callback, method_name)(self, **cb_kwargs)

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
        total, rows = None, 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            size = len(batch[1])
            loss = step["loss"].detach()
            if total is None:
                total = loss * size
            else:
                total.add_(loss, alpha=size)
            rows += size
            self.notify("on_batch_end", batch=batch, training=training, **step)
        self.history.record(prefix + "_loss", float(total) / rows)

    def train_step(self, batch, **fit_params):
        """skorch's step; for Adam and SGD, which need no closure, without one
        (as skorch's documentation suggests for finer control): the closure,
        its step accumulator and the optimizer's grad-enabling context are
        per-batch overhead of a few microseconds on steps of about a hundred."""
        if isinstance(self.optimizer_, torch.optim.LBFGS):
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        if self.listeners_.get("on_grad_computed", True):
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self.optimizer_.step()
        return step

    def train_step_single(self, batch, **fit_params):
        """skorch's step, on blocks of ``STEP_ROWS`` rows when the batch is
        larger (L-BFGS's full batch): the gradients of the blocks add up, and
        the temporaries of the loss (vectors of the batch's length, several per
        line-search evaluation) stay the size of a block."""
        Xi, yi = batch
        n_rows = len(yi)
        if n_rows <= STEP_ROWS:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        total, predictions = 0.0, []
        for start in range(0, n_rows, STEP_ROWS):
            rows = slice(start, start + STEP_ROWS)
            block = {key: value[rows] for key, value in Xi.items()}
            y_pred = self.infer(block)
            w = block.get("sample_weight")
            loss = self._criterion(y_pred, yi[rows], w) * (len(y_pred) / n_rows)
            loss.backward()
            total = total + loss.detach()
            predictions.append(y_pred.detach())
        penalty = self.module_.penalty()
        if torch.is_tensor(penalty):
            penalty.backward()
            total = total + penalty.detach()
        return {"loss": total, "y_pred": torch.cat(predictions)}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self._criterion(y_pred, y_true, X.get("sample_weight"))
        if not self.module_.penalised:  # one tensor operation less per batch
            return loss
        return loss + self.module_.penalty()

    def _criterion(self, y_pred, y_true, sample_weight):
        """The loss of a batch; the Huber loss also takes the module's scale."""
        log_scale = self.module_.log_scale
        if log_scale is None:
            return self.criterion_(y_pred, y_true, sample_weight)
        return self.criterion_(y_pred, y_true, sample_weight, log_scale)

    def __getstate__(self):
        # Record the CPU as the device so that unpickling maps every tensor to the
        # CPU: a net trained on CUDA or MPS then loads on any machine.
        state = super().__getstate__()
        state["device"] = "cpu"
        return state


def build_net(
    config, scaling, shape, *, dtype, seed, epochs, streaming, extra=(), gap=None
):
    """Return an initialised :class:`LinearNet` for ``config.solver`` on data
    standardized by ``scaling``, of ``shape`` (n_samples, n_features,
    n_targets), to train for ``epochs`` epochs.

    ``extra`` are named callbacks of the caller (validation data, checkpoint),
    placed after the user's and before the stopping rule; ``streaming`` (one
    epoch per ``partial_fit`` call) turns the stopping rule off; ``gap`` is the
    optimality measure the stopping rule consults.
    """
    objective, solver = config.objective, config.solver
    n_samples, n_features, n_targets = shape
    l1, l2 = scaling.penalty(objective.loss, objective.alpha, objective.l1_ratio)
    batch_size = _batch_size(config.batch_size, solver, n_samples)
    lr = learning_rate(config, n_samples, max(scaling.n_samples, n_samples))
    net = LinearNet(
        module=LinearModule,
        module__n_features=n_features,
        module__n_targets=n_targets,
        module__bias=objective.fit_intercept,
        module__l1=l1,
        module__l2=l2,
        module__dtype=dtype,
        module__scaling=scaling.tensors(),
        module__scaled=objective.loss == "huber",
        module__proximal_l2=solver != "lbfgs",
        criterion=_CRITERIA[objective.loss],
        optimizer=OPTIMIZERS[solver],
        lr=lr,
        max_epochs=epochs,
        batch_size=n_samples if solver == "lbfgs" else min(batch_size, n_samples),
        iterator_train=SliceBatches,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        train_split=None,
        callbacks=_callbacks(config, lr, n_targets, (l1, l2), streaming, extra, gap),
        # The progress bar replaces skorch's PrintLog, which would also format a
        # table every epoch; the epoch losses are recorded by run_single_epoch.
        callbacks__print_log=None,
        callbacks__train_loss=None,
        callbacks__valid_loss=None,
        device=config.device,
        **_criterion_params(objective, scaling),
        **_optimizer_params(solver, config.momentum, bool(np.any(l1 > 0)), dtype),
    )
    return net.initialize()


def _batch_size(batch_size, solver, n_samples):
    """Rows per batch: ``"auto"`` is the full batch for L-BFGS, else at least
    ``AUTO_BATCHES_PER_EPOCH`` batches of at most ``AUTO_BATCH_SIZE`` rows."""
    if batch_size is None or (batch_size == "auto" and solver == "lbfgs"):
        return n_samples
    if batch_size == "auto":
        return min(AUTO_BATCH_SIZE, -(-n_samples // AUTO_BATCHES_PER_EPOCH))
    return batch_size


def learning_rate(config, n_samples, rows_seen):
    """``config.lr``, or the default for its solver on ``n_samples`` rows (the
    data of one call) when ``rows_seen`` rows have been seen in all."""
    if config.lr is not None:
        return config.lr
    batch_size = _batch_size(config.batch_size, config.solver, n_samples)
    return _default_lr(config.solver, min(batch_size, n_samples), rows_seen)


def _default_lr(solver, batch_size, rows_seen):
    lr = DEFAULT_LR[solver]
    if solver == "adam":
        # Adam's steps do not shrink with the gradient: its noise floor is set
        # by lr, which suits ADAM_ROWS rows; on more rows (all rows seen, when
        # streaming) more steps per epoch afford, and need, smaller ones.
        lr *= math.sqrt(min(1.0, ADAM_ROWS / rows_seen))
    if solver == "sgd":
        # The noise of a gradient grows as its batch shrinks: smaller steps for
        # batches below AUTO_BATCH_SIZE rows (streaming one row at a time
        # diverged from the optimum at the full step).
        lr *= math.sqrt(min(batch_size, AUTO_BATCH_SIZE) / AUTO_BATCH_SIZE)
    return lr


def _callbacks(config, lr, n_targets, penalty, streaming, extra, gap):
    objective = config.objective
    extra = dict(extra)
    callbacks = list(config.callbacks)
    l1, l2 = penalty
    if np.any(l1 > 0) or (np.any(l2 > 0) and config.solver != "lbfgs"):
        callbacks.append(("proximal", Proximal()))
    if "validation" in extra:
        callbacks.append(("validation", extra["validation"]))
    # The loss at zero coefficients (and a scale of 1) is at most this on the
    # standardized data, whose y has a second moment of 1.
    initial_loss = n_targets * _INITIAL_LOSS[objective.loss]
    callbacks.append(("divergence", DivergenceGuard(initial_loss, lr)))
    validating = "validation" in extra
    # Where the optimality gap floors the minimum, as a fraction of the
    # objective at zero: an improvement below it cannot be told from 0.
    squared = objective.loss == "squared_error"
    gap_floor = _optimality.OPTIMUM_FLOOR if squared else _duality.FLOOR
    check = ConvergenceCheck(
        config.tol,
        config.n_iter_no_change,
        decay_lr=config.solver != "lbfgs",
        validating=validating,
        enabled=not streaming,
        gap=gap,
        floor=initial_loss * gap_floor,
    )
    callbacks.append(("convergence", check))
    if validating:
        callbacks.append(("keep_best", KeepBest()))
    if "checkpoint" in extra:
        callbacks.append(("checkpoint", extra["checkpoint"]))
    if config.verbose:
        callbacks.append(("progress", Progress(streaming=streaming)))
    return callbacks


def _criterion_params(objective, scaling):
    if objective.loss == "huber":  # free of the units of y
        return {"criterion__epsilon": objective.epsilon}
    if objective.loss == "quantile":
        return {"criterion__quantile": objective.quantile}
    return {}


def _optimizer_params(solver, momentum, has_l1, dtype):
    # Proximal steps and momentum do not mix: the momentum buffer keeps pushing
    # weights that the L1 step set to zero. With L1, SGD is proximal SGD.
    if solver == "sgd" and momentum > 0 and not has_l1:
        return {"optimizer__momentum": momentum, "optimizer__nesterov": True}
    if solver == "lbfgs":
        eps = torch.finfo(dtype).eps
        return {
            "optimizer__line_search_fn": "strong_wolfe",
            "optimizer__tolerance_grad": eps**0.75,
            "optimizer__tolerance_change": eps,
        }
    return {}
