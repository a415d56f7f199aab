"""Clustered (one- and two-way) and HAC (Newey-West) covariances of
least-squares fits against statsmodels' OLS and WLS, on diabetes, Grunfeld's
investment panel and a Petersen-style firm-year panel; in chunks (clusters and
lags across them) and on Dask parts."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes

from sktorch_linear import TorchLinearRegressor

sm = pytest.importorskip("statsmodels.api")
sandwich = pytest.importorskip("statsmodels.stats.sandwich_covariance")

X, Y = load_diabetes(return_X_y=True)
RNG = np.random.default_rng(1)
WEIGHT = RNG.uniform(0.5, 2.0, len(Y))
FIRST = RNG.integers(0, 40, len(Y))
SECOND = RNG.choice(np.array(list("abcdefghijklmnopqrstuvwxy")), len(Y))


def _petersen(n_firms=150, n_years=10, seed=2):
    """Petersen's (2009) design: a firm effect in both x and the residual, a
    year effect in the residual."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), n_years)
    year = np.tile(np.arange(n_years), n_firms)
    x = rng.normal(size=(n_firms * n_years, 2)) + rng.normal(size=(n_firms, 1))[firm]
    noise = (
        rng.normal(size=len(firm))
        + rng.normal(size=n_firms)[firm]
        + 0.5 * rng.normal(size=n_years)[year]
    )
    return x, x @ np.array([1.0, -0.5]) + noise, np.c_[firm, year]


def _grunfeld():
    data = sm.datasets.grunfeld.load_pandas().data
    X = data[["value", "capital"]].to_numpy()
    return X, data["invest"].to_numpy(), data[["firm", "year"]].to_numpy()


def _compare(ours, ref, rtol=1e-10):
    """Every statistic of ``ours`` against the statsmodels results ``ref``
    (p-values through the statistics: relative to 1 where they are tiny)."""
    scale = np.abs(np.asarray(ref.cov_params())).max()
    assert_allclose(ours.cov_params, ref.cov_params(), rtol=rtol, atol=rtol * scale)
    table = ours.table
    assert_allclose(table["std_err"], ref.bse, rtol=rtol)
    assert_allclose(table["t"], ref.tvalues, rtol=rtol)
    assert_allclose(table["p_value"], ref.pvalues, rtol=rtol, atol=1e-14)
    intervals = np.asarray(ref.conf_int())
    width = np.abs(intervals).max()
    assert_allclose(table["ci_lower"], intervals[:, 0], rtol=rtol, atol=rtol * width)
    assert_allclose(table["ci_upper"], intervals[:, 1], rtol=rtol, atol=rtol * width)
    assert ours.f_value == pytest.approx(ref.fvalue, rel=rtol)
    assert ours.f_pvalue == pytest.approx(ref.f_pvalue, rel=1e-8, abs=1e-14)
    restrictions = np.eye(len(ref.params))[1:3]
    ours_f, ref_f = ours.f_test(restrictions), ref.f_test(restrictions)
    assert ours_f.statistic == pytest.approx(float(ref_f.fvalue), rel=rtol)
    assert ours_f.df_denom == ref_f.df_denom
    assert ours_f.p_value == pytest.approx(float(ref_f.pvalue), rel=1e-8, abs=1e-14)


def _fits(X, y, weight):
    reg = TorchLinearRegressor(device="cpu").fit(X, y, sample_weight=weight)
    exog = sm.add_constant(X)
    model = sm.OLS(y, exog) if weight is None else sm.WLS(y, exog, weights=weight)
    return reg, model, (X, y) if weight is None else (X, y, weight)


