"""Passes over the standardized rows, for the exact solvers of the robust
losses: products with vectors and weighted Gram matrices for several targets
at once, a block of rows at a time on the device (``X`` is never copied or
densified whole)."""

import numpy as np
import torch

from .._data import StandardizedRows, dense
from .._device import as_tensor, float64_device
from .._moments import accumulate

# Rows per block of a pass.
_BLOCK_ROWS = 4096
# The most values of the weighted rows of several columns multiplied at once
# (32 MiB of float64).
_PRODUCT_VALUES = 2**22
# Device types on which the standardized rows are held for all the passes.
RESIDENT_TYPES = ("cuda",)


def statistics_part(data, device, *, full):
    """The float64 statistics of some rows (for ``map_reduce``; with ``full``,
    the Gram matrix too)."""
    return accumulate(data, device=device, dtype=torch.float64, full=full)


def _fits_on(device, nbytes):
    """Whether the standardized rows are held on ``device``: an accelerator of
    ``RESIDENT_TYPES`` with room for them in half its free memory. (On the
    CPU, the rows are read from ``X`` a block at a time: a copy would double
    the memory for no transfer saved.)"""
    if device.type not in RESIDENT_TYPES:
        return False
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= free / 2
    return True


class Passes:
    """Standardized rows (and a column of ones for the intercept), standardized
    targets ``t`` (n, K) and weights ``w`` (of mean one, or None) on one
    device, and the passes over the rows that the solvers need, for all
    targets at once.

    Build with :meth:`of_data` (the validated data, standardized a block at a
    time as they are read) or :meth:`of_training` (the training tensors of a
    gradient solver, standardized already).
    """

    def __init__(self, source, t, w, bias, width, *, raw=None):
        self.source, self.t, self.w, self.bias = source, t, w, bias
        self.n, self.width = len(t), width + bias
        self.active = np.arange(width)
        self._raw = raw

    @classmethod
    def of_data(cls, data, scaling, device, bias, hold=True):
        """The rows of ``data`` standardized by ``scaling``, restricted to the
        columns that vary (``active``); held on an accelerator that has room
        for them when ``hold``, on any device when ``hold="always"`` (few rows
        read many times: not standardized again at every pass)."""

        def tensor(array):
            return as_tensor(array, device=device, dtype=torch.float64)

        active = np.flatnonzero(~scaling.constant)
        all_active = len(active) == data.shape[1]
        rows = StandardizedRows(
            data.X,
            tensor(scaling.x_center),
            tensor(scaling.x_scale),
            tensor(~scaling.constant),
        )
        # z = x * (1 / scale) - center / scale, in one operation
        raw = (
            None if all_active else active,
            tensor(1.0 / scaling.x_scale[active]),
            tensor(-scaling.x_center[active] / scaling.x_scale[active]),
        )
        w = data.sample_weight
        passes = cls(
            rows if all_active else _Columns(rows, active),
            tensor((data.Y - scaling.y_center) / scaling.y_scale),
            None if w is None else tensor(w / np.mean(w)),
            bias,
            len(active),
            raw=raw,
        )
        passes.X, passes.Y, passes.scaling, passes.active = (
            data.X,
            data.Y,
            scaling,
            active,
        )
        if hold == "always" or (
            hold and _fits_on(device, 8 * data.shape[0] * len(active))
        ):
            passes._hold()
        return passes

    def _hold(self):
        """Standardize the rows once into a tensor on the device and read the
        passes from it (an accelerator's memory holds them: no transfer of
        ``X`` per pass), with the column of ones of the intercept: the blocks
        are views of them."""
        resident = torch.empty(
            (self.n, self.width), dtype=torch.float64, device=self.t.device
        )
        for rows, z in self.blocks():
            resident[rows] = z
        self.source, self._raw = resident, None

    @classmethod
    def of_training(cls, inputs, target, bias):
        """The training data of a gradient solver: ``inputs["X"]`` (a tensor or
        :class:`StandardizedRows`) and ``inputs.get("sample_weight")``."""
        device = float64_device(target.device)
        w = inputs.get("sample_weight")
        width = len(inputs["X"][0:1][0])
        return cls(
            inputs["X"],
            target.to(device, torch.float64),
            None if w is None else w.to(device, torch.float64),
            bias,
            width,
        )

    def blocks(self, ones=False):
        """Yield ``(rows, z~)`` for consecutive blocks of rows; ``z~`` is a
        buffer that the next block overwrites. With ``ones``, ``z~`` ends with
        a column of ones even without an intercept (``_duality``'s layout)."""
        p = self.width - self.bias
        if self._raw is None and self._as_blocks(p + (self.bias or ones)):
            for start in range(0, self.n, _BLOCK_ROWS):
                rows = slice(start, start + _BLOCK_ROWS)
                yield rows, self.source[rows]
            return
        buffer = torch.ones(
            (min(_BLOCK_ROWS, self.n), p + (self.bias or ones)),
            dtype=torch.float64,
            device=self.t.device,
        )
        for start in range(0, self.n, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            z = buffer[: min(self.n - start, _BLOCK_ROWS)]
            if self._raw is None:
                z[:, :p].copy_(self.source[rows])
            else:
                self._standardized(rows, out=z[:, :p])
            yield rows, z

    def _as_blocks(self, width):
        """Whether the source is a float64 tensor on the device with the columns
        of the blocks (read without a copy)."""
        source = self.source
        return (
            torch.is_tensor(source)
            and source.dtype == torch.float64
            and source.device == self.t.device
            and source.shape[1] == width
        )

    def rows(self, index, ones=False):
        """``z~`` of the rows ``index`` (a tensor of row numbers), a copy; with
        ``ones``, with a column of ones even without an intercept."""
        p = self.width - self.bias
        if self._raw is None:
            source = self.source
            if not torch.is_tensor(source):  # StandardizedRows: NumPy indices
                index = index.cpu().numpy()
            z = torch.as_tensor(source[index]).to(self.t.device, torch.float64)
        else:
            z = self._standardized(index.cpu().numpy())
        if self.bias or ones:
            z = torch.cat([z[:, :p], z.new_ones((len(z), 1))], 1)
        return z

    def _standardized(self, index, out=None):
        """The rows ``index`` of ``X``, standardized (the active columns), into
        ``out`` when given."""
        columns, factor, offset = self._raw
        x = dense(self.X[index])
        if columns is not None:
            x = x[:, columns]
        x = as_tensor(x, device=self.t.device, dtype=None)
        return torch.addcmul(offset, x, factor, out=out)

    def product(self, x, ones=False):
        """``z~ x_j`` for every row of ``x`` (m, width): (n, m). With ``ones``,
        ``z~`` ends with a column of ones even without an intercept."""
        x = torch.as_tensor(x, device=self.t.device)
        out = torch.empty((self.n, len(x)), dtype=torch.float64, device=self.t.device)
        for rows, z in self.blocks(ones):
            torch.matmul(z, x.T, out=out[rows])
        return out

    def cross(self, vectors, ones=False):
        """``z~' v_j`` for every column: (m, width) for ``vectors`` (n, m)."""
        width = self.width + (ones and not self.bias)
        total = torch.zeros(
            (vectors.shape[1], width), dtype=torch.float64, device=self.t.device
        )
        for rows, z in self.blocks(ones):
            total.addmm_(vectors[rows].T, z)
        return total.cpu().numpy()

    def gram_and_product(self, d, x=None, ones=False):
        """``z~' diag(d_j) z~`` for every column, (m, width, width) for ``d``
        (n, m), and :meth:`product` of ``x`` (None without ``x``), in one
        pass."""
        k, q = d.shape[1], self.width + (ones and not self.bias)
        # z~' [d_1 z~, d_2 z~, ...]: one product for every column
        total = torch.zeros((q, k * q), dtype=torch.float64, device=self.t.device)
        out = None
        if x is not None:
            x = torch.as_tensor(x, device=self.t.device)
            out = torch.empty(
                (self.n, len(x)), dtype=torch.float64, device=self.t.device
            )
        for rows, z in self.blocks(ones):
            if x is not None:
                torch.matmul(z, x.T, out=out[rows])
            step = max(1, _PRODUCT_VALUES // (len(z) * q))  # columns at a time
            for first in range(0, k, step):
                columns = slice(first, min(first + step, k))
                weighted = d[rows, columns, None] * z[:, None, :]
                total[:, first * q : columns.stop * q].addmm_(
                    z.T, weighted.reshape(len(z), -1)
                )
        return total.reshape(q, k, q).transpose(0, 1).cpu().numpy(), out


class _Columns:
    """Some columns of standardized rows, indexed as a tensor."""

    def __init__(self, rows, columns):
        self.rows, self.columns = rows, columns

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index][:, self.columns]
