"""The benchmark workloads.

Every workload function takes a :class:`Context` and returns a list of result
rows (one per contender; see ``ROW_COLUMNS`` in ``_report``) and a list of
headline ratios. Rows of one workload (and one problem size) share a reference
contender, against which ``ratio_to_reference`` is computed by the runner.
"""

import json
import os
import statistics
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    HuberRegressor,
    LinearRegression,
    QuantileRegressor,
    Ridge,
    SGDRegressor,
)
from sklearn.linear_model._huber import _huber_loss_and_gradient
from sklearn.model_selection import train_test_split
from skorch import NeuralNetRegressor

from sktorch_linear import TorchLinearRegressor
from sktorch_linear._data import Data
from sktorch_linear._moments import accumulate, factorize
from sktorch_linear.solvers._refinement import normal_residual

from ._common import (
    HEAVY,
    QUANTILE,
    REPO_ROOT,
    RIDGE_ALPHA,
    linear_data,
    max_abs_diff,
    measure,
    quiet_warnings,
    r2_score,
)

OURS = "TorchLinearRegressor exact"
FLOOR = "floor: torch X.T@X"
# Target of the training-to-accuracy workloads: test R^2 within this of the optimum.
R2_TOLERANCE = 1e-3

SIZES = {
    "full": {
        "repeats": 5,
        "sweep": [10_000, 30_000, 100_000, 300_000],
        "tall": (1_000_000, 100),
        "wide": (100_000, 1_000),
        "diabetes_repeats": 200,
        "epoch": (200_000, 50),
        "one_row_calls": 2_000,
        "memory": (1_000_000, 100),
        "chunks": 10,
        "accuracy": (200_000, 100),
        "ill_conditioned": (1_000_000, 100),
        # Sizes of the quantile workload; HiGHS runs in-process up to
        # quantile_in_process rows and with a time limit beyond.
        "quantile": [(20_000, 50), (200_000, 100)],
        "huber": (200_000, 100),
        # Rows, columns and files of the parquet data set read through Dask.
        "dask": (10_000_000, 20, 40),
        "quantile_in_process": 20_000,
        "highs_limit_s": 300,
    },
    "quick": {
        "repeats": 3,
        "sweep": [3_000, 10_000, 30_000],
        "tall": (100_000, 100),
        "wide": (5_000, 1_000),
        "diabetes_repeats": 50,
        "epoch": (20_000, 50),
        "one_row_calls": 500,
        "memory": (100_000, 100),
        "chunks": 10,
        "accuracy": (20_000, 100),
        "ill_conditioned": (100_000, 100),
        "quantile": [(2_000, 20), (20_000, 50)],
        "huber": (20_000, 50),
        "dask": (200_000, 20, 4),
        "quantile_in_process": 2_000,
        "highs_limit_s": 0,
    },
}


@dataclass
class Context:
    """Settings of a run and data shared between workloads."""

    device: str
    quick: bool = False
    repeats: int | None = None
    seed: int = 0
    log: object = print
    overrides: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    @property
    def sizes(self):
        return {**SIZES["quick" if self.quick else "full"], **self.overrides}

    def measure(self, calls, repeats=None, **kwargs):
        """:func:`measure` with this run's device, repeats and heavy-call cap."""
        kwargs.setdefault("device", self.device)
        kwargs.setdefault("heavy", HEAVY["quick" if self.quick else "full"])
        return measure(calls, self.n_repeats if repeats is None else repeats, **kwargs)

    @property
    def n_repeats(self):
        return self.repeats if self.repeats is not None else self.sizes["repeats"]

    def tall(self):
        """The tall float64 data set (1 000 000 x 100 in full mode)."""
        if "tall" not in self.cache:
            n, p = self.sizes["tall"]
            self.log(f"  generating {n} x {p} float64 data")
            self.cache["tall"] = linear_data(n, p, seed=self.seed)
        return self.cache["tall"]

    def tall_models(self):
        """TorchLinearRegressor and LinearRegression fitted on :meth:`tall`."""
        if "tall_models" not in self.cache:
            X, y = self.tall()
            self.cache["tall_models"] = {
                OURS: TorchLinearRegressor(device=self.device).fit(X, y),
                "LinearRegression": LinearRegression().fit(X, y),
            }
        return self.cache["tall_models"]

    def release(self, keep):
        """Drop cached data that no remaining workload uses."""
        if "tall" not in keep:
            self.cache.pop("tall", None)
            self.cache.pop("tall_models", None)


def row(workload, contender, seconds, *, n, p, ctx, reference=False, **extra):
    """One result row from a list of timings."""
    return {
        "workload": workload,
        "contender": contender,
        "reference": reference,
        "n_samples": n,
        "n_features": p,
        "device": extra.pop("device", ctx.device),
        "dtype": extra.pop("dtype", "float64"),
        "repeats": len(seconds),
        "median_s": float(statistics.median(seconds)),
        "min_s": float(min(seconds)),
        **extra,
    }


def ratio(times, a, b):
    return statistics.median(times[a]) / statistics.median(times[b])


def headline(workload, quantity, value, reading):
    return {
        "workload": workload,
        "quantity": quantity,
        "value": float(value),
        "reading": reading,
    }


def _faster(value, subject, other):
    if value >= 1:
        return f"{subject} is {value:.2f}x faster than {other}"
    return f"{subject} is {1 / value:.2f}x slower than {other}"


def _ours(ctx, **params):
    return TorchLinearRegressor(device=ctx.device, **params)


def _floor_calls(ctx, X):
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
    makers = {OURS: lambda: _ours(ctx), "LinearRegression": LinearRegression}
    calls = {name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()}
    calls.update(_floor_calls(ctx, X))
    times = ctx.measure(calls)
    rows = _exact_rows(workload, ctx, X, y, calls, times, fitted, "LinearRegression")
    return rows, times, fitted


