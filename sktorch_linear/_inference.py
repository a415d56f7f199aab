"""What the statistics of a least-squares fit tell about its data: singular
values and numerical rank of the standardized design, and the inference
statistics of the coefficients (``TorchLinearRegressor.summary``), as
statsmodels' OLS and WLS compute them."""

import numpy as np
import scipy.linalg
import scipy.stats
import torch

from . import _extended as ext
from ._dask import dask_data, is_dask
from ._data import Data, host, matmul
from ._device import usable_device
from ._linalg import qr_r
from ._results import RegressionSummary, parameters_table
from ._sandwich import GroupKeys, Scores, automatic_lags, check_training_data, meat
from ._validation import validate
from .solvers._penalised import LeastSquares

LEAST_SQUARES_COV_TYPES = (
    "nonrobust",
    "HC0",
    "HC1",
    "HC2",
    "HC3",
    "cluster",
    "HAC",
    "hac-groupsum",
)
# The kinds whose groups= are the clusters, or the periods of a panel.
_GROUPED = ("cluster", "hac-groupsum")


def singular_values(moments, scaling, *, fit_intercept):
    """Singular values, in decreasing order, of the standardized (centred,
    weighted) ``X`` of the statistics (zeros for constant columns), and its
    numerical rank: the number of singular values of its R factor above the
    rounding level of that factor. AttributeError without statistics (the
    ``singular_`` and ``rank_`` of a fit that kept none)."""
    if moments is None:
        raise AttributeError(
            "singular_ and rank_ are available after a fit with the exact "
            "solver of squared error, which keeps the statistics they are "
            "computed from."
        )
    lsq = LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)
    solver = lsq.solver()
    values = solver.singular_values()  # fewer with fewer rows than columns
    singular = np.zeros(lsq.n_features)
    singular[: values.size] = values * np.sqrt(moments.weight_sum)
    return singular, solver.rank


def summary(moments, coef, intercept, *, fit_intercept, names, options):
    """The :class:`RegressionSummary` of the least-squares fit ``coef``,
    ``intercept`` (one target) of the statistics ``moments``; ``options``:
    ``alpha``, ``cov_type``, ``use_t``, and for the sandwich kinds what
    :func:`_covariance` reads (the data, once)."""
    p = moments.n_features
    n = moments.n_samples
    center = moments.mean if fit_intercept else np.zeros_like(moments.mean)
    exact = moments.exact_about(center)  # kept by small partial_fit chunks
    factor = _factor(moments, center, exact)  # R'R: the products of [X y] - center
    rss, tss = _squares(factor, exact, center, coef, intercept)
    df_resid, df_model = n - p - fit_intercept, p
    sigma2 = rss / df_resid
    beta = np.append(coef, intercept) if fit_intercept else np.asarray(coef, float)
    scores = Scores(np.asarray(coef, float), intercept, center[:p], None, fit_intercept)
    cov, n_groups = _covariance(moments, factor, scores, sigma2, options)
    cov_type = options["cov_type"]
    # statsmodels' default: Student's t for the classical covariance, the
    # normal distribution for the sandwich kinds (asymptotic); clustered
    # kinds' F tests and t on the number of clusters less one
    use_t = options["use_t"]
    use_t = cov_type == "nonrobust" if use_t is None else use_t
    df = df_resid if n_groups is None else n_groups - 1
    r2 = 1.0 - rss / tss if tss > 0 else np.nan
    slopes = beta[:p]
    if cov_type == "nonrobust":
        f_value = (tss - rss) / df_model / sigma2
    else:
        f_value = slopes @ np.linalg.solve(cov[:p, :p], slopes) / df_model
    labels = (["const"] if fit_intercept else []) + list(names)
    order = np.r_[p, np.arange(p)] if fit_intercept else np.arange(p)
    table, cov_params = parameters_table(
        labels, beta, cov, order, alpha=options["alpha"], use_t=use_t, df=df
    )
    return RegressionSummary(
        table=table,
        r2=float(r2),
        adj_r2=float(1.0 - (n - fit_intercept) / df_resid * (1.0 - r2)),
        rse=float(np.sqrt(sigma2)),
        f_value=float(f_value),
        f_pvalue=float(scipy.stats.f(df_model, df).sf(f_value)),
        n=int(n),
        df_model=int(df_model),
        df_resid=int(df_resid),
        cov_type=cov_type,
        alpha=options["alpha"],
        cov_params=cov_params,
        use_t=bool(use_t),
        df_inference=int(df),
    )


