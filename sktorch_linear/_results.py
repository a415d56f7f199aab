"""What ``TorchLinearRegressor.summary`` returns: the inference statistics of
a least-squares or a quantile fit, their table of a row per parameter, and the
tests of linear restrictions of the parameters that both offer."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.stats

COLUMNS = ("coef", "std_err", "t", "p_value", "ci_lower", "ci_upper")


class LinearTest(NamedTuple):
    """A test of linear restrictions of the parameters
    (:meth:`RegressionSummary.f_test`, :meth:`RegressionSummary.wald_test`):
    the statistic, its p-value and its degrees of freedom (``df_denom`` None
    for the chi-squared test).

    Examples
    --------
    >>> import numpy as np
    >>> from sktorch_linear import TorchLinearRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2))
    >>> y = X @ np.array([1.0, 1.0]) + rng.normal(size=100)
    >>> result = TorchLinearRegressor(device="cpu").fit(X, y).summary()
    >>> test = result.wald_test([[0, 1, -1]])  # the two slopes are equal
    >>> test.df_num, test.df_denom, bool(test.p_value > 0.01)
    (1, None, True)
    """

    statistic: float
    p_value: float
    df_num: int
    df_denom: int | None


class _Restrictions:
    """The tests of linear restrictions of a summary with a ``table``, a
    ``cov_params`` and ``df_inference``."""

    def f_test(self, restrictions, value=None):
        """The F test of the linear restrictions ``restrictions @ params =
        value``, as statsmodels' ``f_test``: ``(R b - r)' (R V R')^-1 (R b -
        r) / J`` for ``J`` restrictions, with ``V`` the covariance of the
        summary (of its kind), on ``J`` and ``df_inference`` degrees of
        freedom.

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
        F, df = wald / J, self.df_inference
        return LinearTest(F, float(scipy.stats.f(J, df).sf(F)), J, df)

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

    def _rows(self):
        """The table's lines, under a header."""
        level = 100 * (1 - self.alpha)
        lines = [
            f"{'':>16} {'coef':>12} {'std err':>12} {'t':>9} {'P>|t|':>9} "
            f"{f'[{level:g}% interval':>27}]"
        ]
        columns = [np.asarray(self.table[column]) for column in COLUMNS]
        for i, name in enumerate(self.table.index):
            row = [values[i] for values in columns]
            lines.append(
                f"{str(name)[:16]:>16} {row[0]:12.5g} {row[1]:12.5g} {row[2]:9.3f} "
                f"{row[3]:9.3g} {row[4]:13.5g} {row[5]:13.5g}"
            )
        return lines


@dataclass(frozen=True)
class RegressionSummary(_Restrictions):
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
    use_t : bool
        Whether ``t``, the p-values and the intervals use Student's t on
        ``df_inference`` degrees of freedom (else the normal distribution).
    df_inference : int
        The denominator's degrees of freedom of the F tests (and of Student's
        t): ``df_resid``, or the number of clusters less one for clustered
        covariances (of the key with fewer, for two).

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
    use_t: bool
    df_inference: int

    def __str__(self):
        return "\n".join(
            [
                f"Least squares, {self.n} rows, covariance {self.cov_type}",
                f"R² {self.r2:.6g}   adjusted R² {self.adj_r2:.6g}   residual "
                f"standard error {self.rse:.6g} on {self.df_resid} degrees of "
                "freedom",
                f"F {self.f_value:.6g} on {self.df_model} and {self.df_inference} "
                f"degrees of freedom, p-value {self.f_pvalue:.3g}",
                "",
                *self._rows(),
            ]
        )


@dataclass(frozen=True)
class QuantileSummary(_Restrictions):
    """Inference statistics of a quantile-regression fit (see
    ``TorchLinearRegressor.summary``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter, as :class:`RegressionSummary`'s.
    quantile : float
        The quantile of the fit.
    n : int
        Number of rows.
    df_resid : int
        ``n`` less the number of parameters.
    cov_type : str
        The kind of covariance: ``"iid"``, ``"robust"``, ``"ker"``, ``"nid"`` or
        ``"bootstrap"``.
    alpha : float
        Significance level of the confidence intervals.
    cov_params : pandas.DataFrame
        The covariance matrix of the parameters.
    bandwidth : float
        The bandwidth of the density estimate: on the scale of the residuals
        (``"iid"``, ``"robust"``, ``"ker"``), or of the quantile (``"nid"``);
        NaN for ``"bootstrap"``.
    use_t : bool
        Whether ``t``, the p-values and the intervals use Student's t on
        ``df_resid`` degrees of freedom (else the normal distribution).
    df_inference : int
        ``df_resid``: the denominator's degrees of freedom of the F tests.

    Examples
    --------
    >>> import numpy as np
    >>> from sktorch_linear import TorchLinearRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = X @ np.array([1.0, 0.0]) + rng.standard_t(3, size=500)
    >>> reg = TorchLinearRegressor(loss="quantile", quantile=0.5, device="cpu")
    >>> result = reg.fit(X, y).summary(cov_type="robust", data=(X, y))
    >>> result.quantile, list(result.table.index)
    (0.5, ['const', 'x0', 'x1'])
    >>> bool(result.table.loc["x0", "p_value"] < 1e-6)
    True
    """

    table: object
    quantile: float
    n: int
    df_resid: int
    cov_type: str
    alpha: float
    cov_params: object
    bandwidth: float
    use_t: bool
    df_inference: int

    def __str__(self):
        return "\n".join(
            [
                f"Quantile regression (quantile {self.quantile:g}), {self.n} rows, "
                f"covariance {self.cov_type}, bandwidth {self.bandwidth:.6g}",
                "",
                *self._rows(),
            ]
        )


def parameters_table(names, beta, cov, order, *, alpha, use_t, df):
    """The table of a row per parameter (``names``, in the order ``order`` of
    ``beta`` and ``cov``) and the covariance frame, with Student's t on
    ``df`` degrees of freedom (``use_t``) or the normal distribution."""
    std_err = np.sqrt(np.diag(cov))
    t = beta / std_err
    distribution = scipy.stats.t(df) if use_t else scipy.stats.norm()
    half = distribution.ppf(1 - alpha / 2) * std_err
    columns = {
        "coef": beta,
        "std_err": std_err,
        "t": t,
        "p_value": 2 * distribution.sf(np.abs(t)),
        "ci_lower": beta - half,
        "ci_upper": beta + half,
    }
    columns = {name: values[order] for name, values in columns.items()}
    return _table(names, columns), _table(names, cov[np.ix_(order, order)], names)


def _table(names, values, columns=None):
    """A frame of a row per parameter (``names``)."""
    return pd.DataFrame(
        values, index=pd.Index(names, name="parameter"), columns=columns
    )
