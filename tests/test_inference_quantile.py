"""Standard errors of quantile-regression fits: ``"iid"`` and ``"robust"``
against statsmodels' ``QuantReg`` and Stata's stored digits; ``"ker"`` and
``"nid"`` against NumPy transcriptions of R quantreg's ``summary.rq`` at
HiGHS's minimisers, and R's printed digits on the engel data."""

import functools

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
import scipy.stats
from numpy.testing import assert_allclose

from sktorch_linear import TorchLinearRegressor

sm = pytest.importorskip("statsmodels.api")
QuantReg = pytest.importorskip("statsmodels.regression.quantile_regression").QuantReg

ENGEL = sm.datasets.engel.load_pandas().data
X_ENGEL = ENGEL[["income"]].to_numpy()
Y_ENGEL = ENGEL["foodexp"].to_numpy()


def _large(n=20000, p=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ rng.normal(size=p) + (1 + 0.5 * np.abs(X[:, 0])) * rng.standard_t(4, n)
    return X, y


@functools.cache
def _median(data):
    """HiGHS's minimiser of the median of ``data`` (its name), once."""
    X, y = (X_ENGEL, Y_ENGEL) if data == "engel" else _large()
    return _highs(sm.add_constant(X), y, 0.5, np.ones(len(y)))


def _fit(X, y, q, weight=None):
    reg = TorchLinearRegressor(loss="quantile", quantile=q, alpha=0, device="cpu")
    return reg.fit(X, y, sample_weight=weight)


def _highs(design, y, q, weight):
    """The weighted quantile's minimiser by HiGHS: ``min sum w (q u + (1 - q)
    v)`` with ``design b + u - v = y``."""
    n, k = design.shape
    cost = np.r_[np.zeros(k), q * weight, (1 - q) * weight]
    identity = scipy.sparse.identity(n, format="csr")
    equality = scipy.sparse.hstack([design, identity, -identity], format="csr")
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    result = scipy.optimize.linprog(
        cost,
        A_eq=equality,
        b_eq=y,
        bounds=bounds,
        method="highs-ipm",  # (with its crossover: a vertex, 10x sooner here)
    )
    assert result.status == 0
    return result.x[:k]


def _hall_sheather(n, q):
    z = scipy.stats.norm.ppf(q)
    h = n ** (-1 / 3) * scipy.stats.norm.ppf(0.975) ** (2 / 3)
    h *= (1.5 * scipy.stats.norm.pdf(z) ** 2 / (2 * z**2 + 1)) ** (1 / 3)
    while q - h <= 0 or q + h >= 1:
        h /= 2
    return h


def _statsmodels_formulas(design, y, beta, q, kind):
    """statsmodels' ``QuantReg.fit`` covariance after its loop, at ``beta``
    (the residuals ``design`` interpolates count as not above 0)."""
    n = len(y)
    e = y - design @ beta
    e[np.abs(e) < 1e-9 * np.abs(y).max()] = 0.0
    iqr = np.percentile(e, 75) - np.percentile(e, 25)
    width = _hall_sheather(n, q)
    norm = scipy.stats.norm
    h = min(np.std(y), iqr / 1.34) * (norm.ppf(q + width) - norm.ppf(q - width))
    u = e / h
    f = np.sum(0.75 * (1 - u**2) * (np.abs(u) <= 1)) / (n * h)
    inverse = np.linalg.pinv(design.T @ design)
    if kind == "iid":
        return (1 / f) ** 2 * q * (1 - q) * inverse
    d = np.where(e > 0, (q / f) ** 2, ((1 - q) / f) ** 2)
    return inverse @ (design.T * d) @ design @ inverse


def _quantreg_formulas(design, y, beta, q, kind, weight):
    """R quantreg's ``summary.rq`` (``se="ker"`` or ``"nid"``): the rows of
    ``x``, ``y`` scaled by the weights; ``tau (1 - tau) H^-1 X'X H^-1`` with
    ``H = X' diag(f) X``."""
    n = len(y)
    x, yw = design * weight[:, None], y * weight
    h = _hall_sheather(n, q)
    if kind == "nid":
        high = _highs(design, y, q + h, weight)
        low = _highs(design, y, q - h, weight)
        f = np.maximum(0, 2 * h / (x @ (high - low) - np.sqrt(np.finfo(float).eps)))
    else:
        uhat = yw - x @ beta
        iqr = np.quantile(uhat, 0.75) - np.quantile(uhat, 0.25)
        norm = scipy.stats.norm
        h = (norm.ppf(q + h) - norm.ppf(q - h)) * min(np.std(uhat, ddof=1), iqr / 1.34)
        f = scipy.stats.norm.pdf(uhat / h) / h
    inverse = np.linalg.inv((x * f[:, None]).T @ x)
    return q * (1 - q) * inverse @ (x.T @ x) @ inverse


def _ours(summary):
    """The covariance in statsmodels' order (the intercept first)."""
    return np.asarray(summary.cov_params)


@pytest.mark.parametrize("kind", ["iid", "robust"])
@pytest.mark.parametrize("data", ["engel", "20000 x 20"])
def test_matches_statsmodels_at_the_median(data, kind):
    """Check the standard errors against ``QuantReg(...).fit(q=0.5, vcov=...)``
    (iterated to ``p_tol=1e-12``), with t (Student's, n - k degrees of
    freedom) and the bandwidth; at the median the rows the fit interpolates
    weigh the same whichever side. Engel: to 1e-8. 20 000 x 20: QuantReg's
    minimiser is 1.7e-6 off HiGHS's (ours: 8e-15), which moves its standard
    errors by 6e-8 and its bandwidth by 1.5e-6; ours equal statsmodels'
    formulas at HiGHS's minimiser to 1e-10."""
    X, y = (X_ENGEL, Y_ENGEL) if data == "engel" else _large()
    ref = QuantReg(y, sm.add_constant(X)).fit(
        q=0.5, vcov=kind, p_tol=1e-12, max_iter=5000
    )
    ours = _fit(X, y, 0.5).summary(cov_type=kind, data=(X, y))
    rtol = 1e-8 if data == "engel" else 1e-7
    assert_allclose(ours.table["std_err"], ref.bse, rtol=rtol)
    if data == "engel":  # (t moves with QuantReg's minimiser)
        assert_allclose(ours.table["t"], ref.tvalues, rtol=rtol)
    # (the bandwidth scales with the IQR of QuantReg's residuals)
    assert ours.bandwidth == pytest.approx(ref.bandwidth, rel=rtol * 100)
    assert ours.df_resid == ref.df_resid
    design = sm.add_constant(X)
    beta = _median(data)
    expected = _statsmodels_formulas(design, y, beta, 0.5, kind)
    assert_allclose(_ours(ours), expected, rtol=1e-10, atol=1e-10 * expected.max())


@pytest.mark.filterwarnings("ignore:Convergence cycle")  # QuantReg's, at 0.9
@pytest.mark.parametrize("q", [0.1, 0.25, 0.75, 0.9])
@pytest.mark.parametrize("kind", ["iid", "robust"])
def test_statsmodels_formulas_at_the_exact_minimiser(kind, q):
    """Check iid and robust at other quantiles against statsmodels' formulas
    evaluated at HiGHS's minimiser, to 1e-10; and against ``QuantReg`` itself
    within what its minimiser's sides of the interpolated rows allow (its
    residuals there are +-1e-7, of either sign)."""
    design = sm.add_constant(X_ENGEL)
    beta = _highs(design, Y_ENGEL, q, np.ones(len(Y_ENGEL)))
    expected = _statsmodels_formulas(design, Y_ENGEL, beta, q, kind)
    ours = _fit(X_ENGEL, Y_ENGEL, q).summary(cov_type=kind, data=(X_ENGEL, Y_ENGEL))
    assert_allclose(_ours(ours), expected, rtol=1e-10, atol=1e-10 * expected.max())
    ref = QuantReg(Y_ENGEL, design).fit(q=q, vcov=kind, p_tol=1e-12, max_iter=5000)
    assert_allclose(
        ours.table["std_err"], ref.bse, rtol=1e-7 if kind == "iid" else 0.05
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["ker", "nid"])
def test_quantreg_formulas(kind, weighted):
    """Check ker and nid against the NumPy transcription of ``summary.rq``,
    weighted or not, at three quantiles fitted at once, to 1e-10."""
    rng = np.random.default_rng(3)
    X = np.c_[X_ENGEL, rng.normal(size=len(Y_ENGEL))]
    weight = rng.uniform(0.5, 2, len(Y_ENGEL)) if weighted else np.ones(len(Y_ENGEL))
    quantiles = [0.2, 0.5, 0.85]
    reg = _fit(X, Y_ENGEL, quantiles, weight if weighted else None)
    data = (X, Y_ENGEL, weight) if weighted else (X, Y_ENGEL)
    summaries = reg.summary(cov_type=kind, data=data)
    assert [s.quantile for s in summaries] == quantiles
    design = sm.add_constant(X)
    for q, ours in zip(quantiles, summaries):
        beta = _highs(design, Y_ENGEL, q, weight)
        assert_allclose(ours.table["coef"], beta, rtol=1e-9)
        expected = _quantreg_formulas(design, Y_ENGEL, beta, q, kind, weight)
        assert_allclose(_ours(ours), expected, rtol=1e-10, atol=1e-10 * expected.max())
        t = ours.table["t"].to_numpy()
        p_values = 2 * scipy.stats.t(len(Y_ENGEL) - 3).sf(np.abs(t))
        assert_allclose(ours.table["p_value"], p_values, rtol=1e-12, atol=1e-15)


def test_nid_matches_r_printed_digits():
    """Check ``summary(rq(foodexp ~ income, tau = 0.5, data = engel), se =
    "nid")``'s printed standard errors and t values."""
    ours = _fit(X_ENGEL, Y_ENGEL, 0.5).summary(cov_type="nid", data=(X_ENGEL, Y_ENGEL))
    half_unit = 0.5e-5  # of the last printed digit
    assert_allclose(ours.table["std_err"], [19.25066, 0.02828], atol=half_unit)
    assert_allclose(ours.table["t"], [4.23270, 19.81032], atol=half_unit)


def test_absolute_error_is_the_median_and_tests_restrictions():
    """Check that ``loss="absolute_error"`` gives the median's summary, and
    its Wald test of the slope against the covariance."""
    data = (X_ENGEL, Y_ENGEL)
    median = _fit(X_ENGEL, Y_ENGEL, 0.5).summary(data=data)  # robust by default
    reg = TorchLinearRegressor(loss="absolute_error", alpha=0, device="cpu")
    absolute = reg.fit(*data).summary(data=data)
    assert median.cov_type == absolute.cov_type == "robust"
    assert_allclose(absolute.cov_params, median.cov_params, rtol=1e-10)
    test = absolute.wald_test([[0, 1]], [0.5])
    slope, variance = absolute.table["coef"].iloc[1], absolute.cov_params.iloc[1, 1]
    assert test.statistic == pytest.approx((slope - 0.5) ** 2 / variance, rel=1e-12)
    assert "Quantile regression (quantile 0.5)" in str(absolute)


def test_refusals():
    """Check the clear errors: penalised fits, least-squares kinds, no data or
    chunks, and quantile kinds for least squares."""
    data = (X_ENGEL, Y_ENGEL)
    penalised = TorchLinearRegressor(loss="quantile", alpha=0.1, device="cpu")
    with pytest.raises(ValueError, match="without a penalty"):
        penalised.fit(*data).summary(data=data)
    reg = _fit(X_ENGEL, Y_ENGEL, 0.5)
    with pytest.raises(ValueError, match="kind of least squares"):
        reg.summary(cov_type="HC1", data=data)
    with pytest.raises(ValueError, match="read the training data"):
        reg.summary()
    with pytest.raises(ValueError, match="read the training data"):
        reg.summary(data=[data])
    with pytest.raises(ValueError, match="for least squares"):
        reg.summary(data=data, maxlags=2)
    for kind in ("robust", "bootstrap"):  # other rows than the fit's
        with pytest.raises(ValueError, match="not the training data"):
            reg.summary(cov_type=kind, data=(X_ENGEL[:-1], Y_ENGEL[:-1]))
        with pytest.raises(ValueError, match="other values"):
            reg.summary(cov_type=kind, data=(X_ENGEL, Y_ENGEL + 1e-3))
    reg.set_params(quantile=0.9)  # the summary describes the fit, not the params
    assert reg.summary(data=data).quantile == 0.5
    least_squares = TorchLinearRegressor(device="cpu").fit(*data)
    with pytest.raises(ValueError, match="kind of quantile regression"):
        least_squares.summary(cov_type="nid", data=data)


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_replicates_are_exact_minimisers(weighted):
    """Check the xy-pair bootstrap (R quantreg's ``se="boot"``, ``"xy"``):
    the covariance of 20 replicates equals that of HiGHS's minimisers of the
    same draws (the sample weights times each row's count) to 1e-8, for two
    quantiles at once; the same ``random_state`` gives the same numbers."""
    rng = np.random.default_rng(4)
    weight = rng.uniform(0.5, 2, len(Y_ENGEL)) if weighted else np.ones(len(Y_ENGEL))
    data = (X_ENGEL, Y_ENGEL, weight) if weighted else (X_ENGEL, Y_ENGEL)
    quantiles = [0.3, 0.6]
    reg = _fit(X_ENGEL, Y_ENGEL, quantiles, weight if weighted else None)
    options = {"cov_type": "bootstrap", "data": data, "n_boot": 20, "random_state": 7}
    summaries = reg.summary(**options)
    draws = np.random.RandomState(7)
    n = len(Y_ENGEL)
    counts = [draws.multinomial(n, np.full(n, 1 / n)) for _ in range(20)]
    design = sm.add_constant(X_ENGEL)
    for q, ours in zip(quantiles, summaries):
        minimisers = [_highs(design, Y_ENGEL, q, weight * c) for c in counts]
        expected = np.cov(np.array(minimisers), rowvar=False)
        assert_allclose(_ours(ours), expected, rtol=1e-8, atol=1e-8 * expected.max())
        assert np.isnan(ours.bandwidth) and ours.cov_type == "bootstrap"
    again = reg.summary(**options)
    assert_allclose(again[0].cov_params, summaries[0].cov_params, rtol=0)


@pytest.mark.parametrize("kind", ["iid", "robust", "ker", "nid"])
def test_dask_parts_give_the_numbers_of_numpy(kind):
    """Check that Dask parts of 50 rows give the covariance of the arrays to
    1e-10, weighted ("nid" fits its quantiles q -+ h on the parts), and that
    the bootstrap asks for arrays."""
    da = pytest.importorskip("dask.array")
    weight = np.random.default_rng(5).uniform(0.5, 2, len(Y_ENGEL))
    reg = _fit(X_ENGEL, Y_ENGEL, 0.35, weight)
    expected = reg.summary(cov_type=kind, data=(X_ENGEL, Y_ENGEL, weight))
    parts = tuple(
        da.from_array(v, chunks=(50,) + v.shape[1:]) for v in (X_ENGEL, Y_ENGEL, weight)
    )
    got = reg.summary(cov_type=kind, data=parts)
    scale = np.abs(np.asarray(expected.cov_params)).max()
    assert_allclose(got.cov_params, expected.cov_params, rtol=1e-10, atol=1e-12 * scale)
    assert got.bandwidth == pytest.approx(expected.bandwidth, rel=1e-12)
    if kind == "nid":
        with pytest.raises(ValueError, match="replicates in memory"):
            reg.summary(cov_type="bootstrap", data=parts)
