"""The exact solver's answer on hard problems: rank deficiency (one minimum-norm
answer from every path), penalties tending to zero, one-hot encodings, extreme
weights, ill conditioning, and warnings that are true."""

import re
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.linalg import LinAlgWarning
from sklearn.compose import make_column_transformer
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sktorch_linear import TorchLinearRegressor


def _regressor(**params):
    return TorchLinearRegressor(device="cpu", **params)


def _chunks(n_samples, n_chunks):
    return np.array_split(np.arange(n_samples), n_chunks)


def _partial_fit(estimator, X, y, n_chunks, sample_weight=None):
    for rows in _chunks(len(y), n_chunks):
        weights = None if sample_weight is None else sample_weight[rows]
        estimator.partial_fit(X[rows], y[rows], sample_weight=weights)
    return estimator


def _exact_weighted_least_squares(X, y, sample_weight):
    """Intercept and coefficients of weighted least squares in exact rational
    arithmetic (normal equations of ``[1 X]``)."""
    A = [[Fraction(1)] + [Fraction(v) for v in row] for row in X]
    w = [Fraction(v) for v in sample_weight]
    size = len(A[0])
    system = [
        [sum(wi * a[i] * a[j] for wi, a in zip(w, A)) for j in range(size)]
        + [sum(wi * a[i] * Fraction(t) for wi, a, t in zip(w, A, y))]
        for i in range(size)
    ]
    for col in range(size):
        for row in range(size):
            if row != col:
                factor = system[row][col] / system[col][col]
                system[row] = [a - factor * b for a, b in zip(system[row], system[col])]
    return np.array([float(system[i][-1] / system[i][i]) for i in range(size)])


# The rank-deficient reproduction: 4 rows, 12 columns of very different scales.
RNG = np.random.RandomState(0)
X_WIDE = RNG.rand(4, 12) * RNG.uniform(0.1, 10, 12)
Y_WIDE = RNG.randn(4)


def test_rank_deficient_answer_is_the_same_from_every_path():
    """Check that dense fit, CSR fit, partial_fit in 2 and 4 chunks and the
    weighted equivalent of repeated rows give one answer to 1e-10: the
    minimum-norm solution in standardized coordinates, as numpy's lstsq gives
    it on the standardized data."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fits = {
            "dense": _regressor().fit(X_WIDE, Y_WIDE),
            "csr": _regressor().fit(sp.csr_array(X_WIDE), Y_WIDE),
            "partial_fit 2": _partial_fit(_regressor(), X_WIDE, Y_WIDE, 2),
            "partial_fit 4": _partial_fit(_regressor(), X_WIDE, Y_WIDE, 4),
            "weighted": _regressor().fit(
                X_WIDE, Y_WIDE, sample_weight=np.array([2.0, 2.0, 1.0, 1.0])
            ),
        }
    repeated = _regressor().fit(
        np.vstack([X_WIDE, X_WIDE[:2]]), np.r_[Y_WIDE, Y_WIDE[:2]]
    )
    mean, std = X_WIDE.mean(axis=0), X_WIDE.std(axis=0)
    beta = np.linalg.lstsq((X_WIDE - mean) / std, Y_WIDE - Y_WIDE.mean(), rcond=None)[0]
    reference = beta / std
    for name, reg in fits.items():
        assert reg.rank_ == 3, name
        assert reg.solver_path_ == "qr", name
        target = repeated if name == "weighted" else fits["dense"]
        assert_allclose(reg.coef_, target.coef_, rtol=0, atol=1e-10, err_msg=name)
        assert_allclose(reg.intercept_, target.intercept_, atol=1e-10, err_msg=name)
    assert_allclose(fits["dense"].coef_, reference, rtol=0, atol=1e-10)
    assert_allclose(fits["dense"].predict(X_WIDE), Y_WIDE, atol=1e-10)
    expected = np.linalg.svd((X_WIDE - mean) / std, compute_uv=False)
    for name, reg in fits.items():
        target = repeated if name == "weighted" else fits["dense"]
        assert reg.singular_.shape == (12,), name
        assert_allclose(reg.singular_, target.singular_, rtol=0, atol=1e-10)
    assert_allclose(fits["dense"].singular_[:3], expected[:3], rtol=1e-10)
    assert np.all(fits["dense"].singular_[3:] < 1e-12 * expected[0])


def test_rank_deficient_unstandardized_is_linear_regression():
    """Check that with standardize=False the minimum norm is taken in the units
    of X, as LinearRegression takes it."""
    reg = _regressor(standardize=False).fit(X_WIDE, Y_WIDE)
    ref = LinearRegression().fit(X_WIDE, Y_WIDE)
    assert_allclose(reg.coef_, ref.coef_, rtol=0, atol=1e-10)
    assert_allclose(reg.intercept_, ref.intercept_, atol=1e-10)


@pytest.mark.parametrize("alpha", [1e-18, 2e-18, 1e-12])
def test_penalty_tends_to_the_minimum_norm_solution(alpha):
    """Check that on a wide problem (50 x 100) a vanishing alpha gives the alpha=0
    answer, which is LinearRegression's: the penalty is continuous at zero."""
    X, y = make_regression(
        n_samples=50, n_features=100, noise=0, bias=10, random_state=42
    )
    params = {"solver": "exact", "standardize": False, "fit_intercept": False}
    plain = _regressor(**params).fit(X, y)
    ref = LinearRegression(fit_intercept=False).fit(X, y)
    assert_allclose(
        plain.coef_, ref.coef_, rtol=0, atol=1e-12 * np.abs(ref.coef_).max()
    )
    penalised = _regressor(alpha=alpha, **params).fit(X, y)
    change = np.abs(penalised.coef_ - plain.coef_).max() / np.abs(plain.coef_).max()
    assert change <= 1e-9


