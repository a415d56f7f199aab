"""The candidates of a cross-validation and their held-out scores: the grid of
penalties, every split's path of solutions from its training statistics, and
the results in the layout of scikit-learn's searches."""

from dataclasses import dataclass, replace
from functools import partial
from numbers import Integral

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning

from ._device import accumulation_dtype
from ._moments import accumulate
from ._scaling import Scaling
from ._scores import FROM_STATISTICS, error_scores, predicted_scores, statistics_scores
from ._warnings import warn
from .solvers import huber_path, robust_path
from .solvers.path import alpha_grid, leave_one_out, penalty_path


@dataclass(frozen=True)
class Search:
    """What a cross-validation tries and how it scores, from the estimator's
    parameters of the same names."""

    alphas: object
    l1_ratio: object
    eps: float
    cv: object
    epsilon: float
    scoring: object
    loss: str
    quantile: float
    fit_intercept: bool
    standardize: bool
    max_iter: int
    tol: float
    alpha_per_target: bool

    @classmethod
    def of(cls, estimator, y_ndim):
        """The search of ``estimator``'s parameters, for a ``y`` of ``y_ndim``
        dimensions (one target chooses one candidate)."""
        params = estimator.get_params()
        search = cls(**{name: params[name] for name in cls.__dataclass_fields__})
        return replace(search, alpha_per_target=search.alpha_per_target and y_ndim > 1)

    @property
    def per_target(self):
        """Whether each target chooses its own candidate (scores per target,
        which only the statistics give)."""
        if self.alpha_per_target and self.scoring not in FROM_STATISTICS:
            raise ValueError(
                "alpha_per_target=True scores each target on its own: use R² or "
                f"the (root) mean squared error as scoring, not {self.scoring!r}."
            )
        return self.alpha_per_target

    def streams(self):
        """Whether ``partial_fit`` can tune a stream: folds by number, squared
        error, scores from the statistics (raises ``AttributeError`` if not)."""
        cv = self.cv
        if not isinstance(cv, Integral) or isinstance(cv, bool):
            raise AttributeError(
                f"partial_fit takes cv as a number of folds (each row's fold is a "
                f"hash of its position or group); got cv={cv!r}."
            )
        if self.robust:
            raise AttributeError(
                "partial_fit tunes squared error from the statistics of the "
                f"folds; loss={self.loss!r} needs the rows: fit them."
            )
        if self.scoring not in FROM_STATISTICS:
            raise AttributeError(
                "partial_fit scores with R² or the (root) mean squared error, from "
                f"the statistics of the folds; got scoring={self.scoring!r}."
            )
        return True

    def check_dask(self, dask):
        """What a Dask collection allows: squared error, scores from the
        statistics."""
        if dask and self.robust:
            raise ValueError(
                f"loss={self.loss!r} solves each candidate from rows in memory; "
                "a Dask collection is tuned with loss='squared_error'. Compute X "
                "(dense or sparse) to tune a robust loss."
            )
        if dask and self.scoring not in FROM_STATISTICS:
            raise ValueError(
                f"With a Dask collection, scoring must be one of R², the mean "
                f"squared error or its root (from the statistics); got "
                f"{self.scoring!r}."
            )

    @property
    def robust(self):
        """Whether the loss is a robust one: Huber's, the absolute error or a
        quantile's."""
        return self.loss != "squared_error"

    def grid(self, moments, data=None, device=None):
        """``[(l1_ratio, alphas), ...]``: the strengths tried with each mix
        (an automatic grid from the statistics of all rows, ``moments``, and
        for a robust loss from its derivative at the fit of an intercept
        alone: more passes over ``data`` on ``device``)."""
        ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))
        if ratios.ndim != 1 or not np.all((ratios >= 0) & (ratios <= 1)):
            raise ValueError(f"l1_ratio must be in [0, 1]; got {self.l1_ratio!r}.")
        if isinstance(self.alphas, Integral):
            options = {"n_alphas": self.alphas, "eps": self.eps}
            options.update(fit_intercept=self.fit_intercept)
            if self.robust:
                grid = self._robust_grid(moments, data, device)
                return [(r, grid(l1_ratio=r, **options)) for r in ratios]
            options.update(standardize=self.standardize)
            return [(r, alpha_grid(moments, l1_ratio=r, **options)) for r in ratios]
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if not (alphas.size and np.all(np.isfinite(alphas)) and np.all(alphas >= 0)):
            raise ValueError(
                f"alphas must be a positive int or non-negative finite floats; got "
                f"{self.alphas!r}."
            )
        return [(r, alphas) for r in ratios]

    def _robust_grid(self, moments, data, device):
        """The automatic grid of a robust loss, as a function of the mix."""
        scaling = Scaling.from_moments(
            moments, fit_intercept=self.fit_intercept, standardize=self.standardize
        )
        if self.loss == "huber":
            return partial(
                huber_path.alpha_grid, data, scaling, self.epsilon, device=device
            )
        return partial(robust_path.alpha_grid, data, scaling, self._loss)

    @property
    def _loss(self):
        return robust_path.loss_of(self.loss, self.quantile)

    def paths(self, folds, grid, data, splits, device):
        """For a robust loss, every split's solutions of every candidate:
        coefficients ``(n_splits, n_candidates, n_targets, n_features)``,
        intercepts, and for Huber's loss the scales (else None). None for
        squared error, whose splits are solved one at a time from their
        statistics (:meth:`split_scores`)."""
        if self.robust:
            return self._robust_paths(folds, grid, data, splits, device)
        return None

    def _robust_paths(self, folds, grid, data, splits, device):
        options = {
            "standardize": self.standardize,
            "fit_intercept": self.fit_intercept,
            "max_iter": self.max_iter,
            "device": device,
        }
        scale, method = None, "The interior-point method"
        if self.loss == "huber":
            method = "Newton's method"
            coef, intercept, scale, gaps = huber_path.split_paths(
                data, splits, folds.train, self.epsilon, grid, **options
            )
        else:
            coef, intercept, gaps = robust_path.split_paths(
                data, splits, folds.train, self._loss, grid, **options
            )
        if np.any(gaps > self.tol):
            warn(
                f"{method} stopped with a certified relative gap of "
                f"{gaps.max():.2g} (tol={self.tol:g}) for some candidates; their "
                "scores are of unfinished fits. Increase max_iter.",
                ConvergenceWarning,
            )
        return coef, intercept, scale

    def split_scores(self, folds, grid, paths, data, y, splits):
        """Held-out scores of every split's solutions (``paths``, or for squared
        error each split's path from its statistics), shape ``(n_splits,
        n_candidates)``, and the passes over ``X`` the predictions took (for
        scorers that need them)."""
        scores, unsettled, per_target = [], False, self.per_target
        for s, (_, test) in enumerate(splits):
            if paths is None:  # squared error: from the split's statistics
                coef, intercept, settled = penalty_path(
                    folds.train[s],
                    grid,
                    fit_intercept=self.fit_intercept,
                    standardize=self.standardize,
                    max_sweeps=self.max_iter,
                )
                unsettled |= not settled
            else:
                coef, intercept = paths[0][s], paths[1][s]
            if self.scoring in FROM_STATISTICS:
                scores.append(
                    statistics_scores(
                        folds.test[s], coef, intercept, self.scoring, per_target
                    )
                )
            else:
                rows, y_test = data.rows(test), y[test]
                scores.append(
                    predicted_scores(self.scoring, rows, y_test, coef, intercept)
                )
        if unsettled:
            warn(
                f"Coordinate descent reached max_iter={self.max_iter} sweeps for "
                "some candidates before settling; their scores are of unfinished "
                "fits. Increase max_iter.",
                ConvergenceWarning,
            )
        return np.array(scores), int(self.scoring not in FROM_STATISTICS)

    def leave_one_out(self, data, device):
        """``cv=None``: ridge's leave-one-out errors of every strength (the
        scaling and penalty of all rows, as ``RidgeCV``'s) in two passes. The
        statistics of all rows, the grid, the scores (one row) and the passes."""
        if self.robust or np.any(np.asarray(self.l1_ratio) != 0):
            raise ValueError(
                "cv=None (efficient leave-one-out) is for ridge: squared error, "
                "l1_ratio=0. Pass a number of folds or a splitter as cv for an L1 "
                "penalty or a robust loss."
            )
        if self.scoring not in FROM_STATISTICS:
            raise ValueError(
                f"cv=None scores leave-one-out errors with R² or the (root) mean "
                f"squared error, not {self.scoring!r}. Pass a number of folds or a "
                "splitter as cv for other scorers."
            )
        total = data.map_reduce(_statistics, _merge, device)
        grid = self.grid(total)
        errors = leave_one_out(
            data,
            total,
            grid[0][1],
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            device=device,
        )
        spread = total.sumsq[total.n_features :]
        scores = [
            error_scores(
                errors, spread, total.weight_sum, self.scoring, self.per_target
            )
        ]
        return total, grid, scores, 2