def _fit_into(fitted, name, make, X, y):
    def call():
        fitted[name] = make().fit(X, y)

    return call


# -- workloads -------------------------------------------------------------------


def exact_diabetes(ctx):
    """Exact fit on diabetes (442 x 10): median time per fit over many fits."""
    X, y = load_diabetes(return_X_y=True)
    fitted = {}
    makers = {
        OURS: lambda: _ours(ctx),
        "LinearRegression": LinearRegression,
        "Ridge": lambda: Ridge(alpha=RIDGE_ALPHA),
    }
    calls = {name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()}
    times = ctx.measure(calls, ctx.sizes["diabetes_repeats"], heavy=None)
    rows = _exact_rows(
        "exact_diabetes", ctx, X, y, calls, times, fitted, "LinearRegression"
    )
    value = ratio(times, "LinearRegression", OURS)
    heads = [
        headline(
            "exact_diabetes",
            "LinearRegression / ours (time per fit)",
            value,
            _faster(value, "ours", "LinearRegression"),
        )
    ]
    return rows, heads


def exact_vs_n(ctx):
    """Exact fit time against n (p=100) for the time-vs-n plot; the largest n is
    the ``exact_tall`` workload."""
    rows = []
    for n in ctx.sizes["sweep"]:
        X, y = linear_data(n, 100, seed=ctx.seed)
        fitted = {}
        makers = {
            OURS: lambda: _ours(ctx),
            "LinearRegression": LinearRegression,
            "Ridge": lambda: Ridge(alpha=RIDGE_ALPHA),
        }
        calls = {
            name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()
        }
        calls.update(_floor_calls(ctx, X))
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
    makers = {
        OURS: lambda: _ours(ctx),
        "LinearRegression": LinearRegression,
        "Ridge": lambda: Ridge(alpha=RIDGE_ALPHA),
    }
    calls = {name: _fit_into(fitted, name, make, X, y) for name, make in makers.items()}
    calls.update(_floor_calls(ctx, X))
    calls["floor: numpy X.T@X"] = lambda: X.T @ X
    times = ctx.measure(calls)
    rows = _exact_rows(
        "exact_tall", ctx, X, y, calls, times, fitted, "LinearRegression"
    )
    ctx.cache["tall_models"] = {
        OURS: fitted[OURS],
        "LinearRegression": fitted["LinearRegression"],
    }
    lr_over_ours = ratio(times, "LinearRegression", OURS)
    ours_over_floor = ratio(times, OURS, FLOOR)
    heads = [
        headline(
            "exact_tall",
            "LinearRegression / ours",
            lr_over_ours,
            _faster(lr_over_ours, "ours", "LinearRegression"),
        ),
        headline(
            "exact_tall",
            "ours / floor (torch X.T@X)",
            ours_over_floor,
            f"ours takes {ours_over_floor:.2f}x the time of the bare cross-product",
        ),
        headline(
            "exact_tall",
            "Ridge / ours",
            ratio(times, "Ridge", OURS),
            _faster(ratio(times, "Ridge", OURS), "ours", "Ridge (cholesky)"),
        ),
    ]
    return rows, heads


def exact_wide(ctx):
    """Exact fit on a wide matrix (100 000 x 1 000 float64)."""
    n, p = ctx.sizes["wide"]
    ctx.log(f"  generating {n} x {p} float64 data")
    X, y = linear_data(n, p, seed=ctx.seed)
    rows, times, _ = _compare_with_linear_regression("exact_wide", ctx, X, y)
    value = ratio(times, "LinearRegression", OURS)
    floor = ratio(times, OURS, FLOOR)
    heads = [
        headline(
            "exact_wide",
            "LinearRegression / ours",
            value,
            _faster(value, "ours", "LinearRegression"),
        ),
        headline(
            "exact_wide",
            "ours / floor (torch X.T@X)",
            floor,
            f"ours takes {floor:.2f}x the time of the bare cross-product",
        ),
    ]
    return rows, heads


def partial_fit(ctx):
    """Exact partial_fit over 10 chunks against one fit on the whole."""
    X, y = ctx.tall()
    n, p = X.shape
    chunks = np.array_split(np.arange(n), ctx.sizes["chunks"])
    bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks]
    fitted = {}

    def chunked():
        model = _ours(ctx)
        for start, stop in bounds:
            model.partial_fit(X[start:stop], y[start:stop])
        fitted["partial"] = model

    def whole():
        fitted["fit"] = _ours(ctx).fit(X, y)

    name_partial = f"TorchLinearRegressor exact partial_fit ({len(bounds)} chunks)"
    name_fit = "TorchLinearRegressor exact fit (whole)"
    calls = {name_fit: whole, name_partial: chunked}
    times = ctx.measure(calls)
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


