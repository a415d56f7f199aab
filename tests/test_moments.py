"""Mergeable statistics: any partition of the rows, in any order of merging,
gives the statistics of the whole, in every form they take."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from sktorch_linear._data import Data
from sktorch_linear._moments import FACTOR_RCOND, needs_factor
from sktorch_linear._moments import statistics as batch_statistics

CPU = torch.device("cpu")


def _statistics(X, Y, w, rows=slice(None)):
    data = Data(X[rows], Y[rows], None if w is None else w[rows])
    return batch_statistics(data, exact=False, device=CPU, dtype=torch.float64)[0]


def _reference_cross_products(X, Y, w):
    """Weighted cross-products of [X Y] about their weighted means, by NumPy."""
    Z = np.column_stack([X, Y])
    Zc = Z - np.average(Z, axis=0, weights=w)
    return (Zc * w[:, None]).T @ Zc


def _polynomial(n_samples, degree, seed=0):
    """Columns x, x^2, ..., x^degree of x in [0, 1]: ill conditioned."""
    x = np.random.default_rng(seed).uniform(0, 1, n_samples)
    X = np.column_stack([x**k for k in range(1, degree + 1)])
    return X, np.sin(3 * x)[:, None]


@pytest.mark.parametrize("n_chunks", [1, 7, 100])
def test_moments_merge_like_one_pass(n_chunks):
    """Check that statistics of uneven chunks merge into the statistics of the
    whole, and that their cross-products are the weighted, centred ones."""
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (1000, 6))
    Y = rng.normal(-2.0, 1.0, (1000, 2))
    w = rng.uniform(0, 2, 1000)
    w[:40] = 0  # a chunk of zero weights merges as nothing

    def statistics(rows):
        data = Data(X[rows], Y[rows], w[rows])
        return batch_statistics(data, exact=True, device=CPU, dtype=torch.float64)[0]

    whole = statistics(slice(None))
    bounds = np.unique(np.r_[0, np.sort(rng.integers(1, 1000, n_chunks - 1)), 1000])
    merged = None
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = statistics(slice(start, stop))
        merged = part if merged is None else merged.merge(part)
    assert merged.n_samples == whole.n_samples == 1000
    for field in ["weight_sum", "mean", "sumsq"]:
        assert_allclose(getattr(merged, field), getattr(whole, field), rtol=1e-10)
    center = merged.mean
    assert_allclose(merged.about(center), whole.about(center), rtol=1e-10)
    Z = np.column_stack([X, Y])
    Zc = Z - np.average(Z, axis=0, weights=w)
    assert_allclose(whole.about(whole.mean), (Zc * w[:, None]).T @ Zc, rtol=1e-10)
    # The exact cross-products too, when every chunk kept them.
    if merged.exact is not None:
        assert_allclose(merged.exact[0], whole.exact[0], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kind", ["gram", "factor"])
def test_merging_is_associative(kind):
    """Check that ((A + B) + C) and (A + (B + C)) give the same statistics, equal
    to those of the whole and to NumPy's weighted cross-products, for Gram
    matrices and for R factors alike."""
    if kind == "gram":
        rng = np.random.default_rng(1)
        X, Y = rng.normal(3.0, 2.0, (900, 5)), rng.normal(0.0, 1.0, (900, 1))
    else:
        X, Y = _polynomial(900, 6)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 900)
    a, b, c = (
        _statistics(X, Y, w, rows) for rows in np.split(np.arange(900), [250, 700])
    )
    assert {a.kind, b.kind, c.kind} == {kind}
    left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    whole = _statistics(X, Y, w)
    reference = _reference_cross_products(X, Y, w)
    scale = np.sqrt(np.outer(np.diag(reference), np.diag(reference)))
    for merged in (left, right, whole):
        assert merged.kind == kind
        assert_allclose(merged.weight_sum, w.sum(), rtol=1e-14)
        assert_allclose(
            merged.mean, np.average(np.column_stack([X, Y]), 0, w), rtol=1e-13
        )
        # Relative to the diagonal: off-diagonal products may cancel to ~0.
        error = np.abs(merged.about(merged.mean) - reference) / scale
        assert error.max() < 1e-12


def test_ill_conditioned_batch_keeps_an_r_factor():
    """Check that a batch whose equilibrated Gram matrix has a reciprocal
    condition number below FACTOR_RCOND keeps an R factor whose R'R are the
    cross-products, and that a well-conditioned one keeps its Gram matrix."""
    X, Y = _polynomial(500, 6)
    gram_x = _reference_cross_products(X, Y, np.ones(500))[:6, :6]
    d = np.sqrt(np.diag(gram_x))
    assert 1 / np.linalg.cond(gram_x / np.outer(d, d), 1) < FACTOR_RCOND
    moments = _statistics(X, Y, None)
    assert moments.kind == "factor" and moments.gram is None
    R = moments.factor_about(moments.mean)
    assert_allclose(np.triu(R), R)
    reference = _reference_cross_products(X, Y, np.ones(500))
    scale = np.sqrt(np.outer(np.diag(reference), np.diag(reference)))
    assert (np.abs(R.T @ R - reference) / scale).max() < 1e-13
    well = _statistics(np.random.default_rng(0).normal(size=(500, 6)), Y, None)
    assert well.kind == "gram" and not needs_factor(well)


def test_merging_a_gram_into_a_factor_gives_a_factor():
    """Check that a merge with an R factor gives the R factor of the union."""
    X, Y = _polynomial(300, 6)
    rng = np.random.default_rng(3)
    X2, Y2 = rng.normal(size=(300, 6)), rng.normal(size=(300, 1))
    ill, well = _statistics(X, Y, None), _statistics(X2, Y2, None)
    assert (ill.kind, well.kind) == ("factor", "gram")
    for merged in (ill.merge(well), well.merge(ill)):
        assert merged.kind == "factor" and merged.n_samples == 600
        reference = _reference_cross_products(
            np.vstack([X, X2]), np.vstack([Y, Y2]), np.ones(600)
        )
        scale = np.sqrt(np.outer(np.diag(reference), np.diag(reference)))
        error = np.abs(merged.about(merged.mean) - reference) / scale
        assert error.max() < 1e-13


@pytest.mark.parametrize("block_bytes", [8 * 8 * 5, 8 * 8 * 97, 2**22])
def test_block_size_does_not_change_the_statistics(monkeypatch, block_bytes):
    """Check that accumulating in blocks of 5, 97 or all rows gives the same
    statistics, to rounding."""
    rng = np.random.default_rng(4)
    X = rng.normal(1e3, 1.0, (1000, 6))  # a large mean: centring matters
    Y = rng.normal(size=(1000, 1))
    w = rng.uniform(0.1, 3.0, 1000)
    monkeypatch.setattr("sktorch_linear._data.BLOCK_BYTES", block_bytes)
    moments = _statistics(X, Y, w)
    reference = _reference_cross_products(X, Y, w)
    scale = np.sqrt(np.outer(np.diag(reference), np.diag(reference)))
    assert (np.abs(moments.about(moments.mean) - reference) / scale).max() < 1e-12
