"""TorchLinearRegressorCV: the penalty chosen by cross-validation, in one pass.

A facade as :class:`TorchLinearRegressor` is: the statistics of the splits come
from :mod:`._folds` (one pass over the data), every candidate of every split is
solved from them by :mod:`.solvers.path`, the held-out scores come from the
test rows' statistics (a second pass only for scorers that need predictions),
and the chosen model is solved from the statistics of all rows.
"""

from inspect import signature
from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import solvers
from ._config import Config
from ._data import Data, matmul
from ._device import accumulation_dtype, resolve_device
from ._fitted import set_fitted
from ._folds import fold_statistics, held_out_errors
from ._regressor import TorchLinearRegressor
from ._threads import one_blas_thread, threads_for
from ._validation import validate, validate_X
from ._warnings import warn
from .solvers.path import alpha_grid, penalty_path

# Scorers computed from the statistics of the test rows, without predictions.
_FROM_STATISTICS = {None, "r2", "neg_mean_squared_error", "neg_root_mean_squared_error"}


class TorchLinearRegressorCV(RegressorMixin, BaseEstimator):
    """Squared-error linear regression with its penalty chosen by
    cross-validation, from the statistics of the folds.

    The objective is :class:`TorchLinearRegressor`'s with ``loss="squared_error"``
    (ridge, lasso or elastic net, on standardized coefficients by default). One
    pass over the data gathers the statistics of the rows each split puts on
    either side; every split's training statistics are merged from them, every
    ``(alpha, l1_ratio)`` is solved from those (warm starts along the
    strengths), and R² and the mean squared error of the held-out rows come
    from their statistics exactly. Other scorers take one more pass, for the
    predictions. The chosen model is solved from the statistics of all rows,
    and refined against them only where ``fit`` would be (small or ill
    conditioned problems). The scores are those of
    ``GridSearchCV(TorchLinearRegressor(...), cv=...)`` over the same grid.

    Parameters
    ----------
    alphas : int or array-like of float, default=100
        The penalty strengths tried: a number of them on a log grid per
        ``l1_ratio`` (from the smallest that sets every coefficient to zero,
        computed on all rows, down to ``eps`` times it; for ridge, from 1 000
        times the lasso's down to ``eps`` times the lasso's), or the strengths
        themselves, each ``>= 0``.

    l1_ratio : float or array-like of float, default=0.0
        Mix of the penalty, in ``[0, 1]`` (0 ridge, 1 lasso), or several: every
        pair of a mix and a strength is a candidate.

    eps : float, default=1e-3
        Ratio of the smallest to the largest strength of an automatic grid.

    cv : int, cross-validation generator or iterable, default=5
        The splits, as ``GridSearchCV`` takes them: a number of folds
        (``KFold``), a scikit-learn splitter (``groups`` passed to its
        ``split``), or an iterable of ``(train, test)`` index arrays.

    scoring : str or callable, default=None
        How held-out rows are scored: None (R², the estimator's ``score``),
        ``"r2"``, ``"neg_mean_squared_error"`` and
        ``"neg_root_mean_squared_error"`` come from the statistics; any other
        scorer (a name of :func:`sklearn.metrics.get_scorer_names` or a
        callable ``scorer(estimator, X, y)``) is given each candidate's
        predictions of the test rows, which takes a second pass. Rows are
        scored with unit weights, as ``GridSearchCV`` scores them.

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    standardize : bool, default=True
        Whether the penalty applies to the coefficients of the standardized
        columns of ``X`` (see :class:`TorchLinearRegressor`); each training set
        is standardized by its own statistics, as a fit on it would be.

    max_iter : int, default=200
        Most sweeps of coordinate descent per candidate, in ``[1, inf)``.

    tol : float, default=1e-4
        Tolerance of the relative duality gap of the refit model with an L1
        penalty, in ``[0, inf)``.

    device : str or torch.device, default="auto"
        Where the statistics are gathered, as :class:`TorchLinearRegressor`'s.

    Attributes
    ----------
    alpha_ : float
        The chosen strength.
    l1_ratio_ : float
        The chosen mix.
    alphas_ : ndarray of shape (n_l1_ratios, n_alphas)
        The strengths tried for each mix.
    best_score_ : float
        Mean held-out score of the chosen candidate.
    best_index_ : int
        Its index in ``cv_results_``.
    cv_results_ : dict of ndarray
        As ``GridSearchCV.cv_results_``: ``params``, ``param_alpha``,
        ``param_l1_ratio``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score`` and ``rank_test_score``.
    n_splits_ : int
        Number of splits.
    best_estimator_ : TorchLinearRegressor
        The chosen model, solved from the statistics of all rows, as ``fit``
        would solve it; its
        ``summary()`` and ``to_torch()`` are available.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients of the chosen model, in the original units.
    intercept_ : float or ndarray of shape (n_targets,)
        Its intercept.
    optimality_gap_ : float or ndarray of shape (n_targets,)
        Its relative distance to the minimum (see :class:`TorchLinearRegressor`).
    n_iter_ : int
        Passes over the data: statistics, predictions for a scorer that needs
        them, and the refinement of the chosen model where it needs one (with
        an L1 penalty, the sweeps of coordinate descent of the chosen model).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    TorchLinearRegressor : The estimator with a given penalty.
    sklearn.linear_model.ElasticNetCV : scikit-learn's, a fit per fold and mix.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sktorch_linear import TorchLinearRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = TorchLinearRegressorCV(l1_ratio=[0.5, 1.0], device="cpu").fit(X, y)
    >>> search.cv_results_["mean_test_score"].shape
    (200,)
    >>> bool(search.best_score_ > 0.45), search.l1_ratio_ in (0.5, 1.0)
    (True, True)
    """

    _parameter_constraints = {
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        alphas=100,
        l1_ratio=0.0,
        eps=1e-3,
        cv=5,
        scoring=None,
        fit_intercept=True,
        standardize=True,
        max_iter=200,
        tol=1e-4,
        device="auto",
    ):
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every candidate and solve the chosen one on all rows.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the fits and of the held-out scores.

        groups : array-like of shape (n_samples,), default=None
            Group labels, for a splitter that takes them (``GroupKFold``).

        Returns
        -------
        self : TorchLinearRegressorCV
            The fitted estimator.
        """
        saved = dict(vars(self))
        try:
            return self._fit(X, y, sample_weight, groups)
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise

    def predict(self, X):
        """Predict with the chosen model.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            float64 predictions.
        """
        check_is_fitted(self)
        return matmul(validate_X(self, X), self.coef_.T) + self.intercept_

    def summary(self, alpha=0.05, cov_type="nonrobust", data=None):
        """The chosen model's :meth:`TorchLinearRegressor.summary` (available
        where it is: a strength of 0)."""
        check_is_fitted(self)
        return self.best_estimator_.summary(alpha=alpha, cov_type=cov_type, data=data)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    def _fit(self, X, y, sample_weight, groups):
        device = resolve_device(self.device)
        dtype = accumulation_dtype(device)
        X, Y, sample_weight, y_ndim = validate(
            self,
            X,
            y,
            sample_weight,
            reset=True,
            check_finite=True,
            allow_all_zero=False,
        )
        data = Data(X, Y, sample_weight)
        y = Y[:, 0] if y_ndim == 1 else Y
        splits = list(check_cv(self.cv, y).split(X, y, groups))
        with threads_for(np.prod(X.shape)), one_blas_thread():
            folds = fold_statistics(data, splits, device=device, dtype=dtype)
            grid = self._grid(folds.total)
            scores, n_passes = self._scores(folds, grid, data, y, splits)
            self._set_results(grid, scores)
            self._refit(folds.total, data, y_ndim, device, folds.n_passes + n_passes)
        return self

    def _grid(self, moments):
        """``[(l1_ratio, alphas), ...]``: the strengths tried with each mix."""
        ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))
        if ratios.ndim != 1 or not np.all((ratios >= 0) & (ratios <= 1)):
            raise ValueError(f"l1_ratio must be in [0, 1]; got {self.l1_ratio!r}.")
        if isinstance(self.alphas, Integral):
            options = {"n_alphas": self.alphas, "eps": self.eps}
            options.update(
                fit_intercept=self.fit_intercept, standardize=self.standardize
            )
            return [(r, alpha_grid(moments, l1_ratio=r, **options)) for r in ratios]
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if not (alphas.size and np.all(np.isfinite(alphas)) and np.all(alphas >= 0)):
            raise ValueError(
                f"alphas must be a positive int or non-negative finite floats; got "
                f"{self.alphas!r}."
            )
        return [(r, alphas) for r in ratios]

    def _scores(self, folds, grid, data, y, splits):
        """Held-out scores, shape ``(n_splits, n_candidates)``, and the passes
        over ``X`` the predictions took."""
        scores, unsettled = [], False
        for s, (train, test) in enumerate(splits):
            coef, intercept, settled = penalty_path(
                folds.train[s],
                grid,
                fit_intercept=self.fit_intercept,
                standardize=self.standardize,
                max_sweeps=self.max_iter,
            )
            unsettled |= not settled
            if self.scoring in _FROM_STATISTICS:
                scores.append(
                    _statistics_scores(folds.test[s], coef, intercept, self.scoring)
                )
            else:
                scores.append(self._predicted_scores(data, y, test, coef, intercept))
        if unsettled:
            warn(
                f"Coordinate descent reached max_iter={self.max_iter} sweeps for "
                "some candidates before settling; their scores are of unfinished "
                "fits. Increase max_iter.",
                ConvergenceWarning,
            )
        return np.array(scores), int(self.scoring not in _FROM_STATISTICS)

    def _predicted_scores(self, data, y, test, coef, intercept):
        """Every candidate's ``scoring`` of its predictions of the test rows
        (with their sample weights where the scorer takes them, as
        ``GridSearchCV`` scores)."""
        scorer = get_scorer(self.scoring)
        rows = data.rows(test)
        m, k, p = coef.shape
        predictions = np.asarray(matmul(rows.X, coef.reshape(m * k, p).T))
        predictions = predictions.reshape(-1, m, k) + intercept
        y_test = y[test]
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

    def _set_results(self, grid, scores):
        alphas = [a for _, group in grid for a in group]
        ratios = [r for r, group in grid for _ in group]
        mean, std = scores.mean(axis=0), scores.std(axis=0)
        results = {
            "params": [
                {"alpha": float(a), "l1_ratio": float(r)}
                for a, r in zip(alphas, ratios)
            ],
            "param_alpha": np.ma.MaskedArray(np.array(alphas), mask=False),
            "param_l1_ratio": np.ma.MaskedArray(np.array(ratios), mask=False),
        }
        results.update({f"split{s}_test_score": row for s, row in enumerate(scores)})
        results["mean_test_score"], results["std_test_score"] = mean, std
        results["rank_test_score"] = rankdata(-mean, method="min").astype(np.int32)
        self.cv_results_ = results
        self.best_index_ = int(np.argmin(results["rank_test_score"]))
        self.best_score_ = float(mean[self.best_index_])
        self.alpha_ = float(alphas[self.best_index_])
        self.l1_ratio_ = float(ratios[self.best_index_])
        self.alphas_ = np.array([group for _, group in grid])
        self.n_splits_ = scores.shape[0]

    def _refit(self, moments, data, y_ndim, device, n_passes):
        """The chosen model, solved from the statistics of all rows (refined
        against them only where ``fit`` would be)."""
        best = TorchLinearRegressor(
            alpha=self.alpha_,
            l1_ratio=self.l1_ratio_,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            max_iter=self.max_iter,
            tol=self.tol,
            device=self.device,
        )
        best.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            best.feature_names_in_ = self.feature_names_in_
        config = Config.from_params(best.get_params(), solver="exact", device=device)
        result = solvers.solve_statistics(moments, config, n_passes, data)
        set_fitted(best, result, config, y_ndim)
        self.best_estimator_ = best
        self.coef_, self.intercept_ = best.coef_, best.intercept_
        self.optimality_gap_ = best.optimality_gap_
        self.n_iter_ = best.n_iter_


def _statistics_scores(moments, coef, intercept, scoring):
    """Held-out R² or (root) mean squared error per candidate, averaged over the
    targets, from the statistics of the test rows."""
    errors, spread = held_out_errors(moments, coef, intercept)
    if scoring in (None, "r2"):
        # r2_score gives 0 where the test targets are constant (1 for a fit
        # without error, which statistics cannot tell from rounding)
        r2 = np.where(spread > 0, 1 - errors / np.where(spread > 0, spread, 1), 0.0)
        return r2.mean(axis=-1)
    mse = errors / moments.weight_sum
    if scoring == "neg_root_mean_squared_error":
        return -np.sqrt(mse).mean(axis=-1)
    return -mse.mean(axis=-1)


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
