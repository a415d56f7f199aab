"""NIST StRD linear least-squares data sets, and the three ways of fitting them
that the accuracy tests compare: ``fit`` on dense data, ``fit`` on CSR data and
``partial_fit`` over 10 chunks; the gradient solvers at default settings. The
accuracy tables of the documentation (``python -m benchmarks.accuracy_tables``)
use the same functions.

Run as a script, it prints as JSON the coefficients of every set and path and
the OpenBLAS kernels in use (the kernel-independence test runs it under other
BLAS kernels and thread counts).
"""

import json
import sys
import warnings
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning

from sktorch_linear import TorchLinearRegressor

DATASETS = json.loads(
    (Path(__file__).parent / "data" / "nist_strd_lls.json").read_text()
)["datasets"]
PATHS = ("fit", "csr", "partial_fit")
GRADIENT_SOLVERS = ("lbfgs", "adam", "sgd")
N_CHUNKS = 10


def load(name):
    data = DATASETS[name]
    X = np.array(data["X"], dtype=np.float64)
    return X.reshape(len(X), -1), np.array(data["y"], dtype=np.float64)


def log_relative_error(estimate, certified):
    """Correct significant digits of each value (absolute digits where the
    certified value is 0), capped at 15, as NIST defines the LRE; the minimum."""
    estimate, certified = np.asarray(estimate), np.asarray(certified)
    error = np.abs(estimate - certified)
    scale = np.where(certified != 0, np.abs(certified), 1.0)
    with np.errstate(divide="ignore"):
        digits = -np.log10(error / scale)
    return float(np.min(np.clip(digits, 0.0, 15.0)))


def coefficients(estimator, name):
    """The fitted coefficients in NIST's order (intercept first, if any)."""
    coef = np.atleast_1d(estimator.coef_)
    if DATASETS[name]["intercept"]:
        coef = np.r_[estimator.intercept_, coef]
    return coef


def fit(name, path, estimator=None):
    """Fit ``estimator`` (default: the exact solver on the CPU) to a set by one
    of ``PATHS`` and return it."""
    X, y = load(name)
    if estimator is None:
        estimator = TorchLinearRegressor(device="cpu")
    estimator.set_params(fit_intercept=DATASETS[name]["intercept"])
    if path == "fit":
        return estimator.fit(X, y)
    if path == "csr":
        return estimator.fit(sp.csr_array(X), y)
    for rows in np.array_split(np.arange(len(y)), min(N_CHUNKS, len(y))):
        estimator.partial_fit(X[rows], y[rows])
    return estimator


def certified_digits(name, path):
    """Certified digits of the exact solver's fit of a set by one of ``PATHS``;
    no warning may be raised on the way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = fit(name, path)
    return log_relative_error(
        coefficients(fitted, name), DATASETS[name]["certified_coef"]
    )


def gradient_fit(name, solver):
    """A gradient fit of a set at default settings (seeded), whether it warned,
    and the relative excess of its least-squares objective over the exact
    minimum (floored as the estimator floors it: 1e-12 of the objective at
    zero)."""
    X, y = load(name)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator = TorchLinearRegressor(device="cpu", solver=solver, random_state=0)
        reg = fit(name, "fit", estimator)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
    minimum = np.mean((y - fit(name, "fit").predict(X)) ** 2)
    zero = np.mean((y - y.mean()) ** 2) if DATASETS[name]["intercept"] else y @ y
    excess = np.mean((y - reg.predict(X)) ** 2) - minimum
    return reg, warned, excess / max(minimum, 1e-12 * zero)


@cache
def exact_solution(name):
    """The least-squares coefficients of the float64 data as given, in exact
    rational arithmetic (normal equations, Gaussian elimination): what the best
    float64 method can reach. NIST's certified values are those of the decimal
    data, which float64 rounds."""
    X, y = load(name)
    if DATASETS[name]["intercept"]:
        X = np.column_stack([np.ones(len(y)), X])
    rows = [[Fraction(v) for v in row] for row in X]
    target = [Fraction(v) for v in y]
    size = X.shape[1]
    system = [
        [sum(r[i] * r[j] for r in rows) for j in range(size)]
        + [sum(r[i] * t for r, t in zip(rows, target, strict=True))]
        for i in range(size)
    ]
    for col in range(size):
        pivot = next(r for r in range(col, size) if system[r][col] != 0)
        system[col], system[pivot] = system[pivot], system[col]
        for r in range(size):
            if r != col and system[r][col] != 0:
                factor = system[r][col] / system[col][col]
                system[r] = [a - factor * b for a, b in zip(system[r], system[col])]
    return np.array([float(system[i][-1] / system[i][i]) for i in range(size)])


def data_limit(name):
    """Correct digits of the exact solution of the float64 data."""
    return log_relative_error(exact_solution(name), DATASETS[name]["certified_coef"])


if __name__ == "__main__":
    results = {
        name: {path: coefficients(fit(name, path), name).tolist() for path in PATHS}
        for name in DATASETS
    }
    kernels = {
        info.get("architecture")
        for info in threadpoolctl.threadpool_info()
        if info["internal_api"] == "openblas"
    }
    json.dump({"results": results, "kernels": sorted(kernels)}, sys.stdout)
