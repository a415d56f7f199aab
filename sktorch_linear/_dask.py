"""Dask collections as data: the rows stay on the workers.

A Dask array or data frame is split into its parts of rows (each holding every
column). :class:`DaskData` stands where :class:`~._data.Data` stands: the
solvers' passes over the rows run as one task per part, on the worker that
holds it (torch on that worker's device), and their results (statistics,
sums, Gram matrices; per-row products joined in order) are merged pairwise up
a tree of tasks (:meth:`DaskData.map_reduce`). Only merged results reach the
client. Everything runs on Dask's scheduler (the distributed client when one
is active). ``predict`` maps the parts lazily.

Dask is imported only when a Dask collection is passed: ``is_dask`` looks for
it among the imported modules.
"""

import sys
from functools import partial

import numpy as np
from sklearn.utils.validation import check_array

from ._data import Data, matmul
from ._device import resolve_device
from ._validation import check_part, targets, weights


def is_dask(value):
    """Whether ``value`` is a Dask collection (without importing Dask)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(value)


class DaskData:
    """Rows held in parts by Dask.

    Parameters
    ----------
    parts : list
        Per part, ``(x, y, w)`` (Dask delayed objects or NumPy arrays; ``w``
        None without weights), or after :meth:`persist` a delayed
        :class:`~._data.Data` held on a worker.
    shape : tuple of int
        ``(n_features, n_targets)``.
    dtype : numpy.dtype
        That of ``X`` (float32 only if every part is float32).
    weighted : bool
    device : str or torch.device
        The estimator's ``device`` parameter, resolved by each task on its
        worker: ``"auto"`` takes each worker's accelerator.
    quantiles : ndarray or None
        The quantiles of a fit of several: ``y`` is repeated per quantile.
    lengths : list of int or None
        The parts' numbers of rows, once persisted.
    """

    def __init__(self, parts, shape, dtype, weighted, device, quantiles, lengths=None):
        self.parts, self.lengths = parts, lengths
        self.n_features, self.n_targets = shape
        self.dtype, self.device, self.quantiles = dtype, device, quantiles
        self.weighted = weighted

    @property
    def shape(self):
        """``(n_samples, n_features, n_targets)``; ``n_samples`` is None until
        the parts are persisted (the first pass counts the rows)."""
        n_samples = None if self.lengths is None else sum(self.lengths)
        return (n_samples, self.n_features, self.n_targets)

    def persist(self):
        """The parts validated and held in the workers' memory (the iterative
        solvers pass over them many times), without the empty ones."""
        import dask

        held = dask.persist(
            *[dask.delayed(validated)(part, self.quantiles) for part in self.parts]
        )
        lengths = dask.compute(*[dask.delayed(_length)(part) for part in held])
        kept = [i for i, length in enumerate(lengths) if length]
        if not kept:
            _no_rows()
        return DaskData(
            [held[i] for i in kept],
            (self.n_features, self.n_targets),
            self.dtype,
            self.weighted,
            self.device,
            self.quantiles,
            lengths=[lengths[i] for i in kept],
        )

    def map_reduce(self, function, merge, device, per_part=None):
        """``function(part, device, *per_part[i])`` for every part ``i``, in a
        task on the worker holding it (``device`` is ignored: each task
        resolves the estimator's device on its worker), merged pairwise up a
        tree of tasks in the order of the parts."""
        import dask

        level = [
            dask.delayed(_apply)(
                function,
                self.device,
                self.quantiles,
                part,
                () if per_part is None else per_part[i],
            )
            for i, part in enumerate(self.parts)
        ]
        while len(level) > 1:
            pairs = [
                dask.delayed(_merge)(merge, level[i], level[i + 1])
                for i in range(0, len(level) - 1, 2)
            ]
            level = pairs + level[len(pairs) * 2 :]
        (result,) = dask.compute(level[0])
        if result is None:
            _no_rows()
        return result

    @staticmethod
    def assert_finite():
        """Each part was checked by its task."""


def _no_rows():
    raise ValueError(
        "Found array with 0 sample(s) while a minimum of 1 is required by "
        "TorchLinearRegressor: every part of the Dask collection is empty."
    )


def _length(part):
    return 0 if part is None else part.shape[0]


def _apply(function, device, quantiles, part, extra):
    """``function`` of one part (validated unless it was persisted), None for a
    part without rows."""
    if not isinstance(part, Data):
        part = validated(part, quantiles)
    if part is None:
        return None
    return function(part, resolve_device(device), *extra)


def validated(part, quantiles):
    """The :class:`~._data.Data` of a part ``(x, y, w)``, validated as ``fit``
    validates arrays (``y`` repeated per quantile); None without rows."""
    x, y, w = part
    x = check_part(x)
    y = check_array(
        y, ensure_2d=False, ensure_min_samples=0, dtype=np.float64, input_name="y"
    )
    if len(y) != len(x):
        raise ValueError(
            f"A part of X has {len(x)} rows but its part of y has {len(y)}: "
            "partition X, y and sample_weight alike (e.g. columns of one Dask "
            "data frame)."
        )
    if not len(x):
        return None
    Y = targets(y, len(x), quantiles)
    w = weights(w, x, allow_all_zero=True)
    if hasattr(x, "tocsr"):
        x = x.tocsr()
    return Data(x, Y, w)


def _merge(merge, a, b):
    if a is None or b is None:
        return b if a is None else a
    return merge(a, b)


def concatenate(a, b):
    """Merge of per-row results: arrays (or tuples of them, or None) joined in
    the order of the parts."""
    if isinstance(a, tuple):
        return tuple(concatenate(x, y) for x, y in zip(a, b))
    return None if a is None else np.concatenate([a, b])


def dask_data(estimator, X, y, sample_weight, *, reset, quantiles):
    """The :class:`DaskData` of ``X`` (a Dask array or data frame), ``y`` and
    ``sample_weight`` (Dask collections partitioned like ``X``, or NumPy arrays
    when ``X``'s parts have known lengths), with ``estimator``'s feature
    bookkeeping as ``validate_data`` does it; and the number of dimensions of
    ``y``."""
    if getattr(X, "ndim", None) != 2:
        raise ValueError(
            f"Expected a 2-D Dask array or a Dask data frame as X, got "
            f"{type(X).__name__} with shape {getattr(X, 'shape', None)}."
        )
    check_features(estimator, X, reset=reset)
    y_ndim = 2 if quantiles is not None else _ndim(y)
    if _frames(X, y, sample_weight):
        parts = _joint_parts(X, y, sample_weight)
    else:
        x_parts, lengths = _row_parts(X)
        y_parts = _aligned(y, x_parts, lengths, "y")
        w_parts = (
            [None] * len(x_parts)
            if sample_weight is None
            else _aligned(sample_weight, x_parts, lengths, "sample_weight")
        )
        parts = list(zip(x_parts, y_parts, w_parts))
    n_targets = 1 if _ndim(y) == 1 else _width(y)
    if quantiles is not None:
        n_targets = len(quantiles)
    data = DaskData(
        parts,
        (estimator.n_features_in_, n_targets),
        _dtype(X),
        sample_weight is not None,
        estimator.device,
        quantiles,
    )
    return data, y_ndim


def _frames(X, y, sample_weight):
    """Whether ``X``, ``y`` and the weights (if any) are all Dask data frames or
    series."""
    values = [X, y] + ([] if sample_weight is None else [sample_weight])
    return all(is_dask(v) and _is_frame(v) for v in values)


def _joint_parts(X, y, sample_weight):
    """The parts of data frames ``X``, ``y`` and the weights taken together:
    columns of one frame aligned by Dask (the partitions of frames read with
    different columns need not match: Dask may fuse the files of a narrower
    projection into fewer partitions)."""
    import dask

    targets = y.to_frame() if y.ndim == 1 else y
    columns = {f"__sktorch_linear_y{k}": targets[c] for k, c in enumerate(targets)}
    if sample_weight is not None:
        columns["__sktorch_linear_w"] = sample_weight
    joint = X.assign(**columns)
    split = partial(
        _split_part,
        n_features=len(X.columns),
        n_targets=len(targets.columns),
        weighted=sample_weight is not None,
    )
    return [dask.delayed(split)(part) for part in joint.to_delayed()]


def _split_part(frame, *, n_features, n_targets, weighted):
    """``(x, y, w)`` of one part of the joint frame."""
    x = frame.iloc[:, :n_features]
    y = frame.iloc[:, n_features : n_features + n_targets]
    w = frame.iloc[:, -1] if weighted else None
    return x, (y.iloc[:, 0] if n_targets == 1 else y), w


def check_features(estimator, X, *, reset):
    """``validate_data``'s bookkeeping of the number and names of features, for a
    Dask array or data frame (whose names are those of its empty pandas
    ``_meta``)."""
    from sklearn.utils.validation import validate_data

    frame = X._meta if _is_frame(X) else X
    validate_data(estimator, frame, skip_check_array=True, reset=reset)


def _row_parts(X):
    """The parts of rows of ``X`` (each with every column) and their lengths
    (None where unknown)."""
    if _is_frame(X):
        return X.to_delayed(), None
    X = X.rechunk({1: -1})
    lengths = None if np.isnan(X.shape[0]) else X.chunks[0]
    return list(X.to_delayed()[:, 0]), lengths


def _dtype(X):
    """float32 when every column of ``X`` is float32, else float64 (what
    validation makes of the parts)."""
    dtypes = X.dtypes if _is_frame(X) else [X.dtype]
    float32 = all(str(dtype) == "float32" for dtype in dtypes)
    return np.dtype(np.float32 if float32 else np.float64)


def _is_frame(values):
    """Whether a Dask collection is a data frame or series (not an array)."""
    return not hasattr(values, "chunks")


def _ndim(values):
    return values.ndim if hasattr(values, "ndim") else np.ndim(values)


def _width(values):
    if is_dask(values) and _is_frame(values):
        return len(values.columns)
    return values.shape[1]


def _aligned(values, x_parts, lengths, name):
    """The parts of ``values`` (``y`` or the sample weights) matching those of
    ``X``."""
    if is_dask(values):
        if _is_frame(values):
            parts = values.to_delayed()
        else:
            if lengths is not None and values.chunks[0] != lengths:
                values = values.rechunk({0: lengths})
            if values.ndim == 2:
                values = values.rechunk({1: -1})
            parts = list(values.to_delayed().ravel())
        if len(parts) != len(x_parts):
            raise ValueError(
                f"{name} is in {len(parts)} parts but X in {len(x_parts)}: "
                f"partition them alike (e.g. columns of one Dask data frame), or "
                f"pass {name} as a NumPy array."
            )
        return parts
    if lengths is None:
        raise ValueError(
            f"{name} is not a Dask collection, and the lengths of the parts of X "
            f"are unknown: pass {name} as a Dask collection partitioned like X "
            "(e.g. a column of the same Dask data frame)."
        )
    values = np.asarray(values)
    if len(values) != sum(lengths):
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: "
            f"[{sum(lengths)}, {len(values)}]"
        )
    return np.split(values, np.cumsum(lengths)[:-1])


def predict(X, coef, intercept):
    """Lazy predictions of ``X`` (a Dask array or data frame) as a Dask array:
    ``X @ coef.T + intercept`` part by part."""
    if _is_frame(X):
        X = X.to_dask_array()
    X = X.rechunk({1: -1})
    coef = np.asarray(coef)
    if coef.ndim == 1:
        return X.map_blocks(
            _predict_part, coef, intercept, drop_axis=1, dtype=np.float64
        )
    return X.map_blocks(
        _predict_part,
        coef,
        intercept,
        chunks=(X.chunks[0], (coef.shape[0],)),
        dtype=np.float64,
    )


def _predict_part(x, coef, intercept):
    return matmul(check_part(x), coef.T) + intercept
