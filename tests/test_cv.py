"""TorchLinearRegressorCV against GridSearchCV over TorchLinearRegressor (the
same splits, candidates and scorers, each fit on its own), and the passes over
the data it takes."""

import pickle

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneOut,
    ShuffleSplit,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sktorch_linear._folds as folds_module
from sktorch_linear import TorchLinearRegressor, TorchLinearRegressorCV
from sktorch_linear._data import Data
from sktorch_linear._folds import stream_labels

X, y = load_diabetes(return_X_y=True)
WEIGHTS = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
GROUPS = np.arange(len(y)) % 7
ALPHAS = [1e-3, 1e-2, 0.1, 1.0]
SPLITTERS = {
    "kfold": KFold(5, shuffle=True, random_state=0),
    "group_kfold": GroupKFold(4),
    "shuffle_split": ShuffleSplit(4, test_size=0.25, random_state=1),
}


def _search(X, y, candidates, cv, scoring, sample_weight=None, groups=None):
    """GridSearchCV over TorchLinearRegressor: one fit per split and candidate."""
    grid = [{"alpha": [c["alpha"]], "l1_ratio": [c["l1_ratio"]]} for c in candidates]
    search = GridSearchCV(
        TorchLinearRegressor(device="cpu"), grid, cv=cv, scoring=scoring
    )
    return search.fit(X, y, sample_weight=sample_weight, groups=groups)


def _assert_same_search(ours, theirs):
    """Same candidates, per-split scores to 1e-10 relative (R² is unitless:
    1e-12 absolute), same choice, and the refit model of the choice."""
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for s in range(ours.n_splits_):
        assert_allclose(
            ours.cv_results_[f"split{s}_test_score"],
            theirs.cv_results_[f"split{s}_test_score"],
            rtol=1e-10,
            atol=1e-12,
        )
    assert ours.best_index_ == theirs.best_index_
    assert ours.alpha_ == theirs.best_params_["alpha"]
    assert ours.l1_ratio_ == theirs.best_params_["l1_ratio"]
    best = theirs.best_estimator_
    scale = np.max(np.abs(best.coef_))
    assert_allclose(ours.coef_, best.coef_, rtol=0, atol=1e-10 * scale)
    intercept_scale = max(np.abs(best.intercept_).max(), scale)
    assert_allclose(
        ours.intercept_, best.intercept_, rtol=0, atol=1e-10 * intercept_scale
    )


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("splitter", list(SPLITTERS))
def test_scores_equal_grid_search(l1_ratio, weighted, sparse, splitter):
    """Check every split's R² of every candidate against GridSearchCV's, for
    ridge, elastic net and lasso, weighted or not, dense or CSR, and three
    kinds of splits."""
    data = scipy.sparse.csr_matrix(X) if sparse else X
    weight = WEIGHTS if weighted else None
    cv = SPLITTERS[splitter]
    groups = GROUPS if splitter == "group_kfold" else None
    ours = TorchLinearRegressorCV(alphas=ALPHAS, l1_ratio=l1_ratio, cv=cv, device="cpu")
    ours.fit(data, y, sample_weight=weight, groups=groups)
    theirs = _search(data, y, ours.cv_results_["params"], cv, None, weight, groups)
    _assert_same_search(ours, theirs)


