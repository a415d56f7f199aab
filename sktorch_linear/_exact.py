"""Least squares from mergeable statistics, refined against the data.

The problem is solved in equilibrated coordinates ``gamma`` (the active columns
of ``X`` about the centre scaled to unit root-mean-square, ``y`` divided by its
scale), which makes every tolerance relative to the problem. The penalty and
the minimum norm are measured in the coordinates ``alpha`` penalises,
``theta = penalty_scale * gamma`` (the standardised coefficients, or those in
the units of ``X`` with ``standardize=False``).

Two solvers share one interface:

- :class:`CholeskySolver`, for statistics of kind ``"gram"`` whose system is
  well conditioned: a Cholesky factorisation of the normal equations;
- :class:`FactorSolver`, for everything else: an SVD of the R factor (never of
  the Gram matrix), singular values below a rounding-level cut-off counting as
  exact dependencies. Rank-deficient problems get the minimum-norm solution in
  the penalised coordinates, and so does every ``alpha``: the solution is
  continuous as ``alpha`` tends to 0.

When the data are at hand (``fit``), the solution is refined against them:
the normal-equation residual ``X' W (y - X coef - intercept)`` is computed from
the data (in twice the working precision where that is what it takes, see
``_refine``) and corrections are solved with the same factorisation. The
refined coefficients are those of the data as given, to the rounding of the
result, whatever BLAS kernels or thread counts computed the statistics.
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg
import torch
from sklearn.exceptions import ConvergenceWarning

from . import _extended as ext
from ._device import threads_for
from ._linalg import cholesky, cholesky_solve, eigh, matmul, svd
from ._moments import (
    FACTOR_RCOND,
    accumulate,
    exact_products,
    factorize,
    needs_factor,
)
from ._scaling import Scaling

EPS = np.finfo(np.float64).eps
# Relative change of the coefficients below which coordinate descent has converged.
_CD_TOL = 1e-12
# Batches streamed by partial_fit with at most this many values of [X Y 1] times
# its number of columns keep exact cross-products (about 30 operations a value).
EXACT_VALUES = 2**18
# Problems with at most this many values in the active columns of X are always
# refined in twice the working precision (it costs little there).
_SMALL_PROBLEM = 2**16
# Larger problems are refined in working precision when that leaves an estimated
# relative error of the coefficients below this; in twice the precision otherwise.
_WORKING_PRECISION_ERROR = 1e-12
# Most refinement steps in twice the working precision (each is one pass over X).
_MAX_REFINEMENTS = 10
# A LinAlgWarning is raised when the estimated relative error of the coefficients
# (of the fitted values, for a rank-deficient fit) exceeds this.
WARN_ERROR = 1e-6


@dataclass(frozen=True)
class ExactFit:
    """What the exact solver found.

    ``coef`` (n_targets, n_features) and ``intercept`` (n_targets,) are in the
    original units; ``error`` is the estimated relative error (2-norm) of the
    equilibrated coefficients, or of the fitted values when ``rank`` is below
    the number of active columns.
    """

    moments: object
    scaling: Scaling
    coef: np.ndarray
    intercept: np.ndarray
    path: str
    n_iter: int
    objective: float
    error: float
    rank: int


def batch_statistics(data, *, exact, device, dtype):
    """Statistics of one batch of rows: a Gram matrix, or an R factor when the
    Gram matrix is too ill conditioned to keep (``needs_factor``). With
    ``exact``, a small batch (``EXACT_VALUES``) also keeps exact cross-products,
    for refinement after the data are gone. Returns the statistics and the
    number of passes over the data."""
    moments = accumulate(data, device=device, dtype=dtype)
    n_passes = 1
    finite = np.isfinite(moments.gram).all() and np.isfinite(moments.mean).all()
    if moments.weight_sum == 0 or not finite:
        return moments, n_passes
    if needs_factor(moments):
        moments = factorize(data, moments, device=device, dtype=dtype)
        n_passes += 1
    n_samples, n_features, n_targets = data.shape
    if exact and n_samples * (n_features + n_targets + 1) ** 2 <= EXACT_VALUES:
        exact = exact_products(data, moments.mean, device=device, dtype=dtype)
        moments = replace(moments, exact=exact)
        n_passes += 1
    return moments, n_passes


def solve_exact(
    moments,
    *,
    data=None,
    fit_intercept,
    standardize,
    alpha,
    l1_ratio,
    max_iter,
    device,
    dtype,
):
    """Solve the problem of ``moments``, and refine the solution against ``data``
    (the rows the statistics were computed from) when given.

    ``n_iter`` of the result counts the refinement passes over ``data``
    (coordinate-descent sweeps with an L1 penalty).
    """
    scaling = Scaling.from_moments(
        moments, fit_intercept=fit_intercept, standardize=standardize
    )
    l1, l2 = scaling.penalty("squared_error", alpha, l1_ratio)
    problem = Problem.of(moments, scaling, float(l2[0]), fit_intercept=fit_intercept)
    if problem.active.any() and np.any(l1 > 0):
        return _fit_elastic_net(problem, l1, max_iter)
    solver = problem.solver()
    gamma = solver.initial()
    coef, intercept = problem.original(gamma)
    refine = moments.exact is not None or data is not None
    n_passes = 0
    if moments.exact is not None:
        coef, intercept, error, _ = _refine(
            _ExactStatistics(moments),
            problem,
            solver,
            coef,
            intercept,
            always_extended=True,
        )
    elif data is not None:
        coef, intercept, error, n_passes = _refine(
            _DataPass(data, device, dtype),
            problem,
            solver,
            coef,
            intercept,
            always_extended=data.shape[0] * problem.n_active <= _SMALL_PROBLEM,
        )
    else:
        error = solver.unrefined_error(gamma)
    if error > WARN_ERROR:
        _warn_inaccurate(solver, error, refined=refine)
    return ExactFit(
        moments=moments,
        scaling=scaling,
        coef=coef,
        intercept=intercept,
        path=solver.path,
        n_iter=n_passes,
        objective=problem.objective(coef, l1),
        error=error,
        rank=solver.rank,
    )


def _warn_inaccurate(solver, error, *, refined):
    what = "coefficients"
    if solver.rank < solver.problem.n_active:
        what = "fitted values"
    if refined:
        how = (
            f"refinement against the data stopped contracting at an estimated "
            f"relative error of the {what} of {error:.1e}. Add a small alpha, or "
            "remove or combine nearly collinear columns."
        )
    else:
        how = (
            f"the estimated relative error of the {what} is {error:.1e} (a "
            "first-order bound, often pessimistic by a factor of up to a few "
            "hundred). Statistics merged by partial_fit cannot be refined against "
            "the data: fit all the data at once with fit() for refined "
            "coefficients, or add a small alpha."
        )
    warnings.warn(
        f"The least-squares problem is ill conditioned (condition number "
        f"{solver.condition:.1e} after standardising): {how}",
        scipy.linalg.LinAlgWarning,
        stacklevel=6,
    )


@dataclass(frozen=True)
class Problem:
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
        center = np.concatenate([scaling.x_mean, scaling.y_mean])
        p = moments.n_features
        about_center = (
            moments.sumsq[:p]
            + moments.weight_sum * (moments.mean_x - scaling.x_mean) ** 2
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
        their cross-products with the scaled targets, and the targets' own."""
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
        intercept = self.scaling.y_mean - coef @ self.scaling.x_mean
        return coef, intercept

    def objective(self, coef, l1):
        """Value of ``sum_k [mean_s (t_k - z theta_k)^2 / 2 + l1_k ||theta_k||_1 +
        l2 / 2 ||theta_k||^2]`` on the standardised problem (``z`` the columns
        scaled by ``x_scale``, ``t`` by ``y_scale``), from the statistics."""
        if not self.n_active:
            return max(0.5 * float(np.sum(self.scaling.y_second_moment)), 0.0)
        gram, xy, yy = self.products()
        theta = self.penalty_scale[:, None] * self.equilibrated(coef)
        scale = self.penalty_scale
        gram = gram / np.outer(scale, scale)
        xy = xy / scale[:, None]
        fit = 0.5 * np.diag(yy) - np.sum(theta * xy, axis=0)
        fit += 0.5 * np.sum(theta * matmul(gram, theta), axis=0)
        penalty = l1 * np.abs(theta).sum(axis=0) + 0.5 * self.l2 * np.sum(theta**2, 0)
        return max(float(np.sum(fit + penalty)), 0.0)


