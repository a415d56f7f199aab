"""The gradient solvers (``lbfgs``, ``adam``, ``sgd``): a skorch net trained on
the standardized data.

The data are standardized once, on their way to the device; the net
(:mod:`._net`) and its callbacks (:mod:`._callbacks`) are configured at
construction; a fit continues from an earlier one (``warm_start``,
``partial_fit``) or from a checkpoint (:mod:`.._checkpoint`); the trained
coefficients are folded back into the original units.
"""

from dataclasses import replace

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from skorch.history import History

from .. import _checkpoint
from .._data import split, training_tensors, warn_float32_resolution
from .._device import accumulation_dtype, resolve_dtype
from .._moments import accumulate
from .._scaling import Scaling
from .._threads import threads_for
from .._warnings import warn
from . import _certify
from ._base import SolverResult
from ._callbacks import ValidationScore
from ._net import build_net
from ._persist import net_state, tensors


def solve(problem, config):
    """Train the net of ``config.solver`` on ``problem``'s data: up to
    ``config.max_iter`` epochs, or one epoch over a streamed chunk."""
    data, previous, streaming = problem.data, problem.previous, problem.streaming
    dtype = resolve_dtype(config.dtype, data.dtype, config.device)
    seed, state, extra = _start(problem, config)
    train_data = data
    if config.early_stopping and not streaming:
        train_rows, valid_rows = split(data.shape[0], config.validation_fraction, seed)
        train_data, valid_data = data.rows(train_rows), data.rows(valid_rows)
    moments, scaling = problem.all_rows or _scaling(
        train_data, config, previous, streaming, dtype
    )
    tensors = {"device": config.device, "dtype": dtype}
    # Streamed chunks weigh their rows against the mean weight of all rows seen.
    weight_mean = moments.weight_sum / moments.n_samples if streaming else None
    inputs, target = training_tensors(
        train_data, scaling, weight_mean=weight_mean, **tensors
    )
    if train_data is not data:
        validation = training_tensors(valid_data, scaling, densify=True, **tensors)
        extra.append(("validation", ValidationScore(*validation)))
    if streaming:
        epochs = 1
    else:
        epochs = config.max_iter - (len(state["history"]) if state else 0)
    measured = not streaming and train_data is data
    gap = _certify.TrainingGap(inputs, target, config, scaling) if measured else None
    net = build_net(
        config,
        scaling,
        train_data.shape,
        dtype=dtype,
        seed=seed,
        epochs=epochs,
        streaming=streaming,
        extra=extra,
        gap=gap,
    )
    if previous is not None:
        continue_from(previous, net, scaling)
    elif state is not None:
        _checkpoint.restore(state, net)
    status = train(net, inputs, target)
    diagnostics = {}
    if gap is not None and status != "interrupted":
        diagnostics["optimality_gap"] = gap(net, final=True)
        solution = _solution(net, scaling)
        diagnostics.update(
            _certify.left_out(data, config, scaling, *solution, dtype) or {}
        )
        if "left_out" in diagnostics:
            status = "left_out"
        elif np.max(diagnostics["optimality_gap"]) <= config.tol:
            status = "converged"
        elif status == "converged":  # measured in training, not by left_out
            status = "stalled"
    _warn(status, config, streaming, len(net.history), diagnostics)
    return _result(
        net, scaling, moments, config, seed, status, train_data is not data, diagnostics
    )


def _solution(net, scaling):
    """The net's coefficients and intercepts in the original units."""
    linear = net.module_.linear
    weight = linear.weight.detach().to("cpu", torch.float64).numpy()
    bias = np.zeros(weight.shape[0])
    if linear.bias is not None:
        bias = linear.bias.detach().to("cpu", torch.float64).numpy()
    return scaling.unstandardize(weight, bias)


def _warn(status, config, streaming, n_epochs, diagnostics):
    if status == "left_out":
        _certify.warn_left_out(config, diagnostics)
    elif status == "interrupted":
        warn(
            f"Training was interrupted after {n_epochs} complete epoch(s); the model "
            "holds the parameters reached so far. Call fit again (with "
            "warm_start=True to continue from them).",
            UserWarning,
        )
    elif "optimality_gap" in diagnostics and status != "converged":
        gap = float(np.max(diagnostics["optimality_gap"]))
        _certify.warn_short(config, status, n_epochs, gap, "all the training data")
    elif status == "max_iter" and not streaming:
        warn(
            f"solver={config.solver!r} reached max_iter={config.max_iter} without "
            f"converging (tol={config.tol:g}). Increase max_iter, adjust lr, or use "
            "solver='exact' for squared error.",
            ConvergenceWarning,
        )


def _start(problem, config):
    """The fit's seed, the training state to resume from (a checkpoint of the
    same fit) and the checkpoint callback, as a list of named callbacks."""
    previous = problem.previous
    if previous is not None and previous.seed is not None:
        return previous.seed, None, []
    if previous is not None:  # streaming on from an exact fit
        return _new_seed(config.random_state), None, []
    if config.checkpoint is None or problem.streaming:
        return _new_seed(config.random_state), None, []
    data = problem.data
    trajectory = config.trajectory()
    trajectory["callbacks"] = _checkpoint.describe_callbacks(config.callbacks)
    _checkpoint.check_writable(config.checkpoint)
    key = _checkpoint.fingerprint(trajectory, [data.X, data.Y, data.sample_weight])
    path = _checkpoint.checkpoint_file(config.checkpoint, key)
    state = _checkpoint.load(path, key) if path.exists() else None
    seed = state["seed"] if state else _new_seed(config.random_state)
    return seed, state, [("checkpoint", _checkpoint.SaveCheckpoint(path, key, seed))]