def prediction_interval(result, X, coef, intercept, kind):
    """The intervals of ``TorchLinearRegressor.predict_interval`` from the
    fit's classical :class:`RegressionSummary` ``result``: ``mean -+ t s``,
    ``s`` the standard error of the mean (``x' V x``, ``x`` with its 1 first
    for the intercept) or, for a new observation, of the mean and the
    residual together."""
    if kind not in ("confidence", "prediction"):
        raise ValueError(f"kind must be 'confidence' or 'prediction'; got {kind!r}.")
    mean = matmul(X, np.asarray(coef, dtype=float)) + intercept
    design = host(X).astype(float, copy=False)
    if "const" in result.table.index:
        design = np.c_[np.ones(len(design)), design]
    variance = np.einsum("ij,jk,ik->i", design, np.asarray(result.cov_params), design)
    if kind == "prediction":
        variance = variance + result.rse**2
    half = scipy.stats.t(result.df_resid).ppf(1 - result.alpha / 2) * np.sqrt(variance)
    return np.c_[mean - half, mean + half]


def _covariance(moments, factor, scores, sigma2, options):
    """The covariance of ``[coef, intercept]`` and the number of clusters
    (None unclustered; the fewer of two keys'): classical (``sigma2`` times
    the inverse Gram matrix) or a sandwich, whose meat is one pass over
    ``options["data"]`` (with ``options["groups"]``, ``options["maxlags"]``)
    on ``options["device"]``, with statsmodels' small-sample factors: ``n /
    (n - k)`` for HC1, ``G / (G - 1) (n - 1) / (n - k)`` per way of
    clustering (two keys: by each, less by both) and for Driscoll-Kraay
    (``G`` periods), none for HAC."""
    p, n = moments.n_features, moments.n_samples
    fit_intercept, cov_type = scores.fit_intercept, options["cov_type"]
    k = p + fit_intercept
    # (X~' W X~)^-1 in the centred coordinates [x - center, 1]: block-diagonal
    inverse = inverse_gram(factor[:p, :p])
    bread = _blocks(inverse, 1.0 / moments.weight_sum, fit_intercept)
    n_groups = None
    if cov_type == "nonrobust":
        cov_centred = sigma2 * bread
    else:
        middle, sums = meat(
            options["data"],
            scores._replace(bread=bread),
            cov_type,
            options["device"],
            groups=options["groups"],
            lags=options["maxlags"],
        )
        check_training_data(moments, sums)
        if cov_type == "hac-groupsum":  # as one way of clustering, by period
            middle = [middle]
        if cov_type in _GROUPED:  # one way, or two: by each key, less by both
            counts = [g for _, g in middle]
            n_groups = min(counts[:2])
            signs = [1, 1, -1][: len(middle)]
            middle = sum(
                sign * g / (g - 1) * (n - 1) / (n - k) * products
                for sign, (products, g) in zip(signs, middle)
            )
        cov_centred = bread @ middle @ bread
        if cov_type == "HC1":
            cov_centred *= n / (n - k)
    # back to [coef, intercept]: intercept = (centred intercept) - center' coef
    jacobian = np.eye(k)
    if fit_intercept:
        jacobian[p, :p] = -scores.center
    return jacobian @ cov_centred @ jacobian.T, n_groups


