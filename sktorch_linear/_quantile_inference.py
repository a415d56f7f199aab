"""Inference statistics of quantile-regression fits without a penalty:
standard errors from a density estimate of the residuals at zero.

- ``"iid"`` and ``"robust"``: as statsmodels' ``QuantReg.fit(vcov=...)``
  (Stata 12's): one kernel density estimate at 0 (Epanechnikov kernel,
  Hall-Sheather bandwidth scaled by ``min(std(y), IQR(e) / 1.34)``);
  ``"iid"`` is ``q (1 - q) / f^2 (X'X)^-1``, ``"robust"`` the sandwich
  ``(X'X)^-1 X'DX (X'X)^-1`` with ``D`` ``(q / f)^2`` for residuals above 0
  and ``((1 - q) / f)^2`` otherwise (Greene); the rows the fit interpolates
  (residual 0) count as below.
- ``"ker"`` (Powell's kernel sandwich) and ``"nid"`` (Hendricks and
  Koenker's difference quotients of the fits at ``q -+ h``), as R quantreg's
  ``summary.rq``: ``q (1 - q) H^-1 X'X H^-1`` with ``H = X' diag(f) X``.
- ``"bootstrap"``: the covariance of xy-pair bootstrap replicates (R
  quantreg's ``se="boot"``, ``bsmethod="xy"``; :mod:`._bootstrap`).

Sample weights scale the rows of ``X``, ``y`` and the residuals, as
``summary.rq`` does; the bandwidth is halved until ``q -+ h`` lies in (0, 1)
(``summary.rq``'s rule, where statsmodels returns NaN).
"""

from functools import partial

import numpy as np
import scipy.linalg
import scipy.stats
import torch

from ._bootstrap import replicates
from ._device import accumulation_dtype
from ._inference import inverse_gram
from ._results import QuantileSummary, parameters_table
from ._sandwich import check_training_data

QUANTILE_COV_TYPES = ("iid", "robust", "ker", "nid", "bootstrap")
_EPS = np.sqrt(np.finfo(float).eps)  # summary.rq's eps
_ZERO = 1e-10  # residuals this small relative to y and the fit are 0


def hall_sheather(n, q, alpha=0.05):
    """Hall and Sheather's (1988) bandwidth on the scale of the quantile, as
    statsmodels' ``hall_sheather`` and quantreg's ``bandwidth.rq(hs=TRUE)``,
    halved until ``q -+ h`` lies in (0, 1)."""
    z = scipy.stats.norm.ppf(q)
    h = (
        n ** (-1.0 / 3)
        * scipy.stats.norm.ppf(1 - alpha / 2) ** (2.0 / 3)
        * (1.5 * scipy.stats.norm.pdf(z) ** 2 / (2 * z**2 + 1)) ** (1.0 / 3)
    )
    while q - h <= 0 or q + h >= 1:
        h /= 2
    return h


def neighbours(n, quantiles):
    """The quantiles ``q - h`` and ``q + h`` of each quantile ``q`` that
    ``"nid"`` fits again (``h`` of :func:`hall_sheather`)."""
    widths = np.array([hall_sheather(n, q) for q in quantiles])
    return np.r_[quantiles - widths, quantiles + widths], widths


