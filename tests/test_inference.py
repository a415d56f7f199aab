"""Inference statistics of least-squares fits (``summary``) against statsmodels'
OLS and WLS, and NIST StRD's certified standard deviations."""

import numpy as np
import pytest
from nist import DATASETS, load, log_relative_error
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes

from sktorch_linear import TorchLinearRegressor

sm = pytest.importorskip("statsmodels.api")

X, Y = load_diabetes(return_X_y=True)
WEIGHT = np.random.default_rng(0).uniform(0.5, 2.0, len(Y))


def _statsmodels(weighted, cov_type):
    exog = sm.add_constant(X)
    model = sm.WLS(Y, exog, weights=WEIGHT) if weighted else sm.OLS(Y, exog)
    return model.fit(cov_type=cov_type)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_statsmodels(weighted, cov_type):
    """Check every statistic against statsmodels (OLS, or WLS with the sample
    weights) for each covariance kind, to 1e-8."""
    weight = WEIGHT if weighted else None
    reg = TorchLinearRegressor(device="cpu").fit(X, Y, sample_weight=weight)
    data = (X, Y) if weight is None else (X, Y, weight)
    ours = reg.summary(cov_type=cov_type, data=data)
    ref = _statsmodels(weighted, cov_type)
    table = ours.table
    assert list(table.index) == ["const"] + [f"x{i}" for i in range(X.shape[1])]
    for column, expected in [
        ("coef", ref.params),
        ("std_err", ref.bse),
        ("t", ref.tvalues),
        ("p_value", ref.pvalues),
        ("ci_lower", ref.conf_int()[:, 0]),
        ("ci_upper", ref.conf_int()[:, 1]),
    ]:
        assert_allclose(table[column], expected, rtol=1e-8, atol=1e-300)
    assert ours.r2 == pytest.approx(ref.rsquared, rel=1e-8)
    assert ours.adj_r2 == pytest.approx(ref.rsquared_adj, rel=1e-8)
    assert ours.f_value == pytest.approx(ref.fvalue, rel=1e-8)
    assert ours.f_pvalue == pytest.approx(ref.f_pvalue, rel=1e-8)
    assert ours.rse == pytest.approx(np.sqrt(ref.scale), rel=1e-8)
    assert (ours.n, ours.df_model, ours.df_resid) == (
        ref.nobs,
        ref.df_model,
        ref.df_resid,
    )
    assert "covariance " + cov_type in str(ours)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_covariance_and_tests_of_restrictions_match_statsmodels(weighted, cov_type):
    """Check the covariance matrix of the parameters against statsmodels'
    ``cov_params()``, and the F and Wald tests of linear restrictions (several
    slopes zero; two slopes equal, a third at a value) against its ``f_test``
    and ``wald_test(use_f=False)``, to 1e-10 relative."""
    weight = WEIGHT if weighted else None
    reg = TorchLinearRegressor(device="cpu").fit(X, Y, sample_weight=weight)
    data = (X, Y) if weight is None else (X, Y, weight)
    ours = reg.summary(cov_type=cov_type, data=data)
    ref = _statsmodels(weighted, cov_type)
    assert list(ours.cov_params.index) == list(ours.table.index)
    scale = np.abs(ref.cov_params()).max()
    assert_allclose(ours.cov_params, ref.cov_params(), rtol=1e-10, atol=1e-14 * scale)
    zero = np.eye(11)[[3, 5, 7]]
    equal = np.zeros((2, 11))
    equal[0, 1], equal[0, 2], equal[1, 4] = 1.0, -1.0, 1.0
    for R, r in [(zero, None), (equal, [0.0, 300.0])]:
        theirs_f = ref.f_test(R if r is None else (R, r))
        theirs_w = ref.wald_test(R if r is None else (R, r), use_f=False, scalar=True)
        f, wald = ours.f_test(R, r), ours.wald_test(R, r)
        assert f.statistic == pytest.approx(float(theirs_f.fvalue), rel=1e-10)
        assert f.p_value == pytest.approx(float(theirs_f.pvalue), rel=1e-10)
        assert (f.df_num, f.df_denom) == (theirs_f.df_num, theirs_f.df_denom)
        assert wald.statistic == pytest.approx(float(theirs_w.statistic), rel=1e-10)
        assert wald.p_value == pytest.approx(float(theirs_w.pvalue), rel=1e-10)
    with pytest.raises(ValueError, match="restrictions have 3 columns"):
        ours.f_test(np.eye(3))


