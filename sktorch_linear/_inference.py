"""What the statistics of a least-squares fit tell about its data: singular
values and numerical rank of the standardized design, and the inference
statistics of the coefficients (``TorchLinearRegressor.summary``), as
statsmodels' OLS and WLS compute them."""

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.stats
import torch

from ._dask import dask_data, is_dask
from ._data import Data
from ._device import accumulation_dtype, usable_device
from ._linalg import qr_r
from ._validation import validate
from .solvers._penalised import LeastSquares

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3")


def singular_values(moments, scaling, *, fit_intercept):
    """Singular values, in decreasing order, of the standardized (centred,
    weighted) ``X`` of the statistics (zeros for constant columns), and its
    numerical rank: the number of singular values of its R factor above the
    rounding level of that factor. AttributeError without statistics (the
    ``singular_`` and ``rank_`` of a fit that kept none)."""
    if moments is None:
        raise AttributeError(
            "singular_ and rank_ are available after a fit with the exact "
            "solver of squared error, which keeps the statistics they are "
            "computed from."
        )
    lsq = LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)
    solver = lsq.solver()
    values = solver.singular_values()  # fewer with fewer rows than columns
    singular = np.zeros(lsq.n_features)
    singular[: values.size] = values * np.sqrt(moments.weight_sum)
    return singular, solver.rank


@dataclass(frozen=True)
class RegressionSummary:
    """Inference statistics of a least-squares fit (see
    ``TorchLinearRegressor.summary``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter (``"const"`` first, when fitted, then the
        features): ``coef``, ``std_err``, ``t``, ``p_value``, ``ci_lower``,
        ``ci_upper``.
    r2, adj_r2 : float
        R² and adjusted R² (uncentred without an intercept, as statsmodels).
    rse : float
        Residual standard error, ``sqrt(RSS / df_resid)`` (weighted RSS).
    f_value, f_pvalue : float
        F statistic that every slope is zero (a Wald test with the robust
        covariance for the robust kinds, as statsmodels), and its p-value.
    n : int
        Number of rows.
    df_model, df_resid : int
        Degrees of freedom of the model (slopes) and of the residuals.
    cov_type : str
        The kind of covariance of the standard errors.
    alpha : float
        Significance level of the confidence intervals.

    Examples
    --------
    >>> import numpy as np
    >>> from sktorch_linear import TorchLinearRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2))
    >>> y = X @ np.array([1.0, 0.0]) + 2.0 + rng.normal(size=100)
    >>> result = TorchLinearRegressor(device="cpu").fit(X, y).summary()
    >>> list(result.table.index)
    ['const', 'x0', 'x1']
    >>> bool(result.table.loc["x0", "p_value"] < 1e-6), result.df_resid
    (True, 97)
    """

    table: object
    r2: float
    adj_r2: float
    rse: float
    f_value: float
    f_pvalue: float
    n: int
    df_model: int
    df_resid: int
    cov_type: str
    alpha: float

    def __str__(self):
        table = self.table
        names = table.index
        level = 100 * (1 - self.alpha)
        lines = [
            f"Least squares, {self.n} rows, covariance {self.cov_type}",
            f"R² {self.r2:.6g}   adjusted R² {self.adj_r2:.6g}   residual standard "
            f"error {self.rse:.6g} on {self.df_resid} degrees of freedom",
            f"F {self.f_value:.6g} on {self.df_model} and {self.df_resid} degrees of "
            f"freedom, p-value {self.f_pvalue:.3g}",
            "",
            f"{'':>16} {'coef':>12} {'std err':>12} {'t':>9} {'P>|t|':>9} "
            f"{f'[{level:g}% interval':>27}]",
        ]
        columns = [np.asarray(table[column]) for column in _COLUMNS]
        for i, name in enumerate(names):
            row = [values[i] for values in columns]
            lines.append(
                f"{str(name)[:16]:>16} {row[0]:12.5g} {row[1]:12.5g} {row[2]:9.3f} "
                f"{row[3]:9.3g} {row[4]:13.5g} {row[5]:13.5g}"
            )
        return "\n".join(lines)


_COLUMNS = ("coef", "std_err", "t", "p_value", "ci_lower", "ci_upper")


