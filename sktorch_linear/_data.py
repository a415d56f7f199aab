"""Validated training data on their way to the device, a block of rows at a time."""

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from ._device import as_tensor

# A block of rows holds about this many bytes of X: small enough for the
# products of one block to run from the cache, large enough for BLAS to be
# efficient on it.
BLOCK_BYTES = 4 * 2**20


@dataclass(frozen=True)
class Data:
    """``X`` (dense or CSR), ``Y`` of shape ``(n_samples, n_targets)`` and the
    sample weights (None for unit weights), as validated."""

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def shape(self):
        """``(n_samples, n_features, n_targets)``."""
        return (*self.X.shape, self.Y.shape[1])

    def blocks(self, *, device, dtype, block_bytes=None):
        """Yield ``(x, y, w)`` tensors on ``device`` for consecutive blocks of
        rows of about ``block_bytes`` (default ``BLOCK_BYTES``); ``w`` is None
        without weights. A sparse block is densified on its own: the whole of
        ``X`` never is."""
        n_samples, n_features, n_targets = self.shape
        block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
        rows = max(1, block_bytes // (8 * (n_features + n_targets + 1)))
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            x = self.X[start:stop]
            if scipy.sparse.issparse(x):
                x = x.toarray()
            w = self.sample_weight
            yield (
                as_tensor(x, device=device, dtype=dtype),
                as_tensor(self.Y[start:stop], device=device, dtype=dtype),
                None
                if w is None
                else as_tensor(w[start:stop], device=device, dtype=dtype),
            )
