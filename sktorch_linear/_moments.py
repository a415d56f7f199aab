"""Mergeable weighted statistics of the rows of ``[X Y]``.

A :class:`Moments` holds the weight sum, the weighted means and the weighted,
centred cross-products of ``[X Y]``, in one of three forms:

- ``"gram"``: the cross-product matrix itself. One pass over the data at the
  cost of ``X.T @ X``. Forming it rounds in proportion to the squared
  condition number, so it is kept only for batches of rows whose equilibrated
  Gram matrix has a reciprocal condition number of at least ``FACTOR_RCOND``
  (they lose at most four of sixteen digits to it).
- ``"factor"``: an upper-triangular ``R`` with ``R.T @ R`` the cross-products,
  from a Householder QR of the centred, weighted rows (TSQR over blocks of
  rows). It carries the accuracy of an orthogonal method: the condition number
  is not squared. Computed for the other batches, in a second pass.
- ``"diagonal"``: only the sums of squares (all that scaling needs).

Small batches streamed by ``partial_fit`` also keep ``exact``: the weighted
cross-products of ``[X - mean, Y - mean, 1]`` with every difference, product
and sum error-free, as unevaluated pairs ``hi + lo`` (twice the working
precision). Refinement against them gives the solution of the data as given,
as refinement against the data does, after the data are gone. They merge by
an exact change of shift and addition, and survive a merge only when both
sides have them.

Statistics of any partition of the rows merge into those of the whole: Gram
matrices by the pairwise update of Chan, Golub and LeVeque, factors by a QR of
the stacked factors and the mean-correction row (as in TSQR). A merge with a
factor gives a factor.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from . import _extended as ext
from ._device import to_numpy
from ._linalg import cholesky, eigh, matmul, qr_r
from ._scaling import constant_columns
from ._threads import threads_for

# A batch whose equilibrated (unit-diagonal) Gram matrix has a smaller
# reciprocal condition number keeps an R factor instead of its Gram matrix.
FACTOR_RCOND = 1e-4
# Largest (shift - mean)^2 / variance of a column for which cross-products about
# a shift are centred afterwards (losing at most log10(1 + 4) ~ 0.7 digits);
# beyond it the data are read again, about their means.
_MAX_CANCELLATION = 4.0
# The product blocks have a multiple of this many columns (zero-padded): BLAS
# kernels vectorise over columns, and ragged widths ran up to 1.5x slower.
_PAD_COLUMNS = 8
# (widths below, column groups) of the Gram matrix's products (_groups).
_GROUPS = ((96, 1), (200, 2), (768, 3), (math.inf, 6))
# Blocks of the QR pass: larger blocks make Householder QR more efficient.
_QR_BLOCK_BYTES = 16 * 2**20
# Batches of at most this many values of [X Y 1] times its number of columns
# keep exact cross-products when asked (about 30 operations a value).
EXACT_VALUES = 2**18
# Values per block of the exact cross-products (a (rows, width, width) tensor).
_EXACT_BLOCK_VALUES = 2**18
# Largest magnitude that Dekker's splitting handles without overflow.
_SPLIT_LIMIT = 2.0**995


@dataclass(frozen=True)
class Moments:
    """Weighted statistics of the rows of ``[X Y]`` (``p = n_features`` columns
    of ``X``, then the targets).

    Attributes
    ----------
    n_samples : int
        Number of rows seen.
    n_features : int
        Number of columns of ``X``.
    weight_sum : float
        Sum of the sample weights.
    mean : ndarray of shape (n_features + n_targets,)
        Weighted means.
    sumsq : ndarray of shape (n_features + n_targets,)
        Weighted sums of squares about the means.
    gram : ndarray of shape (n_features + n_targets,) * 2 or None
        Weighted cross-products about the means (kind ``"gram"``).
    factor : ndarray of shape (m, n_features + n_targets) or None
        Upper-triangular ``R`` with ``R.T @ R`` the cross-products about the
        means (kind ``"factor"``).
    exact : tuple of two ndarrays of shape (n_features + n_targets + 1,) * 2 or None
        Weighted cross-products of ``[X Y 1]`` about ``(mean, 0)``,
        error-free, as the pair ``(hi, lo)``.
    """

    n_samples: int
    n_features: int
    weight_sum: float
    mean: np.ndarray
    sumsq: np.ndarray
    gram: np.ndarray | None = None
    factor: np.ndarray | None = None
    exact: tuple | None = None

    @property
    def kind(self):
        """``"factor"``, ``"gram"`` or ``"diagonal"``."""
        if self.factor is not None:
            return "factor"
        return "diagonal" if self.gram is None else "gram"

    @property
    def mean_x(self):
        return self.mean[: self.n_features]

    @property
    def mean_y(self):
        return self.mean[self.n_features :]

    def merge(self, other):
        """Return the statistics of the union of the rows of ``self`` and ``other``."""
        n_samples = self.n_samples + other.n_samples
        if other.weight_sum == 0:
            return replace(self, n_samples=n_samples)
        if self.weight_sum == 0:
            return replace(other, n_samples=n_samples)
        total = self.weight_sum + other.weight_sum
        share = other.weight_sum / total
        pair = self.weight_sum * share
        delta = other.mean - self.mean
        merged = Moments(
            n_samples=n_samples,
            n_features=self.n_features,
            weight_sum=total,
            mean=self.mean + share * delta,
            sumsq=self.sumsq + other.sumsq + pair * delta**2,
        )
        if None not in (self.exact, other.exact):
            exact = ext.add(
                _reshift(self.exact, self.mean, merged.mean),
                _reshift(other.exact, other.mean, merged.mean),
            )
            merged = replace(
                merged, exact=tuple(to_numpy(part, torch.float64) for part in exact)
            )
        kinds = {self.kind, other.kind}
        if "diagonal" in kinds:
            return merged
        if kinds == {"gram"}:
            gram = replace(
                merged, gram=self.gram + other.gram + pair * np.outer(delta, delta)
            )
            # The rounding of the rank-one update is noise in every direction;
            # where the union is ill conditioned, merge square roots instead.
            if not needs_factor(gram):
                return gram
        rows = [self._root(), other._root(), np.sqrt(pair) * delta[None]]
        return replace(merged, factor=qr_r(np.vstack(rows)))

    def about(self, center):
        """Weighted cross-products of ``[X Y] - center``."""
        delta = self.mean - center
        if self.factor is None:
            products = self.gram
        else:
            products = matmul(self.factor.T, self.factor)
        return products + self.weight_sum * np.outer(delta, delta)

    def factor_about(self, center):
        """A matrix ``F`` with ``F.T @ F`` the cross-products of ``[X Y] - center``."""
        delta = self.mean - center
        if not delta.any():
            return self._root()
        return qr_r(np.vstack([self._root(), np.sqrt(self.weight_sum) * delta[None]]))

    def exact_about(self, center):
        """The exact cross-products (``exact``) of ``[X Y 1] - (center, 0)``, as
        a pair of tensors; None without them."""
        if self.exact is None:
            return None
        return _reshift(self.exact, self.mean, np.asarray(center, dtype=float))

    def _root(self):
        return self.factor if self.factor is not None else root(self.gram)


def root(gram):
    """A square root ``F`` (``F.T @ F = gram``) of a positive semi-definite matrix,
    from its eigen-decomposition (rounding-level negative eigenvalues count as 0)."""
    eigenvalues, vectors = eigh(gram)
    return np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None] * vectors.T


def accumulate(data, *, device, dtype, full=True):
    """Statistics of kind ``"gram"`` (``full``) or ``"diagonal"`` of ``data``, in
    one pass on ``device``.

    Each block of rows becomes ``[sqrt(w) (x - c), sqrt(w) (y - c), sqrt(w)]``
    for a shift ``c`` near the means, and one product of that matrix with
    itself yields the weight sum, the sums and the cross-products about ``c``,
    centred at the end. ``c`` is the (weighted) mean of the first block, exact
    for a constant column; if it proves far from the mean of a column (data
    sorted by a trend, a heavy weight in a later block), the data are read
    once more about their means.
    """
    shift = None
    for _ in range(2):
        totals, shift = _shifted_products(data, shift, device, dtype, full)
        # Data whose squares overflow give non-finite statistics, which the
        # caller reports; numpy need not warn on the way.
        with np.errstate(over="ignore", invalid="ignore"):
            moments = _centred(totals, shift, data.shape, full)
            if not _cancels(moments, shift):
                break
        shift = torch.as_tensor(moments.mean, device=device, dtype=dtype)
    return moments


def statistics(data, *, exact, device, dtype):
    """Statistics of one batch of rows: a Gram matrix, or an R factor when the
    Gram matrix is too ill conditioned to keep (``needs_factor``). With
    ``exact``, a small batch (``EXACT_VALUES``) also keeps exact cross-products,
    for refinement after the data are gone. Returns the statistics and the
    number of passes over the data."""
    moments = accumulate(data, device=device, dtype=dtype)
    n_passes = 1
    finite = np.isfinite(moments.gram).all() and np.isfinite(moments.mean).all()
    if moments.weight_sum == 0 or not finite:
        return moments, n_passes
    if needs_factor(moments):
        moments = factorize(data, moments, device=device, dtype=dtype)
        n_passes += 1
    n_samples, n_features, n_targets = data.shape
    if exact and n_samples * (n_features + n_targets + 1) ** 2 <= EXACT_VALUES:
        exact = exact_products(data, moments.mean, device=device, dtype=dtype)
        moments = replace(moments, exact=exact)
        n_passes += 1
    return moments, n_passes


def needs_factor(moments):
    """Whether the Gram matrix of these statistics is too ill conditioned to be
    kept (see ``FACTOR_RCOND``): its columns of ``X`` that vary, scaled to a unit
    diagonal, have a reciprocal condition number below the threshold."""
    p = moments.n_features
    var = moments.sumsq[:p] / moments.weight_sum
    varies = ~constant_columns(var, moments.mean_x) & (var > 0)
    if not varies.any():
        return False
    scale = np.sqrt(moments.sumsq[:p][varies])
    gram = moments.gram[:p, :p][np.ix_(varies, varies)] / np.outer(scale, scale)
    return cholesky(gram)[1] < FACTOR_RCOND


def factorize(data, moments, *, device, dtype):
    """Statistics of kind ``"factor"`` of ``data``, whose means and sums of squares
    ``moments`` already holds: a TSQR pass over blocks of rows on ``device``."""
    center = torch.as_tensor(moments.mean, device=device, dtype=dtype)
    factor = None
    for x, y, w in data.blocks(device=device, dtype=dtype, block_bytes=_QR_BLOCK_BYTES):
        rows = torch.cat([x, y], dim=1).sub_(center)
        if w is not None:
            rows.mul_(w.sqrt().unsqueeze(1))
        if factor is not None:
            rows = torch.cat([factor, rows])
        if w is not None:
            rows = rows[rows.abs().amax(dim=1).argsort(descending=True)]
        with threads_for(rows.numel()):
            factor = torch.linalg.qr(rows, mode="r").R
    return replace(moments, gram=None, factor=to_numpy(factor, torch.float64))


def exact_products(data, shift, *, device, dtype):
    """The weighted cross-products of ``[X Y 1] - (shift, 0)``, as pairs ``(hi,
    lo)``: every difference, product and sum is taken by error-free
    transformations. None if they are too large to be split error-free later
    (``_SPLIT_LIMIT``)."""
    width = sum(data.shape[1:]) + 1
    rows = max(1, _EXACT_BLOCK_VALUES // width**2)
    shift = torch.as_tensor(shift, device=device, dtype=dtype)
    total = None
    for x, y, w in data.blocks(
        device=device, dtype=dtype, block_bytes=8 * rows * width
    ):
        z_hi, z_lo = ext.two_sum(torch.cat([x, y], dim=1), -shift)
        ones = torch.ones_like(y[:, :1])
        z_hi, z_lo = torch.cat([z_hi, ones], dim=1), torch.cat([z_lo, 0 * ones], dim=1)
        hi, lo = ext.mul(
            (z_hi.unsqueeze(2), z_lo.unsqueeze(2)),
            (z_hi.unsqueeze(1), z_lo.unsqueeze(1)),
        )
        if w is not None:
            weight = w.view(-1, 1, 1)
            hi, lo_weight = ext.two_prod(hi, weight)
            lo = lo_weight + lo * weight
        block = ext.sum2(hi, lo, dim=0)
        total = block if total is None else ext.add(total, block)
    pair = (to_numpy(total[0], torch.float64), to_numpy(total[1], torch.float64))
    return pair if np.all(np.abs(pair[0]) < _SPLIT_LIMIT) else None


def _reshift(exact, old, new):
    """Exact cross-products of ``[z + (old - new), 1]`` from those of ``[z, 1]``:
    ``T M T'`` with ``T = I + delta e_last'``, in pairs."""
    matrix = tuple(torch.as_tensor(part) for part in exact)
    delta = ext.two_sum(torch.as_tensor(old), -torch.as_tensor(new))
    delta = tuple(torch.cat([part, part.new_zeros(1)]) for part in delta)
    column = tuple(part.unsqueeze(1) for part in delta)
    row = tuple(part[-1].unsqueeze(0) for part in matrix)
    matrix = ext.add(matrix, ext.mul(column, row))
    column = tuple(part[:, -1:] for part in matrix)
    row = tuple(part.unsqueeze(0) for part in delta)
    return ext.add(matrix, ext.mul(column, row))


def _shifted_products(data, shift, device, dtype, full):
    """Products of the blocks ``[sqrt(w) (x - shift), sqrt(w) (y - shift),
    sqrt(w)]`` with themselves (full) or their column sums of squares and sums;
    the shift (from the first block when None)."""
    n_samples, n_features, n_targets = data.shape
    p, last = n_features, n_features + n_targets
    width = -(-(last + 1) // _PAD_COLUMNS) * _PAD_COLUMNS if full else last + 1
    totals, buffer = None, None
    for x, y, w in data.blocks(device=device, dtype=dtype):
        if shift is None:
            shift = _first_shift(x, y, w)
        if buffer is None:
            buffer = torch.zeros((x.shape[0], width), device=device, dtype=dtype)
        block = buffer[: x.shape[0]]
        torch.sub(x, shift[:p], out=block[:, :p])
        torch.sub(y, shift[p:], out=block[:, p:last])
        if w is None:
            block[:, last] = 1.0
        else:
            root_w = w.sqrt()
            block[:, :last].mul_(root_w.unsqueeze(1))
            block[:, last] = root_w
        with threads_for(block.numel()):
            if full:
                products = _symmetric_products(block)
            else:
                products = [(block * block).sum(0), block[:, last] @ block]
        if totals is None:
            totals = products
        else:
            for total, product in zip(totals, products, strict=True):
                total.add_(product)
    if not full:
        return torch.stack(totals), shift
    size = last + 1
    return _assemble(totals)[:size, :size], shift


def _symmetric_products(block):
    """The upper blocks ``A_i' A_j`` (``i <= j``) of ``block' block`` for the
    block's columns in ``_groups`` groups (each a multiple of ``_PAD_COLUMNS``
    wide): the product is symmetric, and the lower blocks are not formed."""
    width = block.shape[1]
    step = -(-width // _groups(width) // _PAD_COLUMNS) * _PAD_COLUMNS
    groups = [block[:, start : start + step] for start in range(0, width, step)]
    return [a.T @ b for i, a in enumerate(groups) for b in groups[i:]]


def _groups(width):
    """Column groups of the Gram matrix of ``width`` columns: more groups skip
    more of the symmetric half, smaller products run less efficiently
    (measured on torch's CPU kernels, blocks of ``BLOCK_BYTES``: 3 groups ran
    0.72x one product at 504 columns, 6 groups 0.53x at 1 008)."""
    return next(groups for limit, groups in _GROUPS if width < limit)


def _assemble(parts):
    """The symmetric matrix of :func:`_symmetric_products`' blocks."""
    k = round((math.isqrt(8 * len(parts) + 1) - 1) / 2)  # len(parts) = k (k+1) / 2
    upper = iter(parts)
    rows = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            rows[i][j] = next(upper)
            rows[j][i] = rows[i][j].T
    return torch.cat([torch.cat(row, dim=1) for row in rows])


