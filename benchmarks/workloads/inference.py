"""Inference statistics: a fit and its clustered or quantile-regression
standard errors against statsmodels' fit with the same standard errors."""

import warnings

import numpy as np
import statsmodels.api as sm
from statsmodels.regression.quantile_regression import QuantReg

from .._common import QUANTILE, linear_data
from ._context import regressor
from ._rows import faster, headline, ratio, row

CLUSTER_OURS = "TorchLinearRegressor fit + summary(cluster)"
CLUSTER_REF = "statsmodels OLS(cov_type=cluster)"
QUANTILE_OURS = "TorchLinearRegressor quantile + summary(robust)"
QUANTILE_REF = "statsmodels QuantReg(vcov=robust)"


def inference_cluster(ctx):
    """Least squares with standard errors clustered by 10 000 groups (1 000 in
    quick mode) of the tall data (1 000 000 x 100): our fit and its summary
    (one pass over X each) against statsmodels' OLS(...).fit(cov_type=
    "cluster"); the largest relative difference of the standard errors in the
    rows."""
    X, y = ctx.tall()
    n_groups = X.shape[0] // 100
    groups = np.random.default_rng(ctx.seed).integers(0, n_groups, X.shape[0])

    def ours():
        model = regressor(ctx).fit(X, y)
        summary = model.summary(cov_type="cluster", data=(X, y), groups=groups)
        return summary.table["std_err"]

    def reference():
        model = sm.OLS(y, sm.add_constant(X, has_constant="add"))
        return model.fit(cov_type="cluster", cov_kwds={"groups": groups}).bse

    quantity = f"statsmodels / ours, cluster standard errors ({n_groups} clusters)"
    contenders = {CLUSTER_OURS: ours, CLUSTER_REF: reference}
    return _race("inference_cluster", ctx, X, contenders, quantity)


def inference_quantile(ctx):
    """Quantile regression (quantile 0.9, no penalty) of 20 000 x 50 with
    heavy-tailed noise (Student t, 2 degrees of freedom) and its robust
    standard errors: our exact fit and summary against statsmodels'
    QuantReg(...).fit(q=0.9, vcov="robust") (iteratively reweighted least
    squares); the largest relative difference of the standard errors in the
    rows."""
    n, p = ctx.sizes["cv_robust"]
    X, y = linear_data(n, p, seed=ctx.seed)
    y += np.random.default_rng(ctx.seed).standard_t(2, size=n)

    def ours():
        model = regressor(ctx, loss="quantile", quantile=QUANTILE, alpha=0.0)
        summary = model.fit(X, y).summary(cov_type="robust", data=(X, y))
        return summary.table["std_err"]

    def reference():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its iteration's cycle warnings
            return QuantReg(y, sm.add_constant(X)).fit(q=QUANTILE, vcov="robust").bse

    quantity = "statsmodels QuantReg / ours, robust standard errors"
    contenders = {QUANTILE_OURS: ours, QUANTILE_REF: reference}
    return _race("inference_quantile", ctx, X, contenders, quantity)


def _race(workload, ctx, X, contenders, quantity):
    """Time ``contenders`` (ours first, then the reference; each returns its
    standard errors): the rows, with the largest relative difference of the
    standard errors, and the headline ``quantity``."""
    errors = {}
    calls = {
        name: lambda name=name, call=call: errors.__setitem__(name, call())
        for name, call in contenders.items()
    }
    times = ctx.measure(calls)
    ours, reference = contenders
    a, b = (np.asarray(errors[name]) for name in (ours, reference))
    difference = np.max(np.abs(a - b) / np.abs(b))
    note = f"standard errors within {difference:.1e} of statsmodels'"
    rows = [
        row(
            workload,
            name,
            times[name],
            n=X.shape[0],
            p=X.shape[1],
            ctx=ctx,
            reference=name == reference,
            note=note,
        )
        for name in contenders
    ]
    value = ratio(times, reference, ours)
    return rows, [headline(workload, quantity, value, faster(value, ours, reference))]