class _Solver:
    """What both solvers share: error estimates from the norms they provide."""

    def stable_error(self, gamma):
        """Estimated relative error of a backward-stable solution (what one
        refinement step in working precision reaches): the first-order
        perturbation bound of least squares for a backward error of ``eps``
        (Wedin), ``eps (kappa (1 + |b| / (s1 |gamma|)) + kappa^2 |r| / (s1
        |gamma|))``; for a rank-deficient problem, the bound for the fitted
        values, ``eps (|b| + s1 |gamma| + kappa |r|) / |A gamma|``."""
        residual = self.residual_norm(gamma)
        fitted = self.fitted_norm(gamma)
        rhs = np.hypot(fitted, residual)
        largest, norm = self.largest_singular_value(), np.linalg.norm(gamma)
        if self.rank < self.problem.n_active:
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

    def __init__(self, problem):
        self.problem = problem
        self.gram, self.xy, self.yy = problem.products()
        system = self.gram + problem.l2 * np.diag(problem.penalty_scale**2)
        self.factor, self.rcond = cholesky(system)
        self.rank = problem.n_active

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
        return min(1.0, 4 * EPS * np.sqrt(self.problem.n_active) / self.rcond)

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

    def __init__(self, problem):
        self.problem = problem
        p, active = problem.n_features, problem.active
        moments, y_scale = problem.moments, problem.scaling.y_scale
        factor = moments.factor_about(problem.center) / np.sqrt(moments.weight_sum)
        self.A = factor[:, :p][:, active] / problem.unit
        self.b = factor[:, p:] / y_scale
        left, singular, right_t = svd(self.A)
        self.singular = singular
        self.rank = int(np.sum(singular > self._cutoff()))
        # The kept part in the penalised coordinates theta = S gamma:
        # A_r S^-1 = left_r diag(singular_r) right_r' S^-1 = U diag(sigma) V'.
        scale = problem.penalty_scale
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
        problem = self.problem
        centring = np.linalg.norm(problem.moments.mean_x[problem.active] / problem.unit)
        return EPS * (growth * self.singular[0] + centring)

    def _cutoff(self):
        """Singular values up to this are rounding: a safe ``10 p`` growth."""
        return 10 * self._rounding(self.problem.n_active)

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
        level = 4 * self._rounding(np.sqrt(self.problem.n_active))
        return min(1.0, level / self.singular[self.rank - 1])

    def initial(self):
        filtered = self.sigma / (self.sigma**2 + self.problem.l2)
        theta = matmul(self.right, filtered[:, None] * matmul(self.left.T, self.b))
        return theta / self.problem.penalty_scale[:, None]

    def correct(self, residual):
        scale = self.problem.penalty_scale[:, None]
        inverse = 1.0 / (self.sigma**2 + self.problem.l2)
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


