"""Penalised least squares from mergeable statistics, in equilibrated coordinates.

The problem is solved in equilibrated coordinates ``gamma`` (the active columns
of ``X`` about the centre scaled to unit root-mean-square, ``y`` divided by its
scale), which makes every tolerance relative to the lsq. The penalty and
the minimum norm are measured in the coordinates ``alpha`` penalises,
``theta = penalty_scale * gamma`` (the standardized coefficients, or those in
the units of ``X`` with ``standardize=False``).

Two factorisations share one interface:

- :class:`CholeskySolver`, for statistics of kind ``"gram"`` whose system is
  well conditioned: a Cholesky factorisation of the normal equations;
- :class:`FactorSolver`, for everything else: an SVD of the R factor (never of
  the Gram matrix), singular values below a rounding-level cut-off counting as
  exact dependencies. Rank-deficient problems get the minimum-norm solution in
  the penalised coordinates, and so does every ``alpha``: the solution is
  continuous as ``alpha`` tends to 0.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._linalg import cholesky, cholesky_solve, eigh, matmul, svd
from .._moments import FACTOR_RCOND
from .._scaling import Scaling

EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class LeastSquares:
    """The penalised least-squares problem of some statistics, in equilibrated
    coordinates: ``coef[k, active] = gamma[:, k] * y_scale[k] / unit`` and the
    penalised coordinates are ``theta = penalty_scale * gamma``."""

    moments: object
    scaling: Scaling
    l2: float
    fit_intercept: bool
    center: np.ndarray
    active: np.ndarray
    unit: np.ndarray
    penalty_scale: np.ndarray

    @classmethod
    def of(cls, moments, scaling, l2, *, fit_intercept):
        center = np.concatenate([scaling.x_center, scaling.y_center])
        p = moments.n_features
        about_center = (
            moments.sumsq[:p]
            + moments.weight_sum * (moments.mean_x - scaling.x_center) ** 2
        )
        active = ~scaling.constant & (about_center > 0)
        unit = np.sqrt(about_center[active] / moments.weight_sum)
        return cls(
            moments=moments,
            scaling=scaling,
            l2=l2,
            fit_intercept=fit_intercept,
            center=center,
            active=active,
            unit=unit,
            penalty_scale=scaling.x_scale[active] / unit,
        )

    @property
    def n_active(self):
        return int(self.active.sum())

    @property
    def n_features(self):
        return self.moments.n_features

    def solver(self):
        """The Cholesky solver if the statistics are a Gram matrix and its system
        is well conditioned, the factor solver otherwise."""
        if self.moments.kind == "gram" and self.n_active:
            solver = CholeskySolver(self)
            if solver.rcond >= FACTOR_RCOND:
                return solver
        return FactorSolver(self)

    def products(self):
        """Per unit weight, the equilibrated Gram matrix of the active columns,
        their cross-products with the scaled targets, and the targets' own
        (computed once and shared, so never to be written to: a solve reads
        them several times, each a few passes over a ``p x p`` matrix)."""
        return self._products

    @cached_property
    def _products(self):
        p, active = self.n_features, self.active
        cross = self.moments.about(self.center) / self.moments.weight_sum
        y_scale = self.scaling.y_scale
        gram = cross[np.ix_(active, active)] / np.outer(self.unit, self.unit)
        xy = cross[:p][active, p:] / np.outer(self.unit, y_scale)
        yy = cross[p:, p:] / np.outer(y_scale, y_scale)
        return gram, xy, yy

    def equilibrated(self, coef):
        """``gamma`` of coefficients in original units."""
        return coef[:, self.active].T * self.unit[:, None] / self.scaling.y_scale

    def original(self, gamma):
        """Coefficients and intercepts in original units of ``gamma``."""
        y_scale = self.scaling.y_scale
        coef = np.zeros((y_scale.shape[0], self.n_features))
        coef[:, self.active] = (gamma * y_scale).T / self.unit
        intercept = self.scaling.y_center - coef @ self.scaling.x_center
        return coef, intercept

    def objective(self, coef, l1):
        """Value of ``sum_k [mean_s (t_k - z theta_k)^2 / 2 + l1_k ||theta_k||_1 +
        l2 / 2 ||theta_k||^2]`` on the standardized problem (``z`` the columns
        scaled by ``x_scale``, ``t`` by ``y_scale``), from the statistics."""
        return float(np.sum(self.objectives(coef, l1)))

    def objectives(self, coef, l1):
        """The terms of :meth:`objective`, per target."""
        if not self.n_active:
            return np.maximum(0.5 * self.scaling.y_second_moment, 0.0)
        gram, xy, yy = self.products()
        theta = self.penalty_scale[:, None] * self.equilibrated(coef)
        scale = self.penalty_scale
        gram = gram / np.outer(scale, scale)
        xy = xy / scale[:, None]
        fit = 0.5 * np.diag(yy) - np.sum(theta * xy, axis=0)
        fit += 0.5 * np.sum(theta * matmul(gram, theta), axis=0)
        penalty = l1 * np.abs(theta).sum(axis=0) + 0.5 * self.l2 * np.sum(theta**2, 0)
        return np.maximum(fit + penalty, 0.0)


class _Solver:
    """What both solvers share: error estimates from the norms they provide."""

    def stable_error(self, gamma):
        """Estimated relative error of a backward-stable solution (what one
        refinement step in working precision reaches): the first-order
        perturbation bound of least squares for a backward error of ``eps``
        (Wedin), ``eps (kappa (1 + |b| / (s1 |gamma|)) + kappa^2 |r| / (s1
        |gamma|))``; for a rank-deficient lsq, the bound for the fitted
        values, ``eps (|b| + s1 |gamma| + kappa |r|) / |A gamma|``."""
        residual = self.residual_norm(gamma)
        fitted = self.fitted_norm(gamma)
        rhs = np.hypot(fitted, residual)
        largest, norm = self.largest_singular_value(), np.linalg.norm(gamma)
        if self.rank < self.lsq.n_active:
            if fitted == 0:
                return 0.0
            return EPS * (rhs + largest * norm + self.condition * residual) / fitted
        if norm == 0 or largest == 0:
            return 0.0
        relative = 1.0 / (largest * norm)
        kappa = self.condition
        return EPS * (kappa * (1 + rhs * relative) + kappa**2 * residual * relative)


class CholeskySolver(_Solver):
    """Normal equations ``(G + l2 S^2) gamma = c`` solved by Cholesky."""

    path = "cholesky"

    def __init__(self, lsq):
        self.lsq = lsq
        self.gram, self.xy, self.yy = lsq.products()
        system = self.gram + lsq.l2 * np.diag(lsq.penalty_scale**2)
        self.factor, self.rcond = cholesky(system)
        self.rank = lsq.n_active

    @property
    def condition(self):
        """Estimated 2-norm condition number of the (penalised) equilibrated
        data: the square root of that of the normal equations."""
        return float(np.sqrt(1.0 / self.rcond))

    @property
    def contraction(self):
        """Estimated factor by which a refinement step shrinks the error: the
        typical rounding of normal equations formed in floating point (``4
        sqrt(p) eps`` relative) over their smallest eigenvalue."""
        return min(1.0, 4 * EPS * np.sqrt(self.lsq.n_active) / self.rcond)

    def initial(self):
        return cholesky_solve(self.factor, self.xy)

    def correct(self, residual):
        return cholesky_solve(self.factor, residual)

    def singular_values(self):
        eigenvalues = eigh(self.gram)[0]
        return np.sqrt(np.clip(eigenvalues[::-1], 0.0, None))

    def fitted_norm(self, gamma):
        return float(np.sqrt(max(np.sum(gamma * matmul(self.gram, gamma)), 0.0)))

    def residual_norm(self, gamma):
        value = np.trace(self.yy) - 2 * np.sum(gamma * self.xy)
        return float(np.sqrt(max(value + self.fitted_norm(gamma) ** 2, 0.0)))

    def largest_singular_value(self):
        return float(np.sqrt(np.linalg.norm(self.gram, 1)))

    def unrefined_error(self, gamma):
        """Normal equations formed and solved in floating point: about ``eps``
        times their condition number."""
        return max(EPS / self.rcond, self.stable_error(gamma))


class FactorSolver(_Solver):
    """Least squares on the R factor: ``min ||b - A gamma||^2 + l2 ||S gamma||^2``
    with ``A``, ``b`` from a factor of the cross-products about the centre, by
    SVD; singular values of ``A`` below a rounding-level cut-off count as 0."""

    path = "qr"

    def __init__(self, lsq):
        self.lsq = lsq
        p, active = lsq.n_features, lsq.active
        moments, y_scale = lsq.moments, lsq.scaling.y_scale
        factor = moments.factor_about(lsq.center) / np.sqrt(moments.weight_sum)
        self.A = factor[:, :p][:, active] / lsq.unit
        self.b = factor[:, p:] / y_scale
        left, singular, right_t = svd(self.A)
        self.singular = singular
        self.rank = int(np.sum(singular > self._cutoff()))
        # The kept part in the penalised coordinates theta = S gamma:
        # A_r S^-1 = left_r diag(singular_r) right_r' S^-1 = U diag(sigma) V'.
        scale = lsq.penalty_scale
        kept = singular[: self.rank, None] * right_t[: self.rank] / scale
        inner_left, self.sigma, inner_right_t = svd(kept)
        self.left = matmul(left[:, : self.rank], inner_left)
        self.right = inner_right_t.T

    def _rounding(self, growth):
        """Rounding level of the factor, ``eps (growth s_max + ||mean / std||)``:
        Householder QR's backward error (``growth`` times ``eps`` relative), and
        the rounding of columns centred about a mean large relative to their
        spread."""
        if not self.singular.size:
            return 0.0
        lsq = self.lsq
        centring = np.linalg.norm(lsq.moments.mean_x[lsq.active] / lsq.unit)
        return EPS * (growth * self.singular[0] + centring)

    def _cutoff(self):
        """Singular values up to this are rounding: a safe ``10 p`` growth."""
        return 10 * self._rounding(self.lsq.n_active)

    @property
    def condition(self):
        """2-norm condition number of the kept part of the equilibrated data."""
        if not self.rank:
            return 1.0
        return float(self.singular[0] / self.singular[self.rank - 1])

    @property
    def contraction(self):
        """Estimated factor by which a refinement step shrinks the error: the
        typical backward error of Householder QR and of the centring, ``4 eps
        (sqrt(p) s_max + ||mean / std||)``, over the smallest singular value
        kept (the rank cut-off takes a safer 10 p instead of 4 sqrt(p))."""
        if not self.rank:
            return 0.0
        level = 4 * self._rounding(np.sqrt(self.lsq.n_active))
        return min(1.0, level / self.singular[self.rank - 1])

    def initial(self):
        filtered = self.sigma / (self.sigma**2 + self.lsq.l2)
        theta = matmul(self.right, filtered[:, None] * matmul(self.left.T, self.b))
        return theta / self.lsq.penalty_scale[:, None]

    def correct(self, residual):
        scale = self.lsq.penalty_scale[:, None]
        inverse = 1.0 / (self.sigma**2 + self.lsq.l2)
        step = matmul(
            self.right, inverse[:, None] * matmul(self.right.T, residual / scale)
        )
        return step / scale

    def singular_values(self):
        return self.singular

    def fitted_norm(self, gamma):
        return float(np.linalg.norm(matmul(self.A, gamma)))

    def residual_norm(self, gamma):
        return float(np.linalg.norm(self.b - matmul(self.A, gamma)))

    def largest_singular_value(self):
        return float(self.singular[0]) if self.singular.size else 0.0

    def unrefined_error(self, gamma):
        """The factor comes from a backward-stable QR."""
        return self.stable_error(gamma)
