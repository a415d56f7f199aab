"""The skorch callbacks of the gradient solvers, one job each.

They are given to the net at construction (see ``_net.build_net``), after the
user's callbacks and in this order: the proximal step of the L1 penalty
(``proximal``, per batch), the validation score (``validation``), the
divergence guard (``divergence``), the stopping rule (``convergence``), the
keeping of the best epoch under early stopping (``keep_best``), the
checkpoint (``checkpoint``, from :mod:`.._checkpoint`) and the progress bar
(``progress``), so that each epoch is judged, then saved, then shown.
"""

import copy
import sys

import numpy as np
import torch
from skorch.callbacks import Callback
from tqdm.auto import tqdm

from .._device import accumulation_dtype


class Proximal(Callback):
    """Apply the proximal step of the penalty (L1, and L2 when the module
    applies it so) after every optimizer step.

    The step size is the optimizer's: the learning rate for SGD, and for Adam
    the learning rate divided by its per-coordinate scale
    ``sqrt(v_hat) + eps``, so that the shrinkage matches the step each weight
    took. Weights shrunk past zero become exact zeros. With SGD's momentum
    ``mu`` (no L1 term then) a gradient moves the weights ``lr / (1 - mu)`` at
    the fixed point, which is the L2 step that keeps the fixed point at the
    minimum of the penalised objective.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        optimizer = net.optimizer_
        group = optimizer.param_groups[0]
        step = l2_step = group["lr"]
        if isinstance(optimizer, torch.optim.Adam):
            state = optimizer.state[net.module_.linear.weight]
            beta2 = group["betas"][1]
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** float(state["step"]))
            step = l2_step = group["lr"] / (v_hat.sqrt() + group["eps"])
        elif group.get("momentum", 0.0):
            l2_step = step / (1 - group["momentum"])
        net.module_.shrink(step, l2_step)


class ValidationScore(Callback):
    """Record the R^2 of the model on held-out data as ``valid_r2`` each epoch.

    Parameters
    ----------
    inputs : dict
        Standardized validation data, in the input format of the net.
    target : torch.Tensor
        Standardized validation targets.
    """

    def __init__(self, inputs, target):
        self.inputs = inputs
        self.target = target

    @torch.no_grad()
    def on_epoch_end(self, net, **kwargs):
        prediction = net.module_.standardized(self.inputs["X"])
        w = self.inputs.get("sample_weight")
        if w is None:
            w = torch.ones_like(prediction[:, 0])
        mean = (w @ self.target) / w.sum()
        residual = w @ (self.target - prediction).square()
        total = w @ (self.target - mean).square()
        score = torch.where(total > 0, 1 - residual / total, 0.0).mean()
        net.history.record("valid_r2", float(score))

    def on_train_end(self, net, **kwargs):
        # Held-out data have no place in the fitted net (nor in its pickle).
        self.inputs = self.target = None


class DivergenceGuard(Callback):
    """Refuse divergence: a non-finite training loss, or one ``EXPLOSION`` times
    the loss at zero coefficients, raises :class:`FloatingPointError`.

    Parameters
    ----------
    initial_loss : float
        An upper bound of the loss at zero coefficients.
    lr : float
        The learning rate, for the message.
    """

    # A loss this many times the loss at zero coefficients has diverged.
    EXPLOSION = 1e4

    def __init__(self, initial_loss, lr):
        self.initial_loss = initial_loss
        self.lr = lr

    def on_epoch_end(self, net, **kwargs):
        record = net.history[-1]
        loss = record["train_loss"]
        if not loss <= self.EXPLOSION * self.initial_loss:
            raise FloatingPointError(
                f"The training loss became {loss:.3g} at epoch {record['epoch']} "
                f"(at zero coefficients it is at most {self.initial_loss:.3g}): the "
                f"solver diverged (lr={self.lr:g}). Lower lr, keep "
                "standardize=True, or use solver='exact' (squared loss) or "
                "solver='lbfgs'."
            )


class Stall:
    """The stall rule of the gradient solvers: a metric (lower is better) has
    stalled when it has not improved on its best value by ``tol`` (relative to
    that value, or to ``floor`` where the value is below it; or absolute) for
    ``n_iter_no_change`` consecutive epochs; a stall may then divide the
    learning rate by ``LR_DECAY``, up to ``MAX_LR_DECAYS`` times, and the count
    starts again. The floor is where the optimality gap stops telling values
    apart: an objective whose minimum is 0 (data interpolated) improves by a
    steady fraction of itself for ever."""

    LR_DECAY = 10.0
    MAX_LR_DECAYS = 6

    def __init__(self, tol, n_iter_no_change, relative=True, floor=0.0):
        self.tol, self.n_iter_no_change, self.relative = tol, n_iter_no_change, relative
        self.floor = floor
        self.best = np.inf
        self.since = 0  # epochs without improvement by tol
        self.flat = 0  # epochs without any improvement
        self.decays = 0

    def observe(self, metric):
        """Record an epoch's ``metric``; return whether training has stalled."""
        margin = (
            self.tol * max(abs(self.best), self.floor) if self.relative else self.tol
        )
        self.since = 0 if metric < self.best - margin else self.since + 1
        if metric < self.best:
            self.best, self.flat = metric, 0
        else:
            self.flat += 1
        return self.since >= self.n_iter_no_change

    def decay(self, metric):
        """Count a decay of the learning rate at ``metric``, if one is left;
        return whether it was."""
        if self.decays >= self.MAX_LR_DECAYS:
            return False
        self.decays += 1
        self.since = self.flat = 0
        self.best = metric
        return True

    def state(self):
        return {
            "best_metric": self.best,
            "epochs_without_improvement": self.since,
            "epochs_flat": self.flat,
            "lr_decays": self.decays,
        }

    def load(self, state):
        self.best = state["best_metric"]
        self.since = state["epochs_without_improvement"]
        self.flat = state["epochs_flat"]
        self.decays = state["lr_decays"]


