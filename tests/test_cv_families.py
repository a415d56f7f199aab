"""TorchLinearRegressorCV against GridSearchCV over TorchLinearRegressor on the
certification matrix's families of data (shapes, scales, weights, layouts):
the lasso and ridge of squared error from the folds' statistics, and the
quantile's lasso from the small programmes, split by split, on every family
of 12 to 6 000 rows (about 25 s).
"""

import warnings

import numpy as np
import pytest
from certify.families import FAMILIES
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV, KFold

from sktorch_linear import TorchLinearRegressor, TorchLinearRegressorCV

ALPHAS = [1.0, 0.1, 0.01, 0.001]
CASES = {
    "lasso": {"l1_ratio": 1.0},
    "ridge": {"l1_ratio": 0.0},
    # (a quantile that no training size of these families times a whole
    # number: the minimum of an intercept alone is then unique)
    "quantile_lasso": {"l1_ratio": 1.0, "loss": "quantile", "quantile": 0.713},
}


def _families():
    return [
        name
        for name, family in FAMILIES.items()
        if 12 <= family.data(0)[0].shape[0] <= 6_000
    ]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("family", _families())
def test_split_scores_equal_grid_search(family, case):
    """Every split's mean squared error of every candidate equals
    GridSearchCV's to 1e-9 relative (1e-12 of the targets' mean square
    absolute), and so does the choice's."""
    family = FAMILIES[family]
    X, y, weight = family.data(0)
    params = {**family.params, **CASES[case]}
    l1_ratio = params.pop("l1_ratio")
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = "neg_mean_squared_error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the families' own warnings)
        ours = TorchLinearRegressorCV(
            alphas=ALPHAS,
            l1_ratio=l1_ratio,
            cv=cv,
            scoring=scoring,
            device="cpu",
            **params,
        ).fit(X, y, sample_weight=weight)
        theirs = GridSearchCV(
            TorchLinearRegressor(device="cpu", **params),
            {"alpha": ALPHAS, "l1_ratio": [l1_ratio]},
            cv=cv,
            scoring=scoring,
        ).fit(X, y, sample_weight=weight)
    floor = 1e-12 * float(np.mean(np.square(np.asarray(y, dtype=float))))
    for s in range(3):
        key = f"split{s}_test_score"
        assert_allclose(
            ours.cv_results_[key], theirs.cv_results_[key], rtol=1e-9, atol=floor
        )
    # (the same choice, or one whose score ties with it to rounding: a target
    # fitted exactly scores 0 at several strengths)
    best = theirs.cv_results_["mean_test_score"][ours.best_index_]
    assert_allclose(best, theirs.best_score_, rtol=1e-9, atol=floor)
