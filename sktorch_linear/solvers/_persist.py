"""A fit's state of record in NumPy, and its skorch net brought back to life.

The estimator pickles (and saves with skops) NumPy and plain Python only:
:func:`portable` turns a result's trained net into its training state
(:func:`net_state`), and :func:`with_net` gives a result a live net again, on
the device of the fit or the CPU where this machine lacks it: the trained net
of a gradient fit in its training state, or a net holding the solution of an
exact fit.
"""

from dataclasses import replace

import numpy as np
import torch
from skorch.history import History

from .._device import accumulation_dtype, to_numpy, usable_device
from ._net import build_net
from ._policy import GRADIENT


def portable(result):
    """``result`` with NumPy state only: a gradient fit's trained net as its
    training state, an exact fit's net (built from its solution) dropped; None
    as it is."""
    net = None if result is None else result.net
    if net is None or isinstance(net, dict):
        return result
    return replace(result, net=net_state(net) if result.solver in GRADIENT else None)


def with_net(result, config):
    """``result`` with a live :class:`LinearNet` (see the module docstring)."""
    net = result.net
    if net is not None and not isinstance(net, dict):
        return result
    config = replace(config, device=usable_device(config.device))
    if net is None:  # an exact fit: a net holding its solution
        dtype = accumulation_dtype(config.device, warn=False)
        return replace(result, net=_solution_net(result, config, dtype))
    return replace(result, net=_restored_net(result, config, net))


def net_state(net):
    """What a later fit continues from, as NumPy arrays and plain Python (no
    torch objects, so that the estimator pickles and saves with skops without
    them): the module's parameters and buffers, the optimizer's type and state,
    the history and the shuffling generator's state."""
    return {
        "module": to_numpy(net.module_.state_dict()),
        "optimizer_type": type(net.optimizer_).__name__,
        "optimizer": to_numpy(net.optimizer_.state_dict()),
        "history": to_numpy([dict(record) for record in net.history]),
        "generator": net.iterator_train__generator.get_state().numpy(),
    }


def tensors(value):
    """``value`` (of :func:`net_state`) with its arrays as tensors again."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {key: tensors(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(tensors(item) for item in value)
    return value


def _restored_net(result, config, state):
    """A :class:`LinearNet` of ``config.solver`` in the training state
    ``state`` (:func:`net_state`) of the fit of ``result``: ``net_`` of an
    estimator loaded from a pickle or a skops file."""
    module = tensors(state["module"])
    dtype = module["linear.weight"].dtype
    if config.device.type == "mps":
        dtype = torch.float32
    n_targets, n_features = result.coef.shape
    net = build_net(
        replace(config, callbacks=(), verbose=0),
        result.scaling,
        (result.scaling.n_samples, n_features, n_targets),
        dtype=dtype,
        seed=0 if result.seed is None else result.seed,
        epochs=config.max_iter,
        streaming=False,
    )
    net.module_.load_state_dict(module)
    if state["optimizer_type"] == type(net.optimizer_).__name__:
        net.optimizer_.load_state_dict(tensors(state["optimizer"]))
    net.history = History(tensors(state["history"]))
    net.iterator_train__generator.set_state(tensors(state["generator"]))
    return net


def _solution_net(result, config, dtype):
    """A :class:`LinearNet` that holds the solution of ``result`` (from any
    solver): what the estimator exposes as ``net_`` after an exact fit."""
    solver = "adam" if config.objective.has_l1 else "lbfgs"
    scaling = result.scaling
    n_targets, n_features = result.coef.shape
    net = build_net(
        replace(config, solver=solver, lr=None, callbacks=(), verbose=0),
        scaling,
        (scaling.n_samples, n_features, n_targets),
        dtype=dtype,
        seed=0,
        epochs=config.max_iter,
        streaming=False,
    )
    weight, bias = scaling.standardize(result.coef, result.intercept)
    scale = None if result.scale is None else result.scale / scaling.y_scale
    net.module_.load_solution(weight, bias, scale)
    return net
