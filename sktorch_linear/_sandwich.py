"""The meat of the sandwich covariances of a least-squares fit, as statsmodels
defines them: heteroskedasticity-robust (HC0-HC3), clustered by one or two
keys, and heteroskedasticity and autocorrelation consistent (HAC, Newey-West;
Driscoll-Kraay over the periods of a panel).
One pass over the training data, checked to be the data the fit's statistics
describe."""

from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from ._dask import is_dask
from ._device import accumulation_dtype


class Scores(NamedTuple):
    """What the scores ``w_i e_i z_i`` of a fit are computed from: the
    coefficients and intercept, the centre of the columns, the inverse Gram
    matrix in the centred coordinates ``z = [x - center, 1]`` (``bread``),
    and whether ``z`` has its 1."""

    coef: np.ndarray
    intercept: float
    center: np.ndarray
    bread: np.ndarray
    fit_intercept: bool


def meat(data, scores, cov_type, device, *, groups=None, lags=None):
    """The middle of the sandwich over the rows of ``data`` (an iterable of
    :class:`~._data.Data`; one pass, on ``device``; on a cluster, on the
    workers), and the sums of that pass that identify the data (see
    :func:`check_training_data`).

    - HC0-HC3: ``sum_i s_i s_i'``, the scores ``s_i`` divided by ``(1 -
      h_i)^(d/2)``, ``h_i`` the leverage and ``d`` 0, 0, 1, 2.
    - cluster: for each way of grouping the rows (``groups``, their
      :class:`GroupKeys`), ``sum_g u_g u_g'`` for the sums ``u_g`` of the
      scores of the rows of group ``g`` (reduced by key: a group may span
      parts), and the number of groups: a list of pairs. Two keys group the
      rows three ways: by each key, and by both.
    - HAC: ``G_0 + sum_l w_l (G_l + G_l')`` for the Bartlett weights ``w_l = 1
      - l / (lags + 1)`` and ``G_l = sum_t s_t s_{t-l}'`` (rows in time order).
    - hac-groupsum (Driscoll and Kraay): the same over the sums of the scores
      of each period (``groups``: the rows' periods, in the periods' order),
      and the number of periods.
    """
    part = partial(
        _part,
        scores=scores,
        power={"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}.get(cov_type, 0),
        weights=_bartlett(lags) if cov_type == "HAC" else None,
    )
    total = None
    for chunk in data:
        per_part = None if groups is None else groups.parts(chunk)
        result = chunk.map_reduce(part, _merge, device, per_part=per_part)
        total = result if total is None else _merge(total, result)
    if groups is not None:
        groups.check_end()
    sums, keyed, segment = total
    if cov_type == "cluster":
        return [(u.T @ u, len(keys)) for keys, u in keyed], sums
    if cov_type == "HAC":
        return segment.covariance(), sums
    if cov_type == "hac-groupsum":  # Newey-West over the periods' score sums
        ((periods, u),) = keyed
        if lags is None:
            lags = automatic_lags(len(periods))
        in_time = torch.as_tensor(u[periods.argsort()])
        return (Lagged.of(in_time, _bartlett(lags)).covariance(), len(periods)), sums
    return keyed[0][1], sums


def automatic_lags(n):
    """Newey and West's (1994) ``floor(4 (n / 100)^(2/9))`` lags for ``n``
    rows (or periods), statsmodels' ``cov_hac`` default."""
    return int(np.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def _bartlett(lags):
    """The Bartlett weights ``1 - l / (lags + 1)`` of lags 0 to ``lags``."""
    return 1.0 - np.arange(lags + 1) / (lags + 1)


class GroupKeys:
    """The group keys of the rows (one column per key, at most two), handed
    out a chunk of the rows at a time, a slice per part: a NumPy or pandas
    ``values`` for every row of in-memory chunks, in their order; a Dask
    collection partitioned like ``X`` for Dask chunks."""

    def __init__(self, values):
        self.values, self.offset = values, 0

    def parts(self, chunk):
        """Per part of ``chunk`` (its next rows), a tuple of its rows' keys."""
        parts = getattr(chunk, "parts", None)
        if parts is None:  # in memory: one part
            stop = self.offset + chunk.shape[0]
            keys = self.values[self.offset : stop]
            if len(keys) < stop - self.offset:
                raise ValueError(
                    f"groups has {len(self.values)} rows, fewer than the data."
                )
            self.offset = stop
            return [(keys,)]
        return [(keys,) for keys in _dask_parts(self.values, len(parts))]

    def check_end(self):
        """Refuse keys left over: more rows than the data (in memory)."""
        if not is_dask(self.values) and self.offset != len(self.values):
            raise ValueError(
                f"groups has {len(self.values)} rows, but the data {self.offset}: "
                "pass a group key per row of the training data."
            )


def _dask_parts(values, n_parts):
    """The parts of the Dask collection ``values`` (keys of the rows of Dask
    data in ``n_parts`` parts)."""
    if not is_dask(values):
        raise ValueError(
            "With Dask data, pass groups as a Dask array or series partitioned "
            "like X (e.g. a column of the same data frame)."
        )
    if hasattr(values, "chunks") and values.ndim == 2:
        values = values.rechunk({1: -1})
    parts = values.to_delayed()
    parts = list(np.ravel(parts)) if hasattr(values, "chunks") else list(parts)
    if len(parts) != n_parts:
        raise ValueError(
            f"groups is in {len(parts)} parts but X in {n_parts}: partition "
            "them alike (e.g. columns of one Dask data frame)."
        )
    return parts


def check_training_data(moments, sums):
    """Refuse data whose rows are not those the fit's statistics ``moments``
    describe: another number of rows, or weight sums or weighted sums of the
    columns of ``[X, y]`` (``sums``: rows, weight sum, sums, sums of absolute
    values) off those of the fit by more than 1e-10 relative (rounding)."""
    n, weight_sum = sums[0], sums[1]
    width = len(moments.mean)
    totals, scale = sums[2 : 2 + width], sums[2 + width :]
    expected = moments.weight_sum * moments.mean
    same = (
        n == moments.n_samples
        and abs(weight_sum - moments.weight_sum) <= 1e-10 * moments.weight_sum
        and np.all(np.abs(totals - expected) <= 1e-10 * scale + 1e-300)
    )
    if not same:
        raise ValueError(
            f"data are not the training data of this fit: {int(n)} rows of "
            f"weight sum {weight_sum:.10g}, where the fit saw "
            f"{moments.n_samples} of weight sum {moments.weight_sum:.10g}"
            + (
                " (the same, but other values of X or y)"
                if n == moments.n_samples
                else ""
            )
            + ". Pass the rows the model was fitted on, with their sample "
            "weights (after partial_fit, every chunk)."
        )


def _merge(a, b):
    """Two parts' results, in the order of their rows, merged."""
    segment = a[2] if b[2] is None else b[2] if a[2] is None else a[2].merge(b[2])
    keyed = [
        (None, x[1] + y[1])
        if x[0] is None
        else _by_key(x[0].append(y[0]), np.r_[x[1], y[1]])
        for x, y in zip(a[1], b[1])
    ]
    return a[0] + b[0], keyed, segment


def _by_key(keys, values):
    """The rows of ``values`` summed by their ``keys`` (a pandas index): the
    distinct keys and their sums."""
    codes, unique = pd.factorize(keys)
    totals = np.zeros((len(unique), values.shape[1]))
    np.add.at(totals, codes, values)
    return unique, totals


def _ways(keys):
    """The ways a part's group ``keys`` (one column per key) group its rows,
    each as the rows' codes and the distinct keys (a pandas index): one key
    groups them one way; two keys three ways: by each, and by both."""
    if isinstance(keys, pd.DataFrame):
        columns = [pd.Index(keys[column]) for column in keys]
    else:
        keys = np.asarray(keys)
        columns = [pd.Index(keys)] if keys.ndim == 1 else [*map(pd.Index, keys.T)]
    if len(columns) == 2:
        columns.append(pd.MultiIndex.from_arrays(columns))
    ways = [pd.factorize(column) for column in columns]
    if any((codes < 0).any() for codes, _ in ways):
        raise ValueError("groups holds missing values: give every row a group key.")
    return ways


def _part(data, device, keys=None, *, scores, power, weights):
    """:func:`meat` of some rows (``keys`` their group keys): the sums that
    identify them, the keys and sums of the scores of each way of grouping
    them (or a key of None and the sum of their outer products), and the
    :class:`Lagged` products (HAC)."""
    dtype = accumulation_dtype(device, warn=False)
    bread = torch.as_tensor(scores.bread, device=device, dtype=dtype)
    shift = torch.as_tensor(scores.center, device=device, dtype=dtype)
    b = torch.as_tensor(scores.coef, device=device, dtype=dtype)
    k = len(bread)
    ways = [] if keys is None else _ways(keys)
    if keys is not None and len(keys) != data.shape[0]:
        raise ValueError(
            f"A part of groups has {len(keys)} rows, its part of X "
            f"{data.shape[0]}: partition them alike."
        )
    codes = [torch.as_tensor(c, device=device, dtype=torch.long) for c, _ in ways]
    keyed = [torch.zeros((len(u), k), device=device, dtype=dtype) for _, u in ways]
    keyed = keyed or [torch.zeros((k, k), device=device, dtype=dtype)]
    sums = torch.zeros(2 + 2 * (len(scores.center) + 1), device=device, dtype=dtype)
    segment, start = None, 0
    for x, y, w in data.blocks(device=device, dtype=dtype):
        w = torch.ones_like(y[:, 0]) if w is None else w
        xy = torch.cat([x, y[:, :1]], 1)
        sums += torch.cat([w.new_tensor([len(w)]), w.sum()[None], w @ xy, w @ xy.abs()])
        z = x - shift
        if scores.fit_intercept:
            z = torch.cat([z, z.new_ones((len(z), 1))], 1)
        score = w * (y[:, 0] - x @ b - scores.intercept)
        if power:
            score = score / (1 - w * ((z @ bread) * z).sum(1)) ** (power / 2)
        score = z * score[:, None]
        if codes:
            for total, c in zip(keyed, codes):
                total.index_add_(0, c[start : start + len(w)], score)
        elif weights is not None:
            block = Lagged.of(score, weights)
            segment = block if segment is None else segment.merge(block)
        else:
            keyed[0] += score.T @ score
        start += len(w)
    keyed = [
        (unique, total.cpu().numpy())
        for (_, unique), total in zip(ways or [(None, None)], keyed)
    ]
    return sums.cpu().numpy(), keyed, None if segment is None else segment.cpu()


class Lagged(NamedTuple):
    """The lagged products of the scores of consecutive rows (a segment of
    the rows in time order): ``gram`` ``sum_t s_t s_t'``, ``cross`` ``sum_t
    s_t sum_l w_l s_{t-l}'`` within the segment, and its first and last
    ``lags`` scores (all of them when fewer), through which segments merge."""

    gram: torch.Tensor
    cross: torch.Tensor
    head: torch.Tensor
    tail: torch.Tensor
    weights: np.ndarray

    @classmethod
    def of(cls, scores, weights):
        """The segment of the rows of ``scores``."""
        lags = len(weights) - 1
        lagged = torch.zeros_like(scores)
        for lag in range(1, min(lags, len(scores) - 1) + 1):
            lagged[lag:] += float(weights[lag]) * scores[:-lag]
        return cls(
            scores.T @ scores,
            scores.T @ lagged,
            scores[:lags],
            scores[max(len(scores) - lags, 0) :],
            weights,
        )

    def merge(self, later):
        """This segment followed by ``later``: the products of ``later``'s
        first rows with this one's last added."""
        lags = len(self.weights) - 1
        a, b = self.tail, later.head
        cross = self.cross + later.cross
        for lag in range(1, lags + 1):
            first = max(0, lag - len(a))  # b[j] meets a[j + len(a) - lag]
            stop = min(len(b), lag)
            if first < stop:
                earlier = a[first + len(a) - lag : stop + len(a) - lag]
                cross = cross + float(self.weights[lag]) * b[first:stop].T @ earlier
        head = torch.cat([self.head, later.head])[:lags]
        tail = torch.cat([self.tail, later.tail])
        tail = tail[max(len(tail) - lags, 0) :]
        return Lagged(self.gram + later.gram, cross, head, tail, self.weights)

    def cpu(self):
        """The segment with its tensors on the host (to leave a worker)."""
        return Lagged(*(t.cpu() for t in self[:4]), self.weights)

    def covariance(self):
        """``G_0 + sum_l w_l (G_l + G_l')`` as a NumPy array."""
        return (self.gram + self.cross + self.cross.T).numpy()
