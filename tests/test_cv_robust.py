"""TorchLinearRegressorCV with the absolute error and the quantile loss: every
split's solutions against fits of TorchLinearRegressor on the split (and so
GridSearchCV's scores), the chosen model against scikit-learn's
QuantileRegressor (HiGHS), and the small programmes against their fallbacks."""

import pickle

import numpy as np
import pytest
import scipy.sparse
import torch
from numpy.testing import assert_allclose
from sklearn.linear_model import QuantileRegressor
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit

from sktorch_linear import TorchLinearRegressor, TorchLinearRegressorCV
from sktorch_linear._data import Data
from sktorch_linear._moments import accumulate
from sktorch_linear.solvers import robust_path

N_ROWS, N_FEATURES = 404, 6
# Training sets of an odd size: the median and the 0.8 quantile of an intercept
# alone are unique (a whole n q gives a flat minimum between two rows, where
# any choice is a minimiser and the scores of the choices differ).
SPLITS = ShuffleSplit(4, train_size=303, test_size=101, random_state=0)
ALPHAS = [0.3, 0.05, 0.01, 1e-3, 0.0]
LOSSES = {"quantile": {"loss": "quantile", "quantile": 0.8}, "absolute": {}}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES)) * [1.0, 10.0, 0.1, 1.0, 3.0, 1.0]
    coef = np.array([1.5, 0.2, 0.0, -2.0, 0.0, 0.5])
    y = X @ coef + 4.0 + rng.standard_t(2, size=N_ROWS)
    return X, y


X, y = _data()
WEIGHTS = np.random.default_rng(1).uniform(0.2, 3.0, N_ROWS)


def _params(loss):
    return {"loss": "absolute_error"} if loss == "absolute" else LOSSES[loss]


def _grid_search(X, y, params, candidates, cv, sample_weight=None):
    grid = [{"alpha": [c["alpha"]], "l1_ratio": [c["l1_ratio"]]} for c in candidates]
    search = GridSearchCV(TorchLinearRegressor(device="cpu", **params), grid, cv=cv)
    return search.fit(X, y, sample_weight=sample_weight)