@pytest.mark.parametrize(
    "scoring",
    [
        "neg_mean_squared_error",
        "neg_root_mean_squared_error",
        "neg_mean_absolute_error",
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_other_scorers_equal_grid_search(scoring, weighted):
    """Check the mean squared error (from statistics) and scorers that need
    predictions against GridSearchCV's, over an automatic grid of two
    mixes."""
    weight = WEIGHTS if weighted else None
    cv = KFold(4, shuffle=True, random_state=2)
    ours = TorchLinearRegressorCV(
        alphas=6, l1_ratio=[0.3, 1.0], cv=cv, scoring=scoring, device="cpu"
    ).fit(X, y, sample_weight=weight)
    theirs = _search(X, y, ours.cv_results_["params"], cv, scoring, weight)
    _assert_same_search(ours, theirs)


def test_several_targets_equal_grid_search():
    """Check R² averaged over several targets (an elastic net, two targets)."""
    Y = np.c_[y, X[:, 2] * 100 + y / 3]
    cv = KFold(3, shuffle=True, random_state=3)
    ours = TorchLinearRegressorCV(alphas=ALPHAS, l1_ratio=0.7, cv=cv, device="cpu")
    ours.fit(X, Y)
    theirs = _search(X, Y, ours.cv_results_["params"], cv, None)
    _assert_same_search(ours, theirs)
    assert ours.coef_.shape == (2, X.shape[1])


def test_alpha_per_target_equals_a_search_per_target():
    """Check that with ``alpha_per_target`` each target's scores, choice and
    model are those of GridSearchCV on that target alone."""
    Y = np.c_[y, X[:, 2] * 300 + y / 10]
    cv = KFold(4, shuffle=True, random_state=5)
    ours = TorchLinearRegressorCV(
        alphas=6, l1_ratio=[0.5, 1.0], cv=cv, alpha_per_target=True, device="cpu"
    ).fit(X, Y, sample_weight=WEIGHTS)
    per_target = ours.cv_results_["mean_test_score_per_target"]
    for k in range(2):
        theirs = _search(X, Y[:, k], ours.cv_results_["params"], cv, None, WEIGHTS)
        assert_allclose(
            per_target[:, k],
            theirs.cv_results_["mean_test_score"],
            rtol=1e-10,
            atol=1e-12,  # R² is unitless
        )
        assert ours.alpha_[k] == theirs.best_params_["alpha"]
        assert ours.l1_ratio_[k] == theirs.best_params_["l1_ratio"]
        assert_allclose(ours.best_score_[k], theirs.best_score_, rtol=1e-10, atol=1e-12)
        best = theirs.best_estimator_
        scale = np.abs(best.coef_).max()
        assert_allclose(ours.coef_[k], best.coef_, rtol=0, atol=1e-10 * scale)
        assert ours.estimators_[k].alpha == ours.alpha_[k]
    assert ours.alpha_[0] != ours.alpha_[1]  # the targets do choose differently
    assert_allclose(ours.predict(X), X @ ours.coef_.T + ours.intercept_)
    with pytest.raises(ValueError, match="estimators_"):
        ours.summary()


def test_alpha_per_target_leave_one_out_matches_ridge_cv():
    """Check ``cv=None`` with ``alpha_per_target`` against RidgeCV's."""
    Y = np.c_[y, X[:, 2] * 300 + y / 10]
    ours = TorchLinearRegressorCV(
        alphas=ALPHAS,
        cv=None,
        alpha_per_target=True,
        standardize=False,
        scoring="neg_mean_squared_error",
        device="cpu",
    ).fit(X, Y)
    theirs = RidgeCV(alphas=np.array(ALPHAS) * len(y), alpha_per_target=True)
    theirs.fit(X, Y)
    # the same strengths of the grid, chosen per target
    theirs_grid = list(np.array(ALPHAS) * len(y))
    assert [ALPHAS.index(a) for a in ours.alpha_] == [
        theirs_grid.index(a) for a in theirs.alpha_
    ]
    scale = np.abs(theirs.coef_).max()
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-10 * scale)


def test_alpha_per_target_refusals_and_one_target():
    """Check that per-target choices need scores from statistics, and that a
    1-D ``y`` keeps one choice."""
    with pytest.raises(ValueError, match="alpha_per_target"):
        TorchLinearRegressorCV(
            alpha_per_target=True, scoring="neg_max_error", device="cpu"
        ).fit(X, np.c_[y, y])
    ours = TorchLinearRegressorCV(alphas=ALPHAS, alpha_per_target=True).fit(X, y)
    assert np.ndim(ours.alpha_) == 0 and hasattr(ours, "best_estimator_")


def test_results_have_grid_search_layout():
    """Check the keys and ranks of cv_results_ and the automatic grid: from
    the smallest strength that zeroes the lasso, down to eps times it."""
    ours = TorchLinearRegressorCV(alphas=5, l1_ratio=1.0, cv=3, device="cpu").fit(X, y)
    results = ours.cv_results_
    for key in ["params", "param_alpha", "param_l1_ratio", "mean_test_score"]:
        assert key in results
    assert {f"split{s}_test_score" for s in range(3)} <= set(results)
    mean = results["mean_test_score"]
    assert results["rank_test_score"][np.argmax(mean)] == 1
    assert ours.best_score_ == mean.max()
    assert_allclose(ours.alphas_[0][-1] / ours.alphas_[0][0], 1e-3)
    # (at the largest itself, rounding may leave one coefficient at 1e-13)
    above = ours.alphas_[0][0] * (1 + 1e-9)
    largest = TorchLinearRegressor(alpha=above, l1_ratio=1.0).fit(X, y)
    assert not np.any(largest.coef_)
    smaller = TorchLinearRegressor(alpha=ours.alphas_[0][0] * 0.99, l1_ratio=1.0)
    assert np.count_nonzero(smaller.fit(X, y).coef_) == 1


def test_many_atoms_and_far_shifts_equal_grid_search(monkeypatch):
    """Check the split-by-split statistics (splits sharing few rows) and the
    second pass of atoms whose means are far from the first block's (data
    sorted by a column with a jump per fold)."""
    X_far = X.copy()
    X_far[:, 0] += np.repeat(np.arange(4) * 1e6, -(-len(y) // 4))[: len(y)]
    cv = KFold(4)
    for limit in (folds_module._MAX_ATOM_VALUES, 0):
        monkeypatch.setattr(folds_module, "_MAX_ATOM_VALUES", limit)
        ours = TorchLinearRegressorCV(alphas=ALPHAS, l1_ratio=0.5, cv=cv, device="cpu")
        ours.fit(X_far, y, sample_weight=WEIGHTS)
        theirs = _search(X_far, y, ours.cv_results_["params"], cv, None, WEIGHTS)
        _assert_same_search(ours, theirs)


def test_leave_one_out_splitter_equals_grid_search():
    """Check explicit leave-one-out splits (every training set merged from the
    atoms before and after its row) against GridSearchCV."""
    rows = slice(0, 40)
    cv = LeaveOneOut()
    ours = TorchLinearRegressorCV(
        alphas=ALPHAS,
        l1_ratio=0.5,
        cv=cv,
        scoring="neg_mean_squared_error",
        device="cpu",
    ).fit(X[rows], y[rows], sample_weight=WEIGHTS[rows])
    theirs = _search(
        X[rows],
        y[rows],
        ours.cv_results_["params"],
        cv,
        "neg_mean_squared_error",
        WEIGHTS[rows],
    )
    _assert_same_search(ours, theirs)


@pytest.mark.parametrize("l1_ratio, rtol", [(0.0, 1e-9), (1.0, 1e-6)])
def test_ill_conditioned_scores_equal_grid_search(l1_ratio, rtol):
    """Check a polynomial basis (powers 1-6 of a variable on [1, 2], condition
    number about 1e7 after standardizing) against GridSearchCV, whose fits
    keep R factors where the folds' merged Gram matrices lose the square of
    the condition number (measured: 5.7e-11 for ridge, 5.3e-8 for the lasso,
    which both solve from Gram matrices)."""
    rng = np.random.default_rng(0)
    t = rng.uniform(1, 2, 400)
    X_poly = np.c_[[t**k for k in range(1, 7)]].T
    y_poly = np.sin(3 * t) + 0.01 * rng.normal(size=400)
    cv = KFold(5, shuffle=True, random_state=0)
    alphas = [1e-10, 1e-8, 1e-6, 1e-4]
    ours = TorchLinearRegressorCV(alphas=alphas, l1_ratio=l1_ratio, cv=cv, device="cpu")
    ours.fit(X_poly, y_poly)
    theirs = _search(X_poly, y_poly, ours.cv_results_["params"], cv, None)
    for s in range(5):
        assert_allclose(
            ours.cv_results_[f"split{s}_test_score"],
            theirs.cv_results_[f"split{s}_test_score"],
            rtol=rtol,
            atol=1e-12,  # R² is unitless
        )
    assert ours.best_index_ == theirs.best_index_


def _count_rows_read(monkeypatch):
    """A counter of the rows of X read through Data.blocks and Data.rows."""
    counter = {"rows": 0}
    blocks, rows = Data.blocks, Data.rows

    def counting_blocks(self, **kwargs):
        for block in blocks(self, **kwargs):
            counter["rows"] += block[0].shape[0]
            yield block

    def counting_rows(self, indices):
        counter["rows"] += len(indices)
        return rows(self, indices)

    monkeypatch.setattr(Data, "blocks", counting_blocks)
    monkeypatch.setattr(Data, "rows", counting_rows)
    return counter


@pytest.mark.parametrize(
    "scoring, passes", [(None, 1), ("neg_mean_squared_error", 1), ("neg_max_error", 2)]
)
def test_passes_over_the_data(monkeypatch, scoring, passes):
    """Check that a search of 5 folds x 10 strengths x 2 mixes reads each row
    once with R² or the mean squared error, and twice with a scorer that needs
    predictions (20 000 x 10, large enough that the chosen ridge model is not
    refined against the rows)."""
    rng = np.random.default_rng(4)
    X_big = rng.normal(size=(20_000, 10))
    y_big = X_big @ rng.normal(size=10) + rng.normal(size=20_000)
    counter = _count_rows_read(monkeypatch)
    search = TorchLinearRegressorCV(
        alphas=10, l1_ratio=[0.0, 1.0], scoring=scoring, device="cpu"
    )
    search.fit(X_big, y_big)
    assert counter["rows"] == passes * len(y_big)
    assert search.cv_results_["mean_test_score"].shape == (20,)


@pytest.mark.parametrize("scoring", [None, "r2", "neg_mean_squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
def test_leave_one_out_matches_ridge_cv(scoring, weighted):
    """Check ``cv=None`` against RidgeCV's efficient leave-one-out (``alpha *
    sum(sample_weight)`` in RidgeCV's units without standardizing), each
    given the same scorer (RidgeCV's default is the negative mean squared
    error, ours R²)."""
    weight = WEIGHTS if weighted else None
    total = len(y) if weight is None else WEIGHTS.sum()
    ours = TorchLinearRegressorCV(
        alphas=ALPHAS, cv=None, scoring=scoring, standardize=False, device="cpu"
    ).fit(X, y, sample_weight=weight)
    theirs = RidgeCV(
        alphas=np.array(ALPHAS) * total,
        scoring="r2" if scoring is None else scoring,
    ).fit(X, y, sample_weight=weight)
    assert ours.alpha_ * total == theirs.alpha_
    scale = np.abs(theirs.coef_).max()
    assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-10 * scale)
    assert ours.n_splits_ == len(y)
    # R² is unitless; the mean squared error is in units of var(y)
    score_scale = 1.0 if scoring != "neg_mean_squared_error" else np.var(y)
    assert_allclose(
        ours.best_score_, theirs.best_score_, rtol=1e-10, atol=1e-12 * score_scale
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_leave_one_out_equals_refits_without_each_row(fit_intercept):
    """Check the weighted, standardized leave-one-out errors against fits
    without each row (by lstsq), with the scaling and penalty of all rows."""
    rows = slice(0, 60)
    X_small, y_small, w = X[rows], y[rows], WEIGHTS[rows]
    alphas = [1e-3, 0.05, 2.0]
    ours = TorchLinearRegressorCV(
        alphas=alphas,
        cv=None,
        scoring="neg_mean_squared_error",
        fit_intercept=fit_intercept,
        device="cpu",
    ).fit(X_small, y_small, sample_weight=w)
    center = np.average(X_small, axis=0, weights=w) if fit_intercept else 0
    y_center = np.average(y_small, weights=w) if fit_intercept else 0
    sigma = np.sqrt(np.average((X_small - np.average(X_small, 0, w)) ** 2, 0, w))
    Z, t = (X_small - center) / sigma, y_small - y_center
    for alpha, score in zip(alphas, ours.cv_results_["mean_test_score"]):
        errors = []
        for i in range(len(y_small)):
            keep = np.arange(len(y_small)) != i
            root = np.sqrt(w[keep])[:, None]
            design = np.c_[np.ones(keep.sum()), Z[keep]] if fit_intercept else Z[keep]
            ridge = np.sqrt(alpha * w.sum()) * np.eye(design.shape[1])
            if fit_intercept:
                ridge = ridge[1:]
            A = np.r_[design * root, ridge]
            b = np.r_[t[keep] * root[:, 0], np.zeros(len(ridge))]
            beta = np.linalg.lstsq(A, b, rcond=None)[0]
            row = np.r_[1.0, Z[i]] if fit_intercept else Z[i]
            errors.append(t[i] - row @ beta)
        expected = -np.average(np.square(errors), weights=w)
        assert_allclose(score, expected, rtol=1e-10, atol=1e-12 * np.var(y_small))


def test_leave_one_out_refuses_what_it_cannot_do():
    """Check that cv=None refuses an L1 penalty and prediction scorers."""
    with pytest.raises(ValueError, match="for ridge"):
        TorchLinearRegressorCV(l1_ratio=0.5, cv=None, device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="leave-one-out errors with"):
        TorchLinearRegressorCV(cv=None, scoring="neg_max_error").fit(X, y)


def _splits_of(labels):
    """Each fold trained on the others, as index arrays."""
    rows = np.arange(len(labels))
    folds = np.unique(labels)
    return [(rows[labels != f], rows[labels == f]) for f in folds]


@pytest.mark.parametrize("grouped", [False, True])
def test_partial_fit_equals_fit_on_the_same_folds(grouped):
    """Check that chunks of a stream (weighted, folds from a hash of the row's
    position or of its group) give the scores, choice and model of ``fit``
    with the same folds."""
    groups = GROUPS * 3 + 1 if grouped else None
    labels = stream_labels(0, len(y), 4, groups)
    if grouped:  # a group's rows share a fold
        assert all(len(set(labels[GROUPS == g])) == 1 for g in np.unique(GROUPS))
    params = {"alphas": 8, "l1_ratio": [0.5, 1.0], "device": "cpu"}
    stream = TorchLinearRegressorCV(cv=4, **params)
    for rows in np.array_split(np.arange(len(y)), 5):
        stream.partial_fit(
            X[rows],
            y[rows],
            sample_weight=WEIGHTS[rows],
            groups=None if groups is None else groups[rows],
        )
    batch = TorchLinearRegressorCV(cv=_splits_of(labels), **params)
    batch.fit(X, y, sample_weight=WEIGHTS)
    largest = batch.alphas_.max()
    assert_allclose(stream.alphas_, batch.alphas_, rtol=1e-12, atol=1e-12 * largest)
    for s in range(4):
        assert_allclose(
            stream.cv_results_[f"split{s}_test_score"],
            batch.cv_results_[f"split{s}_test_score"],
            rtol=1e-10,
            atol=1e-12,
        )
    assert (stream.best_index_, stream.l1_ratio_) == (
        batch.best_index_,
        batch.l1_ratio_,
    )
    scale = np.abs(batch.coef_).max()
    assert_allclose(stream.coef_, batch.coef_, rtol=0, atol=1e-10 * scale)
    assert stream.n_iter_ == stream.best_estimator_.n_iter_ >= 1  # its sweeps


def test_partial_fit_refuses_what_it_cannot_do():
    """Check the refusals of partial_fit: splitters, prediction scorers, other
    columns or targets, and fewer than two folds with rows; a fit afterwards
    starts afresh."""
    for params, reason in [
        ({"cv": KFold(3)}, "number of folds"),
        ({"cv": None}, "number of folds"),
        ({"scoring": "neg_max_error"}, "R²"),
    ]:
        with pytest.raises(AttributeError, match="partial_fit") as refused:
            TorchLinearRegressorCV(**params).partial_fit(X, y)
        assert reason in str(refused.value.__cause__)
    with pytest.raises(ValueError, match="folds have rows"):
        TorchLinearRegressorCV(device="cpu").partial_fit(X[:1], y[:1])
    search = TorchLinearRegressorCV(alphas=ALPHAS, device="cpu").partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        search.partial_fit(X[:, :5], y)
    with pytest.raises(ValueError, match="target"):
        search.partial_fit(X, np.c_[y, y])
    assert search.cv_results_["params"][0]["alpha"] == ALPHAS[0]
    refit = search.fit(X[:100], y[:100])
    assert not hasattr(refit, "_stream")
    assert refit.best_estimator_.scaler_.n_samples_seen_ == 100


def test_pipeline_and_pickle():
    """Check the estimator as a Pipeline step, and its pickle."""
    pipe = make_pipeline(StandardScaler(), TorchLinearRegressorCV(device="cpu"))
    pipe.fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    assert_allclose(restored.predict(X), pipe.predict(X), rtol=0, atol=0)
    search = restored[-1]
    assert search.best_estimator_.alpha == search.alpha_


def test_failed_fit_leaves_the_model_as_it_was():
    """Check that a fit that raises keeps the previous fit's attributes."""
    search = TorchLinearRegressorCV(alphas=ALPHAS, device="cpu").fit(X, y)
    before = dict(vars(search))
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        search.fit(bad, y)
    assert vars(search).keys() == before.keys()
    assert search.alpha_ == before["alpha_"]
    assert search.coef_ is before["coef_"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alphas": [0.1, -1.0]}, "alphas must be"),
        ({"alphas": [0.1, np.inf]}, "alphas must be"),
        ({"l1_ratio": [0.5, 2.0]}, "l1_ratio must be in"),
    ],
)
def test_bad_grids_are_refused(params, message):
    """Check that negative, infinite or out-of-range candidates are refused."""
    with pytest.raises(ValueError, match=message):
        TorchLinearRegressorCV(device="cpu", **params).fit(X, y)
