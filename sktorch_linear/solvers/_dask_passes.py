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

from functools import partial

import numpy as np
import torch

from .._dask import concatenate
from .._data import dense
from .._device import to_numpy
from ._passes import Passes


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
    return to_numpy(getattr(passes, method)(*vectors, **kwargs))


def _part_rows(data, device, index, *, scaling, bias, method, ones):
    """Rows ``index`` of a part: standardized (``"rows"``) or as given."""
    if method == "raw":
        return np.asarray(dense(data.X[index]), dtype=np.float64)
    passes = Passes.of_data(data, scaling, device, bias, hold=False)
    return to_numpy(passes.rows(torch.as_tensor(index), ones=ones))


def _add_and_join(a, b):
    """Merge of ``(gram, product)``: Gram matrices added, products joined."""
    return a[0] + b[0], concatenate(a[1], b[1])
