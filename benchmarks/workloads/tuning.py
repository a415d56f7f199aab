"""Tuning the penalty by cross-validation: TorchLinearRegressorCV against
scikit-learn's searches over the same folds and candidates, with the choice
each makes."""

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, ElasticNetCV, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold

from sktorch_linear import TorchLinearRegressorCV

from .._common import QUANTILE, linear_data
from ._context import regressor
from ._rows import faster, headline, ratio, row

N_ALPHAS = 30
# Strengths of the robust losses' L1 penalty tried (cv_quantile, cv_huber).
N_ROBUST_ALPHAS = 10
L1_RATIOS = [0.1, 0.5, 1.0]
FOLDS = 5
OURS_CV = "TorchLinearRegressorCV"


def _ours(ctx, **params):
    return TorchLinearRegressorCV(device=ctx.device, **params)


def _choice(search):
    """``(alpha, l1_ratio)`` chosen by any of the searches, in ``alpha``'s
    units of ElasticNet (ours with ``standardize=False``)."""
    if isinstance(search, GridSearchCV):
        params = search.best_params_
        return params["alpha"], params.get("l1_ratio", 0.0)
    return search.alpha_, getattr(search, "l1_ratio_", 0.0)


def _timed(ctx, calls, heavy):
    """Times of ``calls``; the ``heavy`` ones (minutes each) once, cold."""
    light = {name: call for name, call in calls.items() if name not in heavy}
    times = ctx.measure(light)
    for name in heavy:
        times.update(ctx.measure({name: calls[name]}, repeats=1, warmup=0))
    return times


def _search_rows(workload, ctx, X, calls, times, fitted, reference):
    return [
        row(
            workload,
            name,
            times[name],
            n=X.shape[0],
            p=X.shape[1],
            ctx=ctx,
            reference=name == reference,
            note="alpha {:.6g}, l1_ratio {:g}".format(*_choice(fitted[name])),
        )
        for name in calls
    ]


def _fitting(fitted, name, search, X, y):
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ElasticNet's unconverged folds
            fitted[name] = search().fit(X, y)

    return call


def cv_tall(ctx):
    """5-fold cross-validation of 30 strengths x 3 mixes (0.1, 0.5, 1) of the
    elastic net on the tall data (1 000 000 x 100): ours against ElasticNetCV
    and GridSearchCV(ElasticNet) over the same candidates, and of 30 ridge
    strengths against RidgeCV(cv=5) (same folds, alphas mapped: RidgeCV's is
    ours times the training rows); ours without standardizing, so that every
    alpha is ElasticNet's."""
    X, y = ctx.tall()
    folds = KFold(FOLDS, shuffle=True, random_state=ctx.seed)
    grid = {"alphas": N_ALPHAS, "cv": folds, "standardize": False}
    ridge_alphas = _ours(ctx, l1_ratio=0.0, **grid).fit(X, y).alphas_[0]
    candidates = _ours(ctx, l1_ratio=L1_RATIOS, **grid).fit(X, y).cv_results_["params"]
    n_train = X.shape[0] - X.shape[0] // FOLDS
    searches = {
        OURS_CV: lambda: _ours(ctx, l1_ratio=L1_RATIOS, **grid),
        "ElasticNetCV": lambda: ElasticNetCV(
            alphas=N_ALPHAS, l1_ratio=L1_RATIOS, cv=folds
        ),
        "GridSearchCV(ElasticNet)": lambda: GridSearchCV(
            ElasticNet(),
            [{name: [value] for name, value in c.items()} for c in candidates],
            cv=folds,
        ),
        f"{OURS_CV} ridge": lambda: _ours(ctx, l1_ratio=0.0, **grid),
        "RidgeCV(cv=5)": lambda: RidgeCV(alphas=ridge_alphas * n_train, cv=folds),
    }
    fitted = {}
    calls = {name: _fitting(fitted, name, s, X, y) for name, s in searches.items()}
    heavy = ("GridSearchCV(ElasticNet)", "RidgeCV(cv=5)")
    times = _timed(ctx, calls, heavy)
    rows = _search_rows("cv_tall", ctx, X, calls, times, fitted, "ElasticNetCV")
    heads = []
    for peer, ours in [
        ("GridSearchCV(ElasticNet)", OURS_CV),
        ("ElasticNetCV", OURS_CV),
        ("RidgeCV(cv=5)", f"{OURS_CV} ridge"),
    ]:
        value = ratio(times, peer, ours)
        units = n_train if peer.startswith("RidgeCV") else 1  # RidgeCV's alpha
        ours_alpha = _choice(fitted[ours])[0] * units
        same = np.isclose(_choice(fitted[peer])[0], ours_alpha, rtol=1e-8)
        heads.append(
            headline(
                "cv_tall",
                f"{peer} / ours, 5 folds on the tall data",
                value,
                faster(value, ours, peer)
                + (", the same choice" if same else ", a different choice"),
            )
        )
    return rows, heads


