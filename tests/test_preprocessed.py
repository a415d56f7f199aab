"""Quantile fits of many rows by Portnoy and Koenker's preprocessing (a
subsample's minimiser, then a small programme near its fit) against HiGHS:
the minimiser of all the rows, certified, weighted or not, dense or sparse,
with or without an L1 penalty, and when the subsample's fit is too far."""

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
from numpy.testing import assert_allclose
from sklearn.linear_model import QuantileRegressor

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers import preprocessed, robust_path

N, P = 8_000, 8


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P)) * rng.uniform(0.5, 3, P)
    y = X @ rng.normal(size=P) + 2 + (1 + np.abs(X[:, 0])) * rng.standard_t(2, N)
    return X, y, rng.uniform(0.2, 3, N)


def _highs(X, y, q, weight):
    """The weighted quantile's minimiser (intercept first) by HiGHS."""
    n = len(y)
    design = scipy.sparse.csr_matrix(np.c_[np.ones(n), X])
    identity = scipy.sparse.identity(n, format="csr")
    k = design.shape[1]
    result = scipy.optimize.linprog(
        np.r_[np.zeros(k), q * weight, (1 - q) * weight],
        A_eq=scipy.sparse.hstack([design, identity, -identity], format="csr"),
        b_eq=y,
        bounds=[(None, None)] * k + [(0, None)] * (2 * n),
        method="highs-ipm",  # (with its crossover: a vertex, 10x sooner here)
    )
    assert result.status == 0
    return result.x[:k]


@pytest.fixture
def calls(monkeypatch):
    """The small programmes solved (their first band's size)."""
    seen = []
    original = robust_path.solve_near

    def spy(*args, **kwargs):
        seen.append(kwargs.get("size"))
        return original(*args, **kwargs)

    monkeypatch.setattr(preprocessed, "solve_near", spy)
    return seen


@pytest.mark.parametrize(
    "q, weighted, sparse",
    [(0.1, False, False), (0.5, True, False), (0.93, True, True), (0.93, False, True)],
)
def test_minimiser_of_all_rows(calls, q, weighted, sparse):
    """Check that the preprocessed fit is HiGHS's minimiser of every row to
    1e-9, with a certified gap below 1e-10."""
    X, y, weight = _data()
    weight = weight if weighted else np.ones(N)
    reg = TorchLinearRegressor(loss="quantile", quantile=q, alpha=0, device="cpu")
    reg.fit(scipy.sparse.csr_matrix(X) if sparse else X, y, sample_weight=weight)
    assert calls, "the preprocessed path was not taken"
    expected = _highs(X, y, q, weight)
    got = np.r_[reg.intercept_, reg.coef_]
    assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    assert reg.optimality_gap_ <= 1e-10


def test_l1_penalty_and_several_quantiles(calls):
    """Check an L1 penalty against QuantileRegressor(solver="highs") (ours
    without standardizing), two quantiles at once, to 1e-8."""
    X, y, _ = _data(1)
    quantiles = [0.25, 0.8]
    reg = TorchLinearRegressor(
        loss="quantile",
        quantile=quantiles,
        alpha=0.01,
        l1_ratio=1.0,
        standardize=False,
        device="cpu",
    ).fit(X, y)
    assert len(calls) == 2
    for k, q in enumerate(quantiles):
        ref = QuantileRegressor(quantile=q, alpha=0.01, solver="highs").fit(X, y)
        assert_allclose(reg.coef_[k], ref.coef_, rtol=1e-8, atol=1e-8)
        assert reg.intercept_[k] == pytest.approx(ref.intercept_, rel=1e-8)
    assert np.max(reg.optimality_gap_) <= 1e-9


def test_a_subsample_too_small_still_gives_the_minimiser(calls, monkeypatch):
    """Check that a subsample of 30 rows, whose fit is far from the minimiser
    (its small programme finds many rows on the wrong side and takes every
    row), still ends at HiGHS's minimiser."""
    monkeypatch.setattr(preprocessed, "_subsample_size", lambda n, p: 30)
    X, y, _ = _data(2)
    reg = TorchLinearRegressor(loss="quantile", quantile=0.7, alpha=0, device="cpu")
    reg.fit(X, y)
    assert calls == [30]
    expected = _highs(X, y, 0.7, np.ones(N))
    got = np.r_[reg.intercept_, reg.coef_]
    assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_small_data_are_not_preprocessed(calls):
    """Check that fewer rows than 5 000 go to the interior-point method
    directly."""
    X, y, _ = _data()
    TorchLinearRegressor(loss="quantile", alpha=0, device="cpu").fit(X[:4000], y[:4000])
    assert not calls