@pytest.mark.parametrize("use_t", [None, True, False])
@pytest.mark.parametrize("ways", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cluster_matches_statsmodels_on_diabetes(weighted, ways, use_t):
    """Check CRV1 one-way (40 integer keys) and two-way (with 25 string keys)
    clustering, weighted or not, against statsmodels to 1e-10: covariance,
    standard errors, t, p-values, intervals, F tests (on clusters less one)."""
    reg, model, data = _fits(X, Y, WEIGHT if weighted else None)
    groups = FIRST if ways == 1 else np.c_[FIRST, SECOND].astype(object)
    ref_groups = (
        FIRST if ways == 1 else np.c_[FIRST, np.unique(SECOND, return_inverse=True)[1]]
    )
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": ref_groups}, use_t=use_t)
    ours = reg.summary(cov_type="cluster", data=data, groups=groups, use_t=use_t)
    _compare(ours, ref)
    assert ours.df_inference == (39 if ways == 1 else 24)
    assert ours.use_t is bool(use_t)


@pytest.mark.parametrize("maxlags", [1, 4, None])
@pytest.mark.parametrize("weighted", [False, True])
def test_hac_matches_statsmodels_on_diabetes(weighted, maxlags):
    """Check Newey-West with 1, 4 and the automatic lags (statsmodels'
    ``cov_hac`` rule, 5 lags for 442 rows), weighted or not, to 1e-10."""
    reg, model, data = _fits(X, Y, WEIGHT if weighted else None)
    lags = 5 if maxlags is None else maxlags
    assert int(np.floor(4 * (len(Y) / 100) ** (2 / 9))) == 5
    ref = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    ours = reg.summary(cov_type="HAC", data=data, maxlags=maxlags)
    _compare(ours, ref)
    default = sandwich.cov_hac(model.fit(), use_correction=False)  # nlags=None
    if maxlags is None:
        scale = np.abs(default).max()
        assert_allclose(ours.cov_params, default, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize("panel", [_grunfeld, _petersen])
@pytest.mark.parametrize("ways", [1, 2])
def test_cluster_matches_statsmodels_on_panels(panel, ways):
    """Check firm and firm-year clustering on Grunfeld's 10 firms x 20 years
    and a Petersen-style panel of 150 firms x 10 years, to 1e-10."""
    X, y, keys = panel()
    reg, model, data = _fits(X, y, None)
    codes = np.c_[[np.unique(k, return_inverse=True)[1] for k in keys.T]].T
    groups = keys[:, 0] if ways == 1 else keys
    ref_groups = codes[:, 0] if ways == 1 else codes
    ref = model.fit(cov_type="cluster", cov_kwds={"groups": ref_groups})
    _compare(reg.summary(cov_type="cluster", data=data, groups=groups), ref)


def test_hac_of_a_time_series_matches_statsmodels():
    """Check Newey-West on one firm's 20 years of Grunfeld's panel (General
    Motors), with 1 and 3 lags."""
    X, y, keys = _grunfeld()
    rows = keys[:, 0] == "General Motors"
    reg, model, data = _fits(X[rows], y[rows], None)
    for lags in (1, 3):
        ref = model.fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        _compare(reg.summary(cov_type="HAC", data=data, maxlags=lags), ref)


@pytest.mark.parametrize("maxlags", [1, None])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("panel", [_grunfeld, _petersen])
def test_driscoll_kraay_matches_statsmodels(panel, weighted, maxlags):
    """Check ``"hac-groupsum"`` (Driscoll and Kraay: Newey-West over the
    periods' score sums, ``G / (G - 1) (n - 1) / (n - k)`` for ``G`` periods)
    against statsmodels' on Grunfeld's 20 years and the Petersen-style
    panel's 10, with 1 lag and the automatic lags of the periods (2 for both),
    to 1e-10; inference on the periods less one (statsmodels counts the
    panels less one: the user guide says so)."""
    X, y, keys = panel()
    weight = np.random.default_rng(6).uniform(0.5, 2, len(y)) if weighted else None
    reg, model, data = _fits(X, y, weight)
    periods = np.unique(keys[:, 1], return_inverse=True)[1]
    lags = 2 if maxlags is None else maxlags
    assert int(np.floor(4 * ((periods.max() + 1) / 100) ** (2 / 9))) == 2
    ref = model.fit(
        cov_type="hac-groupsum", cov_kwds={"time": periods, "maxlags": lags}
    )
    ours = reg.summary(
        cov_type="hac-groupsum", data=data, groups=keys[:, 1], maxlags=maxlags
    )
    scale = np.abs(np.asarray(ref.cov_params())).max()
    assert_allclose(ours.cov_params, ref.cov_params(), rtol=1e-10, atol=1e-10 * scale)
    for column, expected in [
        ("std_err", ref.bse),
        ("t", ref.tvalues),
        ("p_value", ref.pvalues),
    ]:
        assert_allclose(ours.table[column], expected, rtol=1e-10, atol=1e-14)
    restrictions = np.eye(len(ref.params))[1:]
    statistic = float(ref.f_test(restrictions).fvalue)
    assert ours.f_test(restrictions).statistic == pytest.approx(statistic, rel=1e-10)
    assert ours.df_inference == periods.max()


@pytest.mark.parametrize("cov_type", ["cluster", "HAC"])
def test_chunks_give_the_numbers_of_one_pass(cov_type):
    """Check that chunks of 3 rows passed again after ``partial_fit`` give
    the covariance of the whole data to 1e-10: clusters spanning chunks are
    summed by key, and 4 lags reach across chunks shorter than them."""
    reg, _, data = _fits(X, Y, WEIGHT)
    extra = {"groups": FIRST} if cov_type == "cluster" else {"maxlags": 4}
    whole = reg.summary(cov_type=cov_type, data=data, **extra)
    edges = np.r_[0, np.cumsum(RNG.integers(1, 4, size=300))]
    edges = edges[edges < len(Y)]
    chunks = [
        (X[a:b], Y[a:b], WEIGHT[a:b]) for a, b in zip(edges, np.r_[edges[1:], len(Y)])
    ]
    streamed = TorchLinearRegressor(device="cpu")
    for chunk in chunks:
        streamed.partial_fit(*chunk)
    got = streamed.summary(cov_type=cov_type, data=chunks, **extra)
    scale = np.abs(np.asarray(whole.cov_params)).max()
    assert_allclose(got.cov_params, whole.cov_params, rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize("cov_type", ["cluster", "HAC"])
def test_dask_parts_give_the_numbers_of_numpy(cov_type):
    """Check that Dask parts of 37 rows (clusters across them; 4 lags across
    them) give statsmodels' numbers."""
    da = pytest.importorskip("dask.array")
    reg, model, data = _fits(X, Y, WEIGHT)
    parts = (da.from_array(X, chunks=(37, -1)), da.from_array(Y, chunks=37))
    parts += (da.from_array(WEIGHT, chunks=37),)
    if cov_type == "cluster":
        ref = model.fit(cov_type="cluster", cov_kwds={"groups": FIRST})
        got = reg.summary(
            cov_type="cluster", data=parts, groups=da.from_array(FIRST, chunks=37)
        )
    else:
        ref = model.fit(cov_type="HAC", cov_kwds={"maxlags": 4})
        got = reg.summary(cov_type="HAC", data=parts, maxlags=4)
    _compare(got, ref)


def test_refusals():
    """Check the clear errors: clusters without groups, groups or lags for
    other kinds, groups of another length or with missing keys, three keys,
    NumPy groups with Dask data."""
    reg, _, data = _fits(X, Y, None)
    with pytest.raises(ValueError, match="groups= gives the clusters"):
        reg.summary(cov_type="cluster", data=data)
    with pytest.raises(ValueError, match="groups= gives the clusters"):
        reg.summary(cov_type="HC1", data=data, groups=FIRST)
    with pytest.raises(ValueError, match="maxlags= is for cov_type='HAC'"):
        reg.summary(cov_type="HC1", data=data, maxlags=2)
    with pytest.raises(ValueError, match="groups has 441 rows"):
        reg.summary(cov_type="cluster", data=data, groups=FIRST[:-1])
    with pytest.raises(ValueError, match="groups has 443 rows"):
        reg.summary(cov_type="cluster", data=data, groups=np.r_[FIRST, 1])
    missing = FIRST.astype(float)
    missing[3] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        reg.summary(cov_type="cluster", data=data, groups=missing)
    with pytest.raises(ValueError, match="two columns"):
        reg.summary(cov_type="cluster", data=data, groups=np.c_[FIRST, FIRST, FIRST])
    with pytest.raises(ValueError, match="maxlags"):
        reg.summary(cov_type="HAC", data=data, maxlags=-1)
    da = pytest.importorskip("dask.array")
    parts = (da.from_array(X, chunks=(100, -1)), da.from_array(Y, chunks=100))
    with pytest.raises(ValueError, match="Dask array or series partitioned"):
        reg.summary(cov_type="cluster", data=parts, groups=FIRST)


@pytest.mark.parametrize("cov_type", ["cluster", "HAC"])
def test_fit_and_summary_read_the_rows_twice(monkeypatch, cov_type):
    """Check that the fit and its clustered or HAC summary read each row of X
    twice in all (20 000 x 10, large enough that the fit is not refined
    against the rows): the statistics' pass and the scores' pass."""
    from sktorch_linear._data import Data

    rng = np.random.default_rng(4)
    X_big = rng.normal(size=(20_000, 10))
    y_big = X_big @ rng.normal(size=10) + rng.normal(size=20_000)
    rows = {"read": 0}
    blocks = Data.blocks

    def counting(self, **kwargs):
        for block in blocks(self, **kwargs):
            rows["read"] += block[0].shape[0]
            yield block

    monkeypatch.setattr(Data, "blocks", counting)
    reg = TorchLinearRegressor(device="cpu").fit(X_big, y_big)
    extra = {"groups": rng.integers(0, 200, 20_000)} if cov_type == "cluster" else {}
    reg.summary(cov_type=cov_type, data=(X_big, y_big), **extra)
    assert rows["read"] == 2 * len(y_big)
