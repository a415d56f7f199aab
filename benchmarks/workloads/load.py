"""Fits on a busy machine: each of ours and its scikit-learn counterpart timed
idle and beside one process spinning on a core, in one run."""

import contextlib
import subprocess
import sys
import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import (
    HuberRegressor,
    LinearRegression,
    QuantileRegressor,
    SGDRegressor,
)
from sklearn.model_selection import GridSearchCV, KFold

from sktorch_linear import TorchLinearRegressorCV

from .._common import QUANTILE, linear_data, quiet_warnings
from ._context import regressor
from ._rows import faster, headline, row
from .robust import _huber_data

# Labels of our contenders.
OURS_FIT, OURS_CV = "TorchLinearRegressor", "TorchLinearRegressorCV"
# Seconds the spinning process runs before the first busy call.
_SPIN_UP_S = 0.5


@contextlib.contextmanager
def busy_process(busy=True):
    """Another Python process spinning on one core for the duration (nothing
    when ``busy`` is false)."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(_SPIN_UP_S)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _cases(ctx):
    """(name, data, our label, ours, theirs' name, theirs, repeats) of each
    workload run under load; the estimators are made fresh for every call."""
    sizes = ctx.sizes
    diabetes = load_diabetes(return_X_y=True)
    X, y = linear_data(*sizes["quantile"][0], seed=ctx.seed)
    noise = np.random.default_rng(ctx.seed).standard_t(2, len(y))
    quantile = X, y + noise  # the data of the quantile workload
    epoch = linear_data(*sizes["epoch"], seed=ctx.seed)
    repeats = ctx.n_repeats
    # 5 folds x 10 L1 strengths (the quantile's automatic grid on its data)
    folds = KFold(5, shuffle=True, random_state=ctx.seed)
    tuning = {"alphas": 10, "l1_ratio": 1.0, "cv": folds}
    quantile_tuning = {**tuning, "loss": "quantile", "quantile": QUANTILE}

    def grid(params, data):  # the candidates of ours, for GridSearchCV
        search = TorchLinearRegressorCV(device=ctx.device, **params).fit(*data)
        return {"alpha": list(search.alphas_[0]), "l1_ratio": [1.0]}

    diabetes_grid, quantile_grid = (
        grid(tuning, diabetes),
        grid(quantile_tuning, quantile),
    )
    return [
        (
            "exact fit, diabetes",
            diabetes,
            OURS_FIT,
            lambda: regressor(ctx),
            "LinearRegression",
            LinearRegression,
            sizes["diabetes_repeats"],
        ),
        (
            "exact fit",
            ctx.tall(),
            OURS_FIT,
            lambda: regressor(ctx),
            "LinearRegression",
            LinearRegression,
            repeats,
        ),
        (
            "quantile regression",
            quantile,
            OURS_FIT,
            lambda: regressor(ctx, loss="quantile", quantile=QUANTILE),
            "QuantileRegressor highs",
            lambda: QuantileRegressor(quantile=QUANTILE, alpha=0.0, solver="highs"),
            1,
        ),
        (
            "Huber regression",
            _huber_data(*sizes["huber"], ctx.seed),
            OURS_FIT,
            lambda: regressor(ctx, loss="huber"),
            "HuberRegressor",
            HuberRegressor,
            repeats,
        ),
        (
            "one epoch of Adam / SGD",
            epoch,
            OURS_FIT,
            lambda: regressor(ctx, solver="adam", max_iter=1, batch_size=256),
            "SGDRegressor",
            lambda: SGDRegressor(max_iter=1, tol=None),
            repeats,
        ),
        (
            "penalty tuning, diabetes",
            diabetes,
            OURS_CV,
            lambda: TorchLinearRegressorCV(device=ctx.device, **tuning),
            "GridSearchCV(TorchLinearRegressor)",
            lambda: GridSearchCV(regressor(ctx), diabetes_grid, cv=folds),
            repeats,
        ),
        (
            "quantile penalty tuning",
            quantile,
            OURS_CV,
            lambda: TorchLinearRegressorCV(device=ctx.device, **quantile_tuning),
            "GridSearchCV(TorchLinearRegressor quantile)",
            lambda: GridSearchCV(
                regressor(ctx, loss="quantile", quantile=QUANTILE),
                quantile_grid,
                cv=folds,
            ),
            1,
        ),
    ]


def contention(ctx):
    """Each of ours (exact fits of diabetes and of the tall matrix, quantile
    and Huber regression as in their workloads, one Adam epoch, and
    TorchLinearRegressorCV's 5 folds x 10 L1 strengths on diabetes and on the
    quantile's data, against GridSearchCV) and its counterpart, idle and
    beside one other process spinning on a core (started and stopped by the
    benchmark), in the same run. The reference of each is our idle time."""
    rows, heads = [], []
    for name, (X, y), label, ours, theirs_name, theirs, repeats in _cases(ctx):
        n, p = X.shape
        calls = {
            f"{label} {name}": lambda: ours().fit(X, y),
            theirs_name: lambda: theirs().fit(X, y),
        }
        times = {}
        for busy in (False, True):
            with busy_process(busy), quiet_warnings(Warning):
                # ours is always warmed up; theirs not when run once (HiGHS
                # takes half a minute)
                measured = {
                    key: ctx.measure(
                        {key: call},
                        repeats=repeats,
                        warmup=int(repeats > 1 or key.startswith("Torch")),
                    )[key]
                    for key, call in calls.items()
                }
            state = "busy" if busy else "idle"
            times.update({(key, state): value for key, value in measured.items()})
        for (key, state), seconds in times.items():
            rows.append(
                row(
                    "contention",
                    f"{key} ({state})",
                    seconds,
                    n=n,
                    p=p,
                    ctx=ctx,
                    reference=key.startswith("Torch") and state == "idle",
                )
            )
        heads += _headlines(f"{label} {name}", name, times, theirs_name, n, p)
    return rows, heads


def _headlines(ours, name, times, theirs_name, n, p):
    median = {key: float(np.median(value)) for key, value in times.items()}
    slowdown = median[ours, "busy"] / median[ours, "idle"]
    theirs_slowdown = median[theirs_name, "busy"] / median[theirs_name, "idle"]
    versus = median[theirs_name, "busy"] / median[ours, "busy"]
    return [
        headline(
            "contention",
            f"ours busy / ours idle, {name} {n} x {p}",
            slowdown,
            f"beside a busy process ours takes {slowdown:.2f}x its idle time "
            f"({theirs_name}: {theirs_slowdown:.2f}x)",
        ),
        headline(
            "contention",
            f"{theirs_name} / ours, both busy, {name} {n} x {p}",
            versus,
            faster(versus, "ours", theirs_name) + " beside a busy process",
        ),
    ]
