"""The estimator's inference methods: ``summary`` (least squares, as
statsmodels' OLS and WLS; quantile regression, as statsmodels' ``QuantReg``
and R quantreg's ``summary.rq``) and ``predict_interval``."""

from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted

from . import _fitted
from ._dask import is_dask
from ._device import usable_device
from ._inference import (
    LEAST_SQUARES_COV_TYPES,
    prediction_interval,
    summarize,
    training_chunks,
)
from ._quantile_inference import QUANTILE_COV_TYPES, quantile_summaries
from ._validation import validate_X


class InferenceMixin:
    """``summary`` and ``predict_interval`` of :class:`TorchLinearRegressor`."""

    @validate_params(
        {
            "alpha": [Interval(Real, 0, 1, closed="neither")],
            "cov_type": [
                StrOptions(set(LEAST_SQUARES_COV_TYPES + QUANTILE_COV_TYPES)),
                None,
            ],
            "data": [HasMethods(["__iter__"]), None],
            "groups": ["array-like", HasMethods(["to_delayed"]), None],
            "maxlags": [Interval(Integral, 0, None, closed="left"), None],
            "use_t": ["boolean", None],
            "n_boot": [Interval(Integral, 2, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def summary(
        self,
        alpha=0.05,
        cov_type=None,
        data=None,
        *,
        groups=None,
        maxlags=None,
        use_t=None,
        n_boot=200,
        random_state=None,
    ):
        """Inference statistics of a least-squares or quantile-regression fit.

        **Least squares** (an exact fit of ``loss="squared_error"`` with
        ``alpha=0``), as statsmodels' OLS (WLS with sample weights) reports
        them: standard errors, t statistics, p-values, confidence intervals,
        the covariance matrix, R², the residual standard error and the F
        statistic, from the fit's statistics (the R factor of the data). The
        sandwich kinds read the training data once more.

        **Quantile regression** (``loss="quantile"`` or ``"absolute_error"``
        with ``alpha=0``): standard errors from a density estimate of the
        residuals at 0 (``"iid"``, ``"robust"`` as statsmodels' ``QuantReg``;
        ``"ker"``, ``"nid"`` as R quantreg's ``summary.rq``); the data are read
        twice (``"nid"`` also fits the quantiles ``q -+ h`` again). Or the
        covariance of xy-pair bootstrap replicates (``"bootstrap"``), each
        solved exactly from a small programme near the fit.

        Parameters
        ----------
        alpha : float, default=0.05
            Significance level of the confidence intervals, in ``(0, 1)``.
        cov_type : str, default=None
            Covariance of the coefficients. Least squares (default
            ``"nonrobust"``): ``"nonrobust"`` (classical); ``"HC0"`` to
            ``"HC3"`` (heteroskedasticity-robust: White's; scaled by ``n / (n -
            k)``; the residuals divided by ``1 - h`` and ``(1 - h)^2``, ``h`` the
            leverages); ``"cluster"`` (CRV1 with ``groups``, one- or two-way);
            ``"HAC"`` (Newey-West with ``maxlags``, rows in time order);
            ``"hac-groupsum"`` (Driscoll-Kraay: ``groups`` the rows' periods).
            Quantile regression (default ``"robust"``): ``"iid"``,
            ``"robust"``, ``"ker"``, ``"nid"``, ``"bootstrap"``. The user guide
            gives each formula.
        data : tuple or iterable of tuples, default=None
            The training data, ``(X, y)`` or ``(X, y, sample_weight)``: needed by
            every kind but ``"nonrobust"``. For least squares, after
            ``partial_fit``, the chunks again as an iterable of such tuples;
            checked against the fit's statistics (rows, weight sum, weighted sums
            of the columns of ``X`` and ``y``, to 1e-10 relative): other data are
            refused.
        groups : array-like of shape (n_samples,) or (n_samples, 2), default=None
            The clusters of ``cov_type="cluster"``: a key per row (two columns:
            two-way clustering), or the periods of ``"hac-groupsum"``, for the
            rows of ``data`` in order (all chunks); with Dask data, a Dask
            array or series partitioned like ``X``.
        maxlags : int, default=None
            The lags of ``"HAC"`` and ``"hac-groupsum"`` (Bartlett weights);
            None: ``floor(4 (n / 100)^(2/9))`` for ``n`` rows or periods
            (Newey and West, 1994).
        use_t : bool, default=None
            Student's t for ``t``, the p-values and the intervals (on
            ``df_resid`` degrees of freedom; clusters or periods less one for
            ``"cluster"`` and ``"hac-groupsum"``), or the normal distribution.
            None: statsmodels' default, t for ``"nonrobust"`` and quantile
            regression, normal for the sandwich kinds of least squares.
        n_boot : int, default=200
            The replicates of ``cov_type="bootstrap"``.
        random_state : int, RandomState instance or None, default=None
            The draws of the rows of ``cov_type="bootstrap"``.

        Returns
        -------
        summary : RegressionSummary or QuantileSummary or list of QuantileSummary
            ``summary.table`` holds a row per parameter (a pandas DataFrame);
            ``summary.cov_params`` the covariance matrix; ``print(summary)``
            shows them all. A fit of several quantiles gives a summary per
            quantile, in a list.

        Examples
        --------
        Heteroskedasticity-robust standard errors take the data once more:

        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(1, 3, size=(200, 1))
        >>> y = 2 * X[:, 0] + X[:, 0] * rng.normal(size=200)  # noise grows with x
        >>> reg = TorchLinearRegressor(device="cpu").fit(X, y)
        >>> robust = reg.summary(cov_type="HC3", data=(X, y))
        >>> robust.cov_type, list(robust.table.columns[:3])
        ('HC3', ['coef', 'std_err', 't'])
        >>> low, high = robust.table.loc["x0", ["ci_lower", "ci_upper"]]
        >>> bool(low < 2 < high)
        True

        Standard errors clustered by a key per row:

        >>> groups = np.repeat(np.arange(20), 10)
        >>> clustered = reg.summary(cov_type="cluster", data=(X, y), groups=groups)
        >>> clustered.df_inference  # 20 clusters less one
        19
        """
        check_is_fitted(self)
        options = {
            "alpha": alpha,
            "cov_type": cov_type,
            "data": data,
            "groups": groups,
            "maxlags": maxlags,
            "use_t": use_t,
            "n_boot": n_boot,
            "random_state": random_state,
        }
        if self._config.objective.loss in ("quantile", "absolute_error"):
            return self._quantile_summary(options)
        options["cov_type"] = cov_type or "nonrobust"
        if data is not None:
            options["data"] = training_chunks(self, data)
        return summarize(
            self._result, self._config, _fitted.feature_names(self), options
        )

    def predict_interval(self, X, alpha=0.05, kind="confidence"):
        """Intervals of the predictions of a least-squares fit (where
        :meth:`summary` is), as statsmodels' ``get_prediction(X).summary_frame``:
        of the mean (``mean_ci_*``), or of a new observation of unit weight
        (``obs_ci_*``: the residual variance added); from the classical
        covariance, with Student's t on ``df_resid`` degrees of freedom.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        alpha : float, default=0.05
            Significance level, in ``(0, 1)``.
        kind : {"confidence", "prediction"}, default="confidence"
            Of the mean, or of a new observation.

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2)
            The lower and upper ends.
        """
        check_is_fitted(self)
        result = self.summary(alpha=alpha, cov_type="nonrobust")
        X = validate_X(self, X)
        return prediction_interval(result, X, self.coef_, self.intercept_, kind)

    def _quantile_summary(self, options):
        """:meth:`summary` of a quantile-regression fit."""
        cov_type = options["cov_type"] or "robust"
        result, data = self._result, options["data"]
        if cov_type not in QUANTILE_COV_TYPES:
            raise ValueError(
                f"cov_type={cov_type!r} is a kind of least squares; quantile "
                f"regression takes one of {QUANTILE_COV_TYPES}."
            )
        if self._config.objective.alpha != 0 or result.solver != "exact":
            raise ValueError(
                "summary() describes quantile regression without a penalty "
                "(alpha=0) fitted by the exact solver; this fit has alpha="
                f"{self._config.objective.alpha}, solver={result.solver!r}."
            )
        if not isinstance(data, tuple):
            raise ValueError(
                "The standard errors of quantile regression read the training "
                "data: pass data=(X, y) or (X, y, sample_weight)."
            )
        if cov_type == "bootstrap" and is_dask(data[0]):
            raise ValueError(
                "cov_type='bootstrap' solves its replicates in memory: pass "
                "data=(X, y) as arrays, or use 'nid' or 'robust' with Dask data."
            )
        if options["groups"] is not None or options["maxlags"] is not None:
            raise ValueError("groups= and maxlags= are for least squares.")
        objective = self._config.objective  # as fitted (not later set_params)
        quantile = objective.quantile if objective.loss == "quantile" else 0.5
        fit = {
            "quantiles": np.atleast_1d(np.asarray(quantile, dtype=float)),
            "coef": result.coef,
            "intercept": result.intercept,
            "fit_intercept": objective.fit_intercept,
            "moments": result.moments,
            "standardize": objective.standardize,
            "refit": partial(self._refit_quantiles, data),
        }
        summaries = quantile_summaries(
            next(training_chunks(self, data)),
            fit,
            _fitted.feature_names(self),
            {
                **options,
                "cov_type": cov_type,
                "device": usable_device(self._config.device),
                "max_iter": self._config.max_iter,
            },
        )
        return summaries if np.ndim(quantile) else summaries[0]

    def _refit_quantiles(self, data, quantiles):
        """The ``[coef, intercept]`` rows of a fit of ``quantiles`` to ``data``
        (one fit of them all, with the fitted objective), as ``"nid"`` reads
        them."""
        X, y, *weight = data
        objective = self._config.objective
        refit = clone(self).set_params(
            loss="quantile",
            quantile=list(quantiles),
            alpha=0.0,
            fit_intercept=objective.fit_intercept,
            standardize=objective.standardize,
            max_iter=self._config.max_iter,
            solver="exact",
        )
        refit.fit(X, y, sample_weight=weight[0] if weight else None)
        intercept = np.broadcast_to(refit.intercept_, len(quantiles))
        return np.c_[refit.coef_, intercept]