def _first_shift(x, y, w):
    """The (weighted) column means of a block, computed as offsets from its first
    row so that a constant column gets its value exactly."""
    z = torch.cat([x, y], dim=1)
    offsets = z - z[0]
    if w is not None and bool(w.sum() > 0):
        return z[0] + (w @ offsets) / w.sum()
    return z[0] + offsets.mean(dim=0)


def _centred(totals, shift, shape, full):
    n_samples, n_features, n_targets = shape
    totals = to_numpy(totals, torch.float64)
    shift = to_numpy(shift, torch.float64)
    if full:
        weight_sum, sums, products = totals[-1, -1], totals[:-1, -1], totals[:-1, :-1]
    else:
        weight_sum, sums, products = totals[1, -1], totals[1, :-1], totals[0, :-1]
    if weight_sum == 0:
        return empty(n_samples, n_features, n_targets, full)
    mean = shift + sums / weight_sum
    if full:
        gram = products - np.outer(sums, sums) / weight_sum
        gram = (gram + gram.T) / 2  # a GEMM need not round (i, j) and (j, i) alike
        sumsq = np.clip(np.diag(gram), 0.0, None)
        np.fill_diagonal(gram, sumsq)
    else:
        gram, sumsq = None, np.clip(products - sums**2 / weight_sum, 0.0, None)
    return Moments(
        n_samples=n_samples,
        n_features=n_features,
        weight_sum=float(weight_sum),
        mean=mean,
        sumsq=sumsq,
        gram=gram,
    )


def _cancels(moments, shift):
    """Whether a column's shift was too far from its mean (see
    ``_MAX_CANCELLATION``)."""
    offset = moments.mean - to_numpy(shift, torch.float64)
    with np.errstate(divide="ignore"):
        ratio = np.where(
            offset == 0, 0.0, moments.weight_sum * offset**2 / moments.sumsq
        )
    return bool(np.any(ratio > _MAX_CANCELLATION))


def empty(n_samples, n_features, n_targets, full=True):
    """The statistics of rows of zero weight (or of no rows)."""
    width = n_features + n_targets
    return Moments(
        n_samples=n_samples,
        n_features=n_features,
        weight_sum=0.0,
        mean=np.zeros(width),
        sumsq=np.zeros(width),
        gram=np.zeros((width, width)) if full else None,
    )
