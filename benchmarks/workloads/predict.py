"""``predict`` on the tall matrix and on one row, against LinearRegression."""

import numpy as np

from .._common import max_abs_diff
from ._context import OURS
from ._rows import faster, headline, ratio, row

OURS_PREDICT = "TorchLinearRegressor.predict"
LR_PREDICT = "LinearRegression.predict"


def _predict_headline(workload, times, quantity):
    value = ratio(times, LR_PREDICT, OURS_PREDICT)
    reading = faster(value, "ours", "LinearRegression")
    return headline(workload, quantity, value, reading)


def predict_batch(ctx):
    """predict on the tall matrix (1 000 000 x 100)."""
    X, _ = ctx.tall()
    models = ctx.tall_models()
    ours, lr = models[OURS], models["LinearRegression"]
    coef, intercept = lr.coef_, lr.intercept_
    out = {}
    calls = {
        OURS_PREDICT: lambda: out.__setitem__(OURS, ours.predict(X)),
        LR_PREDICT: lambda: out.__setitem__("lr", lr.predict(X)),
        "floor: numpy X @ coef + b": lambda: X @ coef + intercept,
    }
    times = ctx.measure(calls)
    n, p = X.shape
    rows = []
    for name in calls:
        extra = {}
        if name.startswith("TorchLinear"):
            extra = {
                "max_abs_diff": max_abs_diff(out[OURS], out["lr"]),
                "diff_of": "prediction vs LinearRegression",
            }
        rows.append(
            row(
                "predict_batch",
                name,
                times[name],
                n=n,
                p=p,
                ctx=ctx,
                device="cpu",
                reference=name == LR_PREDICT,
                **extra,
            )
        )
    quantity = "LinearRegression.predict / ours.predict"
    return rows, [_predict_headline("predict_batch", times, quantity)]


def predict_one_row(ctx):
    """Latency of predict on one row."""
    X, _ = ctx.tall()
    models = ctx.tall_models()
    x1 = np.ascontiguousarray(X[:1])
    ours, lr = models[OURS], models["LinearRegression"]
    calls = {
        OURS_PREDICT: lambda: ours.predict(x1),
        LR_PREDICT: lambda: lr.predict(x1),
    }
    times = ctx.measure(
        calls, ctx.sizes["one_row_calls"], device="cpu", warmup=20, heavy=None
    )
    rows = [
        row(
            "predict_one_row",
            name,
            times[name],
            n=1,
            p=X.shape[1],
            ctx=ctx,
            device="cpu",
            reference=name == LR_PREDICT,
            note="seconds per call",
        )
        for name in calls
    ]
    quantity = "LinearRegression.predict / ours.predict (one row)"
    return rows, [_predict_headline("predict_one_row", times, quantity)]