def _refine(source, problem, solver, coef, intercept, *, always_extended):
    """Iterative refinement of ``(coef, intercept)`` against the data.

    Each step is one pass over ``X``: the residual ``r = y - intercept - X coef``
    and the normal-equation residual ``X' W r`` are computed from the data as
    given, and the correction is solved with ``solver``'s factorisation. In
    working precision one step reaches a backward-stable solution. In twice the
    working precision (error-free transformations) the steps converge to the
    solution of the data as given, rounded, for condition numbers up to about
    ``1 / eps``: digits that do not depend on the kernels that computed the
    statistics. That is done for small problems (``_SMALL_PROBLEM``), where it
    costs little, and wherever working precision would leave an estimated error
    above ``_WORKING_PRECISION_ERROR``.

    The residuals come from ``source``: a pass over the data, or the exact
    cross-products of the statistics (always in twice the working precision).

    In twice the working precision, the steps stop when the size of the last
    correction times the solver's estimated contraction (the estimated error
    after it) reaches the floor set by the precision of the residuals
    (``source.floor``), or when they stop contracting (the last iterate is kept,
    and the rejected correction's size is the estimate).

    Returns the refined coefficients and intercepts, the estimated relative
    error (of the fitted values for a rank-deficient problem) and the number of
    steps.
    """
    if not problem.n_active:
        return coef, intercept, 0.0, 0
    working_error = solver.stable_error(problem.equilibrated(coef))
    extended = always_extended or working_error > _WORKING_PRECISION_ERROR
    floor = source.floor(solver, working_error)
    previous = np.inf
    for passes in range(1, (_MAX_REFINEMENTS if extended else 1) + 1):
        refined, size = _refinement_step(
            source, problem, solver, coef, intercept, extended
        )
        if size > previous / 2:
            error = size  # no longer contracting: keep the last iterate
            break
        (coef, intercept), previous = refined, size
        error = max(solver.contraction * size, floor)
        if error <= floor:
            break
    return coef, intercept, (error if extended else working_error), passes