class ConvergenceCheck(Callback):
    """Decide when training stops, and whether it has converged.

    The metric is the training objective, or minus the validation R^2 when
    validating (early stopping). It has stalled when it has not improved on its
    best value by ``tol`` (relative to that value for the objective, absolute
    for R^2) for ``n_iter_no_change`` consecutive epochs. Then, when an
    optimality ``gap`` is measured (a callable of the net returning the
    estimated relative distance of the objective to its minimum, on the full
    training data), training has converged if the gap is at most ``tol``;
    without one, a stall is convergence. Adam and SGD also average their
    iterates from the first epoch that did not improve the metric by ``tol``
    since it last did (Polyak-Ruppert averaging over the steps that hover
    about the minimum; none while the metric descends): at a stall the
    average replaces the iterate when its gap is smaller (measured for squared
    error on six data sets, Adam and SGD, three seeds each: 1,150 epochs in
    all to reach ``tol``, against 1,782 without). The gap may also replace the
    parameters with better ones it found (see ``gradient._Gap``). A measured
    gap above ``tol`` while the metric still descends (this epoch is its best
    yet: slow, steady progress) lets training carry on. Otherwise Adam and
    SGD, whose iterates hover at a level set by the learning rate (mini-batch
    noise, or oscillation of a step too long for the curvature), divide the
    learning rate by :attr:`Stall.LR_DECAY` and carry on, up to
    :attr:`Stall.MAX_LR_DECAYS` times; after that, or for L-BFGS, training stops
    short (``stalled_``).

    The decision is recorded in the history (``converged``, and
    ``optimality_gap`` when measured) at the end of each epoch, and acted on at
    the start of the next: training stops the way skorch's ``EarlyStopping``
    stops it, by ``KeyboardInterrupt``. Callbacks after this one (the
    checkpoint, the progress bar) see every epoch.

    Parameters
    ----------
    tol, n_iter_no_change : float, int
        As the estimator's parameters.
    decay_lr : bool
        Whether a stall first decays the learning rate.
    validating : bool
        Whether the metric is the validation score.
    enabled : bool, default=True
        False to never stop (``partial_fit`` runs one epoch per call).
    gap : callable or None, default=None
        The optimality measure; dropped when training ends (it holds the
        training data).
    floor : float, default=0.0
        The objective below which improvements count relative to it (see
        :class:`Stall`).
    """

    def __init__(
        self,
        tol,
        n_iter_no_change,
        decay_lr,
        validating,
        enabled=True,
        gap=None,
        floor=0.0,
    ):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.decay_lr = decay_lr
        self.validating = validating
        self.enabled = enabled
        self.gap = gap
        self.floor = floor

    def initialize(self):
        self.converged_ = False
        self.stalled_ = False
        self.stall_ = Stall(
            self.tol, self.n_iter_no_change, not self.validating, self.floor
        )
        self.average_ = None
        self.averaged_steps_ = 0
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        hovering = self.stall_.since > 0
        if not (training and hovering and self.decay_lr and self.gap):
            return
        parameters = [p.detach() for p in net.module_.linear.parameters()]
        if self.average_ is None:
            dtype = accumulation_dtype(parameters[0].device, warn=False)
            self.average_ = [p.to(dtype, copy=True) for p in parameters]
            self.averaged_steps_ = 1
        else:
            for total, parameter in zip(self.average_, parameters):
                total.add_(parameter)
            self.averaged_steps_ += 1

    def on_epoch_begin(self, net, **kwargs):
        if self.converged_ or self.stalled_:
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.enabled:
            record = net.history[-1]
            metric = -record["valid_r2"] if self.validating else record["train_loss"]
            self._update(net, metric)
        net.history.record("converged", self.converged_)

    def on_train_end(self, net, **kwargs):
        self.gap = None

    def _update(self, net, metric):
        stall = self.stall_
        stalled = stall.observe(metric)
        if stall.since == 0:
            self.average_ = None  # the average starts where the hovering does
        if not stalled:
            return
        if self.gap is None or self.validating:
            self.converged_ = not self._decay(net, metric)
            return
        gap = self._better_of_average(net, self._largest_gap(net))
        net.history.record("optimality_gap", gap)
        if gap <= self.tol:
            self.converged_ = True
        elif stall.flat == 0:
            stall.since = 0  # slow but still descending
        else:
            self.stalled_ = not self._decay(net, metric)

    @torch.no_grad()
    def _better_of_average(self, net, gap):
        """Load the average of the iterates if its gap is smaller; return the
        gap of the parameters kept. The average starts afresh."""
        if self.average_ is None:
            return gap
        parameters = list(net.module_.linear.parameters())
        current = [p.detach().clone() for p in parameters]
        for parameter, total in zip(parameters, self.average_):
            parameter.copy_(total / self.averaged_steps_)
        self.average_ = None
        averaged = self._largest_gap(net)
        if averaged < gap:
            return averaged
        for parameter, kept in zip(parameters, current):
            parameter.copy_(kept)
        return gap

    def _largest_gap(self, net):
        """The gap of the target furthest from its minimum."""
        return float(np.max(self.gap(net)))

    def _decay(self, net, metric):
        """Divide the learning rate, if allowed; return whether it was."""
        if not self.decay_lr or self.validating or not self.stall_.decay(metric):
            return False
        for group in net.optimizer_.param_groups:
            group["lr"] /= Stall.LR_DECAY
        return True

    def state_dict(self):
        return {
            "converged": self.converged_,
            "stalled": self.stalled_,
            **self.stall_.state(),
            "average": self.average_,
            "averaged_steps": self.averaged_steps_,
        }

    def load_state_dict(self, state):
        self.converged_ = state["converged"]
        self.stalled_ = state["stalled"]
        self.stall_.load(state)
        self.average_ = state["average"]
        self.averaged_steps_ = state["averaged_steps"]


