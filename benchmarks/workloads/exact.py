"""Exact least-squares fits against LinearRegression, Ridge and the floor, a bare
``X.T @ X``: small, tall, wide and ill-conditioned data, and ``partial_fit``."""

import statistics

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge

from .._common import RIDGE_ALPHA, linear_data, max_abs_diff, r2_score
from ._context import FLOOR, OURS, regressor
from ._rows import faster, headline, ratio, row


def floor_calls(ctx, X):
    """The floor: a bare X.T @ X in torch on the same float64 data (on a GPU,
    with and without the copy of X to the device)."""
    x_host = torch.from_numpy(X)
    if ctx.device == "cpu":
        return {FLOOR: lambda: x_host.T @ x_host}
    x_dev = x_host.to(ctx.device)

    def with_copy():
        x = x_host.to(ctx.device)
        return x.T @ x

    return {
        FLOOR: with_copy,
        "floor: torch X.T@X (X already on device)": lambda: x_dev.T @ x_dev,
    }


def _exact_rows(workload, ctx, X, y, calls, times, fitted, reference):
    """Rows of an exact-fit comparison, with accuracy against LinearRegression
    (max |coef diff| and the gap in training R^2)."""
    n, p = X.shape
    ref_model = fitted.get("LinearRegression")
    ref_r2 = None if ref_model is None else r2_score(y, ref_model.predict(X))
    rows = []
    for name in calls:
        extra = {}
        model = fitted.get(name)
        if model is not None and ref_model is not None:
            r2 = r2_score(y, model.predict(X))
            extra = {
                "max_abs_diff": max_abs_diff(model.coef_, ref_model.coef_),
                "diff_of": "coef vs LinearRegression",
                "r2": r2,
                "r2_gap": ref_r2 - r2,
            }
        if name.startswith("floor"):
            extra["note"] = "lower bound: the cross-product alone"
        rows.append(
            row(
                workload,
                name,
                times[name],
                n=n,
                p=p,
                ctx=ctx,
                reference=name == reference,
                **extra,
            )
        )
    return rows


def _compare_with_linear_regression(workload, ctx, X, y):
    """Time exact fits of ours and LinearRegression (the reference) and the
    floor on the same data; the rows, the times and the fitted models."""
    fitted = {}
    makers = {OURS: lambda: regressor(ctx), "LinearRegression": LinearRegression}
    calls = {name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()}
    calls.update(floor_calls(ctx, X))
    times = ctx.measure(calls)
    rows = _exact_rows(workload, ctx, X, y, calls, times, fitted, "LinearRegression")
    return rows, times, fitted


def _fit_into(fitted, name, make, X, y):
    def call():
        fitted[name] = make().fit(X, y)

    return call


def _three_fits(ctx, fitted, X, y):
    """Fit calls of ours, LinearRegression and Ridge (negligible penalty), each
    storing its model in ``fitted``."""
    makers = {
        OURS: lambda: regressor(ctx),
        "LinearRegression": LinearRegression,
        "Ridge": lambda: Ridge(alpha=RIDGE_ALPHA),
    }
    return {name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()}


def _floor_headline(workload, times):
    value = ratio(times, OURS, FLOOR)
    return headline(
        workload,
        "ours / floor (torch X.T@X)",
        value,
        f"ours takes {value:.2f}x the time of the bare cross-product",
    )


def _lr_headline(workload, times, quantity="LinearRegression / ours", suffix=""):
    value = ratio(times, "LinearRegression", OURS)
    reading = faster(value, "ours", "LinearRegression") + suffix
    return headline(workload, quantity, value, reading)


def exact_diabetes(ctx):
    """Exact fit on diabetes (442 x 10): median time per fit over many fits."""
    X, y = load_diabetes(return_X_y=True)
    fitted = {}
    calls = _three_fits(ctx, fitted, X, y)
    times = ctx.measure(calls, ctx.sizes["diabetes_repeats"], heavy=None)
    rows = _exact_rows(
        "exact_diabetes", ctx, X, y, calls, times, fitted, "LinearRegression"
    )
    quantity = "LinearRegression / ours (time per fit)"
    return rows, [_lr_headline("exact_diabetes", times, quantity)]


def exact_vs_n(ctx):
    """Exact fit time against n (p=100) for the time-vs-n plot; the largest n is
    the ``exact_tall`` workload."""
    rows = []
    for n in ctx.sizes["sweep"]:
        X, y = linear_data(n, 100, seed=ctx.seed)
        fitted = {}
        calls = _three_fits(ctx, fitted, X, y)
        calls.update(floor_calls(ctx, X))
        times = ctx.measure(calls)
        rows += _exact_rows(
            "exact_vs_n", ctx, X, y, calls, times, fitted, "LinearRegression"
        )
        ctx.log(f"  n={n}: ours {statistics.median(times[OURS]):.4f}s")
    return rows, []


