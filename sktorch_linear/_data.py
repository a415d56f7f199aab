"""Validated training data on their way to the device.

The estimator validates ``X``, ``y`` and the sample weights with scikit-learn's
helpers and wraps them in a :class:`Data`; from there on nothing copies them on
the host. A torch tensor ``X`` is validated where it lies
(:func:`validated_tensor`) and read from there: a tensor on an accelerator never
goes through host memory. The exact solver reads them a block of rows at a time
(:meth:`Data.blocks`); the gradient solvers move them to the device once,
standardized (:func:`training_tensors`), a sparse ``X`` a batch of rows at a
time (:class:`StandardizedRows`).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch
from sklearn.utils.validation import check_array

from ._device import as_tensor, host_tensor
from ._warnings import warn

# A block of rows holds about this many bytes of X: small enough for the
# products of one block to run from the cache, large enough for BLAS to be
# efficient on it.
BLOCK_BYTES = 4 * 2**20
# A float32 column whose |mean| / std exceeds this keeps under ~3 digits of its
# variation (float32 has about 7).
_FLOAT32_MAX_RATIO = 1e4
# Rows whitened at a time (the temporary is a block of this many rows).
_WHITEN_ROWS = 4096


@dataclass(frozen=True)
class Data:
    """``X`` (dense or CSR), ``Y`` of shape ``(n_samples, n_targets)`` and the
    sample weights (None for unit weights), as validated."""

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def dtype(self):
        """The NumPy dtype of ``X`` (float32 or float64)."""
        return numpy_dtype(self.X.dtype)

    @property
    def shape(self):
        """``(n_samples, n_features, n_targets)``."""
        return (*self.X.shape, self.Y.shape[1])

    def map_reduce(self, function, merge, device, per_part=None):
        """``function(self, device, *per_part[0])``: in memory the rows are one
        part.

        Rows held in parts elsewhere (:class:`~._dask.DaskData`) apply
        ``function`` to each part ``i`` where it lies, with ``per_part[i]``
        (the part's slices of per-row vectors), and combine the results with
        ``merge``, which is associative: the statistics and sums the exact
        solvers take in one pass.
        """
        return function(self, device, *(() if per_part is None else per_part[0]))

    def assert_finite(self):
        """Raise scikit-learn's error if ``X`` holds NaN or infinity."""
        if isinstance(self.X, torch.Tensor):
            assert_finite(self.X)
            return
        check_array(
            self.X,
            accept_sparse=("csr", "csc"),
            dtype=None,
            estimator="TorchLinearRegressor",
            input_name="X",
        )

    def rows(self, indices):
        """The data of some rows (a copy)."""
        w = self.sample_weight
        return Data(self.X[indices], self.Y[indices], None if w is None else w[indices])

    def blocks(self, *, device, dtype, block_bytes=None, indices=None):
        """Yield ``(x, y, w)`` tensors on ``device`` for consecutive blocks of
        rows of about ``block_bytes`` (default ``BLOCK_BYTES``); ``w`` is None
        without weights. A sparse block is densified on its own: the whole of
        ``X`` never is. With ``indices``, the blocks hold those rows, in that
        order (gathered a block at a time)."""
        n_samples, n_features, n_targets = self.shape
        block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
        rows = max(1, block_bytes // (8 * (n_features + n_targets + 1)))
        if indices is not None:
            n_samples = len(indices)
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            taken = slice(start, stop) if indices is None else indices[start:stop]
            w = self.sample_weight
            yield (
                as_tensor(dense(self.X[taken]), device=device, dtype=dtype),
                as_tensor(self.Y[taken], device=device, dtype=dtype),
                None if w is None else as_tensor(w[taken], device=device, dtype=dtype),
            )


def numpy_dtype(dtype):
    """The NumPy dtype of a NumPy or torch dtype."""
    if isinstance(dtype, torch.dtype):
        return np.dtype(str(dtype).removeprefix("torch."))
    return np.dtype(dtype)


def dense(rows):
    """Rows of ``X`` as a dense array (a sparse block densified) or tensor."""
    return rows.toarray() if scipy.sparse.issparse(rows) else rows


def host(rows):
    """Rows of ``X`` as a dense NumPy array (for the few rows a solver reads on
    the host)."""
    rows = dense(rows)
    if isinstance(rows, torch.Tensor):
        return rows.cpu().numpy()
    return np.asarray(rows)


def matmul(X, matrix):
    """``X @ matrix`` as a float64 NumPy array, computed where ``X`` lies (a
    tensor on its device: only the product comes to the host)."""
    if isinstance(X, torch.Tensor):
        dtype = torch.float32 if X.device.type == "mps" else torch.float64
        product = X.to(dtype) @ torch.as_tensor(matrix, device=X.device, dtype=dtype)
        return product.cpu().numpy().astype(np.float64, copy=False)
    return np.asarray(dense(X @ matrix), dtype=np.float64)


def validated_tensor(X, *, check_finite):
    """A torch tensor ``X`` checked as ``check_array`` checks arrays, on its own
    device: dense, 2-D, real, at least one row and column, and finite when
    ``check_finite``. float32 and float64 are kept; other real dtypes become
    float64 (float32 on MPS) on the same device."""
    if X.layout != torch.strided:
        raise TypeError(
            f"A sparse torch tensor ({X.layout}) was passed as X. Pass a dense "
            "tensor, or a scipy.sparse matrix for sparse data."
        )
    if X.is_complex():
        raise ValueError("Complex data not supported: X is a complex tensor.")
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D tensor X, got {X.ndim}-D of shape {tuple(X.shape)}. "
            "Reshape your data either using X.reshape(-1, 1) if your data has a "
            "single feature or X.reshape(1, -1) if it contains a single sample."
        )
    for axis, what in enumerate(("sample", "feature")):
        if X.shape[axis] < 1:
            raise ValueError(
                f"Found array with 0 {what}(s) (shape={tuple(X.shape)}) while a "
                "minimum of 1 is required by TorchLinearRegressor."
            )
    X = X.detach()
    if X.dtype not in (torch.float32, torch.float64):
        X = X.to(torch.float32 if X.device.type == "mps" else torch.float64)
    if check_finite:
        assert_finite(X)
    return X


def assert_finite(X):
    """Raise scikit-learn's error when the tensor ``X`` holds NaN or infinity
    (checked on its device)."""
    if bool(torch.isnan(X).any()):
        raise ValueError(
            "Input X contains NaN. TorchLinearRegressor does not accept missing "
            "values encoded as NaN: impute them first (e.g. with "
            "sklearn.impute.SimpleImputer in a Pipeline), or drop those rows."
        )
    if not bool(torch.isfinite(X).all()):
        raise ValueError(
            f"Input X contains infinity or a value too large for "
            f"dtype('{numpy_dtype(X.dtype)}')."
        )


def split(n_samples, fraction, seed):
    """Row indices of a training part and of a validation part holding
    ``fraction`` of the rows, both sorted, drawn from ``seed``."""
    n_valid = int(np.ceil(fraction * n_samples))
    if n_valid < 2 or n_samples - n_valid < 2:
        raise ValueError(
            f"early_stopping needs at least 2 training and 2 validation rows; "
            f"{n_samples} rows with validation_fraction={fraction} do not give "
            "them. Pass more data, change validation_fraction, or set "
            "early_stopping=False."
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def check_finite(data, moments):
    """Raise scikit-learn's error for non-finite ``X`` when the statistics of
    the data are not finite.

    The exact solver finds non-finite values in its statistics (they become
    non-finite too) and only then scans ``X`` for the message: one pass over
    ``X`` fewer. Finite ``X`` whose squares overflow is left to the scaling's
    overflow error.
    """
    if np.isfinite(moments.mean).all() and np.isfinite(moments.sumsq).all():
        return
    data.assert_finite()


def warn_float32_resolution(data, moments):
    """Warn when float32 ``X`` cannot resolve the spread of a column around its
    mean."""
    if data.dtype != np.float32:
        return
    spread = np.sqrt(moments.sumsq[: moments.n_features] / moments.weight_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread > 0, np.abs(moments.mean_x) / spread, 0.0)
    worst = int(np.argmax(ratio))
    if ratio[worst] > _FLOAT32_MAX_RATIO:
        warn(
            f"Column {worst} of the float32 X has a mean {ratio[worst]:.3g} times "
            "its standard deviation: float32 keeps only about "
            f"{max(7 - np.log10(ratio[worst]), 0):.0f} significant digits of its "
            "variation. Pass X as float64 (or centre it) for a precise fit.",
            UserWarning,
        )


def training_tensors(data, scaling, *, device, dtype, weight_mean=None, densify=False):
    """Move the data to ``device``, standardized, in one transfer.

    Returns the input of the gradient solvers' net, a dict with the
    standardized ``X`` (``"X"``) and the sample weights divided by
    ``weight_mean`` (default: their mean) (``"sample_weight"``, absent when
    unweighted), and the standardized targets.
    Columns that are constant (when centring) become exact zeros, so their
    coefficients stay at zero. A dense ``X`` is copied once, into the tensor
    that is standardized in place; a sparse ``X`` becomes :class:`StandardizedRows`
    (dense a batch at a time), or dense with ``densify``.
    """

    def tensor(array):
        return as_tensor(array, device=device, dtype=dtype)

    keep = tensor(~scaling.constant)
    whitening = None if scaling.whitening is None else tensor(scaling.whitening)
    x = StandardizedRows(
        data.X, tensor(scaling.x_center), tensor(scaling.x_scale), keep, whitening
    )
    if not scipy.sparse.issparse(data.X):
        x = x.standardize_(_transferred(data.X, device, dtype))
    elif densify:
        x = x[:]
    y = _transferred(data.Y, device, dtype)
    y.sub_(tensor(scaling.y_center)).div_(tensor(scaling.y_scale))
    w = data.sample_weight
    if w is None:
        return {"X": x}, y
    weight_mean = np.mean(w) if weight_mean is None else weight_mean
    return {"X": x, "sample_weight": tensor(w / weight_mean)}, y


def _transferred(array, device, dtype):
    """A new tensor on ``device`` holding ``array``: one copy, whatever the
    device, dtype or memory layout."""
    source = host_tensor(array)
    return torch.empty(source.shape, device=device, dtype=dtype).copy_(source)


class StandardizedRows:
    """A matrix whose rows are standardized (and densified) a block at a time.

    Indexing returns new dense, standardized rows on the device: ``X`` is never
    copied or densified whole.

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or ndarray
    mean, scale, keep : torch.Tensor
        Centres, divisors, and 0/1 multipliers (0 for constant columns) on the
        device.
    whitening : torch.Tensor or None, default=None
        Applied to the standardized rows (see ``Scaling.whitened``).
    """

    def __init__(self, matrix, mean, scale, keep, whitening=None):
        self.matrix = matrix
        self.mean = mean
        self.scale = scale
        self.keep = keep
        self.whitening = whitening

    def __len__(self):
        return self.matrix.shape[0]

    def take(self, order):
        return StandardizedRows(
            self.matrix[order.numpy()], self.mean, self.scale, self.keep, self.whitening
        )

    def standardize_(self, dense):
        """Standardize (and whiten) a dense tensor of rows in place, a block of
        rows at a time."""
        dense.sub_(self.mean).div_(self.scale).mul_(self.keep)
        if self.whitening is not None:
            for start in range(0, len(dense), _WHITEN_ROWS):
                block = dense[start : start + _WHITEN_ROWS]
                block.copy_(block @ self.whitening)
        return dense

    def __getitem__(self, rows):
        block = dense(self.matrix[rows])
        return self.standardize_(_transferred(block, self.mean.device, self.mean.dtype))
