"""How the data are standardized before solving, derived from their moments."""

from dataclasses import dataclass, replace

import numpy as np

from ._linalg import eigh


@dataclass(frozen=True)
class Scaling:
    """How the data are standardized before solving, from the moments.

    ``x_center``/``y_center`` are the centres (the means, or zeros without an
    intercept), the ``*_scale`` the divisors, ``constant`` marks columns that
    are constant when centring (their coefficients are zero),
    ``y_second_moment`` is the second moment of the standardized ``y`` per
    target. ``x_mean``, ``x_var`` and ``n_samples`` are the statistics of the
    data, as a StandardScaler has them. ``whitening`` (see :meth:`whitened`),
    when set, further maps the standardized ``z`` to ``z @ whitening``, whose
    columns are uncorrelated with unit variance.
    """

    n_samples: int
    x_center: np.ndarray
    x_scale: np.ndarray
    x_mean: np.ndarray
    x_var: np.ndarray
    constant: np.ndarray
    y_center: np.ndarray
    y_scale: np.ndarray
    y_second_moment: np.ndarray
    whitening: np.ndarray | None = None

    @classmethod
    def from_moments(cls, moments, *, fit_intercept, standardize):
        p = moments.n_features
        x_var = moments.sumsq[:p] / moments.weight_sum
        y_var = moments.sumsq[p:] / moments.weight_sum
        for name, var in [("X", x_var), ("y", y_var)]:
            if not np.all(np.isfinite(var)):
                raise FloatingPointError(
                    f"The variance of {name} overflows float64 (values around "
                    "1e154 or larger). Rescale the affected columns (e.g. divide "
                    "by a power of ten) and fit again."
                )
        constant = constant_columns(x_var, moments.mean_x)
        x_scale = np.where(constant, 1.0, np.sqrt(x_var))
        if not standardize:
            x_scale = np.ones_like(x_var)
        x_center = moments.mean_x if fit_intercept else np.zeros_like(moments.mean_x)
        y_center = moments.mean_y if fit_intercept else np.zeros_like(moments.mean_y)
        y_second = y_var + (moments.mean_y - y_center) ** 2
        y_scale = np.sqrt(y_second)
        y_scale[y_scale == 0] = 1.0
        return cls(
            n_samples=moments.n_samples,
            x_center=x_center,
            x_scale=x_scale,
            x_mean=moments.mean_x,
            x_var=x_var,
            constant=constant & fit_intercept,
            y_center=y_center,
            y_scale=y_scale,
            y_second_moment=y_second / y_scale**2,
        )

    def whitened(self, moments, eps):
        """This scaling, decorrelating too: ``whitening = V diag(d)`` from the
        eigendecomposition ``V diag(lam) V'`` of the covariance (second moments
        without an intercept) of the standardized ``X``, ``d = lam**-0.5``, and
        0 for directions of variance at most ``eps * p`` times the largest
        (noise at the precision ``eps`` of the training dtype; their
        coefficients stay 0, as in a minimum-norm solution). Needs the Gram
        matrix of ``moments``."""
        p = len(self.x_scale)
        products = moments.about(np.r_[self.x_center, moments.mean_y])[:p, :p]
        keep = (~self.constant).astype(np.float64) / self.x_scale
        covariance = products * np.outer(keep, keep) / moments.weight_sum
        eigenvalues, vectors = eigh(covariance)
        cutoff = eigenvalues.max(initial=0.0) * p * eps
        kept = eigenvalues > max(cutoff, np.finfo(np.float64).tiny)
        root = np.sqrt(np.where(kept, eigenvalues, 1.0))
        return replace(self, whitening=vectors * np.where(kept, 1.0 / root, 0.0))

    @property
    def whitened_variances(self):
        """Per column of ``whitening``, the variance of the direction it keeps
        (its norm is ``lam**-0.5``), 0 for those it leaves out."""
        norms = np.linalg.norm(self.whitening, axis=0)
        variances = np.zeros_like(norms)
        return np.divide(1.0, norms**2, out=variances, where=norms > 0)

    def unstandardize(self, coef, intercept):
        """Map coefficients ``(n_targets, n_features)`` and intercepts of the
        standardized (and whitened) problem to the original units of X and
        y."""
        if self.whitening is not None:
            coef = coef @ self.whitening.T
        coef = self.y_scale[:, None] * coef / self.x_scale
        intercept = self.y_center + self.y_scale * intercept - coef @ self.x_center
        return coef, intercept

    def standardize(self, coef, intercept):
        """Map coefficients and intercepts in the original units of X and y to
        those of the standardized problem (the inverse of
        :meth:`unstandardize`)."""
        intercept = (intercept - self.y_center + coef @ self.x_center) / self.y_scale
        coef = coef * self.x_scale / self.y_scale[:, None]
        if self.whitening is not None:  # the least-squares inverse
            coef = coef @ np.linalg.pinv(self.whitening.T)
        return coef, intercept

    def repeated(self, n):
        """This scaling of one target for ``n`` copies of it (a target per
        candidate of a search, solved together)."""
        names = ("y_center", "y_scale", "y_second_moment")
        return replace(
            self, **{name: np.repeat(getattr(self, name), n) for name in names}
        )

    def tensors(self):
        """The scaling as :class:`LinearModule` takes it."""
        return {
            "x_center": self.x_center,
            "x_scale": self.x_scale,
            "x_keep": (~self.constant).astype(np.float64),
            "y_center": self.y_center,
            "y_scale": self.y_scale,
            "whitening": self.whitening,
        }

    def penalty(self, loss, alpha, l1_ratio):
        """Return the L1 and L2 strengths, per target, of the problem with ``y``
        divided by ``y_scale`` that has the same minimiser as the penalised
        problem in the units of ``y``.

        A loss of degree two in the residual (squared) scales by
        ``y_scale**2``, the L1 norm by ``y_scale``; a loss of degree one
        (absolute, quantile, and Huber with its scale) by ``y_scale``, the
        squared L2 norm by ``y_scale**2``.
        """
        l1 = alpha * l1_ratio * np.ones_like(self.y_scale)
        l2 = alpha * (1 - l1_ratio) * np.ones_like(self.y_scale)
        if loss == "squared_error":
            return l1 / self.y_scale, l2
        return l1, l2 * self.y_scale


def constant_columns(var, mean):
    """Whether each column is constant: its (weighted) variance is within the
    rounding of its mean.

    The statistics are accumulated about a shift that is exact for a constant
    column, so a constant column has a variance of exactly 0, or of the order of
    ``(eps * mean)**2`` after merging. Unlike scikit-learn's rule for
    StandardScaler, the tolerance does not grow with the number of samples: a
    column that varies only on rows of tiny relative weight (a weight ratio of
    1e30) still counts as varying.
    """
    eps = np.finfo(np.float64).eps
    return var <= (4 * eps * mean) ** 2
