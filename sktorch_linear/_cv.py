"""TorchLinearRegressorCV: the penalty chosen by cross-validation, in one pass.

A facade as :class:`TorchLinearRegressor` is: the statistics of the splits come
from :mod:`._folds` (one pass over the data), every candidate of every split is
solved from them by :mod:`.solvers.path`, the held-out scores come from the
test rows' statistics (a second pass only for scorers that need predictions),
and the chosen model is solved from the statistics of all rows.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._dask import DaskData, check_features, concatenate, dask_data, is_dask
from ._dask import predict as dask_predict
from ._data import Data, matmul
from ._device import accumulation_dtype, resolve_device
from ._fitted import kept_on_failure
from ._folds import fold_statistics, stream_folds, stream_labels
from ._refit import refit
from ._search import Search, set_results
from ._threads import one_blas_thread, threads_for
from ._validation import validate, validate_X


def _streams(estimator):
    """Whether ``partial_fit`` can tune a stream (see its docstring)."""
    return Search.of(estimator, 1).streams()


class TorchLinearRegressorCV(RegressorMixin, BaseEstimator):
    """Linear regression with its penalty chosen by cross-validation, from the
    statistics of the folds.

    The objective is :class:`TorchLinearRegressor`'s (ridge, lasso or elastic
    net, on standardized coefficients by default). For squared error, one
    pass over the data gathers the statistics of the rows each split puts on
    either side; every split's training statistics are merged from them, every
    ``(alpha, l1_ratio)`` is solved from those (warm starts along the
    strengths), and R² and the mean squared error of the held-out rows come
    from their statistics exactly. Other scorers take one more pass, for the
    predictions. The chosen model is solved from the statistics of all rows,
    and refined against them only where ``fit`` would be (small or ill
    conditioned problems). For the absolute error and the quantile loss,
    each candidate is solved exactly from a small programme of the rows near
    a neighbouring solution's fit (the next larger strength, or another
    split's), checked on all its training rows; for Huber's, by Newton's
    method from another split's solution (see the user guide). The
    scores are those of ``GridSearchCV(TorchLinearRegressor(...), cv=...)``
    over the same grid.

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

    cv : int, cross-validation generator, iterable or None, default=5
        The splits, as ``GridSearchCV`` takes them: a number of folds
        (``KFold``), a scikit-learn splitter (``groups`` passed to its
        ``split``), or an iterable of ``(train, test)`` index arrays. None is
        ridge's efficient leave-one-out, as ``RidgeCV``'s: each row's error
        from the fit on all rows and its leverage, in two passes, every row
        left out under the scaling and penalty of all rows (``RidgeCV``'s
        ``alpha`` is this ``alpha`` times the sum of the weights, with
        ``standardize=False``); R² and the mean squared error are those of
        all rows' leave-one-out predictions.

    scoring : str or callable, default=None
        How held-out rows are scored: None (R², the estimator's ``score``),
        ``"r2"``, ``"neg_mean_squared_error"`` and
        ``"neg_root_mean_squared_error"`` come from the statistics; any other
        scorer (a name of :func:`sklearn.metrics.get_scorer_names` or a
        callable ``scorer(estimator, X, y)``) is given each candidate's
        predictions of the test rows, which takes a second pass. Rows are
        scored with unit weights, as ``GridSearchCV`` scores them.

    loss : {"squared_error", "huber", "absolute_error", "quantile"}, \
            default="squared_error"
        The loss, as :class:`TorchLinearRegressor`'s (the robust losses need
        ``X`` in memory, dense or sparse).

    epsilon : float, default=1.35
        Threshold of ``loss="huber"``, in ``(1, inf)``.

    quantile : float, default=0.5
        The quantile of ``loss="quantile"``, in ``(0, 1)``.

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    standardize : bool, default=True
        Whether the penalty applies to the coefficients of the standardized
        columns of ``X`` (see :class:`TorchLinearRegressor`); each training set
        is standardized by its own statistics, as a fit on it would be.

    max_iter : int, default=200
        Most sweeps of coordinate descent per candidate (iterations of the
        interior-point method per programme, for a robust loss), in ``[1,
        inf)``.

    tol : float, default=1e-4
        Tolerance of the relative duality gap of the refit model with an L1
        penalty (of every candidate, for a robust loss), in ``[0, inf)``.

    device : str or torch.device, default="auto"
        Where the statistics are gathered, as :class:`TorchLinearRegressor`'s.

    alpha_per_target : bool, default=False
        With several targets, whether each chooses its own ``(alpha,
        l1_ratio)`` by its own held-out score (R² or the (root) mean squared
        error), and is solved with it (``estimators_``).

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
        The chosen strength (per target with ``alpha_per_target``).
    l1_ratio_ : float or ndarray of shape (n_targets,)
        The chosen mix.
    alphas_ : ndarray of shape (n_l1_ratios, n_alphas)
        The strengths tried for each mix.
    best_score_ : float or ndarray of shape (n_targets,)
        Mean held-out score of the chosen candidate.
    best_index_ : int or ndarray of shape (n_targets,)
        Its index in ``cv_results_``.
    cv_results_ : dict of ndarray
        As ``GridSearchCV.cv_results_``: ``params``, ``param_alpha``,
        ``param_l1_ratio``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score`` and ``rank_test_score`` (with ``alpha_per_target``,
        of the targets' average; ``mean_test_score_per_target`` too).
    n_splits_ : int
        Number of splits.
    best_estimator_ : TorchLinearRegressor
        The chosen model, solved from the statistics of all rows, as ``fit``
        would solve it; its ``summary()`` and ``to_torch()`` are available.
        Not set with ``alpha_per_target``.
    estimators_ : list of TorchLinearRegressor
        With ``alpha_per_target``, each target's chosen model.
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
        For a robust loss, the iterations of the interior-point method that
        solved the chosen model on all rows.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
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
        "loss": [StrOptions({"squared_error", "huber", "absolute_error", "quantile"})],
        "epsilon": [Interval(Real, 1, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "alpha_per_target": ["boolean"],
    }

    def __init__(
        self,
        *,
        alphas=100,
        l1_ratio=0.0,
        eps=1e-3,
        cv=5,
        scoring=None,
        loss="squared_error",
        epsilon=1.35,
        quantile=0.5,
        fit_intercept=True,
        standardize=True,
        max_iter=200,
        tol=1e-4,
        device="auto",
        alpha_per_target=False,
    ):
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.cv = cv
        self.scoring = scoring
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.alpha_per_target = alpha_per_target

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every candidate and solve the chosen one on all rows.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask collection}, shape (n_samples, n_features)
            Training data. A Dask array or data frame (``y`` and
            ``sample_weight`` partitioned alike) stays on the workers: one task
            per part gathers its statistics.

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
        with kept_on_failure(self):
            return self._fit(X, y, sample_weight, groups)

    @available_if(_streams)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, groups=None):
        """Add a chunk of rows to the statistics of the folds, and choose again.

        Each row's fold is a fixed hash of its position in the stream, or of
        its group (``groups``: a group's rows share a fold, whichever chunks
        they come in); ``cv`` is the number of folds. Every candidate is
        scored from the folds' statistics merged over the chunks (R², the
        (root) mean squared error), and the chosen model is solved from the
        statistics of all rows seen, as ``TorchLinearRegressor.partial_fit``
        solves it. A failed update leaves the estimator as it was.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's rows.

        groups : array-like of shape (n_samples,), default=None
            Group labels of the chunk's rows.

        Returns
        -------
        self : TorchLinearRegressorCV
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressorCV
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(3000, 5))
        >>> y = X @ [1.0, 0.5, 0.0, 0.0, -2.0] + rng.normal(size=3000)
        >>> search = TorchLinearRegressorCV(alphas=20, l1_ratio=1.0, device="cpu")
        >>> for rows in np.array_split(np.arange(3000), 3):  # chunks, as they arrive
        ...     search = search.partial_fit(X[rows], y[rows])
        >>> (search.coef_.round(1) + 0.0).tolist()
        [1.0, 0.5, 0.0, 0.0, -2.0]
        """
        with kept_on_failure(self):
            return self._partial_fit(X, y, sample_weight, groups)

    def predict(self, X):
        """Predict with the chosen model.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask collection}, shape (n_samples, n_features)
            Samples (a Dask collection gives a lazy Dask array).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            float64 predictions.
        """
        check_is_fitted(self)
        if is_dask(X):  # lazy, part by part
            check_features(self, X, reset=False)
            return dask_predict(X, self.coef_, self.intercept_)
        return matmul(validate_X(self, X), self.coef_.T) + self.intercept_

    def summary(self, alpha=0.05, cov_type=None, data=None, **kwargs):
        """The chosen model's :meth:`TorchLinearRegressor.summary` (available
        where it is: a strength of 0); ``kwargs``: its ``groups``, ``maxlags``
        and ``use_t``."""
        check_is_fitted(self)
        if hasattr(self, "estimators_"):
            raise ValueError(
                "With alpha_per_target, each target has its model and summary: "
                "estimators_[k].summary()."
            )
        return self.best_estimator_.summary(
            alpha=alpha, cov_type=cov_type, data=data, **kwargs
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    def _fit(self, X, y, sample_weight, groups):
        vars(self).pop("_stream", None)  # a fit starts afresh
        device = resolve_device(self.device)
        accumulation_dtype(device)  # warns where float64 is missing
        Search.of(self, 1).check_dask(is_dask(X))  # before the parts are persisted
        data, y, y_ndim = self._data(X, y, sample_weight, device)
        dask = isinstance(data, DaskData)
        search = Search.of(self, y_ndim)
        elements = math.inf if dask else math.prod(data.shape[:2])
        paths = None
        with threads_for(elements), one_blas_thread():
            if self.cv is None:
                total, grid, scores, n_passes = search.leave_one_out(data, device)
            else:
                rows = np.empty((len(y), 0)) if dask else data.X
                splits = list(check_cv(self.cv, y).split(rows, y, groups))
                folds = fold_statistics(data, splits, device=device)
                total, grid = folds.total, search.grid(folds.total, data, device)
                paths = search.paths(folds, grid, data, splits, device)
                scores, n_passes = search.split_scores(
                    folds, grid, paths, data, y, splits
                )
                n_passes += folds.n_passes
            set_results(self, grid, scores, len(y) if self.cv is None else None)
            refit(self, total, data, y_ndim, device, n_passes, paths)
        return self

    def _partial_fit(self, X, y, sample_weight, groups):
        if is_dask(X):
            raise ValueError(
                "partial_fit takes chunks in memory; fit takes Dask collections."
            )
        stream = getattr(self, "_stream", None)
        device = resolve_device(self.device)
        accumulation_dtype(device)  # warns where float64 is missing
        data, _, y_ndim = self._data(X, y, sample_weight, device, stream is None)
        start, previous, passes = (0, None, 0) if stream is None else stream
        n_rows, n_targets = data.Y.shape
        if previous is not None and n_targets != previous[0].mean_y.size:
            raise ValueError(
                f"y has {n_targets} target(s), but the search was fitted with "
                f"{previous[0].mean_y.size}. Pass the same targets in every call."
            )
        labels = stream_labels(start, n_rows, self.cv, groups)
        search = Search.of(self, y_ndim)
        with threads_for(math.prod(data.shape[:2])), one_blas_thread():
            folds, atoms = stream_folds(previous, data, labels, self.cv, device=device)
            grid = search.grid(folds.total)
            splits = [(None, None)] * len(folds.test)
            scores, _ = search.split_scores(folds, grid, None, None, None, splits)
            set_results(self, grid, scores, None)
            refit(self, folds.total, None, y_ndim, device, passes + 1)
        self._stream = (start + n_rows, atoms, passes + 1)
        return self

    def _data(self, X, y, sample_weight, device, reset=True):
        """The validated :class:`Data` (or Dask's parts, held by the workers),
        the targets on the host (1-D for a 1-D ``y``) and ``y``'s dimensions;
        the features recorded with ``reset``, checked against them without
        (a later chunk, which may weigh nothing)."""
        if is_dask(X):
            data, y_ndim = dask_data(
                self, X, y, sample_weight, reset=True, quantiles=None
            )
            data = data.persist()
            Y = data.map_reduce(_targets, concatenate, device)
        else:
            X, Y, sample_weight, y_ndim = validate(
                self,
                X,
                y,
                sample_weight,
                reset=reset,
                check_finite=True,
                allow_all_zero=not reset,
            )
            data = Data(X, Y, sample_weight)
        return data, (Y[:, 0] if y_ndim == 1 else Y), y_ndim


def _targets(data, device):
    return data.Y
