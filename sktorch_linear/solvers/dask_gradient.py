"""Adam and SGD for least squares over rows held in parts by Dask: the model
moves from part to part, not the data, and each epoch is measured against the
minimum of the statistics of all the rows (:mod:`._certify`)."""

from dataclasses import replace
from functools import partial

import numpy as np

from .._dask import validated
from .._data import Data
from .._device import resolve_device, resolve_dtype
from .._moments import Moments
from . import _certify, gradient
from ._base import Problem
from ._callbacks import Stall
from ._net import learning_rate
from ._passes import statistics_part
from ._persist import portable


def solve(problem, config):
    """Adam or SGD (squared error) over rows held in parts by Dask: the model
    moves, not the data.

    One pass computes the statistics of all the rows (the scaling, whitening
    as in memory, and the minimum of the objective, solved from them). Each
    epoch is then a chain of tasks, one per part on the worker holding it,
    each training one epoch over its part from the state the previous task
    returns (the module, the optimizer's state, the shuffling state; NumPy, a
    few KiB). After each epoch the objective of the model on all the rows and
    its gap to the minimum come from the statistics, exactly (unless whitening
    left out directions the data determine: then the gap of the result comes
    from :func:`._certify.left_out`): training stops when the gap is under
    ``tol``; at a stall (no improvement by ``tol`` for
    ``n_iter_no_change`` epochs) the learning rate is divided as the in-memory
    stopping rule divides it, and a fit that ends above ``tol`` warns.
    """
    data = problem.data
    part = partial(statistics_part, full=True)
    moments = data.map_reduce(part, Moments.merge, config.device)
    minimum = _certify.StatisticsMinimum(moments, config.objective)
    dtype = resolve_dtype(config.dtype, data.dtype, config.device)
    scaling = minimum.scaling
    whitened = gradient.whitened(scaling, moments, config, data.shape[1], dtype)
    lr = learning_rate(config, int(np.median(data.lengths)), sum(data.lengths))
    state, curve, status = _train(
        data, problem.previous, config, lr, minimum, (moments, whitened)
    )
    diagnostics = {
        "optimality_gap": minimum.gaps(minimum.objectives(state.coef, state.intercept))
    }
    diagnostics.update(
        _certify.left_out(data, config, whitened, state.coef, state.intercept, dtype)
        or {}
    )
    gap = float(np.max(diagnostics["optimality_gap"]))
    if "left_out" in diagnostics:
        _certify.warn_left_out(config, diagnostics)
    elif gap > config.tol:
        _certify.warn_short(config, status, len(curve), gap, "all the rows")
    elif not minimum.converged:
        _certify.warn_unsettled(config, gap)
    return replace(
        state,
        n_iter=len(curve),
        converged=gap <= config.tol
        and minimum.converged
        and "left_out" not in diagnostics,
        loss_curve=curve,
        diagnostics=diagnostics,
        moments=moments,
    )


def _train(data, previous, config, lr, minimum, all_rows):
    """Epochs from ``previous`` until the gap to ``minimum`` is under ``tol``,
    a stall with no decay left, or ``max_iter``: the last state, the objective
    per epoch and how training ended (``"converged"``, ``"stalled"`` or
    ``"max_iter"``)."""
    state, curve = portable(previous), []
    stall = Stall(config.tol, config.n_iter_no_change)
    for _ in range(config.max_iter):
        state = _epoch(data, state, replace(config, lr=lr), all_rows)
        values = minimum.objectives(state.coef, state.intercept)
        curve.append(float(values.sum()))
        if minimum.gaps(values).max() <= config.tol:
            return state, curve, "converged"
        if stall.observe(curve[-1]):
            if not stall.decay(curve[-1]):
                return state, curve, "stalled"
            lr /= Stall.LR_DECAY
    return state, curve, "max_iter"


def _epoch(data, state, config, all_rows):
    """One epoch over all the parts: a chain of tasks, the state moving from
    part to part."""
    import dask

    for part in data.parts:
        state = dask.delayed(_epoch_on_part)(
            state, part, data.device, data.quantiles, config, all_rows
        )
    (state,) = dask.compute(state)
    return state


def _epoch_on_part(state, part, device, quantiles, config, all_rows):
    """One epoch of the gradient solver over one part, on its worker's device,
    from ``state``; the new state."""
    part = part if isinstance(part, Data) else validated(part, quantiles)
    if part is None:
        return state
    config = replace(config, device=resolve_device(device))
    problem = Problem.part(part, state, all_rows)
    return portable(gradient.solve(problem, config))