def exact_costs(ctx):
    """The passes of an exact fit on the tall matrix, each against the bare
    X.T @ X: the statistics (Gram matrix), one refinement pass in working
    precision and one in twice the working precision, and the R-factor pass
    (TSQR) that ill-conditioned data take."""
    X, y = ctx.tall()
    n, p = X.shape
    data = Data(X, y[:, None], None)
    device = torch.device(ctx.device)
    dtype = torch.float64
    moments = accumulate(data, device=device, dtype=dtype)
    model = ctx.tall_models()[OURS]
    coef, intercept = model.coef_[None], np.atleast_1d(model.intercept_)
    center = moments.mean_x

    def refine(extended):
        return lambda: normal_residual(
            data, coef, intercept, center, extended=extended, device=device
        )

    names = {
        "statistics": "pass 1: Gram statistics",
        "refine": "refinement pass, working precision",
        "refine2": "refinement pass, twice the working precision",
        "factor": "R-factor pass (TSQR), ill-conditioned data only",
    }
    calls = {
        names["statistics"]: lambda: accumulate(data, device=device, dtype=dtype),
        names["refine"]: refine(False),
        names["refine2"]: refine(True),
        names["factor"]: lambda: factorize(data, moments, device=device, dtype=dtype),
    }
    calls.update(_floor_calls(ctx, X))
    times = ctx.measure(calls)
    rows = [
        row(
            "exact_costs", name, times[name], n=n, p=p, ctx=ctx, reference=name == FLOOR
        )
        for name in calls
    ]
    heads = [
        headline(
            "exact_costs",
            f"{label} / floor",
            ratio(times, names[key], FLOOR),
            f"{names[key]} takes {ratio(times, names[key], FLOOR):.2f}x the bare "
            "cross-product",
        )
        for key, label in [
            ("statistics", "statistics"),
            ("refine", "working-precision refinement"),
            ("refine2", "extended-precision refinement"),
            ("factor", "R-factor statistics"),
        ]
    ]
    return rows, heads


def exact_ill_conditioned(ctx):
    """Exact fit of an ill-conditioned tall matrix (8 polynomial columns t**k
    beside Gaussian ones): the R-factor pass and refinement in twice the
    working precision, against LinearRegression."""
    n, p = ctx.sizes["ill_conditioned"]
    rng = np.random.default_rng(ctx.seed)
    t = rng.uniform(0.0, 1.0, n)
    X = np.empty((n, p))
    X[:, :8] = t[:, None] ** np.arange(1, 9)
    X[:, 8:] = rng.standard_normal((n, p - 8))
    y = X @ rng.normal(size=p) + rng.standard_normal(n)
    rows, times, fitted = _compare_with_linear_regression(
        "exact_ill_conditioned", ctx, X, y
    )
    model = fitted[OURS]
    value = ratio(times, "LinearRegression", OURS)
    heads = [
        headline(
            "exact_ill_conditioned",
            "LinearRegression / ours",
            value,
            _faster(value, "ours", "LinearRegression")
            + f" (path {model.solver_path_}, {model.n_iter_} passes over X, "
            f"condition number {model.singular_[0] / model.singular_[-1]:.1e})",
        ),
        headline(
            "exact_ill_conditioned",
            "ours / floor (torch X.T@X)",
            ratio(times, OURS, FLOOR),
            f"ours takes {ratio(times, OURS, FLOOR):.2f}x the time of the bare "
            "cross-product",
        ),
    ]
    return rows, heads


def predict_batch(ctx):
    """predict on the tall matrix (1 000 000 x 100)."""
    X, _ = ctx.tall()
    models = ctx.tall_models()
    ours, lr = models[OURS], models["LinearRegression"]
    coef, intercept = lr.coef_, lr.intercept_
    out = {}
    calls = {
        "TorchLinearRegressor.predict": lambda: out.__setitem__(OURS, ours.predict(X)),
        "LinearRegression.predict": lambda: out.__setitem__("lr", lr.predict(X)),
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
                reference=name == "LinearRegression.predict",
                **extra,
            )
        )
    value = ratio(times, "LinearRegression.predict", "TorchLinearRegressor.predict")
    heads = [
        headline(
            "predict_batch",
            "LinearRegression.predict / ours.predict",
            value,
            _faster(value, "ours", "LinearRegression"),
        )
    ]
    return rows, heads


def predict_one_row(ctx):
    """Latency of predict on one row."""
    X, _ = ctx.tall()
    models = ctx.tall_models()
    x1 = np.ascontiguousarray(X[:1])
    ours, lr = models[OURS], models["LinearRegression"]
    calls = {
        "TorchLinearRegressor.predict": lambda: ours.predict(x1),
        "LinearRegression.predict": lambda: lr.predict(x1),
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
            reference=name == "LinearRegression.predict",
            note="seconds per call",
        )
        for name in calls
    ]
    value = ratio(times, "LinearRegression.predict", "TorchLinearRegressor.predict")
    heads = [
        headline(
            "predict_one_row",
            "LinearRegression.predict / ours.predict (one row)",
            value,
            _faster(value, "ours", "LinearRegression"),
        )
    ]
    return rows, heads


