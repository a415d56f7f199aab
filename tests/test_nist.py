"""Certified accuracy: NIST StRD linear least squares, through fit on dense and
CSR data and through partial_fit, on any BLAS kernels and thread counts."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from nist import (
    DATASETS,
    GRADIENT_SOLVERS,
    PATHS,
    certified_digits,
    coefficients,
    data_limit,
    exact_solution,
    fit,
    gradient_fit,
    load,
    log_relative_error,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from sktorch_linear import TorchLinearRegressor

# Correct digits every set must reach through each path; a set whose float64
# data allow fewer (Filip: 7.6) must reach that limit.
REQUIRED_DIGITS = {"fit": 10, "csr": 7, "partial_fit": 7}
# Digits of the solution of the float64 data as given, by path. partial_fit
# refines against cross-products in twice the working precision, which keep
# about (cond * eps)**2 of it: 1.6e-13 for Filip (cond 3.8e9).
DATA_DIGITS = {"fit": 13.5, "csr": 13.5, "partial_fit": 12.5}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", DATASETS)
def test_certified_digits(name, path):
    """Check that every path reaches the required certified digits, or all the
    digits the float64 data allow, without a warning."""
    assert certified_digits(name, path) >= min(
        REQUIRED_DIGITS[path], data_limit(name) - 0.1
    )


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", DATASETS)
def test_solution_of_the_data_as_given(name, path):
    """Check that every path returns the least-squares solution of the float64
    data, as exact rational arithmetic gives it, to the digits of
    ``DATA_DIGITS``."""
    fitted = coefficients(fit(name, path), name)
    assert log_relative_error(fitted, exact_solution(name)) >= DATA_DIGITS[path]


@pytest.mark.parametrize("path", PATHS)
def test_never_below_linear_regression(path):
    """Check that no path is more than half a digit below LinearRegression on
    any set."""
    for name in DATASETS:
        reference = coefficients(fit(name, "fit", LinearRegression()), name)
        theirs = log_relative_error(reference, DATASETS[name]["certified_coef"])
        assert certified_digits(name, path) >= theirs - 0.5, name


def _blas_variants():
    """OpenBLAS core types this CPU can run (by the instruction sets they need),
    with two threads and one, then torch's MKL and vector kernels restricted to
    AVX2."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    needs = {
        "Prescott": {"pni"},
        "Haswell": {"avx2", "fma"},
        "SkylakeX": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"},
    }
    cores = [core for core, need in needs.items() if need <= flags]
    variants = [{"OPENBLAS_CORETYPE": core, "threads": "2"} for core in cores]
    variants += [{"OPENBLAS_CORETYPE": core, "threads": "1"} for core in cores]
    if "avx2" in flags:
        variants.append(
            {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
        )
    return variants


def _run_under(variant):
    """Coefficients of every set and path, and the OpenBLAS kernels, from a fresh
    process with the variant's environment."""
    env = dict(os.environ)
    for name, value in variant.items():
        keys = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]
        for key in keys if name == "threads" else [name]:
            env[key] = value
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "nist.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.mark.slow
def test_digits_do_not_depend_on_blas_kernels():
    """Check that in fresh processes under three OpenBLAS core types, with one
    and two threads, and with torch's MKL and vector kernels restricted to AVX2,
    every path gives every set the same certified digits, and the solution of the
    data as given to the digits of ``DATA_DIGITS``."""
    variants = _blas_variants()
    if sum("OPENBLAS_CORETYPE" in variant for variant in variants) < 3:
        pytest.skip("this CPU runs fewer than three OpenBLAS core types")
    runs = [(variant, _run_under(variant)) for variant in variants]
    kernels = {
        tuple(run["kernels"]) for variant, run in runs if "OPENBLAS_CORETYPE" in variant
    }
    assert len(kernels) >= 3, kernels  # the core types took effect
    reference = runs[0][1]["results"]
    for variant, run in runs[1:]:
        for name, paths in run["results"].items():
            certified = DATASETS[name]["certified_coef"]
            for path, coef in paths.items():
                expected = reference[name][path]
                assert round(log_relative_error(coef, certified), 1) == round(
                    log_relative_error(expected, certified), 1
                ), (variant, name, path)
                digits = log_relative_error(coef, exact_solution(name))
                assert digits >= DATA_DIGITS[path], (variant, name, path)


@pytest.mark.parametrize("loss", ["huber", "quantile"])
def test_exact_robust_solvers_on_filip_give_advice_that_helps(loss):
    """Check that the exact Huber and quantile solvers, which stop far from the
    minimum on Filip's powers of one variable (collinear within the rounding
    of their Gram matrices), warn with advice that helps: not more iterations,
    but a less collinear basis, on which they certify the minimum."""
    X, y = load("Filip")
    with pytest.warns(ConvergenceWarning, match="Legendre") as record:
        TorchLinearRegressor(device="cpu", solver="exact", loss=loss).fit(X, y)
    assert "Increase max_iter" not in str(record[-1].message)
    x = X[:, 0]
    t = (2 * x - x.max() - x.min()) / (x.max() - x.min())
    legendre = np.polynomial.legendre.legvander(t, X.shape[1])[:, 1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", solver="exact", loss=loss)
        reg.fit(legendre, y)
    assert reg.optimality_gap_ <= 1e-12


@pytest.mark.parametrize("solver", GRADIENT_SOLVERS)
@pytest.mark.parametrize("name", DATASETS)
def test_gradient_solvers_are_never_silently_short(name, solver):
    """Check that a gradient fit at default settings either warns or has a
    least-squares objective within tol of the exact minimum (relative); on
    Filip, whose columns training cannot resolve, every solver warns."""
    reg, warned, excess = gradient_fit(name, solver)
    assert warned or excess <= reg.tol * (1 + 1e-6), excess
    if name == "Filip":
        assert warned