def summary(
    moments, coef, intercept, *, fit_intercept, names, alpha, cov_type, data, device
):
    """The :class:`RegressionSummary` of the least-squares fit ``coef``,
    ``intercept`` (one target) of the statistics ``moments``; the robust kinds
    of covariance also read ``data`` (an iterable of :class:`Data`) once."""
    p = moments.n_features
    n = moments.n_samples
    center = moments.mean if fit_intercept else np.zeros_like(moments.mean)
    factor = _factor(moments, center)  # R'R: the products of [X y] - center
    rss = float(np.sum(factor[p:, p] ** 2))  # the least-squares residual, exactly
    k = p + fit_intercept
    df_resid, df_model = n - k, p
    sigma2 = rss / df_resid
    beta = np.append(coef, intercept) if fit_intercept else np.asarray(coef, float)
    options = {
        "fit_intercept": fit_intercept,
        "cov_type": cov_type,
        "data": data,
        "device": device,
    }
    cov = _covariance(moments, factor, center, coef, intercept, sigma2, options)
    std_err = np.sqrt(np.diag(cov))
    t = beta / std_err
    # statsmodels' default: Student's t for the classical covariance, the
    # normal distribution for the robust kinds (asymptotic)
    distribution = (
        scipy.stats.t(df_resid) if cov_type == "nonrobust" else scipy.stats.norm()
    )
    p_value = 2 * distribution.sf(np.abs(t))
    quantile = distribution.ppf(1 - alpha / 2)
    y_products = factor[:, p] @ factor[:, p]  # y about its centre
    tss = float(y_products)
    r2 = 1.0 - rss / tss if tss > 0 else np.nan
    adj_r2 = 1.0 - (n - fit_intercept) / df_resid * (1.0 - r2)
    slopes = beta[:p]
    if cov_type == "nonrobust":
        f_value = (tss - rss) / df_model / sigma2
    else:
        wald = slopes @ np.linalg.solve(cov[:p, :p], slopes)
        f_value = wald / df_model
    f_pvalue = float(scipy.stats.f(df_model, df_resid).sf(f_value))
    rows = ["const"] if fit_intercept else []
    order = np.r_[p, np.arange(p)] if fit_intercept else np.arange(p)
    columns = {
        "coef": beta,
        "std_err": std_err,
        "t": t,
        "p_value": p_value,
        "ci_lower": beta - quantile * std_err,
        "ci_upper": beta + quantile * std_err,
    }
    columns = {name: values[order] for name, values in columns.items()}
    return RegressionSummary(
        table=_table(rows + list(names), columns),
        r2=float(r2),
        adj_r2=float(adj_r2),
        rse=float(np.sqrt(sigma2)),
        f_value=float(f_value),
        f_pvalue=f_pvalue,
        n=int(n),
        df_model=int(df_model),
        df_resid=int(df_resid),
        cov_type=cov_type,
        alpha=alpha,
    )


def _covariance(moments, factor, center, coef, intercept, sigma2, options):
    """The covariance of ``[coef, intercept]``: classical (``sigma2`` times the
    inverse Gram matrix) or the sandwich of a robust kind, whose meat is one
    pass over ``options["data"]``; ``options`` holds ``fit_intercept``,
    ``cov_type``, ``data`` and ``device``."""
    p, weight_sum = moments.n_features, moments.weight_sum
    fit_intercept, cov_type = options["fit_intercept"], options["cov_type"]
    # (X~' W X~)^-1 in the centred coordinates [x - center, 1]: block-diagonal
    inverse = _inverse_gram(factor[:p, :p])
    bread = _blocks(inverse, 1.0 / weight_sum, fit_intercept)
    if cov_type == "nonrobust":
        cov_centred = sigma2 * bread
    else:
        meat, sums = _meat(
            options["data"],
            coef,
            intercept,
            center[:p],
            inverse,
            weight_sum,
            fit_intercept,
            cov_type,
            options["device"],
        )
        _check_training_data(moments, sums)
        cov_centred = bread @ meat @ bread
        if cov_type == "HC1":
            cov_centred *= moments.n_samples / (moments.n_samples - p - fit_intercept)
    # back to [coef, intercept]: intercept = (centred intercept) - center' coef
    jacobian = np.eye(p + fit_intercept)
    if fit_intercept:
        jacobian[p, :p] = -center[:p]
    return jacobian @ cov_centred @ jacobian.T


def aliased_columns(moments, scaling, *, fit_intercept):
    """The columns involved in an exact linear dependency of the centred,
    standardized design (constant columns with an intercept included), by
    index; empty when the design has full rank."""
    lsq = LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)
    rank = lsq.solver().rank
    aliased = set(np.flatnonzero(scaling.constant))
    if rank < lsq.n_active:
        p = moments.n_features
        factor = moments.factor_about(lsq.center)[:, :p][:, lsq.active] / lsq.unit
        _, _, right_t = np.linalg.svd(factor)
        null = right_t[rank:]  # directions the data do not determine
        involved = np.any(np.abs(null) > 1e-8, axis=0)
        aliased |= set(np.flatnonzero(lsq.active)[involved])
    return sorted(int(i) for i in aliased)


