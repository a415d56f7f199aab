"""Quantile and Huber regression by the exact solvers, against scikit-learn's
QuantileRegressor (HiGHS) and HuberRegressor."""

import numpy as np
from sklearn.linear_model import HuberRegressor, QuantileRegressor
from sklearn.linear_model._huber import _huber_loss_and_gradient

from .._common import QUANTILE, linear_data
from ._context import regressor
from ._rows import faster, headline, ratio, row
from .memory import memory_probe, memory_row

QUANTILE_OURS = "TorchLinearRegressor quantile"
QUANTILE_HIGHS = "QuantileRegressor highs"
HUBER_OURS = "TorchLinearRegressor huber"
HUBER_REF = "HuberRegressor"


def _pinball(X, y, model):
    r = y - X @ model.coef_ - model.intercept_
    return float(np.mean(np.maximum(QUANTILE * r, (QUANTILE - 1) * r)))


def quantile(ctx):
    """Quantile regression (quantile 0.9, no penalty) of targets with heavy-tailed
    noise (Student t, 2 degrees of freedom): the interior-point method against
    QuantileRegressor(solver="highs") (one run: it takes tens of seconds). On
    the largest size HiGHS runs in a fresh process with a time limit, and each
    contender's peak memory is measured in a fresh process."""
    rows, heads = [], []
    for n, p in ctx.sizes["quantile"]:
        X, y = linear_data(n, p, seed=ctx.seed)
        y += np.random.default_rng(ctx.seed).standard_t(2, size=n)
        model = regressor(ctx, loss="quantile", quantile=QUANTILE)
        times = ctx.measure({QUANTILE_OURS: lambda: model.fit(X, y)})
        extra = {
            "n_iter": model.n_iter_,
            "optimality_gap": model.optimality_gap_,
        }
        if n <= ctx.sizes["quantile_in_process"]:
            more_rows, head = _quantile_highs(ctx, X, y, model, times, extra)
            rows += more_rows
            heads.append(head)
        elif ctx.sizes["highs_limit_s"]:
            rows.extend(_quantile_fresh(ctx, n, p, times[QUANTILE_OURS], extra))
        rows.append(
            row(
                "quantile",
                QUANTILE_OURS,
                times[QUANTILE_OURS],
                n=n,
                p=p,
                ctx=ctx,
                **extra,
            )
        )
    return rows, heads


def _quantile_highs(ctx, X, y, model, times, extra):
    """QuantileRegressor(solver="highs") once in this process against ``model``
    (adds its times to ``times`` and the relative objective to ``extra``): its
    row and the headline."""
    n, p = X.shape
    ref = QuantileRegressor(quantile=QUANTILE, alpha=0.0, solver="highs")
    times.update(
        ctx.measure({QUANTILE_HIGHS: lambda: ref.fit(X, y)}, repeats=1, warmup=0)
    )
    relative = (_pinball(X, y, model) - _pinball(X, y, ref)) / _pinball(X, y, ref)
    extra["objective_vs_reference"] = relative
    rows = [
        row(
            "quantile",
            QUANTILE_HIGHS,
            times[QUANTILE_HIGHS],
            n=n,
            p=p,
            ctx=ctx,
            reference=True,
        )
    ]
    value = ratio(times, QUANTILE_HIGHS, QUANTILE_OURS)
    head = headline(
        "quantile",
        f"QuantileRegressor(highs) / ours, {n} x {p}",
        value,
        f"{faster(value, 'ours', 'HiGHS')}; objective {relative:+.1e} "
        f"relative to HiGHS's; certified gap {model.optimality_gap_:.1e} "
        f"after {model.n_iter_} iterations",
    )
    return rows, head