def _hand_loop(X, y, device, *, batch_size=256, lr=1e-3, seed=0):
    """The floor of a mini-batch epoch: nn.Linear + Adam over slices of tensors
    already on the device (rows permuted once, as TorchLinearRegressor does)."""
    n, p = X.shape
    generator = torch.Generator().manual_seed(seed)

    def epoch():
        model = torch.nn.Linear(p, 1, device=device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.randperm(n, generator=generator).to(device)
        xs, ys = X[order], y[order]
        for start in range(0, n, batch_size):
            optimizer.zero_grad()
            xb, yb = xs[start : start + batch_size], ys[start : start + batch_size]
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
        return model

    return epoch


def adam_epoch(ctx):
    """One epoch of Adam, batch 256, float32 (200 000 x 50)."""
    n, p = ctx.sizes["epoch"]
    X, y = linear_data(n, p, dtype=np.float32, seed=ctx.seed)
    x_t = torch.from_numpy(X).to(ctx.device)
    y_t = torch.from_numpy(y).reshape(-1, 1).to(ctx.device)
    y2d = y.reshape(-1, 1)

    def ours(epochs):
        def fit():
            with quiet_warnings(ConvergenceWarning):
                _ours(
                    ctx,
                    solver="adam",
                    batch_size=256,
                    max_iter=epochs,
                    tol=0,
                    random_state=0,
                ).fit(X, y)

        return fit

    def skorch(**params):
        def fit():
            NeuralNetRegressor(
                torch.nn.Linear(p, 1),
                train_split=None,
                verbose=0,
                max_epochs=1,
                device=ctx.device,
                **params,
            ).fit(X, y2d)

        return fit

    loop = "hand-written torch loop (Adam, batch 256)"
    names = {
        "ours": "TorchLinearRegressor adam (batch 256, 1 epoch)",
        "ours5": "TorchLinearRegressor adam (batch 256, 5 epochs)",
        "skorch": "skorch NeuralNetRegressor defaults (SGD, batch 128)",
        "skorch256": "skorch NeuralNetRegressor (SGD, batch_size=256)",
    }
    calls = {
        loop: _hand_loop(x_t, y_t, ctx.device),
        names["ours"]: ours(1),
        names["ours5"]: ours(5),
        names["skorch"]: skorch(),
        names["skorch256"]: skorch(batch_size=256),
    }
    times = ctx.measure(calls)
    batches = {
        loop: -(-n // 256),
        names["ours"]: -(-n // 256),
        names["ours5"]: 5 * -(-n // 256),
        names["skorch"]: -(-n // 128),
        names["skorch256"]: -(-n // 256),
    }
    rows = [
        row(
            "adam_epoch",
            name,
            times[name],
            n=n,
            p=p,
            ctx=ctx,
            dtype="float32",
            reference=name == loop,
            note=f"{batches[name]} batches; "
            f"{statistics.median(times[name]) / batches[name] * 1e6:.0f} us/batch",
        )
        for name in calls
    ]
    ours_loop = ratio(times, names["ours"], loop)
    # An epoch of a longer fit, without the once-per-fit setup (validation,
    # scaling statistics, the standardized copy, building the net).
    per_epoch = (
        statistics.median(times[names["ours5"]])
        - statistics.median(times[names["ours"]])
    ) / 4
    epoch_loop = per_epoch / statistics.median(times[loop])
    skorch_ours = ratio(times, names["skorch"], names["ours"])
    skorch256_ours = ratio(times, names["skorch256"], names["ours"])
    heads = [
        headline(
            "adam_epoch",
            "ours / hand-written loop",
            ours_loop,
            f"a 1-epoch fit (setup included) takes {ours_loop:.2f}x the time of the "
            "bare torch loop's epoch",
        ),
        headline(
            "adam_epoch",
            "ours per epoch ((5-epoch fit - 1-epoch fit) / 4) / hand-written loop",
            epoch_loop,
            f"an epoch of ours takes {epoch_loop:.2f}x the bare torch loop's epoch "
            f"({per_epoch * 1e3:.0f} ms)",
        ),
        headline(
            "adam_epoch",
            "plain skorch (defaults) / ours",
            skorch_ours,
            _faster(skorch_ours, "ours", "plain skorch (batch 128)"),
        ),
        headline(
            "adam_epoch",
            "plain skorch (batch 256) / ours",
            skorch256_ours,
            _faster(skorch256_ours, "ours", "plain skorch at the same batch size"),
        ),
    ]
    return rows, heads


# -- training to accuracy --------------------------------------------------------


def _accuracy_data(ctx):
    n, p = ctx.sizes["accuracy"]
    X, y = make_regression(n_samples=n, n_features=p, noise=10.0, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@dataclass(frozen=True)
class Trainer:
    """A contender of the training-to-accuracy workloads.

    ``make(max_iter)`` returns an unfitted estimator. With ``budget=None`` it is
    timed as it is (its own stopping rule); otherwise the smallest ``max_iter``
    up to ``budget`` whose fit reaches the target is searched first, and a fit
    with that ``max_iter`` is timed. ``search`` is ``"doubling"`` (fresh fits
    with max_iter 1, 2, 4, ... then bisection) or ``"partial_fit"`` (one epoch
    per call, scored after each; the ``max_iter`` found is then checked with a
    fresh fit).
    """

    make: object
    budget: int | None = None
    search: str = "doubling"
    epochs_attr: str | None = "n_iter_"
    reference: bool = False


def _first_reaching(fit_k, score, target, budget):
    """Smallest ``k <= budget`` such that ``fit_k(k)`` scores at least
    ``target``, by doubling then bisection, or None.

    It relies on a fit with ``max_iter=k`` being the first ``k`` epochs of a
    longer one (true for a fixed ``random_state``).
    """
    k, low = 1, 0
    while True:
        k = min(k, budget)
        if score(fit_k(k)) >= target:
            break
        if k == budget:
            return None
        low, k = k, 2 * k
    high = k
    while high - low > 1:
        middle = (low + high) // 2
        if score(fit_k(middle)) >= target:
            high = middle
        else:
            low = middle
    return high


def _search_by_partial_fit(trainer, fit_k, partial_fit, score, target):
    """Epochs to the target found with one ``partial_fit`` call per epoch, then
    confirmed by fresh fits (a few more epochs at most; doubling search if the
    two disagree more)."""
    model = trainer.make(trainer.budget)
    for k in range(1, trainer.budget + 1):
        partial_fit(model)
        if score(model) >= target:
            break
    else:
        return None
    for candidate in range(k, min(k + 3, trainer.budget) + 1):
        if score(fit_k(candidate)) >= target:
            return candidate
    return _first_reaching(fit_k, score, target, trainer.budget)


def _to_accuracy(ctx, workload, X_train, y_train, X_test, y_test, optimum, trainers):
    """Time to the target (``optimum - R2_TOLERANCE``) of each :class:`Trainer`."""
    target = optimum - R2_TOLERANCE

    def score(model):
        return r2_score(y_test, model.predict(X_test))

    def fit(model):
        with quiet_warnings(ConvergenceWarning, UserWarning):
            return model.fit(X_train, y_train)

    def partial_fit(model):
        with quiet_warnings(ConvergenceWarning, UserWarning):
            return model.partial_fit(X_train, y_train)

    chosen, notes = {}, {}
    for name, trainer in trainers.items():
        if trainer.budget is None:
            chosen[name] = None
            continue

        def fit_k(k, trainer=trainer):
            return fit(trainer.make(k))

        if trainer.search == "partial_fit":
            k = _search_by_partial_fit(trainer, fit_k, partial_fit, score, target)
        else:
            k = _first_reaching(fit_k, score, target, trainer.budget)
        chosen[name] = trainer.budget if k is None else k
        if k is None:
            notes[name] = f"target not reached within max_iter={trainer.budget}"
        ctx.log(f"  {name}: max_iter={chosen[name]}")
    fitted = {}
    calls = {
        name: (
            lambda name=name, trainer=trainer: fitted.__setitem__(
                name, fit(trainer.make(chosen[name]))
            )
        )
        for name, trainer in trainers.items()
    }
    times = ctx.measure(calls)
    rows = []
    for name, trainer in trainers.items():
        model = fitted[name]
        r2 = score(model)
        epochs = chosen[name]
        if trainer.epochs_attr is not None:
            epochs = int(np.max(getattr(model, trainer.epochs_attr)))
        rows.append(
            row(
                workload,
                name,
                times[name],
                n=X_train.shape[0],
                p=X_train.shape[1],
                ctx=ctx,
                reference=trainer.reference,
                r2=r2,
                r2_gap=optimum - r2,
                reached_target=bool(r2 >= target),
                epochs=epochs,
                note=notes.get(name, ""),
            )
        )
    return rows, times


def to_accuracy(ctx):
    """Time to reach test R^2 within 1e-3 of the optimum, squared loss
    (make_regression 200 000 x 100, noise 10; 75% train, 25% test)."""
    X_train, X_test, y_train, y_test = _accuracy_data(ctx)
    exact = _ours(ctx).fit(X_train, y_train)
    optimum = r2_score(y_test, exact.predict(X_test))
    lr_r2 = r2_score(y_test, LinearRegression().fit(X_train, y_train).predict(X_test))
    ctx.log(f"  optimum test R2 {optimum:.6f} (LinearRegression {lr_r2:.6f})")

    def ours(solver, budget):
        # One epoch per partial_fit call finds the epochs Adam and SGD need;
        # L-BFGS (no partial_fit) is searched by fresh fits.
        return Trainer(
            lambda k: _ours(ctx, solver=solver, max_iter=k, random_state=0),
            budget,
            search="doubling" if solver == "lbfgs" else "partial_fit",
        )

    sgd_name = "SGDRegressor defaults (max_iter searched, tol=None)"
    trainers = {
        OURS: Trainer(lambda k: _ours(ctx), epochs_attr=None, reference=True),
        "TorchLinearRegressor adam": ours("adam", 64),
        "TorchLinearRegressor sgd": ours("sgd", 64),
        "TorchLinearRegressor lbfgs": ours("lbfgs", 32),
        sgd_name: Trainer(
            lambda k: SGDRegressor(max_iter=k, tol=None, random_state=0), 1024
        ),
        "SGDRegressor defaults (own stopping)": Trainer(
            lambda k: SGDRegressor(random_state=0)
        ),
    }
    rows, times = _to_accuracy(
        ctx, "to_accuracy", X_train, y_train, X_test, y_test, optimum, trainers
    )
    if not next(r for r in rows if r["contender"] == sgd_name)["reached_target"]:
        ctx.log("  SGDRegressor defaults missed the target: trying a tuned one")
        tuned = {
            "SGDRegressor tuned (penalty=None, adaptive eta0=0.001)": Trainer(
                lambda k: SGDRegressor(
                    penalty=None,
                    learning_rate="adaptive",
                    eta0=0.001,
                    max_iter=k,
                    tol=None,
                    random_state=0,
                ),
                1024,
            )
        }
        more, more_times = _to_accuracy(
            ctx, "to_accuracy", X_train, y_train, X_test, y_test, optimum, tuned
        )
        rows += more
        times.update(more_times)
    heads = [
        headline(
            "to_accuracy",
            "optimum test R2 (exact solution)",
            optimum,
            f"target: test R2 >= {optimum - R2_TOLERANCE:.6f}",
        )
    ]
    for r in rows:
        if r["contender"] in (OURS, sgd_name):
            continue
        value = r["median_s"] / statistics.median(times[sgd_name])
        reached = "reached" if r["reached_target"] else "did NOT reach"
        heads.append(
            headline(
                "to_accuracy",
                f"{r['contender']} / SGDRegressor (time to target)",
                value,
                f"{reached} the target in {r['epochs']} epoch(s), "
                f"{value:.2f}x the time of SGDRegressor",
            )
        )
    return rows, heads


def defaults(ctx):
    """Each solver at its default settings (its own stopping rule) on the data
    of to_accuracy, beside SGDRegressor at its defaults: fit time, test R² gap
    to the optimum, training-objective gap (relative) and whether a
    ConvergenceWarning was raised."""
    X_train, X_test, y_train, y_test = _accuracy_data(ctx)
    models = {
        OURS: lambda: _ours(ctx),
        "TorchLinearRegressor lbfgs": lambda: _ours(ctx, solver="lbfgs"),
        "TorchLinearRegressor adam": lambda: _ours(ctx, solver="adam", random_state=0),
        "TorchLinearRegressor sgd": lambda: _ours(ctx, solver="sgd", random_state=0),
        "SGDRegressor defaults": lambda: SGDRegressor(random_state=0),
    }
    fitted, warned = {}, {}
    for name, make in models.items():
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always", ConvergenceWarning)
            fitted[name] = make().fit(X_train, y_train)
        warned[name] = any(w.category is ConvergenceWarning for w in record)
    with quiet_warnings():
        times = ctx.measure(
            {
                name: (lambda m=make: m().fit(X_train, y_train))
                for name, make in models.items()
            }
        )
    optimum = r2_score(y_test, fitted[OURS].predict(X_test))
    best_mse = np.mean((y_train - fitted[OURS].predict(X_train)) ** 2)
    rows, heads = [], []
    for name, model in fitted.items():
        gap = np.mean((y_train - model.predict(X_train)) ** 2) / best_mse - 1
        r2_gap = optimum - r2_score(y_test, model.predict(X_test))
        epochs = getattr(model, "n_iter_", None)
        note = f"training objective gap {gap:.1e}; warned: {warned[name]}"
        rows.append(
            row(
                "defaults",
                name,
                times[name],
                n=len(y_train),
                p=X_train.shape[1],
                ctx=ctx,
                reference=name == OURS,
                r2_gap=r2_gap,
                epochs=epochs,
                note=note,
            )
        )
        if name == OURS:
            continue
        value = statistics.median(times[name]) / statistics.median(
            times["SGDRegressor defaults"]
        )
        heads.append(
            headline(
                "defaults",
                f"{name} / SGDRegressor defaults (time)",
                value,
                f"R2 gap {r2_gap:.1e}, objective gap {gap:.1e}, {epochs} epoch(s), "
                f"{'a ConvergenceWarning' if warned[name] else 'no warning'}",
            )
        )
    return rows, heads


def to_accuracy_huber(ctx):
    """Time to reach test R^2 within 1e-3 of the optimum when 5% of the training
    targets are replaced by outliers (+-10 to 20 standard deviations of y; the
    test targets stay clean): Huber loss against HuberRegressor."""
    X_train, X_test, y_train, y_test = _accuracy_data(ctx)
    # The optimum is the least-squares fit of the clean targets.
    optimum = r2_score(y_test, _ours(ctx).fit(X_train, y_train).predict(X_test))
    rng = np.random.default_rng(ctx.seed)
    y_dirty = y_train.copy()
    rows_out = rng.choice(len(y_dirty), len(y_dirty) // 20, replace=False)
    scale = y_train.std()
    y_dirty[rows_out] = (
        rng.choice([-1.0, 1.0], len(rows_out))
        * rng.uniform(10.0, 20.0, len(rows_out))
        * scale
    )
    trainers = {
        "HuberRegressor (max_iter searched)": Trainer(
            lambda k: HuberRegressor(max_iter=k), 1024, reference=True
        ),
        "HuberRegressor defaults (own stopping)": Trainer(lambda k: HuberRegressor()),
        "TorchLinearRegressor huber exact (Newton)": Trainer(
            lambda k: _ours(ctx, loss="huber"), epochs_attr=None
        ),
        "TorchLinearRegressor huber lbfgs": Trainer(
            lambda k: _ours(
                ctx, loss="huber", solver="lbfgs", max_iter=k, random_state=0
            ),
            32,
            search="doubling",
        ),
        "TorchLinearRegressor exact on contaminated y": Trainer(
            lambda k: _ours(ctx), epochs_attr=None
        ),
    }
    rows, _ = _to_accuracy(
        ctx, "to_accuracy_huber", X_train, y_dirty, X_test, y_test, optimum, trainers
    )
    heads = [
        headline(
            "to_accuracy_huber",
            "optimum test R2 (least squares on the clean targets)",
            optimum,
            f"target: test R2 >= {optimum - R2_TOLERANCE:.6f}",
        )
    ]
    ref = next(r for r in rows if r["reference"])
    for r in rows:
        if r is ref:
            continue
        value = r["median_s"] / ref["median_s"]
        reached = "reached" if r["reached_target"] else "did NOT reach"
        heads.append(
            headline(
                "to_accuracy_huber",
                f"{r['contender']} / HuberRegressor (time to target)",
                value,
                f"{reached} the target (R2 gap {r['r2_gap']:.1e}), {value:.2f}x "
                "the time of HuberRegressor",
            )
        )
    return rows, heads


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
    ours_name, highs_name = "TorchLinearRegressor quantile", "QuantileRegressor highs"
    for n, p in ctx.sizes["quantile"]:
        X, y = linear_data(n, p, seed=ctx.seed)
        y += np.random.default_rng(ctx.seed).standard_t(2, size=n)
        model = _ours(ctx, loss="quantile", quantile=QUANTILE)
        times = ctx.measure({ours_name: lambda: model.fit(X, y)})
        extra = {
            "n_iter": model.n_iter_,
            "optimality_gap": model.optimality_gap_,
        }
        if n <= ctx.sizes["quantile_in_process"]:
            ref = QuantileRegressor(quantile=QUANTILE, alpha=0.0, solver="highs")
            times.update(
                ctx.measure({highs_name: lambda: ref.fit(X, y)}, repeats=1, warmup=0)
            )
            relative = (_pinball(X, y, model) - _pinball(X, y, ref)) / _pinball(
                X, y, ref
            )
            extra["objective_vs_reference"] = relative
            rows.append(
                row(
                    "quantile",
                    highs_name,
                    times[highs_name],
                    n=n,
                    p=p,
                    ctx=ctx,
                    reference=True,
                )
            )
            value = ratio(times, highs_name, ours_name)
            heads.append(
                headline(
                    "quantile",
                    f"QuantileRegressor(highs) / ours, {n} x {p}",
                    value,
                    f"{_faster(value, 'ours', 'HiGHS')}; objective {relative:+.1e} "
                    f"relative to HiGHS's; certified gap {model.optimality_gap_:.1e} "
                    f"after {model.n_iter_} iterations",
                )
            )
        elif ctx.sizes["highs_limit_s"]:
            rows.extend(_quantile_fresh(ctx, n, p, times[ours_name], extra))
        rows.append(
            row("quantile", ours_name, times[ours_name], n=n, p=p, ctx=ctx, **extra)
        )
    return rows, heads


def _quantile_fresh(ctx, n, p, ours_times, extra):
    """The largest size: each contender's peak memory in a fresh process, HiGHS
    stopped after ``highs_limit_s``."""
    rows = []
    for name, key in [
        ("TorchLinearRegressor quantile (fresh process)", "quantile"),
        ("QuantileRegressor highs", "quantile_highs"),
    ]:
        limit = ctx.sizes["highs_limit_s"] if key == "quantile_highs" else 1800
        result = _memory_probe(ctx, key, n, p, limit)
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
            _memory_row(
                "quantile", name, result, n, p, ctx, reference=key == "quantile_highs"
            )
        )
        if key == "quantile":
            extra["peak_over_x"] = result["extra_over_x"]
    return rows


def huber(ctx):
    """Huber regression (HuberRegressor's objective, epsilon 1.35, no penalty)
    of targets with 5% outliers: the exact solver (Newton) against
    HuberRegressor at its defaults (L-BFGS-B; one run when it takes over 10 s).
    Objectives by scikit-learn's own Huber loss function; peak memory of each in
    a fresh process."""
    rows, heads = [], []
    n, p = ctx.sizes["huber"]
    X, y = _huber_data(n, p, ctx.seed)
    ours_name, ref_name = "TorchLinearRegressor huber", "HuberRegressor"
    model, ref = _ours(ctx, loss="huber"), HuberRegressor()
    times = ctx.measure({ours_name: lambda: model.fit(X, y)})
    times.update(ctx.measure({ref_name: lambda: ref.fit(X, y)}, repeats=1))
    ones = np.ones(n)
    theirs = _huber_loss_and_gradient(
        np.r_[ref.coef_, ref.intercept_, ref.scale_], X, y, 1.35, 0.0, ones
    )[0]
    mine = _huber_loss_and_gradient(
        np.r_[model.coef_, model.intercept_, model.scale_], X, y, 1.35, 0.0, ones
    )[0]
    peaks = {}
    for key in ("huber", "huber_sklearn"):
        result = _memory_probe(ctx, key, n, p)
        peaks[key] = result["extra_over_x"]
    rows.append(
        row(
            "huber",
            ref_name,
            times[ref_name],
            n=n,
            p=p,
            ctx=ctx,
            reference=True,
            n_iter=int(np.max(ref.n_iter_)),
            peak_over_x=peaks["huber_sklearn"],
        )
    )
    rows.append(
        row(
            "huber",
            ours_name,
            times[ours_name],
            n=n,
            p=p,
            ctx=ctx,
            n_iter=model.n_iter_,
            optimality_gap=model.optimality_gap_,
            objective_vs_reference=(mine - theirs) / theirs,
            peak_over_x=peaks["huber"],
        )
    )
    value = ratio(times, ref_name, ours_name)
    heads.append(
        headline(
            "huber",
            f"HuberRegressor / ours, {n} x {p}",
            value,
            f"{_faster(value, 'ours', 'HuberRegressor')}; objective "
            f"{(mine - theirs) / theirs:+.1e} relative to HuberRegressor's; "
            f"certified gap {model.optimality_gap_:.1e} after {model.n_iter_} "
            f"Newton steps; peak memory {peaks['huber']:.2f}x X "
            f"(HuberRegressor {peaks['huber_sklearn']:.2f}x)",
        )
    )
    return rows, heads


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


def memory_exact(ctx):
    """Peak RSS of an exact fit on 1 000 000 x 100 float64, each contender in a
    fresh subprocess, as a multiple of the size of X."""
    contenders = {
        OURS: "ours",
        "LinearRegression": "LinearRegression",
        "Ridge": "Ridge",
        FLOOR: "floor",
    }
    return _memory("memory_exact", ctx, contenders, reference="LinearRegression")


def memory_gradient(ctx):
    """Peak RSS of two epochs of the gradient solvers (Adam, L-BFGS) on the data
    of memory_exact, each in a fresh subprocess, as a multiple of the size of X:
    the standardized copy on the device (here the host) is the floor."""
    contenders = {
        "TorchLinearRegressor adam": "adam",
        "TorchLinearRegressor lbfgs": "lbfgs",
        OURS: "ours",
    }
    return _memory("memory_gradient", ctx, contenders, reference=OURS)


def _memory(workload, ctx, contenders, *, reference):
    n, p = ctx.sizes["memory"]
    rows, results = [], {}
    for name, key in contenders.items():
        result = results[name] = _memory_probe(ctx, key, n, p)
        rows.append(_memory_row(workload, name, result, n, p, ctx, reference))
        ctx.log(f"  {name}: peak {result.get('extra_over_x', float('nan')):.2f} x X")
    heads = [
        headline(
            workload,
            f"peak RSS above baseline / size of X: {name}",
            results[name]["extra_over_x"],
            f"{results[name]['extra_bytes'] / 2**20:.0f} MiB for "
            f"{results[name]['x_bytes'] / 2**20:.0f} MiB of X",
        )
        for name in contenders
    ]
    return rows, heads


def _memory_probe(ctx, key, n, p, timeout=1800):
    """The result of ``benchmarks._memory`` for contender ``key`` in a fresh
    process; None when it ran out of ``timeout`` seconds."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._memory", key, str(n), str(p)]
            + [ctx.device],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {key} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _memory_row(workload, name, result, n, p, ctx, reference):
    note = (
        f"peak {result['extra_bytes'] / 2**20:.0f} MiB above the RSS with X "
        f"({result['x_bytes'] / 2**20:.0f} MiB) in memory; one run"
    )
    if not result["peak_exceeded_baseline_peak"]:
        note += "; the fit did not exceed the earlier peak (upper bound)"
    if "gpu_peak_bytes" in result:
        note += f"; GPU peak {result['gpu_peak_bytes'] / 2**20:.0f} MiB"
    return row(
        workload,
        name,
        [result["seconds"]],
        n=n,
        p=p,
        ctx=ctx,
        reference=name == reference,
        peak_over_x=result.get("extra_over_x"),
        note=note,
    )


DASK_MODES = {
    "exact-threads": "TorchLinearRegressor exact, Dask threads (one process)",
    "exact-cluster": "TorchLinearRegressor exact, LocalCluster (2 workers)",
    "exact-memory": "TorchLinearRegressor exact, in memory (files read first)",
    "quantile-cluster": "TorchLinearRegressor median, LocalCluster (2 workers)",
    "quantile-memory": "TorchLinearRegressor median, in memory (files read first)",
}


def dask_parquet(ctx):
    """Exact least squares and median regression of a parquet data set written
    to disk (full mode: 10 million rows x 20 columns, 1.6 GB of float64, in 40
    files), read by dask.dataframe: on a LocalCluster of two worker processes
    against Dask's threaded scheduler in one process, and the in-memory fits of
    the same rows (read first, not timed). Each fit runs once in a fresh
    process, with its peak memory above its baseline (on the cluster, the
    client's)."""
    import tempfile

    n, p, n_files = ctx.sizes["dask"]
    rows, heads, results = [], [], {}
    with tempfile.TemporaryDirectory(prefix="sktorch-linear-parquet-") as folder:
        data_bytes = _write_parquet(Path(folder), n, p, n_files, ctx.seed)
        for mode, name in DASK_MODES.items():
            ctx.log(f"  {name}")
            results[mode] = _dask_probe(mode, folder)
    reference = results["exact-threads"]
    for mode, name in DASK_MODES.items():
        result = results[mode]
        extra = {
            "rows_per_s": n / result["seconds"],
            "peak_over_x": result["extra_bytes"] / data_bytes,
            "n_iter": result["n_iter"],
            "note": f"peak {result['extra_bytes'] / 2**20:.0f} MiB above baseline "
            f"({'client' if mode.endswith('cluster') else 'whole process'}) for "
            f"{data_bytes / 2**20:.0f} MiB of data; one run",
        }
        if mode.startswith("exact"):
            extra["max_abs_diff"] = max_abs_diff(result["coef"], reference["coef"])
            extra["diff_of"] = "coefficients against the one-process fit"
        else:
            extra["optimality_gap"] = result["optimality_gap"]
        rows.append(
            row(
                "dask_parquet",
                name,
                [result["seconds"]],
                n=n,
                p=p,
                ctx=ctx,
                reference=mode == "exact-threads",
                **extra,
            )
        )
    cluster = results["exact-cluster"]
    heads.append(
        headline(
            "dask_parquet",
            f"exact fit rows per second, LocalCluster, {n} x {p} parquet",
            n / cluster["seconds"],
            f"{cluster['seconds'] / reference['seconds']:.2f}x the time of one "
            f"process with Dask threads; client peak "
            f"{cluster['extra_bytes'] / 2**20:.0f} MiB for "
            f"{data_bytes / 2**20:.0f} MiB of data",
        )
    )
    median, in_memory = results["quantile-cluster"], results["quantile-memory"]
    heads.append(
        headline(
            "dask_parquet",
            f"median regression seconds, LocalCluster, {n} x {p} parquet",
            median["seconds"],
            f"{median['seconds'] / in_memory['seconds']:.2f}x the in-memory fit; "
            f"{median['n_iter']} interior-point iterations, certified gap "
            f"{median['optimality_gap']:.1e}; client peak "
            f"{median['extra_bytes'] / 2**20:.0f} MiB",
        )
    )
    return rows, heads


def _write_parquet(folder, n, p, n_files, seed):
    """Write ``n`` rows of ``p`` features and ``y`` (Student-t noise, 2
    degrees of freedom) in ``n_files`` parquet files, one at a time; the bytes
    of the float64 data."""
    import pandas as pd

    coef = np.random.default_rng(seed).normal(size=p)
    for index, rows in enumerate(np.array_split(np.arange(n), n_files)):
        rng = np.random.default_rng([seed, index])
        X = rng.normal(size=(len(rows), p))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame["y"] = X @ coef + 1.0 + rng.standard_t(2, size=len(rows))
        frame.to_parquet(folder / f"part-{index:04d}.parquet", index=False)
    return n * (p + 1) * 8


def _dask_probe(mode, folder, timeout=3600):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._dask_probe", mode, str(folder)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"Dask probe {mode} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Workload:
    name: str
    function: object
    uses: tuple = ()

    @property
    def description(self):
        return " ".join(self.function.__doc__.split())


WORKLOADS = [
    Workload("exact_diabetes", exact_diabetes),
    Workload("exact_vs_n", exact_vs_n),
    Workload("exact_tall", exact_tall, ("tall",)),
    Workload("partial_fit", partial_fit, ("tall",)),
    Workload("exact_costs", exact_costs, ("tall",)),
    Workload("predict_batch", predict_batch, ("tall",)),
    Workload("predict_one_row", predict_one_row, ("tall",)),
    Workload("exact_wide", exact_wide),
    Workload("exact_ill_conditioned", exact_ill_conditioned),
    Workload("adam_epoch", adam_epoch),
    Workload("to_accuracy", to_accuracy),
    Workload("to_accuracy_huber", to_accuracy_huber),
    Workload("quantile", quantile),
    Workload("huber", huber),
    Workload("defaults", defaults),
    Workload("memory_exact", memory_exact),
    Workload("memory_gradient", memory_gradient),
    Workload("dask_parquet", dask_parquet),
]