@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_predict_interval_matches_statsmodels(weighted, alpha):
    """Check the intervals of the mean and of a new observation against
    statsmodels' ``get_prediction(X).summary_frame(alpha)`` (a new
    observation of unit weight after WLS), to 1e-10 relative, on rows seen
    and unseen, dense and sparse."""
    import scipy.sparse

    weight = WEIGHT if weighted else None
    reg = TorchLinearRegressor(device="cpu").fit(X, Y, sample_weight=weight)
    rows = np.r_[X[:20], 2 * X[20:30]]
    frame = (
        _statsmodels(weighted, "nonrobust")
        .get_prediction(
            sm.add_constant(rows), weights=np.ones(len(rows)) if weighted else None
        )
        .summary_frame(alpha)
    )
    for kind, prefix in [("confidence", "mean"), ("prediction", "obs")]:
        expected = frame[[f"{prefix}_ci_lower", f"{prefix}_ci_upper"]].to_numpy()
        for data in (rows, scipy.sparse.csr_matrix(rows)):
            ours = reg.predict_interval(data, alpha=alpha, kind=kind)
            scale = np.abs(expected).max()
            assert_allclose(ours, expected, rtol=1e-10, atol=1e-12 * scale)
    with pytest.raises(ValueError, match="kind must be"):
        reg.predict_interval(rows, kind="credible")


@pytest.mark.parametrize("name", ["Longley", "Norris"])
def test_nist_certified_standard_deviations(name):
    """Check the standard deviations of the estimates and the residual standard
    deviation against NIST's certified values: at least 7 digits."""
    X_, y = load(name)
    reg = TorchLinearRegressor(device="cpu").fit(X_, y)
    summary = reg.summary()
    certified = DATASETS[name]
    # NIST lists B0 (the intercept) first, as the table does
    assert (
        log_relative_error(summary.table["std_err"], certified["certified_coef_sd"])
        >= 7
    )
    assert log_relative_error([summary.rse], [certified["certified_residual_sd"]]) >= 7
    assert log_relative_error([summary.r2], [certified["certified_r2"]]) >= 7


def test_partial_fit_gives_the_table_of_fit():
    """Check that 10 chunks streamed by partial_fit give the table of one fit,
    the robust kinds with the chunks passed again."""
    one = TorchLinearRegressor(device="cpu").fit(X, Y, sample_weight=WEIGHT)
    streamed = TorchLinearRegressor(device="cpu")
    chunks = [
        (X[rows], Y[rows], WEIGHT[rows])
        for rows in np.array_split(np.arange(len(Y)), 10)
    ]
    for chunk in chunks:
        streamed.partial_fit(*chunk)
    for cov_type in ("nonrobust", "HC3"):
        a = one.summary(cov_type=cov_type, data=(X, Y, WEIGHT)).table
        b = streamed.summary(cov_type=cov_type, data=chunks).table
        assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("data", ["ccard", "diabetes"])
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_in_chunks_of_ten_keeps_the_digits_of_fit(data, weighted):
    """Check that chunks of 10 rows streamed by ``partial_fit`` give the
    statistics of one fit to 1e-14 relative: R², adjusted R², F, the residual
    standard error (from the chunks' exact cross-products, in twice the
    working precision); the standard errors to 1e-14 on Stata's CCard data
    (analytic weights 1 / INCOMESQ) and 1e-13 on diabetes (the condition of
    its Gram matrix). Before, CCard's R² was off by 1.1e-11."""
    if data == "ccard":
        frame = sm.datasets.ccard.load_pandas().data
        X_ = frame[["AGE", "INCOME", "INCOMESQ", "OWNRENT"]].to_numpy()
        y, weight = frame["AVGEXP"].to_numpy(), 1 / frame["INCOMESQ"].to_numpy()
    else:
        X_, y, weight = X, Y, WEIGHT
    weight = weight if weighted else None
    one = TorchLinearRegressor(device="cpu").fit(X_, y, sample_weight=weight)
    streamed = TorchLinearRegressor(device="cpu")
    for start in range(0, len(y), 10):
        rows = slice(start, start + 10)
        streamed.partial_fit(
            X_[rows], y[rows], sample_weight=None if weight is None else weight[rows]
        )
    a, b = one.summary(), streamed.summary()
    for name in ("r2", "adj_r2", "rse", "f_value"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-14, abs=0)
    rtol = 1e-14 if data == "ccard" else 1e-13
    assert_allclose(b.table["std_err"], a.table["std_err"], rtol=rtol)
    coef = a.table["coef"].to_numpy()
    assert_allclose(b.table["coef"], coef, rtol=1e-15, atol=1e-15 * np.abs(coef).max())


