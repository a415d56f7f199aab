"""Quantile and absolute-error fits of many rows by Portnoy and Koenker's
preprocessing (1997, Statistical Science 12): the interior-point method on a
random subsample of ``m = sqrt(p + 1) n^(2/3)`` rows gives a minimiser near
the whole data's; the rows near its fit, and each side of the others merged
into one row, make a small programme whose minimiser is the whole data's once
a pass over all rows finds every merged row on its side
(:func:`.robust_path.solve_near`, which adds the rows found on the wrong side
and solves again). Its certified bound bounds the whole data's minimum.

Each interior-point iteration reads every row of its programme: on 20 000 x 50
the whole data took 25 iterations (170 ms at the 0.9 quantile); the subsample
and the small programme (a quarter of the rows each) about as many, 90 ms in
all with the passes over every row. Other data (in parts on a Dask cluster, or
too few rows for a subsample to save passes) go to
:func:`.interior_point.solve` directly.
"""

import math

import numpy as np

from .._data import Data
from .._device import float64_device
from . import _duality, interior_point
from ._passes import Passes
from ._robust import scaled_statistics
from .robust_path import solve_near, target_scaling

# Fewest rows preprocessed, and the largest share of them a subsample may be.
_MIN_ROWS = 5_000
_MAX_SHARE = 1 / 3
# The subsample is drawn from a fixed seed: a fit is reproducible.
_SEED = 0
# Iterations of the method on the subsample: its minimiser is a start, which
# the small programme checks on every row; iterated to the end it was no
# nearer the whole data's (the subsample's own error is ~ 1 / sqrt(m)).
_SAMPLE_ITER = 15


def solve(problem, config):
    """Fit the quantile or absolute-error objective of ``config`` to
    ``problem``'s data: by preprocessing where it saves passes, else by
    :func:`.interior_point.solve`; ``n_iter`` counts the interior-point
    iterations of every programme."""
    data, objective = problem.data, config.objective
    if not _worth_it(data):
        return interior_point.solve(problem, config)
    device = float64_device(config.device)
    # (no passes over all the rows: held on an accelerator, they would copy X)
    moments, scaling, l1, l2 = scaled_statistics(data, objective, device)
    losses = _duality.losses(objective, data.shape[2])
    fits = [
        _fit_target(data, moments, k, losses[k], (l1[k], l2[k]), config, device)
        for k in range(data.shape[2])
    ]
    result = (
        np.array([fit.coef for fit in fits]),
        np.array([fit.intercept for fit in fits]),
        np.array([fit.gap for fit in fits]),
        sum(fit.n_iter for fit in fits),
        float(sum(fit.objective for fit in fits)),
    )
    return interior_point.result(problem, config, device, result, moments, scaling)


def _worth_it(data):
    """Whether ``data`` (in memory) has rows enough for a subsample of at most
    ``_MAX_SHARE`` of them."""
    if not isinstance(data, Data):
        return False
    n, p, _ = data.shape
    return n >= _MIN_ROWS and _subsample_size(n, p) <= _MAX_SHARE * n


def _subsample_size(n, p):
    return math.ceil(math.sqrt(p + 1) * n ** (2 / 3))


def _fit_target(data, moments, k, loss, penalty, config, device):
    """The :class:`.robust_path.Solution` of target ``k``: the subsample's
    minimiser, then the small programme near its fit."""
    objective = config.objective
    fit_intercept = objective.fit_intercept
    scaling = target_scaling(moments, k, fit_intercept, objective.standardize)
    l1, l2 = (np.atleast_1d(np.asarray(v, dtype=float)) for v in penalty)
    w = data.sample_weight
    one = Data(data.X, data.Y[:, k : k + 1], w)
    n, p, _ = data.shape
    rows = np.random.default_rng(_SEED).choice(n, _subsample_size(n, p), replace=False)
    rows.sort()
    sample = Data(data.X[rows], one.Y[rows], None if w is None else w[rows])
    # (held standardized: the method reads the sample's rows many times)
    passes = Passes.of_data(sample, scaling, device, fit_intercept, hold="always")
    method, sample_iter, _ = interior_point.minimise(
        passes, [loss], l1, l2, min(_SAMPLE_ITER, config.max_iter)
    )
    coef, intercept = interior_point.coefficients(method)
    (solution,) = solve_near(
        one,
        scaling,
        loss,
        l1,
        l2,
        [(coef[0], intercept[0])],
        size=len(rows),  # Portnoy and Koenker's band: as many rows as the sample
        fit_intercept=fit_intercept,
        max_iter=config.max_iter,
        device=device,
    )
    return solution._replace(n_iter=solution.n_iter + sample_iter)