def cv_diabetes(ctx):
    """5-fold cross-validation of 30 strengths x 3 mixes on diabetes (442 x
    10): ours against GridSearchCV over TorchLinearRegressor with the same
    candidates and folds."""
    X, y = load_diabetes(return_X_y=True)
    folds = KFold(FOLDS, shuffle=True, random_state=ctx.seed)
    ours = _ours(ctx, alphas=N_ALPHAS, l1_ratio=L1_RATIOS, cv=folds)
    candidates = ours.fit(X, y).cv_results_["params"]
    searches = {
        OURS_CV: lambda: _ours(ctx, alphas=N_ALPHAS, l1_ratio=L1_RATIOS, cv=folds),
        "GridSearchCV(TorchLinearRegressor)": lambda: GridSearchCV(
            regressor(ctx),
            [{name: [value] for name, value in c.items()} for c in candidates],
            cv=folds,
        ),
    }
    fitted = {}
    calls = {name: _fitting(fitted, name, s, X, y) for name, s in searches.items()}
    times = ctx.measure(calls)
    reference = "GridSearchCV(TorchLinearRegressor)"
    rows = _search_rows("cv_diabetes", ctx, X, calls, times, fitted, reference)
    value = ratio(times, reference, OURS_CV)
    same = _choice(fitted[reference]) == _choice(fitted[OURS_CV])
    head = headline(
        "cv_diabetes",
        "GridSearchCV(TorchLinearRegressor) / ours, 5 folds x 90 candidates",
        value,
        faster(value, OURS_CV, reference)
        + (", the same choice" if same else ", a different choice"),
    )
    return rows, [head]


def cv_quantile(ctx):
    """5-fold cross-validation of 10 L1 strengths (the automatic grid) of the
    0.9 quantile's loss, on 20 000 x 50 with heavy-tailed noise (Student t, 2
    degrees of freedom, as the quantile workload's): ours against
    GridSearchCV over TorchLinearRegressor(loss="quantile") with the same
    candidates and folds."""
    n, p = ctx.sizes["cv_robust"]
    X, y = linear_data(n, p, seed=ctx.seed)
    y += np.random.default_rng(ctx.seed).standard_t(2, size=n)
    params = {"loss": "quantile", "quantile": QUANTILE}
    return _robust_search(ctx, "cv_quantile", "quantile", X, y, params)


def cv_huber(ctx):
    """The same for Huber's loss (epsilon 1.35, with its scale) on 20 000 x
    50 with 5% outliers of 10 to 20 standard deviations of the noise."""
    n, p = ctx.sizes["cv_robust"]
    X, y = linear_data(n, p, seed=ctx.seed)
    rng = np.random.default_rng(ctx.seed)
    rows = rng.uniform(size=n) < 0.05
    y[rows] += rng.uniform(10, 20, rows.sum()) * rng.choice([-1, 1], rows.sum())
    return _robust_search(ctx, "cv_huber", "huber", X, y, {"loss": "huber"})


def _robust_search(ctx, workload, label, X, y, params):
    """Ours against GridSearchCV over TorchLinearRegressor(**params): 5 folds
    x 10 L1 strengths, the rows and the headline."""
    folds = KFold(FOLDS, shuffle=True, random_state=ctx.seed)
    grid = {"alphas": N_ROBUST_ALPHAS, "l1_ratio": 1.0, "cv": folds}
    candidates = _ours(ctx, **grid, **params).fit(X, y).cv_results_["params"]
    reference = f"GridSearchCV(TorchLinearRegressor {label})"
    searches = {
        OURS_CV: lambda: _ours(ctx, **grid, **params),
        reference: lambda: GridSearchCV(
            regressor(ctx, **params),
            [{name: [value] for name, value in c.items()} for c in candidates],
            cv=folds,
        ),
    }
    fitted = {}
    calls = {name: _fitting(fitted, name, s, X, y) for name, s in searches.items()}
    times = ctx.measure(calls)  # (a search of about 10 s: 3 repeats)
    rows = _search_rows(workload, ctx, X, calls, times, fitted, reference)
    value = ratio(times, reference, OURS_CV)
    same = _choice(fitted[reference]) == _choice(fitted[OURS_CV])
    head = headline(
        workload,
        f"{reference} / ours, 5 folds x {N_ROBUST_ALPHAS} L1 strengths",
        value,
        faster(value, OURS_CV, reference)
        + (", the same choice" if same else ", a different choice"),
    )
    return rows, [head]