def test_penalty_on_rank_deficient_standardized_data_is_continuous():
    """Check that a vanishing alpha on the rank-deficient example gives the
    minimum-norm answer, and a larger one a smaller norm."""
    plain = _regressor().fit(X_WIDE, Y_WIDE)
    scale = X_WIDE.std(axis=0)
    for alpha in [1e-16, 1e-12]:
        reg = _regressor(alpha=alpha).fit(X_WIDE, Y_WIDE)
        assert_allclose(reg.coef_, plain.coef_, rtol=0, atol=1e-9)
    ridge = _regressor(alpha=0.1).fit(X_WIDE, Y_WIDE)
    assert np.linalg.norm(ridge.coef_ * scale) < np.linalg.norm(plain.coef_ * scale)


def _categorical_frame(n_samples=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n_samples),
            "size": rng.choice(["S", "M"], n_samples),
            "shop": rng.choice(list("abcde"), n_samples),
            "price": rng.normal(10, 2, n_samples),
            "weight": rng.normal(size=n_samples),
        }
    )
    y = (
        2.0 * (frame.colour == "red")
        - (frame.shop == "c")
        + 3.0 * frame.price
        + rng.normal(0, 0.1, n_samples)
    )
    return frame, y.to_numpy()


def _one_hot(regressor):
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), ["colour", "size", "shop"]), remainder="passthrough"
        ),
        regressor,
    )


def test_one_hot_pipeline_is_exact_and_silent():
    """Check that OneHotEncoder (sparse, no drop) with an intercept, an exact
    dependency, fits and cross-validates without any warning, predicts as
    LinearRegression does to 1e-10, and reports the rank."""
    X, y = _categorical_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = _one_hot(_regressor()).fit(X, y)
        cross_val_score(_one_hot(_regressor()), X, y, cv=5)
    ref = _one_hot(LinearRegression()).fit(X, y)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    # 3 + 2 + 5 indicator columns sum to 1 in each of the 3 groups: with the
    # intercept they lose 3 dimensions; the 2 numeric columns keep theirs.
    assert ours[-1].rank_ == 10 - 3 + 2
    assert ours[-1].n_features_in_ == 12


def _weighted_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=50)
    sample_weight = np.ones(50)
    sample_weight[7] = 1e30
    sample_weight[10:13] = 0.0
    return X, y, sample_weight


