"""Validation of the data of ``fit``, ``partial_fit``, ``predict`` and
``summary``: one set of rules for arrays, sparse matrices, tensors and the
parts of Dask collections."""

import numpy as np
import scipy.sparse
import torch
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    validate_data,
)

from ._data import validated_tensor

# The dtypes X keeps; other numeric input becomes float64.
FLOAT_DTYPES = [np.float64, np.float32]
SPARSE = ("csr", "csc")


def validate(
    estimator,
    X,
    y,
    sample_weight,
    *,
    reset,
    check_finite,
    allow_all_zero,
    quantiles=None,
):
    """Validated ``X`` (dense, a tensor or CSR), ``Y`` as float64 of shape
    (n_samples, n_targets; a column per quantile of a fit of several
    ``quantiles``), the sample weights, and the number of dimensions of ``y``
    (2 for several quantiles), with ``estimator``'s feature bookkeeping; ``X``
    is scanned for non-finite values when ``check_finite``."""
    if isinstance(X, torch.Tensor):  # validated where it lies
        X = validated_tensor(X, check_finite=check_finite)
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        y = check_array(on_host(y), ensure_2d=False, dtype=np.float64, input_name="y")
        check_consistent_length(X, y)
    else:
        X, y = validate_data(
            estimator,
            X,
            y,
            accept_sparse=SPARSE,
            dtype=FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
            reset=reset,
            ensure_all_finite=check_finite,
        )
    if scipy.sparse.issparse(X):
        X = X.tocsr()
    Y = targets(y, X.shape[0], quantiles)
    sample_weight = weights(sample_weight, X, allow_all_zero=allow_all_zero)
    return X, Y, sample_weight, 2 if quantiles is not None else y.ndim


def validate_X(estimator, X):
    """``X`` of ``predict``, validated against the fit (a tensor where it
    lies)."""
    if isinstance(X, torch.Tensor):
        X = validated_tensor(X, check_finite=True)
        validate_data(estimator, X, skip_check_array=True, reset=False)
        return X
    return validate_data(
        estimator, X, accept_sparse=SPARSE, dtype=FLOAT_DTYPES, reset=False
    )


def check_part(x):
    """A part of ``X`` (of a Dask collection) validated as ``check_array``
    validates ``X`` (possibly without rows)."""
    return check_array(
        x,
        accept_sparse=SPARSE,
        dtype=FLOAT_DTYPES,
        ensure_min_samples=0,
        estimator="TorchLinearRegressor",
        input_name="X",
    )


def targets(y, n_rows, several):
    """``y`` (validated) as float64 of shape (n_rows, n_targets), repeated once
    per quantile when ``several`` quantiles (an array) are fitted."""
    Y = np.asarray(y, dtype=np.float64).reshape(n_rows, -1)
    if several is None:
        return Y
    if Y.shape[1] != 1:
        raise ValueError(
            f"Several quantiles ({len(several)}) are fitted to one target, "
            f"but y has {Y.shape[1]} columns. Fit one target at a time, or "
            "pass a single quantile."
        )
    return np.repeat(Y, len(several), axis=1)  # one column per quantile


def weights(sample_weight, X, *, allow_all_zero):
    """Validated non-negative float64 sample weights of ``X``'s rows, or None."""
    if sample_weight is None:
        return None
    return _check_sample_weight(
        on_host(sample_weight),
        X,
        dtype=np.float64,
        ensure_non_negative=True,
        allow_all_zero_weights=allow_all_zero,
    )


def quantiles(loss, quantile):
    """The quantiles of a fit of several (an ndarray), or None."""
    if loss != "quantile" or np.ndim(quantile) == 0:
        return None
    several = np.asarray(quantile, dtype=np.float64)
    valid = several.ndim == 1 and several.size > 0
    if not (valid and np.all((several > 0) & (several < 1))):
        raise ValueError(
            "The 'quantile' parameter must be a float in (0, 1) or a 1-D "
            f"sequence of such floats. Got {quantile!r} instead."
        )
    return several


def on_host(values):
    """``y`` or the sample weights (a vector each) as a host array when given
    as a tensor; other inputs as they are."""
    return values.detach().cpu() if isinstance(values, torch.Tensor) else values
