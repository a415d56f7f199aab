"""The solvers' passes over rows held in parts by Dask.

:class:`DaskPasses` has the interface of :class:`~._passes.Passes`, so Newton's
method and the interior-point method run unchanged: each pass is one task per
part, running that part's own :class:`~._passes.Passes` on its worker (torch on
the worker's device), and the results are merged up a tree of tasks (sums of
Gram matrices and cross-products; products joined in row order). The parts
stay in the workers' memory for all the iterations; the client holds only
per-row vectors (the targets, the weights and the solver's iterates, a few
per target: ``X`` never leaves the workers) and sends each part its slice of
them.
"""

from dataclasses import replace
from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .._dask import concatenate, validated
from .._data import Data, dense
from .._device import resolve_device, resolve_dtype
from .._moments import Moments
from .._warnings import warn
from . import _duality, gradient
from ._base import Problem
from ._callbacks import ConvergenceCheck
from ._net import learning_rate, net_state
from ._passes import Passes, _accumulate
from .coordinate_descent import minimise
from .exact import penalised

# Sweeps of coordinate descent for the minimum an epoch's objective is
# compared with.
_SWEEPS = 10_000
# Gaps are relative to the minimum, or to this fraction of the objective when
# the minimum is smaller (data fitted exactly).
_FLOOR = 1e-12


class DaskPasses:
    """:class:`~._passes.Passes` over the parts of a persisted
    :class:`~.._dask.DaskData`, standardized by ``scaling``; ``device`` holds
    the per-row vectors."""

    def __init__(self, data, scaling, device, bias):
        self.data, self.scaling, self.bias, self.device = data, scaling, bias, device
        self.active = np.flatnonzero(~scaling.constant)
        self.width = len(self.active) + bias
        self.offsets = np.r_[0, np.cumsum(data.lengths)]
        self.n = int(self.offsets[-1])
        self.Y, w = data.map_reduce(_targets, concatenate, device)
        self.t = self._tensor((self.Y - scaling.y_center) / scaling.y_scale)
        self.w = None if w is None else self._tensor(w / np.mean(w))
        self.X = _RawRows(self)

    def _tensor(self, array):
        return torch.as_tensor(array, dtype=torch.float64, device=self.device)

    def _slices(self, *vectors):
        """Each part's slices of per-row vectors (on the host, for its task)."""
        host = [None if v is None else torch.as_tensor(v).cpu() for v in vectors]
        return [
            tuple(None if v is None else v[a:b].numpy() for v in host)
            for a, b in zip(self.offsets[:-1], self.offsets[1:])
        ]

    def _pass(self, merge, method, vectors=(), x=None, ones=False):
        """``method`` of each part's own passes, given its slices of
        ``vectors`` (and ``x``), merged by ``merge``."""
        part = partial(
            _part_pass,
            scaling=self.scaling,
            bias=self.bias,
            method=method,
            x=_host(x),
            ones=ones,
        )
        return self.data.map_reduce(part, merge, self.device, self._slices(*vectors))

    def product(self, x, ones=False):
        """As :meth:`Passes.product`."""
        return self._tensor(self._pass(concatenate, "product", x=x, ones=ones))

    def cross(self, vectors, ones=False):
        """As :meth:`Passes.cross`."""
        return self._pass(np.add, "cross", (vectors,), ones=ones)

    def gram_and_product(self, d, x=None, ones=False):
        """As :meth:`Passes.gram_and_product`."""
        gram, out = self._pass(_add_and_join, "gram_and_product", (d,), x=x, ones=ones)
        return gram, None if out is None else self._tensor(out)

    def rows(self, index, ones=False):
        """As :meth:`Passes.rows`: the rows are fetched from their parts."""
        return self._tensor(self._gather(index, "rows", ones))

    def _gather(self, index, method, ones=False):
        """The rows ``index`` from their parts (standardized for ``"rows"``, as
        given for ``"raw"``), in the order of ``index``."""
        index = np.asarray(torch.as_tensor(index).cpu())
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        bounds = np.searchsorted(ordered, self.offsets)
        local = [
            (ordered[a:b] - start,)
            for a, b, start in zip(bounds[:-1], bounds[1:], self.offsets[:-1])
        ]
        part = partial(
            _part_rows, scaling=self.scaling, bias=self.bias, method=method, ones=ones
        )
        found = self.data.map_reduce(part, concatenate, self.device, local)
        rows = np.empty_like(found)
        rows[order] = found
        return rows

    def problem(self, k, loss, l1, l2):
        """As :meth:`Passes.problem`."""
        return _duality._Problem(self, k, loss, l1, l2)


class _RawRows:
    """The rows of ``X`` as given (not standardized), by index: ``X[index]``."""

    def __init__(self, passes):
        self.passes = passes

    def __getitem__(self, index):
        return self.passes._gather(index, "raw")


def _host(x):
    return None if x is None else np.asarray(torch.as_tensor(x).cpu())


def _targets(data, device):
    """A part's targets and weights (None without)."""
    return data.Y, data.sample_weight