def quantile_summaries(data, fit, names, options):
    """Per quantile of ``fit`` (``quantiles``, ``coef`` rows, ``intercept``,
    ``fit_intercept``, and for ``"nid"`` ``refit``, which fits given quantiles
    again and returns their ``[coef, intercept]`` rows), the
    :class:`QuantileSummary` of ``options["cov_type"]`` from ``data`` (one
    :class:`~._data.Data`, or Dask parts) on ``options["device"]``."""
    cov_type, device = options["cov_type"], options["device"]
    quantiles = fit["quantiles"]
    part = partial(
        _first_part,
        coef=fit["coef"],
        intercept=fit["intercept"],
        fit_intercept=fit["fit_intercept"],
    )
    gram, above, residuals, y_scaled, sums = data.map_reduce(part, _merge, device)
    check_training_data(fit["moments"], sums)
    n = len(residuals)
    if cov_type == "bootstrap":  # the covariance of the replicates (R's cov(B))
        return [
            _summary(fit, t, np.cov(coefs, rowvar=False), np.nan, names, options, n)
            for t, coefs in enumerate(replicates(data, fit, options))
        ]
    if cov_type in ("ker", "nid"):
        bandwidths, weights = _densities(cov_type, n, quantiles, residuals, fit)
        part = partial(_weighted_part, fit=fit, weights=weights)
        dense = data.map_reduce(part, np.add, device)
    summaries = []
    for t, q in enumerate(quantiles):
        if cov_type in ("iid", "robust"):
            bandwidth, density = _kernel_density(n, q, residuals[:, t], y_scaled)
            inverse = inverse_gram(scipy.linalg.cholesky(gram))
            if cov_type == "iid":
                cov = q * (1 - q) / density**2 * inverse
            else:
                middle = (q / density) ** 2 * above[t]
                middle += ((1 - q) / density) ** 2 * (gram - above[t])
                cov = inverse @ middle @ inverse
        else:
            bandwidth = bandwidths[t]
            inverse = inverse_gram(scipy.linalg.cholesky(dense[t]))
            cov = q * (1 - q) * inverse @ gram @ inverse
        summaries.append(_summary(fit, t, cov, bandwidth, names, options, n))
    return summaries


def _blocks(data, device, coef, intercept, fit_intercept):
    """Per block of ``data`` on ``device``: the design rows ``[x, 1]`` (the 1
    with an intercept) scaled by the sample weights, the scaled residuals of
    each quantile (a column each), and the scaled ``y``."""
    dtype = accumulation_dtype(device, warn=False)
    b = torch.as_tensor(coef, device=device, dtype=dtype)
    c = torch.as_tensor(intercept, device=device, dtype=dtype)
    for x, y, w in data.blocks(device=device, dtype=dtype):
        w = torch.ones_like(y[:, 0]) if w is None else w
        residual = y[:, :1] - x @ b.T - c
        # what identifies the rows: as the fit's statistics saw them, with y
        # once per quantile (check_training_data)
        wy, wy_abs = (w @ y[:, 0]).expand(len(b)), (w @ y[:, 0].abs()).expand(len(b))
        sums = torch.cat(
            [w.new_tensor([len(w)]), w.sum()[None], w @ x, wy, w @ x.abs(), wy_abs]
        )
        if fit_intercept:
            x = torch.cat([x, x.new_ones((len(x), 1))], 1)
        yield x * w[:, None], residual * w[:, None], y[:, 0] * w, sums


def _first_part(data, device, *, coef, intercept, fit_intercept):
    """The first pass over some rows: the Gram matrix of the scaled design,
    per quantile the Gram matrix of its rows whose residual is above 0, and
    the scaled residuals and ``y`` (on the host)."""
    gram = above = sums = 0
    residuals, ys = [], []
    for x, residual, y, block in _blocks(data, device, coef, intercept, fit_intercept):
        gram, sums = gram + x.T @ x, sums + block
        # the rows a vertex interpolates (residual 0 to rounding) count as
        # below, as statsmodels' ``e > 0`` counts an exact 0
        rounding = _ZERO * (y.abs()[:, None] + (y[:, None] - residual).abs())
        mask = (residual > rounding).to(x.dtype)
        above = above + _weighted_products(mask, x)
        residuals.append(residual.cpu().numpy())
        ys.append(y.cpu().numpy())
    return (
        gram.cpu().numpy(),
        above.cpu().numpy(),
        np.concatenate(residuals),
        np.concatenate(ys),
        sums.cpu().numpy(),
    )


def _merge(a, b):
    """The first pass's results of two parts of the rows, in their order."""
    return a[0] + b[0], a[1] + b[1], np.r_[a[2], b[2]], np.r_[a[3], b[3]], a[4] + b[4]