def test_refusals():
    """Check the clear errors: penalised or robust fits, gradient solvers,
    robust kinds without data, aliased columns (named), bad arguments."""
    with pytest.raises(ValueError, match="least squares"):
        TorchLinearRegressor(alpha=0.1, device="cpu").fit(X, Y).summary()
    with pytest.raises(ValueError, match="least squares"):
        TorchLinearRegressor(loss="huber", device="cpu").fit(X, Y).summary()
    with pytest.raises(ValueError, match="exact least-squares fit"):
        TorchLinearRegressor(solver="lbfgs", device="cpu").fit(X, Y).summary()
    reg = TorchLinearRegressor(device="cpu").fit(X, Y)
    with pytest.raises(ValueError, match="reads the training data"):
        reg.summary(cov_type="HC1")
    with pytest.raises(ValueError, match="cov_type"):
        reg.summary(cov_type="HC4")
    with pytest.raises(ValueError, match="alpha"):
        reg.summary(alpha=1.5)
    aliased = np.c_[X[:, :3], X[:, 0] + X[:, 1]]
    with pytest.raises(ValueError, match=r"\['x0', 'x1', 'x3'\]"):
        TorchLinearRegressor(device="cpu").fit(aliased, Y).summary()


@pytest.mark.parametrize(
    "other, message",
    [
        (lambda: (X[:100], Y[:100], WEIGHT[:100]), "100 rows"),
        (lambda: (X, Y), r"weight sum 442\b"),
        (lambda: (X, Y + 1e-3 * np.eye(len(Y))[7], WEIGHT), "other values"),
        (lambda: (X + 1e-6 * np.eye(*X.shape), Y, WEIGHT), "other values"),
        (lambda: [(X[:200], Y[:200], WEIGHT[:200])], "200 rows"),
    ],
)
def test_robust_kinds_refuse_other_data(other, message):
    """Check that the robust kinds refuse data other than the fit's (fewer
    rows, the weights left out, one value of y moved by 1e-3, of X by 1e-6,
    some chunks only): rows 0-99 of diabetes gave a standard error of the
    intercept of 1.19 instead of 2.58 under a header of 442 rows."""
    reg = TorchLinearRegressor(device="cpu").fit(X, Y, sample_weight=WEIGHT)
    with pytest.raises(ValueError, match="not the training data of this fit"):
        reg.summary(cov_type="HC1", data=other())
    with pytest.raises(ValueError, match=message):
        reg.summary(cov_type="HC1", data=other())
    reversed_rows = (X[::-1], Y[::-1], WEIGHT[::-1])  # the same rows are fine
    expected = reg.summary(cov_type="HC1", data=(X, Y, WEIGHT)).table
    got = reg.summary(cov_type="HC1", data=reversed_rows).table
    # (rows summed in another order: the rounding of the largest entry)
    atol = 1e-12 * np.abs(expected.to_numpy()).max()
    assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10, atol=atol)


def test_without_intercept_and_with_feature_names():
    """Check a fit without an intercept (uncentred R², as statsmodels without a
    constant) and the feature names of a DataFrame."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    reg = TorchLinearRegressor(fit_intercept=False, device="cpu").fit(frame, Y)
    ours = reg.summary()
    ref = sm.OLS(Y, X).fit()
    assert list(ours.table.index) == list(frame.columns)
    assert_allclose(ours.table["std_err"], ref.bse, rtol=1e-8)
    assert ours.r2 == pytest.approx(ref.rsquared, rel=1e-8)
    assert ours.f_value == pytest.approx(ref.fvalue, rel=1e-8)