def _factor(moments, center):
    """An upper-triangular ``R`` with ``R'R`` the cross-products of ``[X y] -
    center``: the moments' own R factor (QR of the data), or the Cholesky
    factor of their (equilibrated) Gram matrix, which holds the residual sum of
    squares to the accuracy of the Gram matrix."""
    if moments.kind == "factor":
        return qr_r(moments.factor_about(center))
    products = moments.about(center)
    scale = np.sqrt(np.diag(products))
    scale[scale == 0] = 1.0
    factor = scipy.linalg.cholesky(products / np.outer(scale, scale), lower=False)
    return factor * scale


def _inverse_gram(rx):
    """``(R' R)^-1`` for the upper-triangular ``R`` of the centred design,
    through ``R^-1`` (the condition number is not squared), with the columns
    equilibrated first."""
    scale = np.linalg.norm(rx, axis=0)
    scale[scale == 0] = 1.0
    inverse = scipy.linalg.solve_triangular(rx / scale, np.eye(len(rx)))
    inverse = inverse / scale[:, None]
    return inverse @ inverse.T


def _blocks(inverse, corner, fit_intercept):
    if not fit_intercept:
        return inverse
    p = len(inverse)
    out = np.zeros((p + 1, p + 1))
    out[:p, :p] = inverse
    out[p, p] = corner
    return out


def _meat(
    data, coef, intercept, center, inverse, weight_sum, fit_intercept, cov_type, device
):
    """``sum_i (w_i e_i)^2 z_i z_i' / (1 - h_i)^d`` over the rows of ``data``
    (one pass, on ``device``; on a cluster, on the workers), with ``z_i`` the
    centred row (and a 1), ``h_i`` its leverage and ``d`` 0, 1 or 2 for
    HC0/HC1, HC2, HC3; and the sums of that pass that identify the data (see
    :func:`_check_training_data`)."""
    part = partial(
        _meat_part,
        coef=np.asarray(coef, float),
        intercept=intercept,
        center=center,
        bread=_blocks(inverse, 1.0 / weight_sum, fit_intercept),
        fit_intercept=fit_intercept,
        power={"HC0": 0, "HC1": 0, "HC2": 1, "HC3": 2}[cov_type],
    )
    totals = sum(chunk.map_reduce(part, np.add, device) for chunk in data)
    k = len(center) + fit_intercept
    return totals[: k * k].reshape(k, k), totals[k * k :]


def _check_training_data(moments, sums):
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
    """:func:`_meat` of some rows."""
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


def _table(names, columns):
    return pd.DataFrame(columns, index=pd.Index(names, name="parameter"))


def summarize(result, config, names, *, alpha, cov_type, data):
    """The :class:`RegressionSummary` of an estimator's fit (its ``result`` and
    ``config``; ``names`` of the features), refused for fits it does not
    describe; the robust kinds read ``data`` (:func:`training_chunks`)."""
    objective = config.objective
    if objective.loss != "squared_error" or objective.alpha != 0:
        raise ValueError(
            "summary() describes least squares: loss='squared_error' with "
            f"alpha=0, but this fit has loss={objective.loss!r}, alpha="
            f"{objective.alpha}. Refit with those parameters."
        )
    if result.solver != "exact" or result.coef.shape[0] != 1:
        raise ValueError(
            "summary() needs an exact least-squares fit of one target "
            "(solver='exact' or 'auto', y 1-D)."
        )
    if cov_type != "nonrobust" and data is None:
        raise ValueError(
            f"cov_type={cov_type!r} reads the training data once more: pass "
            "data=(X, y) or (X, y, sample_weight), or after partial_fit the "
            "chunks again as an iterable of such tuples."
        )
    fit_intercept = objective.fit_intercept
    aliased = aliased_columns(
        result.moments, result.scaling, fit_intercept=fit_intercept
    )
    if aliased:
        raise ValueError(
            "The design is rank deficient: columns "
            f"{[names[i] for i in aliased]} are linear combinations of "
            "others (or constant, with the intercept), so their coefficients "
            "are not identified. Drop or combine them for summary()."
        )
    return summary(
        result.moments,
        result.coef[0],
        float(result.intercept[0]),
        fit_intercept=fit_intercept,
        names=names,
        alpha=alpha,
        cov_type=cov_type,
        data=None if cov_type == "nonrobust" else data,
        device=usable_device(config.device),
    )


def training_chunks(estimator, data):
    """The chunks of ``data`` (one ``(X, y[, sample_weight])`` tuple or an
    iterable of them), validated against ``estimator``'s fit as ``fit``
    validates them, as :class:`~._data.Data` (lazily, one at a time)."""
    if isinstance(data, tuple):
        data = [data]
    for chunk in data:
        X, y, *weight = chunk
        weight = weight[0] if weight else None
        if is_dask(X):
            yield dask_data(estimator, X, y, weight, reset=False, quantiles=None)[0]
            continue
        X, Y, weight, _ = validate(
            estimator,
            X,
            y,
            weight,
            reset=False,
            check_finite=True,
            allow_all_zero=True,
        )
        yield Data(X, Y, weight)
