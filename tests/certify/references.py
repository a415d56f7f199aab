"""The training objective as the README defines it, and its minimum from
solvers independent of the package: ``numpy.linalg.lstsq`` (least squares),
HiGHS through ``scipy.optimize.linprog`` (absolute and quantile losses with an
L1 penalty or none), cvxpy with CLARABEL (every other cell; Huber with its
concomitant scale as a perspective function).

Everything is computed on the problem standardized here, independently of the
package (weighted means and standard deviations; the objective changes by a
factor only): for target ``k`` with ``y = s_y * y'`` and ``X = m + c * z``
(columns), ``W = s_y * W' / c``, so the penalty ``||W * sigma||`` of the README
(``sigma = c`` when standardizing, else ones) is ``s_y * ||W' * d||`` with ``d
= sigma / c``. Squared error scales by ``s_y^2`` and the other losses by
``s_y``, which moves the penalty weights as :meth:`Problem.penalties` says.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse

EPSILON = 1.35
# Relative gaps are relative to the minimum, or, when the minimum is smaller,
# to this fraction of the objective at zero coefficients (data fitted
# exactly: the rounding of residuals, squared for squared error).
FLOOR = {"squared_error": 1e-12, "robust": 1e-8}


def _dense(X):
    return X.toarray() if scipy.sparse.issparse(X) else np.asarray(X, dtype=float)


@dataclass
class Problem:
    """One target's standardized problem: rows ``z`` (columns centred and
    divided by ``c``), target ``y'``, weights ``s / sum(s)``, the penalty
    weights ``d`` of each coefficient and the scale ``s_y`` of the target."""

    z: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    d: np.ndarray
    y_scale: float
    y_center: float
    x_center: np.ndarray
    x_scale: np.ndarray
    fit_intercept: bool

    @classmethod
    def of(cls, X, y, sample_weight, params):
        X = _dense(X)
        n = len(y)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        weight = w / w.sum()
        intercept = params.get("fit_intercept", True)
        # sigma: the weighted standard deviations (about the mean, with an
        # intercept or not, as StandardScaler's), 1 for constant columns
        x_mean = weight @ X
        x_var = weight @ (X - x_mean) ** 2
        constant = x_var <= (1e-13 * np.abs(x_mean)) ** 2
        x_scale = np.where(constant | (x_var == 0), 1.0, np.sqrt(x_var))
        x_center = x_mean if intercept else np.zeros(X.shape[1])
        sigma = x_scale if params.get("standardize", True) else np.ones_like(x_scale)
        y_center = float(weight @ y) if intercept else 0.0
        y_var = float(weight @ (y - y_center) ** 2)
        constant_y = y_var <= (1e-13 * abs(y_center)) ** 2
        y_scale = max(abs(y_center), 1.0) if constant_y else np.sqrt(y_var)
        return cls(
            z=(X - x_center) / x_scale,
            y=(y - y_center) / y_scale,
            weight=weight,
            d=sigma / x_scale,
            y_scale=y_scale,
            y_center=y_center,
            x_center=x_center,
            x_scale=x_scale,
            fit_intercept=intercept,
        )

    def penalties(self, loss, alpha, l1_ratio):
        """``(l1, l2)`` of the standardized objective ``loss' + l1 ||d W'||_1 +
        l2 / 2 ||d W'||^2``, the README's objective divided by ``s_y^2``
        (squared error) or ``s_y`` (the others)."""
        if loss == "squared_error":
            return alpha * l1_ratio / self.y_scale, alpha * (1 - l1_ratio)
        return alpha * l1_ratio, alpha * (1 - l1_ratio) * self.y_scale

    def standardized(self, coef, intercept):
        """``(W', b')`` of a fit in the original units."""
        w = coef * self.x_scale / self.y_scale
        b = (intercept - self.y_center + coef @ self.x_center) / self.y_scale
        return w, b


def rho(loss, r, quantile=0.5, scale=None, epsilon=EPSILON):
    """The loss of each residual ``r`` (Huber's with its scale, the README's
    ``scale + r^2 / scale`` inside ``epsilon * scale``)."""
    if loss == "squared_error":
        return 0.5 * r**2
    if loss == "absolute_error":
        return np.abs(r)
    if loss == "quantile":
        return np.where(r >= 0, quantile * r, (quantile - 1) * r)
    inside = np.abs(r) <= epsilon * scale
    safe = max(scale, 1e-300)
    return scale + np.where(
        inside, r**2 / safe, 2 * epsilon * np.abs(r) - epsilon**2 * scale
    )


def objective(problem, loss, penalties, w, b, *, residual, quantile, scale):
    """The standardized objective of ``(W', b')`` whose standardized residuals
    are ``residual`` (computed from the original units by the caller)."""
    l1, l2 = penalties
    value = problem.weight @ rho(loss, residual, quantile, scale)
    dw = problem.d * w
    return float(value + l1 * np.abs(dw).sum() + 0.5 * l2 * dw @ dw)


def floor(problem, loss, quantile):
    """The smallest objective a relative gap is measured against: ``FLOOR``
    of the objective at zero coefficients (the absolute error's for Huber)."""
    at_zero = problem.weight @ rho(
        "absolute_error" if loss == "huber" else loss, problem.y, quantile
    )
    kind = "squared_error" if loss == "squared_error" else "robust"
    return FLOOR[kind] * float(at_zero) + 1e-280  # (zero targets: denormals)


def minimum(problem, loss, penalties, quantile=0.5):
    """The minimum of the standardized objective, from an independent solver
    (``lstsq``, HiGHS or cvxpy with CLARABEL); the solver's name."""
    l1, l2 = penalties
    if np.all(np.abs(problem.y) <= 1e-12):  # (rounding of a constant target)
        at_zero = problem.weight @ rho(loss, problem.y, quantile, scale=0.0)
        return float(at_zero), "zero"
    if loss == "squared_error" and l1 == 0 and l2 == 0:
        return _lstsq(problem), "lstsq"
    if loss in ("absolute_error", "quantile") and l2 == 0:
        q = 0.5 if loss == "absolute_error" else quantile
        try:
            value = _highs(problem, q, l1)
            return (2 * value if loss == "absolute_error" else value), "highs"
        except RuntimeError:  # (weights of a wide range): the conic solver
            pass
    return _cvxpy(problem, loss, penalties, quantile), "clarabel"


def _design(problem):
    z = problem.z
    return np.c_[z, np.ones(len(z))] if problem.fit_intercept else z


def _lstsq(problem):
    root = np.sqrt(problem.weight)
    A = _design(problem) * root[:, None]
    solution = np.linalg.lstsq(A, problem.y * root, rcond=None)[0]
    residual = problem.y - _design(problem) @ solution
    return float(0.5 * problem.weight @ residual**2)


def _highs(problem, q, l1):
    """``min sum_i s_i rho_q(r_i) + l1 ||d W'||_1`` as a linear programme:
    ``W' = u - v``, ``r = r+ - r-``."""
    A = _design(problem)
    n, k = A.shape
    p = problem.z.shape[1]
    pen = np.r_[l1 * problem.d, np.zeros(k - p)]
    # variables: u (k), v (k), r+ (n), r- (n)
    c = np.r_[pen, pen, q * problem.weight, (1 - q) * problem.weight]
    A_eq = scipy.sparse.hstack(
        [
            scipy.sparse.csr_matrix(A),
            -scipy.sparse.csr_matrix(A),
            scipy.sparse.eye(n),
            -scipy.sparse.eye(n),
        ]
    )
    bounds = [(0, None)] * (2 * k + 2 * n)
    result = scipy.optimize.linprog(
        c, A_eq=A_eq, b_eq=problem.y, bounds=bounds, method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed: {result.message}")
    return float(result.fun)


def _cvxpy(problem, loss, penalties, quantile):
    import cvxpy as cp

    l1, l2 = penalties
    n, p = problem.z.shape
    w = cp.Variable(p)
    b = cp.Variable() if problem.fit_intercept else 0.0
    r = problem.y - problem.z @ w - b
    s = problem.weight
    if loss == "squared_error":
        data = 0.5 * cp.sum(cp.multiply(s, cp.square(r)))
    elif loss == "absolute_error":
        data = cp.sum(cp.multiply(s, cp.abs(r)))
    elif loss == "quantile":
        data = cp.sum(cp.multiply(s, cp.maximum(quantile * r, (quantile - 1) * r)))
    else:  # sigma + sigma * H(r / sigma) = sigma + min_u u^2 / sigma + 2 eps |r - u|
        sigma, u = cp.Variable(nonneg=True), cp.Variable(n)
        data = (
            sigma
            + cp.quad_over_lin(cp.multiply(np.sqrt(s), u), sigma)
            + 2 * EPSILON * cp.sum(cp.multiply(s, cp.abs(r - u)))
        )
    dw = cp.multiply(problem.d, w)
    value = data + l1 * cp.norm1(dw) + 0.5 * l2 * cp.sum_squares(dw)
    settings = {
        "tol_gap_abs": 1e-12,
        "tol_gap_rel": 1e-12,
        "tol_feas": 1e-12,
        "max_iter": 400,
    }
    model = cp.Problem(cp.Minimize(value))
    for options in (settings, {}):  # tight tolerances, then CLARABEL's own
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "may be inaccurate": see below
                model.solve(solver="CLARABEL", **options)
        except cp.error.SolverError:
            continue
        if model.status in ("optimal", "optimal_inaccurate"):
            break
    else:
        raise RuntimeError(f"CLARABEL failed: {model.status}")
    # The objective at CLARABEL's point, evaluated here in float64.
    wv = np.asarray(w.value)
    bv = float(b.value) if problem.fit_intercept else 0.0
    residual = problem.y - problem.z @ wv - bv
    scale = None
    if loss == "huber":
        scale = _best_scale(residual, s)
    return objective(
        problem,
        loss,
        penalties,
        wv,
        bv,
        residual=residual,
        quantile=quantile,
        scale=scale,
    )


def _best_scale(residual, weight):
    """The Huber scale minimising the objective of fixed residuals."""
    top = max(float(np.abs(residual).max()), 1e-300)

    def value(scale):
        return weight @ rho("huber", residual, scale=scale)

    result = scipy.optimize.minimize_scalar(
        value,
        bounds=(0, top),
        method="bounded",
        options={"xatol": 1e-14 * top},
    )
    return float(result.x) if result.fun < value(top) else top