def set_results(search, grid, scores, n_splits):
    """Set ``search``'s ``cv_results_`` (see :func:`results`), its choice
    (``best_index_``, ``alpha_``, ``l1_ratio_``, ``best_score_``: per target
    with scores per target), ``alphas_`` and ``n_splits_``."""
    search.cv_results_, search.best_index_ = results(grid, scores, n_splits)
    params = np.array(search.cv_results_["params"])[search.best_index_]
    mean = search.cv_results_.get("mean_test_score_per_target")
    if mean is None:
        search.alpha_, search.l1_ratio_ = params["alpha"], params["l1_ratio"]
        best = search.cv_results_["mean_test_score"][search.best_index_]
        search.best_score_ = float(best)
    else:
        search.alpha_ = np.array([c["alpha"] for c in params])
        search.l1_ratio_ = np.array([c["l1_ratio"] for c in params])
        search.best_score_ = mean[search.best_index_, np.arange(mean.shape[1])]
    search.alphas_ = np.array([alphas for _, alphas in grid])
    search.n_splits_ = len(scores) if n_splits is None else n_splits


def results(grid, scores, n_splits=None):
    """``cv_results_`` (as ``GridSearchCV``'s) and the index of the best
    candidate, from the scores per split and candidate; with ``n_splits``, one
    row of scores over all splits (leave-one-out: splits of one row have no R²
    of their own, and no split columns). Scores per split, candidate and
    target give the targets' average in the usual keys, each target's mean in
    ``mean_test_score_per_target`` and the best candidate of each target."""
    scores = np.asarray(scores)
    if scores.ndim == 3:
        cv_results, _ = results(grid, scores.mean(axis=-1), n_splits)
        per_target = scores.mean(axis=0)
        cv_results["mean_test_score_per_target"] = per_target
        return cv_results, np.argmax(per_target, axis=0)  # the first of the best
    alphas = [a for _, group in grid for a in group]
    ratios = [r for r, group in grid for _ in group]
    mean = scores.mean(axis=0)
    std = scores.std(axis=0) if n_splits is None else np.full_like(mean, np.nan)
    cv_results = {
        "params": [
            {"alpha": float(a), "l1_ratio": float(r)} for a, r in zip(alphas, ratios)
        ],
        "param_alpha": np.ma.MaskedArray(np.array(alphas), mask=False),
        "param_l1_ratio": np.ma.MaskedArray(np.array(ratios), mask=False),
    }
    if n_splits is None:
        cv_results.update({f"split{s}_test_score": row for s, row in enumerate(scores)})
    cv_results["mean_test_score"], cv_results["std_test_score"] = mean, std
    cv_results["rank_test_score"] = rankdata(-mean, method="min").astype(np.int32)
    return cv_results, int(np.argmin(cv_results["rank_test_score"]))


def _statistics(data, device):
    return accumulate(data, device=device, dtype=accumulation_dtype(device, warn=False))


def _merge(a, b):
    return a.merge(b)