@pytest.mark.parametrize("path", ["fit", "csr", "partial_fit", "large fit"])
def test_extreme_weight_ratio(path, monkeypatch):
    """Check that one weight 1e30 times the others, with zeros mixed in, gives
    the exact weighted least-squares answer (rational arithmetic) and
    LinearRegression's, through every path; "large fit" takes the path of large
    data (working-precision statistics, one heavy row in a later block)."""
    X, y, w = _weighted_data()
    if path == "large fit":
        monkeypatch.setattr("sktorch_linear.solvers._refinement.SMALL_PROBLEM", 0)
        monkeypatch.setattr("sktorch_linear._data.BLOCK_BYTES", 8 * 5 * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if path == "partial_fit":
            reg = _partial_fit(_regressor(), X, y, 4, sample_weight=w)
        else:
            reg = _regressor().fit(sp.csr_array(X) if path == "csr" else X, y, w)
    exact = _exact_weighted_least_squares(X, y, w)
    assert_allclose(np.r_[reg.intercept_, reg.coef_], exact, rtol=1e-12)
    ref = LinearRegression().fit(X, y, sample_weight=w)
    assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    assert np.all(reg.scaler_.scale_ != 1.0)  # no column counted as constant


def test_ill_conditioned_large_fit_is_refined_to_the_exact_answer():
    """Check that a large fit of nearly collinear polynomial columns
    (condition number about 1e11 after standardizing) with an exact answer
    (integer coefficients, no noise) recovers it to 1e-12, where
    LinearRegression keeps far fewer digits."""
    t = np.tile(np.arange(1000.0, 1011.0), 3000)  # 33 000 rows, 11 values
    X = np.column_stack([t, t**2, t**3])
    y = 1.0 + 2.0 * t + 3.0 * t**2 + 4.0 * t**3  # exact in float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = _regressor().fit(X, y)
    assert reg.solver_path_ == "qr"
    assert_allclose(reg.coef_, [2.0, 3.0, 4.0], rtol=1e-12)
    assert_allclose(reg.intercept_, 1.0, rtol=1e-12)
    ref = LinearRegression().fit(X, y)
    assert np.abs(ref.coef_ - [2.0, 3.0, 4.0]).max() > 1e-6


@pytest.mark.parametrize("spread", [1.0, 0.025])
def test_large_fit_reads_x_again_only_where_the_estimate_asks(spread):
    """Check that a well-conditioned fit too large for refinement in twice the
    working precision reads X once (the statistics have the digits), that
    one with two columns correlated to 1 - 3e-4 (condition number of the
    normal equations about 6 000: they lose 1e-12) reads it twice
    (statistics, one refinement pass in working precision), and that both
    match the backward-stable ``lstsq`` answer to 1e-12 of the largest
    coefficient."""
    X, y = make_regression(n_samples=30_000, n_features=20, noise=5.0, random_state=0)
    X[:, 1] = X[:, 0] + spread * X[:, 1]
    X += 100.0
    reg = _regressor().fit(X, y)
    design = np.column_stack([X, np.ones(len(X))])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    assert reg.solver_path_ == "cholesky"
    assert reg.n_iter_ == (1 if spread == 1.0 else 2)
    scale = np.abs(exact[:-1]).max()
    assert_allclose(reg.coef_, exact[:-1], rtol=0, atol=1e-12 * scale)
    # the intercept is what is left of terms of the size coef * mean(X)
    terms = np.abs(design[:, :-1].mean(axis=0) * exact[:-1]).sum()
    assert_allclose(reg.intercept_, exact[-1], rtol=1e-12, atol=1e-12 * terms)


def _warning_estimate(record):
    """The error estimate in the message of the last LinAlgWarning."""
    warning = [w for w in record if issubclass(w.category, LinAlgWarning)][-1]
    pattern = r"relative error of the coefficients is ([0-9.e+-]+)"
    return float(re.search(pattern, str(warning.message)).group(1))


def test_warning_only_when_the_estimate_says_digits_are_lost(monkeypatch):
    """Check that statistics merged from large batches (no exact cross-products)
    of an ill-conditioned problem warn, with an estimate of the error that is
    not below the true error and at most 1e4 times above it; and that the same
    problem fitted at once is refined and does not warn."""
    t = np.linspace(0.0, 1.0, 4000)
    X = np.column_stack([t**k for k in range(1, 13)])  # condition number ~1e9
    y = np.sin(4 * t) + np.random.default_rng(0).normal(0, 0.1, t.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refined = _regressor().fit(X, y)
    monkeypatch.setattr("sktorch_linear._moments.EXACT_VALUES", 0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        streamed = _partial_fit(_regressor(), X, y, 2)
    estimate = _warning_estimate(record)
    scale = X.std(axis=0) / y.std()
    true = np.linalg.norm((streamed.coef_ - refined.coef_) * scale)
    true /= np.linalg.norm(refined.coef_ * scale)
    assert true <= estimate <= 1e4 * true


@pytest.mark.parametrize("seed", range(3))
def test_error_free_transformations_are_exact(seed):
    """Check that two_sum and two_prod return the exact sum and product as an
    unevaluated pair, and that sum2 sums an ill-conditioned series (condition
    number 1e19) within the bound of summation in twice the working precision,
    ``eps |s| + n eps^2 sum |x|`` (Ogita, Rump and Oishi)."""
    import math

    import torch

    from sktorch_linear import _extended as ext

    rng = np.random.default_rng(seed)
    a = rng.normal(size=200) * 10.0 ** rng.integers(-150, 150, 200)
    b = rng.normal(size=200) * 10.0 ** rng.integers(-150, 150, 200)
    ta, tb = torch.as_tensor(a), torch.as_tensor(b)
    for (hi, lo), exact in [
        (ext.two_sum(ta, tb), [Fraction(x) + Fraction(y) for x, y in zip(a, b)]),
        (ext.two_prod(ta, tb), [Fraction(x) * Fraction(y) for x, y in zip(a, b)]),
    ]:
        got = [Fraction(h) + Fraction(low) for h, low in zip(hi.tolist(), lo.tolist())]
        assert got == exact
    terms = np.concatenate([rng.normal(size=1000) * 1e16, [1.0, 1e-5]])
    terms = np.concatenate([terms, -terms[:1000]])
    rng.shuffle(terms)
    hi, lo = ext.sum2(*ext.pair(torch.as_tensor(terms)), dim=0)
    eps = np.finfo(np.float64).eps
    bound = eps * abs(math.fsum(terms)) + terms.size * eps**2 * np.abs(terms).sum()
    assert abs(float(hi + lo) - math.fsum(terms)) <= bound
    assert abs(math.fsum(terms) - (1.0 + 1e-5)) < 1e-15
    assert abs(float(np.sum(terms)) - math.fsum(terms)) > 1e3 * bound  # plain sums fail


def test_exact_statistics_merge_exactly():
    """Check that the exact cross-products of chunks, merged (each shifted to the
    merged mean), equal those computed on the whole, to twice the working
    precision."""
    import torch

    from sktorch_linear._data import Data
    from sktorch_linear._moments import _reshift
    from sktorch_linear._moments import statistics as batch_statistics

    rng = np.random.default_rng(0)
    X = rng.normal(1e3, 1.0, (90, 4))
    Y = rng.normal(size=(90, 1))
    w = rng.uniform(0, 3, 90)
    cpu = torch.device("cpu")

    def statistics(rows):
        data = Data(X[rows], Y[rows], w[rows])
        return batch_statistics(data, exact=True, device=cpu, dtype=torch.float64)[0]

    whole = statistics(slice(None))
    merged = None
    for rows in _chunks(90, 7):
        merged = statistics(rows) if merged is None else merged.merge(statistics(rows))
    reference = _reshift(whole.exact, whole.mean, merged.mean)
    got = merged.exact[0] + merged.exact[1]
    expected = (reference[0] + reference[1]).numpy()
    assert_allclose(got, expected, rtol=1e-15, atol=1e-13 * np.abs(expected).max())
