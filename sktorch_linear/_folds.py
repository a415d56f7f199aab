"""Statistics of the splits of a cross-validation from one pass over the data,
and the held-out errors they give for any coefficients.

The splits partition the rows into *atoms*: the rows that every split puts on
the same side (training, test or neither). The statistics of each atom are
gathered in one pass; a split's training statistics are the merge of its
training atoms (never a subtraction, which loses digits) and its held-out
errors come from its test atoms' statistics, ``(y - b - X c)' (y - b - X c)``
expanded about the test means. Splits that share few rows (many atoms) are
gathered split by split instead.
"""

from dataclasses import dataclass, replace
from functools import partial, reduce

import numpy as np
from sklearn.utils import murmurhash3_32

from ._device import accumulation_dtype
from ._linalg import qr_r
from ._moments import accumulate, empty

# At most this many values (atoms times the squared width of the statistics)
# are gathered by atom; splits with more atoms are gathered split by split.
_MAX_ATOM_VALUES = 2**25
# Most splits whose membership codes are packed into one integer per row.
_PACKED_SPLITS = 31


@dataclass(frozen=True)
class Folds:
    """The weighted statistics of the splits: per split those of its training
    rows and of its test rows, those of all rows, and the passes over ``X``
    they took."""

    train: list
    test: list
    total: object
    n_passes: int


def fold_statistics(data, splits, *, device):
    """The :class:`Folds` of ``splits`` (pairs of row indices) of ``data``
    (in memory, or held in parts by Dask: one task per part)."""
    n_samples, n_features, n_targets = data.shape
    width = n_features + n_targets + 1
    atoms = _atoms(splits, n_samples) if len(splits) * n_samples <= 2**28 else None
    if atoms is None or (atoms[0].max(initial=0) + 1) * width**2 > _MAX_ATOM_VALUES:
        return _by_split(data, splits, device=device)
    labels, train, test = atoms
    n_atoms = int(labels.max(initial=-1)) + 1
    moments, n_passes = data.map_reduce(
        partial(_part_atoms, n_atoms=n_atoms),
        _merge_atoms,
        device,
        per_part=_slices(data, labels),
    )
    return Folds(
        train=_training(moments, train, test),
        test=[_merged(moments, ids) for ids in test],
        total=_merged(moments, range(n_atoms)),
        n_passes=n_passes,
    )


def stream_labels(start, n_rows, n_folds, groups=None):
    """The folds of rows ``start`` to ``start + n_rows`` of a stream: a fixed
    hash of each row's position, or of its group (``groups``: a group's rows
    share a fold, whichever chunks they come in)."""
    if groups is None:
        keys = np.arange(start, start + n_rows, dtype=np.uint64)
    else:
        names, inverse = np.unique(np.asarray(groups), return_inverse=True)
        hashed = [murmurhash3_32(str(name), positive=True) for name in names]
        keys = np.asarray(hashed, dtype=np.uint64)[inverse.reshape(-1)]
    return (_mixed(keys) % np.uint64(n_folds)).astype(np.int64)


def stream_folds(previous, data, labels, n_folds, *, device):
    """The :class:`Folds` of ``n_folds`` folds (each trained on the others)
    after the rows of ``data`` in the folds ``labels`` are merged into the
    folds' statistics ``previous`` (None for the first chunk), and the folds'
    statistics. Folds without weight yet take no part."""
    moments, n_passes = data.map_reduce(
        partial(_part_atoms, n_atoms=n_folds),
        _merge_atoms,
        device,
        per_part=_slices(data, labels),
    )
    if previous is not None:
        moments = [a.merge(b) for a, b in zip(previous, moments, strict=True)]
    kept = [fold for fold in moments if fold.weight_sum > 0]
    if len(kept) < 2:
        raise ValueError(
            f"Only {len(kept)} of the {n_folds} folds have rows of positive weight "
            "so far: cross-validation needs two. Pass more rows (or, with "
            "groups, more groups) before reading the scores."
        )
    others = [[j for j in range(len(kept)) if j != i] for i in range(len(kept))]
    folds = Folds(
        train=_training(kept, others, [[i] for i in range(len(kept))]),
        test=kept,
        total=_merged(moments, range(n_folds)),
        n_passes=n_passes,
    )
    return folds, moments


def _mixed(keys):
    """SplitMix64's finaliser: well-spread 64-bit hashes of ``keys``."""
    z = keys.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def of_target(moments, k):
    """The statistics of ``X`` and the ``k``-th target alone."""
    p, width = moments.n_features, len(moments.mean)
    keep = np.r_[np.arange(p), p + k]
    changes = {"mean": moments.mean[keep], "sumsq": moments.sumsq[keep]}
    if moments.gram is not None:
        changes["gram"] = moments.gram[np.ix_(keep, keep)]
    if moments.factor is not None:  # R' R restricted, triangular again
        changes["factor"] = qr_r(moments.factor[:, keep])
    if moments.exact is not None:  # [X Y 1]: the ones' column last
        rows = np.r_[keep, width]
        changes["exact"] = tuple(part[np.ix_(rows, rows)] for part in moments.exact)
    return replace(moments, **changes)