def _part_pass(data, device, *vectors, scaling, bias, method, x, ones):
    """``method`` of the part's own passes, on the worker's device."""
    passes = Passes.of_data(data, scaling, device, bias, hold=False)
    vectors = [torch.as_tensor(v, device=device) for v in vectors]
    kwargs = {"ones": ones}
    if x is not None:
        kwargs["x"] = torch.as_tensor(x, device=device)
    return _numpy(getattr(passes, method)(*vectors, **kwargs))


def _part_rows(data, device, index, *, scaling, bias, method, ones):
    """Rows ``index`` of a part: standardized (``"rows"``) or as given."""
    if method == "raw":
        return np.asarray(dense(data.X[index]), dtype=np.float64)
    passes = Passes.of_data(data, scaling, device, bias, hold=False)
    return _numpy(passes.rows(torch.as_tensor(index), ones=ones))


def _numpy(value):
    if isinstance(value, tuple):
        return tuple(_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        return value.cpu().numpy()
    return value


def _add_and_join(a, b):
    """Merge of ``(gram, product)``: Gram matrices added, products joined."""
    return a[0] + b[0], concatenate(a[1], b[1])


def solve_gradient(problem, config):
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
    from :func:`gradient.left_out`): training stops when the gap is under
    ``tol``; at a stall (no improvement by ``tol`` for
    ``n_iter_no_change`` epochs) the learning rate is divided as the in-memory
    stopping rule divides it, and a fit that ends above ``tol`` warns.
    """
    data = problem.data
    part = partial(_accumulate, full=True)
    moments = data.map_reduce(part, Moments.merge, config.device)
    lsq, l1 = penalised(moments, config.objective)
    scaling = lsq.scaling
    minimum = _objective(lsq, l1, *minimise(lsq, l1, _SWEEPS)[:2])
    dtype = resolve_dtype(config.dtype, data.dtype, config.device)
    whitened = gradient.whitened(scaling, moments, config, data.shape[1], dtype)
    fixed = (moments, whitened)
    n_rows = sum(data.lengths)
    lr = learning_rate(config, int(np.median(data.lengths)), n_rows)
    state, curve, gap = _portable(problem.previous), [], np.inf
    best, since, decays = np.inf, 0, 0
    for _ in range(config.max_iter):
        state = _epoch(data, state, replace(config, lr=lr), fixed)
        curve.append(_objective(lsq, l1, state.coef, state.intercept))
        gap = max(curve[-1] - minimum, 0.0) / max(minimum, _FLOOR * curve[-1])
        if gap <= config.tol:
            break
        since = 0 if curve[-1] < best * (1 - config.tol) else since + 1
        best = min(best, curve[-1])
        if since >= config.n_iter_no_change:  # a stall: as ConvergenceCheck
            if decays == ConvergenceCheck.MAX_LR_DECAYS:
                break
            lr, decays, since = lr / ConvergenceCheck.LR_DECAY, decays + 1, 0
    diagnostics = {"optimality_gap": gap}
    diagnostics.update(
        gradient.left_out(data, config, whitened, state.coef, state.intercept, dtype)
        or {}
    )
    gap = diagnostics["optimality_gap"]
    if "left_out" in diagnostics:
        gradient.warn_left_out(config, diagnostics)
    elif gap > config.tol:
        stalled = len(curve) < config.max_iter
        why = "stopped improving" if stalled else "reached max_iter"
        warn(
            f"solver={config.solver!r} {why} after {len(curve)} epoch(s) with a "
            f"training objective {gap:.2g} (relative) above its minimum, measured "
            f"on all the rows (tol={config.tol:g}). Use solver='exact' for the "
            "optimum" + ("." if stalled else ", or increase max_iter."),
            ConvergenceWarning,
        )
    return replace(
        state,
        n_iter=len(curve),
        converged=gap <= config.tol and "left_out" not in diagnostics,
        loss_curve=curve,
        diagnostics=diagnostics,
        moments=moments,
    )


def _objective(lsq, l1, coef, intercept):
    """The objective of ``(coef, intercept)`` on the standardized problem, from
    the statistics: that of ``coef`` with its best intercept, plus what the
    intercept's distance from it adds."""
    value = lsq.objective(coef, l1)
    if lsq.fit_intercept:
        scaling = lsq.scaling
        best = scaling.y_center - coef @ scaling.x_center
        value += 0.5 * float(np.sum(((intercept - best) / scaling.y_scale) ** 2))
    return value


def _portable(result):
    """``result`` with its net as its NumPy training state (to travel to the
    workers)."""
    if result is None or result.net is None or isinstance(result.net, dict):
        return result
    return replace(result, net=net_state(result.net))


def _epoch(data, state, config, fixed):
    """One epoch over all the parts: a chain of tasks, the state moving from
    part to part."""
    import dask

    for part in data.parts:
        state = dask.delayed(_epoch_on_part)(
            state, part, data.device, data.quantiles, config, fixed
        )
    (state,) = dask.compute(state)
    return state


def _epoch_on_part(state, part, device, quantiles, config, fixed):
    """One epoch of the gradient solver over one part, on its worker's device,
    from ``state``; the new state."""
    part = part if isinstance(part, Data) else validated(part, quantiles)
    if part is None:
        return state
    config = replace(config, device=resolve_device(device))
    problem = Problem(part, previous=state, streaming=True, scaling=fixed)
    return _portable(gradient.solve(problem, config))
