"""Small and awkward shapes: a grid search on diabetes, more columns than rows
for the robust losses, and the lasso with a thousand columns."""

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, HuberRegressor, QuantileRegressor, Ridge
from sklearn.model_selection import GridSearchCV

from .._common import QUANTILE, quiet_warnings
from ._context import regressor
from ._rows import faster, headline, ratio, row

GRID_ALPHAS = np.logspace(-3, 2, 12)
# Tolerances tried for ElasticNet, to reach the duality gap of ours.
_ENET_TOLS = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)


def _warned(call):
    """``call()``'s warnings counted (every one recorded)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return len(caught)


def grid_search(ctx):
    """GridSearchCV(cv=5) over 12 alphas on diabetes (442 x 10): ours (exact
    solver) against the same grid over Ridge; warnings counted."""
    X, y = load_diabetes(return_X_y=True)
    searches = {
        "GridSearchCV(TorchLinearRegressor)": lambda: GridSearchCV(
            regressor(ctx), {"alpha": GRID_ALPHAS}, cv=5
        ).fit(X, y),
        "GridSearchCV(Ridge)": lambda: GridSearchCV(
            Ridge(), {"alpha": GRID_ALPHAS}, cv=5
        ).fit(X, y),
    }
    warned = {name: _warned(call) for name, call in searches.items()}
    times = ctx.measure(searches)
    rows = [
        row(
            "grid_search",
            name,
            times[name],
            n=X.shape[0],
            p=X.shape[1],
            ctx=ctx,
            reference=name == "GridSearchCV(Ridge)",
            note=f"{warned[name]} warning(s)",
        )
        for name in searches
    ]
    value = ratio(times, "GridSearchCV(TorchLinearRegressor)", "GridSearchCV(Ridge)")
    head = headline(
        "grid_search",
        "ours / Ridge, GridSearchCV(cv=5) over 12 alphas on diabetes",
        value,
        f"the search over ours takes {value:.2f}x the time of the same search "
        f"over Ridge ({warned['GridSearchCV(TorchLinearRegressor)']} warnings)",
    )
    return rows, [head]


def _wide_data(n, p, seed):
    """Gaussian ``X`` with more columns than rows, five of them carrying the
    signal, Student-t noise (3 degrees of freedom)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, :5].sum(axis=1) + rng.standard_t(3, n)


def degenerate(ctx):
    """More columns than rows: the exact quantile (0.9) and absolute-error
    fits of 50 x 200 against QuantileRegressor(solver="highs"), and the
    gradient solvers at their defaults with the Huber loss at 8 x 10, 50 x 200
    and 100 x 101 against HuberRegressor (warnings counted)."""
    rows, heads = [], []
    X, y = _wide_data(50, 200, ctx.seed)
    for loss, quantile in (("quantile", QUANTILE), ("absolute_error", 0.5)):
        ours = f"TorchLinearRegressor {loss}"
        calls = {
            ours: lambda: regressor(ctx, loss=loss, quantile=quantile).fit(X, y),
            "QuantileRegressor highs": lambda: QuantileRegressor(
                quantile=quantile, alpha=0.0, solver="highs"
            ).fit(X, y),
        }
        times = ctx.measure(calls)
        rows += _rows(ctx, "degenerate", X, times, "QuantileRegressor highs")
        value = ratio(times, "QuantileRegressor highs", ours)
        heads.append(
            headline(
                "degenerate",
                f"QuantileRegressor(highs) / ours, {loss}, 50 x 200",
                value,
                faster(value, "ours", "HiGHS")
                + f" ({np.median(times[ours]) * 1e3:.1f} ms)",
            )
        )
    for n, p in ((8, 10), (50, 200), (100, 101)):
        more, head = _gradient_huber(ctx, *_wide_data(n, p, ctx.seed))
        rows += more
        heads.append(head)
    return rows, heads


