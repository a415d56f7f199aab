"""The cells of the certification matrix, one fit each, recorded target by
target against the independent minimum (:mod:`.references`), and the rules a
record must keep (:func:`violations`).

A cell is a family of data × solver × loss × penalty × input. Every fit runs
with ``RuntimeWarning`` and warnings raised from other packages' modules as
errors (a fit that raises one is recorded as failed). For each target:

- ``true_gap``: ``(F - F*) / max(F*, floor)`` of the objective ``F`` at the
  fit's coefficients (and scale) against the independent minimum ``F*``;
- ``reported``: the fit's ``optimality_gap_`` for that target;
- ``warned``: whether a ``ConvergenceWarning`` was raised.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers import route

from . import references
from .families import FAMILIES

SOLVERS = ("exact", "lbfgs", "adam", "sgd")
LOSSES = ("squared_error", "huber", "absolute_error", "quantile")
PENALTIES = {
    "none": {"alpha": 0.0},
    "ridge": {"alpha": 0.05, "l1_ratio": 0.0},
    "lasso": {"alpha": 0.05, "l1_ratio": 1.0},
    "elastic_net": {"alpha": 0.05, "l1_ratio": 0.5},
}
QUANTILE = 0.8
INPUTS = ("dense", "csr", "partial_fit", "dask")
TOL = 1e-4  # the default


@dataclass
class Record:
    family: str
    solver: str
    loss: str
    penalty: str
    input: str
    target: int = 0
    true_gap: float = np.nan
    reported: float = np.nan
    warned: bool = False
    reference: str = ""
    seconds: float = 0.0
    error: str = ""


def _params(family, solver, loss, penalty):
    params = {"loss": loss, "solver": solver, "device": "cpu", "random_state": 0}
    params.update(PENALTIES[penalty])
    if loss == "quantile":
        params["quantile"] = QUANTILE
    params.update(family.params)
    return params


def served(family, solver, loss, penalty, input="dense"):
    """Whether the package serves the cell (the policy refuses the others
    with an error, checked elsewhere)."""
    if solver != "exact" and not family.gradient:
        return False
    if family.losses is not None and loss not in family.losses:
        return False
    if input == "partial_fit" and not (solver == "exact" and loss == "squared_error"):
        return False
    if input == "dask" and solver == "lbfgs":
        return False
    params = TorchLinearRegressor(**_params(family, solver, loss, penalty)).get_params()
    try:
        route(params, streaming=input == "partial_fit", dask=input == "dask")
    except ValueError:
        return False
    return True


def _as_input(X, y, w, input):
    if input == "csr":
        return scipy.sparse.csr_matrix(X), y, w
    if input == "dask":
        import dask.array as da

        rows = max(len(y) // 3, 1)
        X = da.from_array(np.ascontiguousarray(X), chunks=(rows, -1))
        y = da.from_array(np.ascontiguousarray(y), chunks=rows)
        w = None if w is None else da.from_array(np.ascontiguousarray(w), chunks=rows)
    return X, y, w


def _fit(reg, X, y, w, input):
    if input != "partial_fit":
        return reg.fit(X, y, sample_weight=w)
    for rows in np.array_split(np.arange(len(y)), min(7, len(y))):
        chunk = X[rows] if not hasattr(X, "iloc") else X.iloc[rows]
        yk = y[rows] if not hasattr(y, "iloc") else y.iloc[rows]
        reg.partial_fit(chunk, yk, sample_weight=None if w is None else w[rows])
    return reg


def run_cell(family_name, solver, loss, penalty, input="dense", seed=0, cache=None):
    """The records (one per target) of one cell."""
    family = FAMILIES[family_name]
    X, y, w = family.data(seed)
    params = _params(family, solver, loss, penalty)
    base = Record(family_name, solver, loss, penalty, input)
    Xi, yi, wi = _as_input(X, y, w, input)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        for module in ("numpy", "scipy", "torch", "skorch", "sklearn", "dask"):
            warnings.filterwarnings("error", module=module + r"\.")
        try:
            reg = _fit(TorchLinearRegressor(**params), Xi, yi, wi, input)
        except Exception as error:  # recorded: a fit must not fail
            base.error = f"{type(error).__name__}: {error}"[:300]
            base.seconds = time.perf_counter() - start
            return [base]
    base.seconds = time.perf_counter() - start
    base.warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    others = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    if others:
        base.error = f"warning: {others[0].category.__name__}: {others[0].message}"
    return _measure(base, reg, X, y, w, params, cache)


def _measure(base, reg, X, y, w, params, cache):
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    coef = np.atleast_2d(reg.coef_)
    intercept = np.broadcast_to(np.asarray(reg.intercept_, float), (Y.shape[1],))
    scale = None if params["loss"] != "huber" else np.atleast_1d(reg.scale_)
    reported = np.broadcast_to(
        np.asarray(
            np.nan if reg.optimality_gap_ is None else reg.optimality_gap_, float
        ),
        (Y.shape[1],),
    )
    Xd = X.toarray() if scipy.sparse.issparse(X) else np.asarray(X, dtype=float)
    records = []
    for k in range(Y.shape[1]):
        record = Record(**{**base.__dict__, "target": k})
        problem = references.Problem.of(X, Y[:, k], w, params)
        penalties = problem.penalties(
            params["loss"], params.get("alpha", 0.0), params.get("l1_ratio", 0.0)
        )
        key = (base.family, params["loss"], base.penalty, k)
        if cache is not None and key in cache:
            best, record.reference = cache[key]
        else:
            try:
                best, record.reference = references.minimum(
                    problem, params["loss"], penalties, QUANTILE
                )
            except RuntimeError as error:  # recorded: the matrix shows it
                best, record.reference = np.nan, f"failed: {error}"
            if cache is not None:
                cache[key] = best, record.reference
        wk, bk = problem.standardized(coef[k], intercept[k])
        residual = (Y[:, k] - Xd @ coef[k] - intercept[k]) / problem.y_scale
        value = references.objective(
            problem,
            params["loss"],
            penalties,
            wk,
            bk,
            residual=residual,
            quantile=QUANTILE,
            scale=None if scale is None else scale[k] / problem.y_scale,
        )
        bottom = references.floor(problem, params["loss"], QUANTILE)
        record.true_gap = max(value - best, 0.0) / max(best, bottom)
        record.reported = float(reported[k])
        records.append(record)
    return records


def violations(record, tol=TOL):
    """The rules ``record`` breaks (an empty list when it keeps them all):

    - no error, no escaped warning;
    - no silent miss: a true gap above ``tol`` is warned;
    - no needless warning from the exact solver: a warning with a true gap
      at most ``tol / 10`` (the gradient solvers are held to a share, see
      :func:`needless_share`);
    - the reported gap is finite, and lies between the true gap and 10x it
      when either exceeds ``tol / 100``.
    """
    if record.error:
        return [f"error: {record.error}"]
    if record.reference.startswith("failed"):
        return [f"reference {record.reference}"]
    broken = []
    if record.true_gap > tol and not record.warned:
        broken.append("silent miss")
    if record.solver == "exact" and record.warned and record.true_gap <= tol / 10:
        broken.append("needless warning")
    reported, true = record.reported, record.true_gap
    if not np.isfinite(reported):
        broken.append("reported gap not finite")
    elif max(reported, true) > tol / 100 and not within(reported, true):
        broken.append("reported gap off the true gap")
    return broken


def within(reported, true):
    """Whether ``reported`` lies between ``true`` (to the accuracy of the
    reference minimum: 1e-3 relative, 1e-7 absolute) and 10 times it."""
    return true <= reported * (1 + 1e-3) + 1e-7 and reported <= 10 * true


def needless(record, tol=TOL):
    """A warning while the true gap is at most ``tol / 10``."""
    return record.warned and not record.error and record.true_gap <= tol / 10


def cells(families, inputs=("dense",)):
    """Every served cell of ``families``: (family, solver, loss, penalty,
    input)."""
    for name in families:
        for input in inputs:
            for solver in SOLVERS:
                for loss in LOSSES:
                    for penalty in PENALTIES:
                        family = FAMILIES[name]
                        if served(family, solver, loss, penalty, input):
                            yield name, solver, loss, penalty, input