def aliased_columns(moments, scaling, *, fit_intercept):
    """The columns involved in an exact linear dependency of the centred,
    standardized design (constant columns with an intercept included), by
    index; empty when the design has full rank."""
    lsq = LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)
    rank = lsq.solver().rank
    aliased = set(np.flatnonzero(scaling.constant))
    if rank < lsq.n_active:
        p = moments.n_features
        factor = moments.factor_about(lsq.center)[:, :p][:, lsq.active] / lsq.unit
        _, _, right_t = np.linalg.svd(factor)
        null = right_t[rank:]  # directions the data do not determine
        involved = np.any(np.abs(null) > 1e-8, axis=0)
        aliased |= set(np.flatnonzero(lsq.active)[involved])
    return sorted(int(i) for i in aliased)


def _factor(moments, center, exact):
    """An upper-triangular ``R`` with ``R'R`` the cross-products of ``[X y] -
    center``: the moments' own R factor (QR of the data), or the Cholesky
    factor of their (equilibrated) Gram matrix, which holds the residual sum of
    squares to the accuracy of the Gram matrix: the ``exact`` cross-products
    rounded once, where kept."""
    if moments.kind == "factor" and exact is None:
        return qr_r(moments.factor_about(center))
    if exact is None:
        products = moments.about(center)
    else:
        products = ext.value(exact).numpy()[:-1, :-1]
    scale = np.sqrt(np.diag(products))
    scale[scale == 0] = 1.0
    factor = scipy.linalg.cholesky(products / np.outer(scale, scale), lower=False)
    return factor * scale


def _squares(factor, exact, center, coef, intercept):
    """The residual and total sums of squares of the fit (``y`` about its
    centre): from the factor, or, where the ``exact`` cross-products of ``[X y
    1] - center`` are kept, as the quadratic forms of ``[-coef, 1, -c]`` (``c``
    the intercept about the centre) and of ``y`` in them, evaluated in twice
    the working precision (the digits of the data, however many chunks)."""
    p = len(coef)
    if exact is None:
        return float(np.sum(factor[p:, p] ** 2)), float(factor[:, p] @ factor[:, p])
    shift = intercept - center[p] + center[:p] @ coef
    v = torch.as_tensor(np.r_[-np.asarray(coef, float), 1.0, -shift])
    terms = ext.mul(exact, ext.two_prod(v[:, None], v[None, :]))
    rss = ext.value(ext.sum2(terms[0].reshape(-1), terms[1].reshape(-1), dim=0))
    return float(rss), float(exact[0][p, p] + exact[1][p, p])


def inverse_gram(rx):
    """``(R' R)^-1`` for the upper-triangular ``R`` of the centred design,
    through ``R^-1`` (the condition number is not squared), with the columns
    equilibrated first."""
    scale = np.linalg.norm(rx, axis=0)
    scale[scale == 0] = 1.0
    inverse = scipy.linalg.solve_triangular(rx / scale, np.eye(len(rx)))
    inverse = inverse / scale[:, None]
    return inverse @ inverse.T


def _blocks(inverse, corner, fit_intercept):
    if not fit_intercept:
        return inverse
    p = len(inverse)
    out = np.zeros((p + 1, p + 1))
    out[:p, :p] = inverse
    out[p, p] = corner
    return out


