"""What the statistics of a least-squares fit tell about its data: singular
values and numerical rank of the standardized design, and the inference
statistics of the coefficients (``TorchLinearRegressor.summary``), as
statsmodels' OLS and WLS compute them."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.stats

from ._dask import dask_data, is_dask
from ._data import Data, host, matmul
from ._device import usable_device
from ._linalg import qr_r
from ._sandwich import check_training_data, meat
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
    cov_params : pandas.DataFrame
        The covariance matrix of the parameters (rows and columns in the
        table's order), as statsmodels' ``cov_params()``.

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
    >>> test = result.f_test([[0, 1, 0], [0, 0, 1]])  # both slopes zero
    >>> bool(test.p_value < 1e-6), test.df_num
    (True, 2)
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
    cov_params: object

    def f_test(self, restrictions, value=None):
        """The F test of the linear restrictions ``restrictions @ params =
        value``, as statsmodels' ``f_test``: ``(R b - r)' (R V R')^-1 (R b -
        r) / J`` for ``J`` restrictions, with ``V`` the covariance of the
        summary (of its kind), on ``J`` and ``df_resid`` degrees of freedom.

        Parameters
        ----------
        restrictions : array-like of shape (n_restrictions, n_params)
            ``R``, one row per restriction, its columns in the table's order
            of the parameters (``"const"`` first, when fitted).
        value : array-like of shape (n_restrictions,), default=None
            ``r`` (zeros by default).

        Returns
        -------
        test : tuple
            A named tuple: ``statistic``, ``p_value``, ``df_num``,
            ``df_denom``.
        """
        wald, J = self._wald(restrictions, value)
        F = wald / J
        return LinearTest(
            F, float(scipy.stats.f(J, self.df_resid).sf(F)), J, self.df_resid
        )

    def wald_test(self, restrictions, value=None):
        """The Wald test of the same restrictions as :meth:`f_test`, as
        statsmodels' ``wald_test(..., use_f=False)``: the statistic ``J F``
        against the chi-squared distribution with ``J`` degrees of freedom
        (``df_denom`` is None)."""
        wald, J = self._wald(restrictions, value)
        return LinearTest(wald, float(scipy.stats.chi2(J).sf(wald)), J, None)

    def _wald(self, restrictions, value):
        R = np.atleast_2d(np.asarray(restrictions, dtype=float))
        params = np.asarray(self.table["coef"])
        if R.shape[1] != len(params):
            raise ValueError(
                f"restrictions have {R.shape[1]} columns; the summary has "
                f"{len(params)} parameters ({list(self.table.index)})."
            )
        r = np.zeros(len(R)) if value is None else np.asarray(value, dtype=float)
        difference = R @ params - r
        middle = R @ np.asarray(self.cov_params) @ R.T
        return float(difference @ np.linalg.solve(middle, difference)), len(R)

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


class LinearTest(NamedTuple):
    """A test of linear restrictions of the parameters
    (:meth:`RegressionSummary.f_test`, :meth:`RegressionSummary.wald_test`)."""

    statistic: float
    p_value: float
    df_num: int
    df_denom: int | None


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
    tss = float(factor[:, p] @ factor[:, p])  # y about its centre
    r2 = 1.0 - rss / tss if tss > 0 else np.nan
    adj_r2 = 1.0 - (n - fit_intercept) / df_resid * (1.0 - r2)
    slopes = beta[:p]
    if cov_type == "nonrobust":
        f_value = (tss - rss) / df_model / sigma2
    else:
        wald = slopes @ np.linalg.solve(cov[:p, :p], slopes)
        f_value = wald / df_model
    f_pvalue = float(scipy.stats.f(df_model, df_resid).sf(f_value))
    labels = (["const"] if fit_intercept else []) + list(names)
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
        table=_table(labels, columns),
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
        cov_params=_table(labels, cov[np.ix_(order, order)], labels),
    )


def prediction_interval(result, X, coef, intercept, kind):
    """The intervals of ``TorchLinearRegressor.predict_interval`` from the
    fit's classical :class:`RegressionSummary` ``result``: ``mean -+ t s``,
    ``s`` the standard error of the mean (``x' V x``, ``x`` with its 1 first
    for the intercept) or, for a new observation, of the mean and the
    residual together."""
    if kind not in ("confidence", "prediction"):
        raise ValueError(f"kind must be 'confidence' or 'prediction'; got {kind!r}.")
    mean = matmul(X, np.asarray(coef, dtype=float)) + intercept
    design = host(X).astype(float, copy=False)
    if "const" in result.table.index:
        design = np.c_[np.ones(len(design)), design]
    variance = np.einsum("ij,jk,ik->i", design, np.asarray(result.cov_params), design)
    if kind == "prediction":
        variance = variance + result.rse**2
    half = scipy.stats.t(result.df_resid).ppf(1 - result.alpha / 2) * np.sqrt(variance)
    return np.c_[mean - half, mean + half]


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
        middle, sums = meat(
            options["data"],
            coef,
            intercept,
            center[:p],
            bread,
            fit_intercept,
            cov_type,
            options["device"],
        )
        check_training_data(moments, sums)
        cov_centred = bread @ middle @ bread
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


def _table(names, values, columns=None):
    """A frame of a row per parameter (``names``)."""
    return pd.DataFrame(
        values, index=pd.Index(names, name="parameter"), columns=columns
    )


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