class KeepBest(Callback):
    """Keep the parameters of the epoch with the best validation R^2 and load
    them into the module when training ends (early stopping)."""

    def initialize(self):
        self.best_score_ = -np.inf
        self.best_module_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        score = net.history[-1, "valid_r2"]
        if score > self.best_score_:
            self.best_score_ = score
            self.best_module_state_ = copy.deepcopy(net.module_.state_dict())

    def on_train_end(self, net, **kwargs):
        if self.best_module_state_ is not None:
            net.module_.load_state_dict(self.best_module_state_)
        self.best_module_state_ = None  # device tensors: not for the pickle

    def state_dict(self):
        return {
            "best_score": self.best_score_,
            "best_module_state": self.best_module_state_,
        }

    def load_state_dict(self, state):
        self.best_score_ = state["best_score"]
        self.best_module_state_ = state["best_module_state"]


class Progress(Callback):
    """A tqdm progress bar over epochs with the training loss and, when
    validating, the validation R^2; when streaming (``partial_fit``, one epoch
    per call), one line per call instead.

    Parameters
    ----------
    streaming : bool, default=False
    """

    def __init__(self, streaming=False):
        self.streaming = streaming

    def on_train_begin(self, net, **kwargs):
        if self.streaming:
            return
        done = len(net.history)
        self.bar_ = tqdm(
            total=done + net.max_epochs, initial=done, unit="epoch", leave=True
        )

    def on_epoch_end(self, net, **kwargs):
        record = net.history[-1]
        postfix = {"loss": f"{record['train_loss']:.4g}"}
        if "valid_r2" in record:
            postfix["valid R2"] = f"{record['valid_r2']:.4f}"
        if self.streaming:
            tqdm.write(
                f"partial_fit call {record['epoch']}: loss {postfix['loss']}",
                file=sys.stderr,
            )
            return
        self.bar_.set_postfix(postfix, refresh=False)
        self.bar_.update()

    def on_train_end(self, net, **kwargs):
        if not self.streaming:
            self.bar_.close()
            del self.bar_  # a terminal handle: it would make the net unpicklable
