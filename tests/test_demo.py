"""The command-line demo."""

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_and_agrees_with_linear_regression():
    """Check that ``python -m sktorch_linear demo`` succeeds and reports the exact
    solver agreeing with LinearRegression, Adam converged to its training
    objective, and an identical reloaded model."""
    result = subprocess.run(
        [sys.executable, "-m", "sktorch_linear", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    exact_rows = re.findall(
        r"TorchLinearRegressor exact\s+(\S+)\s+\S+ms\s+(\S+)\s+(\S+)", out
    )
    assert len(exact_rows) == 2  # diabetes and the synthetic data set
    for _, mse_gap, coef_diff in exact_rows:
        assert abs(float(mse_gap)) < 1e-12
        assert float(coef_diff) < 1e-8
    adam = re.search(r"TorchLinearRegressor adam\s+\S+\s+\S+ms\s+(\S+)", out)
    assert 0 <= float(adam.group(1)) < 1e-6  # a converged fit
    assert "Pipeline(SimpleImputer, TorchLinearRegressor)" in out
    assert "GridSearchCV" in out
    tuned = re.search(r"largest difference of a mean score (\S+)", out)
    assert float(tuned.group(1)) < 1e-10  # TorchLinearRegressorCV's = GridSearchCV's
    assert "predictions identical after reloading" in out


def test_unknown_command_is_refused():
    """Check that an unknown command exits with a usage error."""
    result = subprocess.run(
        [sys.executable, "-m", "sktorch_linear", "nonsense"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