def _refinement_step(source, problem, solver, coef, intercept, extended):
    """One correction: the refined ``(coef, intercept)`` and the relative size
    of the correction (``_relative_change``)."""
    x_mean = problem.scaling.x_mean
    g_x, g_1 = source(coef, intercept, x_mean, extended=extended)
    active, x_mean = problem.active, x_mean[problem.active]
    y_scale = problem.scaling.y_scale
    gamma = problem.equilibrated(coef)
    # The normal-equation residual about the centre, in equilibrated coordinates.
    residual = g_x[active] / (
        problem.moments.weight_sum * np.outer(problem.unit, y_scale)
    )
    residual -= problem.l2 * problem.penalty_scale[:, None] ** 2 * gamma
    delta = solver.correct(residual)
    if solver.rank < problem.n_active:
        size = _relative(solver.fitted_norm(delta), solver.fitted_norm(gamma))
    else:
        size = _relative_change(delta, gamma)
    delta_coef = (delta * y_scale).T / problem.unit
    coef = coef.copy()
    coef[:, active] += delta_coef
    if problem.fit_intercept:
        intercept = intercept + g_1 / problem.moments.weight_sum - delta_coef @ x_mean
    return (coef, intercept), size


def _relative(change, norm):
    return change / norm if norm > 0 else change


def _relative_change(delta, gamma):
    """The largest change of a coefficient relative to itself, or to 1e-4 of the
    norm of its target's coefficients if smaller (a coefficient near zero is
    refined to the rounding of the others)."""
    floor = 1e-4 * np.linalg.norm(gamma, axis=0)
    scale = np.maximum(np.abs(gamma), floor)
    return float(np.max(np.abs(delta) / np.where(scale > 0, scale, 1.0), initial=0.0))


class _DataPass:
    """Normal-equation residuals from a pass over the data."""

    def __init__(self, data, device, dtype):
        self.data, self.device, self.dtype = data, device, dtype

    @staticmethod
    def floor(solver, stable_error):
        """Residuals of the data in twice the working precision err by about
        ``eps`` times what a backward-stable solution errs by."""
        return EPS * (1 + stable_error)

    def __call__(self, coef, intercept, center, *, extended):
        return normal_residual(
            self.data,
            coef,
            intercept,
            center,
            extended=extended,
            device=self.device,
            dtype=self.dtype,
        )