def _gradient_huber(ctx, X, y):
    n, p = X.shape
    calls = {"HuberRegressor": lambda: HuberRegressor().fit(X, y)}
    warned = {}
    for solver in ("lbfgs", "adam", "sgd"):
        name = f"TorchLinearRegressor huber {solver}"
        calls[name] = lambda s=solver: regressor(ctx, loss="huber", solver=s).fit(X, y)
        warned[name] = _warned(calls[name])
    with quiet_warnings(Warning):
        times = ctx.measure(calls)
    rows = _rows(ctx, "degenerate", X, times, "HuberRegressor", warned)
    slowest = max(warned, key=lambda name: np.median(times[name]))
    seconds = float(np.median(times[slowest]))
    head = headline(
        "degenerate",
        f"slowest gradient Huber fit at defaults, {n} x {p} (s)",
        seconds,
        f"{slowest.split()[-1]} takes {seconds:.2f} s; warnings: "
        + ", ".join(f"{name.split()[-1]} {count}" for name, count in warned.items()),
    )
    return rows, head


def _rows(ctx, workload, X, times, reference, warned=None):
    warned = warned or {}
    return [
        row(
            workload,
            name,
            seconds,
            n=X.shape[0],
            p=X.shape[1],
            ctx=ctx,
            reference=name == reference,
            **({"note": f"{warned[name]} warning(s)"} if name in warned else {}),
        )
        for name, seconds in times.items()
    ]


def _lasso_gap(X, y, coef, alpha):
    """The relative duality gap of a lasso solution (``ElasticNet``'s
    objective, ``l1_ratio=1``), by the standard rescaled-residual dual
    point, independently of either solver."""
    n = len(y)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    r = yc - Xc @ coef
    primal = r @ r / (2 * n) + alpha * np.abs(coef).sum()
    scale = min(1.0, n * alpha / max(np.abs(Xc.T @ r).max(), 1e-300))
    dual = scale * (r @ yc) / n - scale**2 * (r @ r) / (2 * n)
    return max(primal - dual, 0.0) / primal


def lasso_wide(ctx):
    """Exact lasso with a thousand columns (5 000 x 1 000 in full mode, 20
    carrying the signal, alpha 0.05, ``standardize=False``: ElasticNet's
    objective) against ElasticNet(l1_ratio=1, precompute=True) at the tightest
    of tol 1e-4 ... 1e-12 it needs to reach our duality gap (computed here for
    both)."""
    n, p = ctx.sizes["lasso"]
    rng = np.random.default_rng(ctx.seed)
    X = rng.standard_normal((n, p))
    y = X[:, :20].sum(axis=1) + rng.standard_normal(n)
    alpha = 0.05
    ours = regressor(ctx, alpha=alpha, l1_ratio=1.0, standardize=False)
    calls = {"TorchLinearRegressor lasso": lambda: ours.fit(X, y)}
    times = ctx.measure(calls)
    target = _lasso_gap(X, y, ours.coef_, alpha)
    gaps = {"TorchLinearRegressor lasso": target}
    for tol in _ENET_TOLS:
        name = f"ElasticNet precompute tol={tol:g}"
        model = ElasticNet(alpha=alpha, l1_ratio=1.0, precompute=True, tol=tol)
        with quiet_warnings(Warning):
            times.update(ctx.measure({name: lambda m=model: m.fit(X, y)}))
        gaps[name] = _lasso_gap(X, y, model.coef_, alpha)
        if gaps[name] <= target:
            break
    rows = [
        row(
            "lasso_wide",
            name,
            seconds,
            n=n,
            p=p,
            ctx=ctx,
            reference=name == "TorchLinearRegressor lasso",
            note=f"relative duality gap {gaps[name]:.1e}",
        )
        for name, seconds in times.items()
    ]
    value = ratio(times, name, "TorchLinearRegressor lasso")
    head = headline(
        "lasso_wide",
        f"ElasticNet(precompute=True) / ours at our duality gap, {n} x {p}",
        value,
        faster(value, "ours", f"ElasticNet ({name.split()[-1]})")
        + f"; gaps {target:.1e} (ours) and {gaps[name]:.1e}",
    )
    return rows, [head]