def _assert_close(actual, desired, rtol):
    """``actual`` within ``rtol`` of ``desired``'s largest magnitude."""
    scale = max(np.max(np.abs(desired)), 1.0)
    assert_allclose(actual, desired, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_lasso_scores_equal_grid_search(loss, weighted, sparse):
    """Check every split's R² of every L1 strength against GridSearchCV over
    TorchLinearRegressor (each a fit of the split's rows): the same vertex,
    so the same scores to rounding, the same choice and the same model."""
    params = _params(loss)
    data = scipy.sparse.csr_matrix(X) if sparse else X
    weight = WEIGHTS if weighted else None
    ours = TorchLinearRegressorCV(
        alphas=ALPHAS, l1_ratio=1.0, cv=SPLITS, device="cpu", **params
    ).fit(data, y, sample_weight=weight)
    theirs = _grid_search(data, y, params, ours.cv_results_["params"], SPLITS, weight)
    for s in range(ours.n_splits_):
        key = f"split{s}_test_score"
        _assert_close(ours.cv_results_[key], theirs.cv_results_[key], 1e-10)
    assert ours.best_index_ == theirs.best_index_
    best = theirs.best_estimator_
    _assert_close(ours.coef_, best.coef_, 1e-10)
    _assert_close(ours.intercept_, best.intercept_, 1e-10)
    assert ours.optimality_gap_ <= 1e-10


@pytest.mark.parametrize("loss", list(LOSSES))
def test_elastic_net_candidates_are_minima(loss):
    """With an L2 part the minimum is not a vertex: each split's candidate is
    the interior-point method's, within its certified gap. Check the scores
    against GridSearchCV's to the precision that gap allows, and the choice."""
    params = _params(loss)
    ours = TorchLinearRegressorCV(
        alphas=4, l1_ratio=[0.5, 1.0], cv=SPLITS, device="cpu", **params
    ).fit(X, y)
    theirs = _grid_search(X, y, params, ours.cv_results_["params"], SPLITS)
    for s in range(ours.n_splits_):
        key = f"split{s}_test_score"
        _assert_close(ours.cv_results_[key], theirs.cv_results_[key], 1e-6)
    assert ours.best_index_ == theirs.best_index_


def test_chosen_quantile_model_equals_highs():
    """Check the chosen model (without standardizing, ``alpha`` is
    QuantileRegressor's) against scikit-learn's QuantileRegressor solved by
    HiGHS: the same coefficients, and an objective no larger."""
    q = 0.3
    search = TorchLinearRegressorCV(
        alphas=6,
        l1_ratio=1.0,
        loss="quantile",
        quantile=q,
        standardize=False,
        cv=KFold(4, shuffle=True, random_state=1),
        device="cpu",
    ).fit(X, y)
    highs = QuantileRegressor(quantile=q, alpha=search.alpha_, solver="highs")
    highs.fit(X, y)

    def objective(coef, intercept):
        r = y - X @ coef - intercept
        return np.mean(np.maximum(q * r, (q - 1) * r)) + search.alpha_ * np.sum(
            np.abs(coef)
        )

    ours = objective(search.coef_, search.intercept_)
    assert ours <= objective(highs.coef_, highs.intercept_) * (1 + 1e-12)
    _assert_close(search.coef_, highs.coef_, 1e-6)
    assert search.best_estimator_.solver_path_ == "interior_point"


@pytest.mark.parametrize("loss", list(LOSSES))
def test_path_far_from_its_starts_equals_fits(loss):
    """Strengths far apart (the next larger strength's fit is no guide: the
    small programme fails and all rows are solved), zero weights, float32
    columns: every solution of the path equals a fit's, and its gap is
    certified."""
    params = _params(loss)
    weight = WEIGHTS.copy()
    weight[::7] = 0.0
    X32 = X.astype(np.float32)
    alphas = np.array([1.0, 1e-6, 0.2])
    ours = TorchLinearRegressorCV(
        alphas=alphas, l1_ratio=1.0, cv=KFold(2), device="cpu", **params
    ).fit(X32, y, sample_weight=weight)
    for alpha in alphas:
        fit = TorchLinearRegressor(alpha=alpha, l1_ratio=1.0, device="cpu", **params)
        fit.fit(X32, y, sample_weight=weight)
        search = TorchLinearRegressorCV(
            alphas=[alpha], l1_ratio=1.0, cv=KFold(2), device="cpu", **params
        ).fit(X32, y, sample_weight=weight)
        _assert_close(search.coef_, fit.coef_, 1e-10)
        _assert_close(search.intercept_, fit.intercept_, 1e-10)
    # (the certificate of the vertex of alpha=1e-6: 1.3e-10 from fit's own dual)
    assert ours.optimality_gap_ <= 1e-9


def test_small_programme_grows_to_every_row(monkeypatch):
    """A start on the wrong side of most rows: the first small programme's
    minimiser puts many merged rows on their wrong side, and the minimum of
    all rows is solved (the certified gap of every row, not of the
    programme)."""
    sizes, minimise = [], robust_path.minimise

    def recorded(passes, *args):
        sizes.append(passes.n)
        return minimise(passes, *args)

    monkeypatch.setattr(robust_path, "minimise", recorded)
    data = Data(X, y[:, None], None)
    device = torch.device("cpu")
    moments = accumulate(data, device=device, dtype=torch.float64)
    scaling = robust_path.target_scaling(moments, 0, True, True)
    loss = robust_path.loss_of("quantile", 0.8)
    start = (-3 * np.ones(N_FEATURES), 100.0)  # every residual negative
    l1, l2 = scaling.penalty("quantile", 0.0, 1.0)
    (solution,) = robust_path.solve_near(
        data,
        scaling,
        loss,
        l1,
        l2,
        [start],
        fit_intercept=True,
        max_iter=200,
        device=device,
    )
    fit = TorchLinearRegressor(loss="quantile", quantile=0.8, device="cpu").fit(X, y)
    _assert_close(solution.coef, fit.coef_, 1e-10)
    assert solution.gap <= 1e-10
    assert sizes[0] < N_ROWS and sizes[-1] == N_ROWS


def test_alpha_per_target_and_several_targets():
    """Two targets: each solved on its own rows' programmes; with
    ``alpha_per_target`` each chooses as a search of that target alone."""
    Y = np.c_[y, X[:, 0] * 3 - y]

    def search(**params):
        return TorchLinearRegressorCV(
            alphas=ALPHAS,
            l1_ratio=1.0,
            loss="quantile",
            quantile=0.8,
            cv=SPLITS,
            device="cpu",
            **params,
        )

    per_target = search(alpha_per_target=True).fit(X, Y)
    for k in range(2):
        alone = search().fit(X, Y[:, k])
        assert per_target.alpha_[k] == alone.alpha_
        _assert_close(per_target.coef_[k], alone.coef_, 1e-10)
        _assert_close(per_target.estimators_[k].coef_, alone.coef_, 1e-10)
    assert search().fit(X, Y).coef_.shape == (2, N_FEATURES)


def test_robust_search_pickles_and_predicts():
    search = TorchLinearRegressorCV(
        alphas=3, l1_ratio=1.0, loss="absolute_error", cv=3, device="cpu"
    ).fit(X, y)
    loaded = pickle.loads(pickle.dumps(search))
    assert_allclose(loaded.predict(X), search.predict(X), rtol=0, atol=0)
    assert search.best_estimator_.loss == "absolute_error"


def test_robust_losses_refuse_what_needs_statistics():
    """partial_fit and cv=None tune squared error from statistics: a robust
    loss gets a clear error."""
    search = TorchLinearRegressorCV(loss="quantile", cv=3)
    assert not hasattr(search, "partial_fit")
    with pytest.raises(ValueError, match="cv=None"):
        TorchLinearRegressorCV(loss="quantile", cv=None, device="cpu").fit(X, y)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_huber_scores_equal_grid_search(l1_ratio, weighted, sparse):
    """Check every split's R² of every Huber candidate against GridSearchCV
    over TorchLinearRegressor(loss="huber"): Newton's minimum from another
    split's solution is fit's from the least-squares start, and so are the
    chosen model's scale and outliers."""
    params = {"loss": "huber", "epsilon": 1.5}
    data = scipy.sparse.csr_matrix(X) if sparse else X
    weight = WEIGHTS if weighted else None
    ours = TorchLinearRegressorCV(
        alphas=5, l1_ratio=l1_ratio, cv=SPLITS, device="cpu", **params
    ).fit(data, y, sample_weight=weight)
    theirs = _grid_search(data, y, params, ours.cv_results_["params"], SPLITS, weight)
    for s in range(ours.n_splits_):
        key = f"split{s}_test_score"
        _assert_close(ours.cv_results_[key], theirs.cv_results_[key], 1e-9)
    assert ours.best_index_ == theirs.best_index_
    best, fit = ours.best_estimator_, theirs.best_estimator_
    _assert_close(best.coef_, fit.coef_, 1e-9)
    _assert_close(best.scale_, fit.scale_, 1e-9)
    assert np.array_equal(best.outliers_, fit.outliers_)
    assert best.solver_path_ == "newton" and ours.optimality_gap_ <= 1e-10


@pytest.mark.parametrize("params", [LOSSES["quantile"], {"loss": "huber"}])
def test_automatic_grid_starts_where_every_coefficient_is_zero(params):
    """The largest strength of an automatic L1 grid sets every coefficient to
    zero (to rounding, for Huber's smooth loss), and one 10% smaller does not
    (a fit at each, on all rows; HiGHS agrees for the quantile)."""
    search = TorchLinearRegressorCV(
        alphas=3, l1_ratio=1.0, cv=SPLITS, device="cpu", **params
    ).fit(X, y)
    largest = search.alphas_[0, 0]
    at = TorchLinearRegressor(alpha=largest, l1_ratio=1.0, device="cpu", **params)
    below = TorchLinearRegressor(
        alpha=0.9 * largest, l1_ratio=1.0, device="cpu", **params
    )
    below = below.fit(X, y)
    assert np.all(np.abs(at.fit(X, y).coef_) <= 1e-12 * np.abs(below.coef_).max())
    assert np.any(below.coef_ != 0)
