"""Held-out scores of the candidates of a cross-validation: R² and the mean
squared error from the statistics of the test rows, any other scorer from the
candidates' predictions."""

from functools import partial
from inspect import signature

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import get_scorer

from ._data import matmul
from ._folds import held_out_errors

# Scorers computed from the statistics of the test rows, without predictions.
FROM_STATISTICS = {None, "r2", "neg_mean_squared_error", "neg_root_mean_squared_error"}


def statistics_scores(moments, coef, intercept, scoring, per_target=False):
    """Held-out scores per candidate (``coef`` of shape ``(n_candidates,
    n_targets, n_features)``) from the statistics of the test rows."""
    errors, spread = held_out_errors(moments, coef, intercept)
    return error_scores(errors, spread, moments.weight_sum, scoring, per_target)


def error_scores(errors, spread, weight_sum, scoring, per_target=False):
    """R² or the (root) mean squared error per candidate, averaged over the
    targets (or per target), of the sums of squared errors ``errors``
    (candidates, targets) of rows whose targets' sums of squares about their
    means are ``spread``."""
    average = (lambda values: values) if per_target else partial(np.mean, axis=-1)
    if scoring in (None, "r2"):
        # r2_score gives 0 where the test targets are constant (1 for a fit
        # without error, which statistics cannot tell from rounding)
        r2 = np.where(spread > 0, 1 - errors / np.where(spread > 0, spread, 1), 0.0)
        return average(r2)
    mse = errors / weight_sum
    if scoring == "neg_root_mean_squared_error":
        return -average(np.sqrt(mse))
    return -average(mse)


def predicted_scores(scoring, rows, y_test, coef, intercept):
    """Every candidate's ``scoring`` of its predictions of the test ``rows``
    (with their sample weights where the scorer takes them, as
    ``GridSearchCV`` scores)."""
    scorer = get_scorer(scoring)
    m, k, p = coef.shape
    predictions = np.asarray(matmul(rows.X, coef.reshape(m * k, p).T))
    predictions = predictions.reshape(-1, m, k) + intercept
    weight = {}
    if rows.sample_weight is not None and _accepts_weights(scorer):
        weight["sample_weight"] = rows.sample_weight
    return [
        scorer(
            _Predictions(predictions[:, c].reshape(y_test.shape)),
            rows.X,
            y_test,
            **weight,
        )
        for c in range(m)
    ]


def _accepts_weights(scorer):
    if hasattr(scorer, "_accept_sample_weight"):
        return scorer._accept_sample_weight()
    return "sample_weight" in signature(scorer).parameters


class _Predictions(RegressorMixin, BaseEstimator):
    """One candidate, as a scorer sees it: its predictions of the test rows."""

    def __init__(self, values=None):
        self.values = values

    def predict(self, X):
        return self.values