def held_out_errors(moments, coef, intercept):
    """Per candidate and target, the sum of squared errors of the predictions
    ``X @ coef.T + intercept`` on the rows of ``moments`` (weighted as they are),
    and per target the sum of squares of ``y`` about its mean.

    ``coef`` has shape ``(..., n_targets, n_features)``, ``intercept``
    ``(..., n_targets)``. The residuals about their mean are ``[X Y] - mean``
    times ``[-coef_k, e_k]``, whose sum of squares is a quadratic form of the
    cross-products; the mean residual adds ``weight_sum`` times its square.
    """
    p, k = moments.n_features, coef.shape[-2]
    products = moments.about(moments.mean)
    direction = np.concatenate(
        [-coef, np.broadcast_to(np.eye(k), (*coef.shape[:-2], k, k))], axis=-1
    )
    spread = np.einsum("...ki,ij,...kj->...k", direction, products, direction)
    offset = moments.mean_y - intercept - coef @ moments.mean_x
    errors = np.maximum(spread, 0.0) + moments.weight_sum * offset**2
    return errors, np.diag(products)[p:]


def _atoms(splits, n_samples):
    """Each row's atom, and per split the atoms of its training and of its test
    rows."""
    codes = np.zeros((n_samples, len(splits)), dtype=np.int64)
    for s, (train, test) in enumerate(splits):
        codes[train, s] |= 1
        codes[test, s] |= 2
    if len(splits) <= _PACKED_SPLITS:
        packed = codes @ (4 ** np.arange(len(splits), dtype=np.int64))
        _, first, labels = np.unique(packed, return_index=True, return_inverse=True)
        signatures = codes[first]
    else:
        signatures, labels = np.unique(codes, axis=0, return_inverse=True)
    labels = labels.reshape(-1)
    columns = range(len(splits))
    train = [np.flatnonzero(signatures[:, s] & 1) for s in columns]
    test = [np.flatnonzero(signatures[:, s] & 2) for s in columns]
    return labels, train, test


def _merged(moments, ids):
    return reduce(lambda a, b: a.merge(b), [moments[i] for i in ids])


def _training(moments, train, test):
    """Per split, the merge of its training atoms. Where every split trains on
    every atom but its one test atom (k-fold, leave-one-out), from the merges
    of the atoms before and after that one: three merges per atom, not one per
    atom and split."""
    n_atoms = len(moments)
    tests = [ids[0] if len(ids) == 1 else -1 for ids in test]
    if sorted(tests) != list(range(n_atoms)) or any(
        len(ids) != n_atoms - 1 for ids in train
    ):
        return [_merged(moments, ids) for ids in train]
    before, after = [None], [None]
    for a in range(n_atoms - 1):
        before.append(_merge(before[-1], moments[a]))
        after.append(_merge(moments[n_atoms - 1 - a], after[-1]))
    after.reverse()
    return [_merge(before[a], after[a]) for a in tests]


def _merge(a, b):
    return b if a is None else a if b is None else a.merge(b)


def _by_split(data, splits, *, device):
    """:class:`Folds` from the rows of each split in turn (two passes a split,
    and one over all rows)."""
    if not hasattr(data, "rows"):
        raise ValueError(
            f"These {len(splits)} splits share too few rows to be gathered in one "
            "pass over the parts of a Dask collection. Use splits that partition "
            "the rows into a few folds (KFold, GroupKFold), or data in memory."
        )
    dtype = accumulation_dtype(device, warn=False)

    def statistics(indices):
        return accumulate(data.rows(indices), device=device, dtype=dtype)

    return Folds(
        train=[statistics(train) for train, _ in splits],
        test=[statistics(test) for _, test in splits],
        total=accumulate(data, device=device, dtype=dtype),
        n_passes=2 * len(splits) + 1,
    )


def _slices(data, labels):
    """Each part's slice of the atoms of the rows (one part in memory)."""
    lengths = getattr(data, "lengths", None)
    if lengths is None:
        return [(labels,)]
    offsets = np.r_[0, np.cumsum(lengths)]
    return [(labels[a:b],) for a, b in zip(offsets[:-1], offsets[1:])]


def _part_atoms(data, device, labels, *, n_atoms):
    dtype = accumulation_dtype(device, warn=False)
    return _atom_statistics(data, labels, n_atoms, device=device, dtype=dtype)


def _merge_atoms(a, b):
    """The atoms' statistics of two parts of the rows merged (their passes ran
    side by side)."""
    return [x.merge(y) for x, y in zip(a[0], b[0], strict=True)], max(a[1], b[1])


def _atom_statistics(data, labels, n_atoms, *, device, dtype):
    """Per atom, the statistics of its rows (:func:`.._moments.accumulate` of
    each atom's rows, gathered a block at a time): together one pass over
    ``data``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(labels, minlength=n_atoms))]
    moments = [
        accumulate(_Rows(data, order[a:b]), device=device, dtype=dtype)
        if b > a
        else empty(0, *data.shape[1:])
        for a, b in zip(bounds[:-1], bounds[1:])
    ]
    return moments, 1


@dataclass(frozen=True)
class _Rows:
    """Some rows of ``data``, as :func:`.._moments.accumulate` reads them."""

    data: object
    indices: np.ndarray

    @property
    def shape(self):
        return (len(self.indices), *self.data.shape[1:])

    def blocks(self, **options):
        return self.data.blocks(indices=self.indices, **options)