def _new_seed(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _scaling(data, config, previous, streaming, dtype):
    """The statistics the scaling comes from, and the scaling: of the data;
    under ``warm_start`` those of the previous fit; when streaming, of all the
    chunks seen so far, so that the scaling follows the data as they arrive.

    With ``standardize``, without a penalty (which is defined on the
    standardized coefficients) and when not streaming, the scaling also
    whitens, for training in ``dtype``: on data with uncorrelated columns of
    unit variance, the Hessian of squared error is the identity and those of
    the other losses are near it, so that Adam, SGD and L-BFGS do not crawl
    along the directions of correlated columns (measured on the diabetes data:
    Adam stopped 4e-3 above the minimum of squared error after 2000 epochs
    without).
    """
    if previous is not None and not streaming:
        return previous.moments, previous.scaling
    device, objective = config.device, config.objective
    whiten = not streaming and _whitens(config, data.shape[1])
    moments = accumulate(
        data, device=device, dtype=accumulation_dtype(device, warn=False), full=whiten
    )
    warn_float32_resolution(data, moments)
    if previous is not None:
        moments = previous.moments.merge(moments)
    scaling = Scaling.from_moments(
        moments,
        fit_intercept=objective.fit_intercept,
        standardize=objective.standardize,
    )
    if whiten:
        scaling = whitened(scaling, moments, config, data.shape[1], dtype)
        moments = replace(moments, gram=None)  # (p + k)^2 values not needed again
    return moments, scaling


def _whitens(config, n_features):
    objective = config.objective
    return objective.standardize and objective.alpha == 0 and n_features > 1


def whitened(scaling, moments, config, n_features, dtype):
    """``scaling``, whitening too where the fit whitens (see :func:`_scaling`;
    ``moments`` with their Gram matrix) for training in ``dtype``."""
    if not _whitens(config, n_features):
        return scaling
    return scaling.whitened(moments, torch.finfo(dtype).eps)


def continue_from(previous, net, scaling):
    """Start ``net`` where the fit of ``previous`` (a :class:`SolverResult`)
    ended: its model, re-expressed in ``scaling`` when the scaling has changed
    (streaming), a copy of its history, its shuffling state, and its optimizer
    state when the optimizer is the same (a previous exact fit gives its
    solution only). ``previous.net`` is the trained net, or its
    :func:`net_state` (a fit loaded from a pickle or a skops file). The
    hyperparameters are ``net``'s own, so parameters changed since are
    honoured; ``previous`` is left as it was.
    """
    old = previous.net
    saved = old if old is None or isinstance(old, dict) else net_state(old)
    if saved is None or scaling is not previous.scaling:
        scale = None if previous.scale is None else previous.scale / scaling.y_scale
        net.module_.load_solution(
            *scaling.standardize(previous.coef, previous.intercept), scale
        )
    else:
        module = tensors(saved["module"])
        with torch.no_grad():
            net.module_.linear.weight.copy_(module["linear.weight"])
            if net.module_.linear.bias is not None:
                net.module_.linear.bias.copy_(module["linear.bias"])
            if net.module_.log_scale is not None and "log_scale" in module:
                net.module_.log_scale.copy_(module["log_scale"])
    if saved is None:  # an exact fit: its solution, and nothing else to continue
        return
    if saved["optimizer_type"] == type(net.optimizer_).__name__:
        state = tensors(saved["optimizer"])
        state["param_groups"] = [
            {
                **{k: v for k, v in fresh.items() if k != "params"},
                "params": kept["params"],
            }
            for kept, fresh in zip(state["param_groups"], net.optimizer_.param_groups)
        ]
        net.optimizer_.load_state_dict(state)
    net.history = History(tensors(saved["history"]))  # new epochs append records
    net.iterator_train__generator.set_state(tensors(saved["generator"]))


def train(net, inputs, target):
    """Run up to ``net.max_epochs`` epochs unless training has stopped already.
    Return ``"converged"``, ``"stalled"`` (stopped short, see
    ``ConvergenceCheck``), ``"max_iter"``, or ``"interrupted"`` when the user
    interrupted training (a ``KeyboardInterrupt`` that skorch swallowed but the
    stopping rule did not raise) after at least one complete epoch; an
    interruption before that is raised again. An epoch cut short leaves no
    record in the history.
    """
    check, epochs = dict(net.callbacks_)["convergence"], net.max_epochs
    if epochs > 0 and not (check.converged_ or check.stalled_):
        done = len(net.history)
        # Small batches on one thread, as the exact solver's small blocks: on 2
        # cores, Adam on batches of 200 x 20 ran 4% faster with 2 threads on an
        # idle machine, and 3.7x slower while another process kept a core busy.
        with threads_for(
            min(net.batch_size, len(target)) * net.module_.linear.in_features
        ):
            net.partial_fit(inputs, target)
        if net.history and "train_loss" not in net.history[-1]:
            net.history.pop()
        stopped = check.converged_ or check.stalled_
        if not stopped and len(net.history) - done < epochs:
            if len(net.history) == done:
                raise KeyboardInterrupt
            return "interrupted"
    if check.converged_:
        return "converged"
    return "stalled" if check.stalled_ else "max_iter"


def _result(net, scaling, moments, config, seed, status, validating, diagnostics):
    loss_curve = [float(v) for v in net.history[:, "train_loss"]]
    scale = net.module_.scale()
    return SolverResult(
        *_solution(net, scaling),
        scaling=scaling,
        scale=None if scale is None else scale * scaling.y_scale,
        solver=config.solver,
        path=config.solver,
        n_iter=len(loss_curve),
        converged=status == "converged",
        loss_curve=loss_curve,
        validation_scores=(
            [float(v) for v in net.history[:, "valid_r2"]] if validating else None
        ),
        diagnostics=diagnostics,
        moments=moments,
        net=net,
        seed=seed,
    )