def _kernel_density(n, q, residual, y):
    """statsmodels' density of the residuals at 0: the Epanechnikov kernel
    with the Hall-Sheather bandwidth on the scale ``min(std(y), IQR / 1.34)``;
    the bandwidth and the density."""
    width = hall_sheather(n, q)
    iqr = np.subtract(*np.percentile(residual, [75, 25]))
    h = min(np.std(y), iqr / 1.34) * (
        scipy.stats.norm.ppf(q + width) - scipy.stats.norm.ppf(q - width)
    )
    u = residual / h
    kernel = 0.75 * (1 - u**2) * (np.abs(u) <= 1)
    return h, kernel.sum() / (n * h)


def _densities(cov_type, n, quantiles, residuals, fit):
    """Per quantile, the bandwidth and what the rows' densities are computed
    from in the second pass: ``("ker", h)``, Powell's Gaussian kernel with
    ``h`` on the scale ``min(sd(e), IQR / 1.34)``, or ``("nid", 2 h, the
    difference of the coefficients and intercepts at q -+ h)``."""
    if cov_type == "ker":
        bandwidths = []
        for t, q in enumerate(quantiles):
            width = hall_sheather(n, q)
            e = residuals[:, t]
            iqr = np.subtract(*np.percentile(e, [75, 25]))
            scale = min(np.std(e, ddof=1), iqr / 1.34)
            bandwidths.append(
                scale
                * (scipy.stats.norm.ppf(q + width) - scipy.stats.norm.ppf(q - width))
            )
        return bandwidths, ("ker", np.array(bandwidths))
    targets, widths = neighbours(n, quantiles)
    rows = fit["refit"](targets)
    low, high = rows[: len(quantiles)], rows[len(quantiles) :]
    delta = high - low  # per quantile, [coef, intercept] at q + h less at q - h
    if not fit["fit_intercept"]:
        delta = delta[:, :-1]
    return list(widths), ("nid", 2 * widths, delta.T)


def _weighted_part(data, device, *, fit, weights):
    """Per quantile, ``X' diag(f) X`` over the scaled design rows of some rows,
    ``f`` the rows' densities of ``weights`` (:func:`_densities`): the second
    pass."""
    dense = 0
    blocks = _blocks(data, device, fit["coef"], fit["intercept"], fit["fit_intercept"])
    for x, residual, _, _ in blocks:
        if weights[0] == "ker":
            h = torch.as_tensor(weights[1], device=x.device, dtype=x.dtype)
            f = torch.exp(-0.5 * (residual / h) ** 2) / (np.sqrt(2 * np.pi) * h)
        else:  # 2 h over the rows' spread of the fits at q -+ h
            two_h, delta = (
                torch.as_tensor(v, device=x.device, dtype=x.dtype) for v in weights[1:]
            )
            f = (two_h / (x @ delta - _EPS)).clamp(min=0)
        dense = dense + _weighted_products(f, x)
    return dense.cpu().numpy()


def _weighted_products(weights, x):
    """``x' diag(weights[:, t]) x`` for each column ``t`` of ``weights``,
    stacked (a product each: BLAS, where ``einsum`` took 4x longer)."""
    return torch.stack([(x * column[:, None]).T @ x for column in weights.T])


def _summary(fit, t, cov, bandwidth, names, options, n):
    """The :class:`QuantileSummary` of quantile ``t`` of ``fit``."""
    p = len(names)
    fit_intercept = fit["fit_intercept"]
    beta = np.append(fit["coef"][t], fit["intercept"][t])[: p + fit_intercept]
    order = np.r_[p, np.arange(p)] if fit_intercept else np.arange(p)
    df_resid = n - p - fit_intercept
    use_t = True if options["use_t"] is None else options["use_t"]
    labels = (["const"] if fit_intercept else []) + list(names)
    table, cov_params = parameters_table(
        labels, beta, cov, order, alpha=options["alpha"], use_t=use_t, df=df_resid
    )
    return QuantileSummary(
        table=table,
        quantile=float(fit["quantiles"][t]),
        n=int(n),
        df_resid=int(df_resid),
        cov_type=options["cov_type"],
        alpha=options["alpha"],
        cov_params=cov_params,
        bandwidth=float(bandwidth),
        use_t=bool(use_t),
        df_inference=int(df_resid),
    )