def _quantile_fresh(ctx, n, p, ours_times, extra):
    """The largest size: each contender's peak memory in a fresh process, HiGHS
    stopped after ``highs_limit_s``."""
    rows = []
    for name, key in [
        ("TorchLinearRegressor quantile (fresh process)", "quantile"),
        (QUANTILE_HIGHS, "quantile_highs"),
    ]:
        limit = ctx.sizes["highs_limit_s"] if key == "quantile_highs" else 1800
        result = memory_probe(ctx, key, n, p, limit)
        if result is None:
            ctx.log(f"  {name}: stopped after {limit} s")
            rows.append(
                row(
                    "quantile",
                    name,
                    [float(limit)],
                    n=n,
                    p=p,
                    ctx=ctx,
                    reference=True,
                    note=f"stopped after {limit} s, not finished",
                )
            )
            continue
        rows.append(
            memory_row(
                "quantile", name, result, n, p, ctx, reference=key == "quantile_highs"
            )
        )
        if key == "quantile":
            extra["peak_over_x"] = result["extra_over_x"]
    return rows


def _huber_data(n, p, seed):
    """``linear_data`` with 5% of the targets replaced by outliers (10 to 20
    standard deviations of y)."""
    X, y = linear_data(n, p, seed=seed)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, n // 20, replace=False)
    y[rows] = (
        rng.choice([-1.0, 1.0], len(rows)) * rng.uniform(10, 20, len(rows)) * y.std()
    )
    return X, y


def _huber_objective(model, X, y):
    """HuberRegressor's objective (epsilon 1.35, no penalty) at ``model``'s fit,
    by scikit-learn's own function."""
    params = np.r_[model.coef_, model.intercept_, model.scale_]
    return _huber_loss_and_gradient(params, X, y, 1.35, 0.0, np.ones(len(y)))[0]


def _huber_rows(ctx, times, model, ref, relative, peaks):
    n, p = ctx.sizes["huber"]
    return [
        row(
            "huber",
            HUBER_REF,
            times[HUBER_REF],
            n=n,
            p=p,
            ctx=ctx,
            reference=True,
            n_iter=int(np.max(ref.n_iter_)),
            peak_over_x=peaks["huber_sklearn"],
        ),
        row(
            "huber",
            HUBER_OURS,
            times[HUBER_OURS],
            n=n,
            p=p,
            ctx=ctx,
            n_iter=model.n_iter_,
            optimality_gap=model.optimality_gap_,
            objective_vs_reference=relative,
            peak_over_x=peaks["huber"],
        ),
    ]


def huber(ctx):
    """Huber regression (HuberRegressor's objective, epsilon 1.35, no penalty)
    of targets with 5% outliers: the exact solver (Newton) against
    HuberRegressor at its defaults (L-BFGS-B; one run when it takes over 10 s).
    Objectives by scikit-learn's own Huber loss function; peak memory of each in
    a fresh process."""
    n, p = ctx.sizes["huber"]
    X, y = _huber_data(n, p, ctx.seed)
    model, ref = regressor(ctx, loss="huber"), HuberRegressor()
    times = ctx.measure({HUBER_OURS: lambda: model.fit(X, y)})
    times.update(ctx.measure({HUBER_REF: lambda: ref.fit(X, y)}, repeats=1))
    theirs = _huber_objective(ref, X, y)
    relative = (_huber_objective(model, X, y) - theirs) / theirs
    peaks = {
        key: memory_probe(ctx, key, n, p)["extra_over_x"]
        for key in ("huber", "huber_sklearn")
    }
    value = ratio(times, HUBER_REF, HUBER_OURS)
    head = headline(
        "huber",
        f"HuberRegressor / ours, {n} x {p}",
        value,
        f"{faster(value, 'ours', 'HuberRegressor')}; objective "
        f"{relative:+.1e} relative to HuberRegressor's; "
        f"certified gap {model.optimality_gap_:.1e} after {model.n_iter_} "
        f"Newton steps; peak memory {peaks['huber']:.2f}x X "
        f"(HuberRegressor {peaks['huber_sklearn']:.2f}x)",
    )
    return _huber_rows(ctx, times, model, ref, relative, peaks), [head]