class _ExactStatistics:
    """Normal-equation residuals from exact cross-products ``M`` of ``[z 1]``,
    ``z = [X Y] - shift``: with ``r_k = e_k - z_x coef_k - beta_k`` (``beta`` the
    intercept relative to the shift), ``M [-coef_k, u_k, -beta_k]`` holds
    ``z_x' W r_k`` and ``1' W r_k``. Everything error-free but the final
    rounding."""

    def __init__(self, moments):
        self.matrix = tuple(torch.as_tensor(part) for part in moments.exact)
        self.shift = torch.as_tensor(moments.mean)
        self.n_features = moments.n_features

    @staticmethod
    def floor(solver, stable_error):
        """Cross-products in twice the working precision are normal equations:
        they lose the square of the condition number of the data to it."""
        return EPS * (1 + EPS * solver.condition**2)

    def __call__(self, coef, intercept, center, *, extended):
        p, n_targets = self.n_features, coef.shape[0]
        hi, lo = self.matrix
        coef_t = torch.as_tensor(coef)
        # beta_k = intercept_k - shift_y_k + shift_x . coef_k, as a pair.
        products = ext.two_prod(self.shift[:p], coef_t)
        offset = ext.two_sum(torch.as_tensor(intercept), -self.shift[p:])
        beta = ext.sum2(
            torch.cat([products[0], offset[0].unsqueeze(1)], dim=1),
            torch.cat([products[1], offset[1].unsqueeze(1)], dim=1),
            dim=1,
        )
        v = torch.zeros((p + n_targets, n_targets), dtype=torch.float64)
        v[:p], v[p:] = -coef_t.T, torch.eye(n_targets)
        terms_hi, terms_lo = ext.two_prod(hi[:, :-1].unsqueeze(2), v)
        terms_lo = terms_lo + lo[:, :-1].unsqueeze(2) * v
        last = ext.mul((hi[:, -1:], lo[:, -1:]), (-beta[0], -beta[1]))
        g_hi, g_lo = ext.sum2(
            torch.cat([terms_hi, last[0].unsqueeze(1)], dim=1),
            torch.cat([terms_lo, last[1].unsqueeze(1)], dim=1),
            dim=1,
        )
        g_1 = (g_hi[-1], g_lo[-1])
        # About the centre: z_x' W r + (shift - center) 1' W r.
        offset = ext.two_sum(self.shift[:p], -torch.as_tensor(center))
        offset = tuple(part.unsqueeze(1) for part in offset)
        g_x = ext.add(
            (g_hi[:p], g_lo[:p]),
            ext.mul(offset, tuple(part.unsqueeze(0) for part in g_1)),
        )
        return _numpy(ext.value(g_x)), _numpy(ext.value(g_1))


def normal_residual(data, coef, intercept, center, *, extended, device, dtype):
    """``(X - center)' W r`` and ``1' W r`` for the residuals ``r = Y - intercept -
    X coef.T`` of the data, in one pass over ``X``; with ``extended``, every
    difference, sum and product in twice the working precision (the results are
    rounded once, at the end).

    Returns arrays of shapes (n_features, n_targets) and (n_targets,).
    """
    coef_t = torch.as_tensor(coef, device=device, dtype=dtype)
    intercept_t = torch.as_tensor(intercept, device=device, dtype=dtype)
    center_t = torch.as_tensor(center, device=device, dtype=dtype)
    # Without weights, in working precision, X' r - center 1' r is formed after
    # the pass: 1' r vanishes to rounding at a solution whose intercept comes
    # from the means, so the subtraction cancels nothing and X is not copied.
    shifted = extended or data.sample_weight is not None
    g_x = g_1 = None
    for x, y, w in data.blocks(device=device, dtype=dtype):
        with threads_for(x.numel()):
            if extended:
                block = _extended_products(x, y, w, coef_t, intercept_t, center_t)
            else:
                r = torch.addmm(y - intercept_t, x, coef_t.T, alpha=-1)
                u = r if w is None else r * w.unsqueeze(1)
                z = x - center_t if shifted else x
                block = ((z.T @ u, 0.0), (u.sum(dim=0), 0.0))
        g_x = block[0] if g_x is None else ext.add(g_x, block[0])
        g_1 = block[1] if g_1 is None else ext.add(g_1, block[1])
    g_x, g_1 = _numpy(ext.value(g_x)), _numpy(ext.value(g_1))
    if not shifted:
        g_x = g_x - np.outer(center, g_1)
    return g_x, g_1


