"""The meat of the heteroskedasticity-robust (sandwich) covariances of a
least-squares fit (HC0-HC3, as statsmodels defines them): one pass over the
training data, checked to be the data the fit's statistics describe."""

from functools import partial

import numpy as np
import torch

from ._device import accumulation_dtype


def meat(data, coef, intercept, center, bread, fit_intercept, cov_type, device):
    """``sum_i (w_i e_i)^2 z_i z_i' / (1 - h_i)^d`` over the rows of ``data``
    (one pass, on ``device``; on a cluster, on the workers), with ``z_i`` the
    centred row (and a 1), ``h_i`` its leverage and ``d`` 0, 1 or 2 for
    HC0/HC1, HC2, HC3; and the sums of that pass that identify the data (see
    :func:`check_training_data`); ``bread`` is the inverse Gram matrix in the
    centred coordinates."""
    part = partial(
        _meat_part,
        coef=np.asarray(coef, float),
        intercept=intercept,
        center=center,
        bread=bread,
        fit_intercept=fit_intercept,
        power={"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}[cov_type],
    )
    totals = sum(chunk.map_reduce(part, np.add, device) for chunk in data)
    k = len(center) + fit_intercept
    return totals[: k * k].reshape(k, k), totals[k * k :]


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


def _meat_part(data, device, *, coef, intercept, center, bread, fit_intercept, power):
    """:func:`meat` of some rows."""
    dtype = accumulation_dtype(device, warn=False)
    bread = torch.as_tensor(bread, device=device, dtype=dtype)
    shift = torch.as_tensor(center, device=device, dtype=dtype)
    b = torch.as_tensor(coef, device=device, dtype=dtype)
    total = torch.zeros(bread.shape, device=device, dtype=dtype)
    sums = torch.zeros(2 + 2 * (len(center) + 1), device=device, dtype=dtype)
    for x, y, w in data.blocks(device=device, dtype=dtype):
        w = torch.ones_like(y[:, 0]) if w is None else w
        xy = torch.cat([x, y[:, :1]], 1)
        sums += torch.cat([w.new_tensor([len(w)]), w.sum()[None], w @ xy, w @ xy.abs()])
        residual = y[:, 0] - x @ b - intercept
        z = x - shift
        if fit_intercept:
            z = torch.cat([z, z.new_ones((len(z), 1))], 1)
        leverage = w * ((z @ bread) * z).sum(1)
        score = w * residual / (1 - leverage) ** (power / 2)
        total += (z * score[:, None]).T @ (z * score[:, None])
    return torch.cat([total.ravel(), sums]).cpu().numpy()