def exact_tall(ctx):
    """Exact fit on a tall matrix (1 000 000 x 100 float64)."""
    X, y = ctx.tall()
    fitted = {}
    calls = _three_fits(ctx, fitted, X, y)
    calls.update(floor_calls(ctx, X))
    calls["floor: numpy X.T@X"] = lambda: X.T @ X
    times = ctx.measure(calls)
    rows = _exact_rows(
        "exact_tall", ctx, X, y, calls, times, fitted, "LinearRegression"
    )
    ctx.cache["tall_models"] = {
        OURS: fitted[OURS],
        "LinearRegression": fitted["LinearRegression"],
    }
    ridge = ratio(times, "Ridge", OURS)
    heads = [
        _lr_headline("exact_tall", times),
        _floor_headline("exact_tall", times),
        headline(
            "exact_tall",
            "Ridge / ours",
            ridge,
            faster(ridge, "ours", "Ridge (cholesky)"),
        ),
    ]
    return rows, heads


def exact_wide(ctx):
    """Exact fit on a wide matrix (100 000 x 1 000 float64)."""
    n, p = ctx.sizes["wide"]
    ctx.log(f"  generating {n} x {p} float64 data")
    X, y = linear_data(n, p, seed=ctx.seed)
    rows, times, _ = _compare_with_linear_regression("exact_wide", ctx, X, y)
    heads = [_lr_headline("exact_wide", times), _floor_headline("exact_wide", times)]
    return rows, heads


def partial_fit(ctx):
    """Exact partial_fit over 10 chunks against one fit on the whole."""
    X, y = ctx.tall()
    n, p = X.shape
    chunks = np.array_split(np.arange(n), ctx.sizes["chunks"])
    bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks]
    fitted = {}

    def chunked():
        model = regressor(ctx)
        for start, stop in bounds:
            model.partial_fit(X[start:stop], y[start:stop])
        fitted["partial"] = model

    def whole():
        fitted["fit"] = regressor(ctx).fit(X, y)

    name_partial = f"TorchLinearRegressor exact partial_fit ({len(bounds)} chunks)"
    name_fit = "TorchLinearRegressor exact fit (whole)"
    times = ctx.measure({name_fit: whole, name_partial: chunked})
    diff = max_abs_diff(fitted["partial"].coef_, fitted["fit"].coef_)
    rows = [
        row(
            "partial_fit", name_fit, times[name_fit], n=n, p=p, ctx=ctx, reference=True
        ),
        row(
            "partial_fit",
            name_partial,
            times[name_partial],
            n=n,
            p=p,
            ctx=ctx,
            max_abs_diff=diff,
            diff_of="coef vs one fit",
        ),
    ]
    value = ratio(times, name_partial, name_fit)
    heads = [
        headline(
            "partial_fit",
            f"partial_fit over {len(bounds)} chunks / one fit",
            value,
            f"chunked fitting costs {value:.2f}x one fit (max |coef diff| {diff:.1e})",
        )
    ]
    return rows, heads


def _ill_conditioned_data(ctx):
    """8 polynomial columns t**k beside Gaussian ones, and a linear target."""
    n, p = ctx.sizes["ill_conditioned"]
    rng = np.random.default_rng(ctx.seed)
    t = rng.uniform(0.0, 1.0, n)
    X = np.empty((n, p))
    X[:, :8] = t[:, None] ** np.arange(1, 9)
    X[:, 8:] = rng.standard_normal((n, p - 8))
    y = X @ rng.normal(size=p) + rng.standard_normal(n)
    return X, y


def exact_ill_conditioned(ctx):
    """Exact fit of an ill-conditioned tall matrix (8 polynomial columns t**k
    beside Gaussian ones): the R-factor pass and refinement in twice the
    working precision, against LinearRegression."""
    X, y = _ill_conditioned_data(ctx)
    rows, times, fitted = _compare_with_linear_regression(
        "exact_ill_conditioned", ctx, X, y
    )
    model = fitted[OURS]
    path = (
        f" (path {model.solver_path_}, {model.n_iter_} passes over X, "
        f"condition number {model.singular_[0] / model.singular_[-1]:.1e})"
    )
    heads = [
        _lr_headline("exact_ill_conditioned", times, suffix=path),
        _floor_headline("exact_ill_conditioned", times),
    ]
    return rows, heads