def summarize(result, config, names, options):
    """The :class:`RegressionSummary` of an estimator's least-squares fit (its
    ``result`` and ``config``; ``names`` of the features), refused for fits
    it does not describe; ``options`` as :func:`summary` takes them, with
    ``data`` (:func:`training_chunks`), ``groups`` and ``maxlags`` as the
    user gave them."""
    objective = config.objective
    if objective.loss != "squared_error" or objective.alpha != 0:
        raise ValueError(
            "summary() describes least squares (loss='squared_error' with "
            "alpha=0) and quantile regression without a penalty, but this fit "
            f"has loss={objective.loss!r}, alpha={objective.alpha}. Refit with "
            "those parameters."
        )
    if result.solver != "exact" or result.coef.shape[0] != 1:
        raise ValueError(
            "summary() needs an exact least-squares fit of one target "
            "(solver='exact' or 'auto', y 1-D)."
        )
    cov_type = options["cov_type"]
    if cov_type not in LEAST_SQUARES_COV_TYPES:
        raise ValueError(
            f"cov_type={cov_type!r} is a kind of quantile regression; least "
            f"squares takes one of {LEAST_SQUARES_COV_TYPES}."
        )
    if cov_type != "nonrobust" and options["data"] is None:
        raise ValueError(
            f"cov_type={cov_type!r} reads the training data once more: pass "
            "data=(X, y) or (X, y, sample_weight), or after partial_fit the "
            "chunks again as an iterable of such tuples."
        )
    fit_intercept = objective.fit_intercept
    aliased = aliased_columns(
        result.moments, result.scaling, fit_intercept=fit_intercept
    )
    if aliased:
        raise ValueError(
            "The design is rank deficient: columns "
            f"{[names[i] for i in aliased]} are linear combinations of "
            "others (or constant, with the intercept), so their coefficients "
            "are not identified. Drop or combine them for summary()."
        )
    return summary(
        result.moments,
        result.coef[0],
        float(result.intercept[0]),
        fit_intercept=fit_intercept,
        names=names,
        options=_sandwich_options(
            options, result.moments.n_samples, usable_device(config.device)
        ),
    )


def _sandwich_options(options, n_samples, device):
    """``options`` checked for their kind of covariance: ``groups`` with
    ``"cluster"`` and ``"hac-groupsum"`` only (as :class:`GroupKeys`),
    ``maxlags`` with ``"HAC"`` and ``"hac-groupsum"`` only (by default Newey
    and West's (1994) ``floor(4 (n / 100)^(2/9))`` of the rows, or of the
    periods), and the ``device`` of the pass."""
    cov_type, groups, maxlags = (options[k] for k in ("cov_type", "groups", "maxlags"))
    if (groups is not None) != (cov_type in _GROUPED):
        raise ValueError(
            "groups= gives the clusters of cov_type='cluster' (one key per row, "
            "or two columns for two-way clustering), or the periods of "
            "'hac-groupsum', which need them; got "
            f"cov_type={cov_type!r} with groups {'' if groups is None else 'not '}None."
        )
    if maxlags is not None and cov_type not in ("HAC", "hac-groupsum"):
        raise ValueError(
            f"maxlags= is for cov_type='HAC' or 'hac-groupsum', not {cov_type!r}."
        )
    if cov_type == "HAC" and maxlags is None:
        maxlags = automatic_lags(n_samples)
    if cov_type == "hac-groupsum" and np.ndim(groups) != 1:
        raise ValueError("groups of 'hac-groupsum' hold one period per row (1-D).")
    if groups is not None and not is_dask(groups):
        if not hasattr(groups, "iloc"):
            groups = np.asarray(groups)
        if groups.ndim not in (1, 2) or (groups.ndim == 2 and groups.shape[1] > 2):
            raise ValueError(
                "groups must hold one key per row (1-D), or two (two columns) for "
                f"two-way clustering; got the shape {groups.shape}."
            )
    return {
        **options,
        "groups": None if groups is None else GroupKeys(groups),
        "maxlags": maxlags,
        "device": device,
        "data": None if cov_type == "nonrobust" else options["data"],
    }


def training_chunks(estimator, data):
    """The chunks of ``data`` (one ``(X, y[, sample_weight])`` tuple or an
    iterable of them), validated against ``estimator``'s fit as ``fit``
    validates them, as :class:`~._data.Data` (lazily, one at a time)."""
    if isinstance(data, tuple):
        data = [data]
    for chunk in data:
        X, y, *weight = chunk
        weight = weight[0] if weight else None
        if is_dask(X):
            yield dask_data(estimator, X, y, weight, reset=False, quantiles=None)[0]
            continue
        X, Y, weight, _ = validate(
            estimator,
            X,
            y,
            weight,
            reset=False,
            check_finite=True,
            allow_all_zero=True,
        )
        yield Data(X, Y, weight)