def _extended_products(x, y, w, coef, intercept, center):
    """Pairs ``(hi, lo)`` of ``(x - center)' u`` and ``1' u`` for ``u = w (y -
    intercept - x coef')`` of one block, every operation error-free but the
    summing of the low parts."""
    n_rows, n_targets = y.shape
    x_parts = ext.split(x)
    # Terms of each residual: y, -intercept and -x_j coef_kj, shape (n, k, 2 + p).
    prod_hi, prod_lo = ext.two_prod(
        x.unsqueeze(1),
        coef.unsqueeze(0),
        tuple(part.unsqueeze(1) for part in x_parts),
        tuple(part.unsqueeze(0) for part in ext.split(coef)),
    )
    terms_hi = torch.cat(
        [y.unsqueeze(2), (-intercept).expand(n_rows, n_targets).unsqueeze(2), -prod_hi],
        dim=2,
    )
    terms_lo = torch.cat([torch.zeros_like(terms_hi[:, :, :2]), -prod_lo], dim=2)
    u_hi, u_lo = ext.two_sum(*ext.sum2(terms_hi, terms_lo, dim=2))
    if w is not None:
        w = w.unsqueeze(1)
        u_hi, lo = ext.two_prod(w, u_hi)
        u_lo = lo + w * u_lo
    # [x_ij, 1] u_ik summed over the rows i, shape (p + 1, k): x' u and 1' u.
    ones = torch.ones_like(x[:, :1])
    x = torch.cat([x, ones], dim=1)
    x_parts = tuple(
        torch.cat([part, extra], dim=1)
        for part, extra in zip(x_parts, (ones, 0 * ones))
    )
    prod_hi, prod_lo = ext.two_prod(
        x.unsqueeze(2),
        u_hi.unsqueeze(1),
        tuple(part.unsqueeze(2) for part in x_parts),
        tuple(part.unsqueeze(1) for part in ext.split(u_hi)),
    )
    prod_lo = prod_lo + x.unsqueeze(2) * u_lo.unsqueeze(1)
    sums_hi, sums_lo = ext.sum2(prod_hi, prod_lo, dim=0)
    g_x, g_1 = (sums_hi[:-1], sums_lo[:-1]), (sums_hi[-1], sums_lo[-1])
    # About the centre: x' u - center 1' u.
    shift = ext.mul(ext.pair(-center.unsqueeze(1)), tuple(g.unsqueeze(0) for g in g_1))
    return ext.add(g_x, shift), g_1


def _fit_elastic_net(problem, l1, max_iter):
    gram, xy, _ = problem.products()
    scale = problem.penalty_scale
    theta, sweeps, converged = solve_elastic_net(
        gram / np.outer(scale, scale),
        xy / scale[:, None],
        l1,
        problem.l2,
        max_sweeps=max_iter,
    )
    if not converged:
        warnings.warn(
            f"Coordinate descent reached max_iter={max_iter} sweeps before the "
            "coefficients settled to a relative change of 1e-12. Increase max_iter.",
            ConvergenceWarning,
            stacklevel=6,
        )
    coef, intercept = problem.original(theta / scale[:, None])
    return ExactFit(
        moments=problem.moments,
        scaling=problem.scaling,
        coef=coef,
        intercept=intercept,
        path="coordinate_descent",
        n_iter=sweeps,
        objective=problem.objective(coef, l1),
        error=np.nan,
        rank=problem.n_active,
    )


def solve_elastic_net(gram, cross, l1, l2, *, max_sweeps, tol=_CD_TOL):
    """Minimise ``b' gram b / 2 - cross' b + l1 * ||b||_1 + l2 / 2 * ||b||^2`` per
    column of ``cross`` by cyclic coordinate descent on the Gram matrix.

    Parameters
    ----------
    gram : ndarray of shape (n_features, n_features)
    cross : ndarray of shape (n_features, n_targets)
    l1 : ndarray of shape (n_targets,)
        L1 strength per target.
    l2 : float
        L2 strength.
    max_sweeps : int
        Maximum number of sweeps over the coordinates.
    tol : float
        Convergence: the largest change of a coefficient in a sweep is at most
        ``tol`` times the largest coefficient.

    Returns
    -------
    coef : ndarray of shape (n_features, n_targets)
    n_sweeps : int
        Sweeps of the slowest target.
    converged : bool
    """
    n_features, n_targets = cross.shape
    coef = np.zeros((n_features, n_targets))
    curvature = np.diag(gram) + l2
    sweeps, converged = 0, True
    for target in range(n_targets):
        beta = coef[:, target]
        residual = cross[:, target].copy()  # cross - gram @ beta
        for sweep in range(1, max_sweeps + 1):
            largest_change = 0.0
            for j in range(n_features):
                if curvature[j] <= 0:
                    continue
                old = beta[j]
                z = residual[j] + gram[j, j] * old
                new = np.sign(z) * max(abs(z) - l1[target], 0.0) / curvature[j]
                if new != old:
                    residual -= gram[:, j] * (new - old)
                    beta[j] = new
                    largest_change = max(largest_change, abs(new - old))
            if largest_change <= tol * np.max(np.abs(beta), initial=0.0):
                break
        else:
            converged = False
        sweeps = max(sweeps, sweep)
    return coef, sweeps, converged


def _numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()
