"""Certified optimality gaps of the absolute and quantile losses, and the dual
bound that the exact solvers of the robust losses share.

Per target, on the standardized data ``Z`` (with a column of ones for the
intercept: ``Z~``), targets ``t`` and weights ``w`` of mean one, the primal is

    F(beta, b) = 1/n sum_i w_i L(t_i - z_i beta - b) + l1 |beta|_1 + l2/2 |beta|^2

and every ``a`` with ``a_i`` in the box ``[lower, upper]`` of the loss's
subgradient (``[quantile - 1, quantile]`` for the pinball loss, ``[-1, 1]`` for
the absolute error) and ``sum_i w_i a_i = 0`` (with an intercept) gives the
lower bound

    D(a) = 1/n sum_i w_i a_i t_i - P*(v),   v = Z' (w a) / n,

with ``P*`` the conjugate of the penalty (it requires ``v = 0`` without a
penalty, ``|v| <= l1`` with a pure L1 penalty). ``F(beta) - D(a)`` bounds the
distance to the minimum from above, whatever ``a`` is: the work is to choose
one that makes it tight. HuberRegressor's objective (:mod:`.newton`) has the
same dual with the box ``[-2 epsilon, 2 epsilon]`` and, from its scale, the
ball ``mean(w a^2) <= 4``.

For the gradient solvers of the absolute and quantile losses, the residuals
far from zero keep their sign near the minimum, so ``a`` is the subgradient
``upper`` or ``lower`` on every row but the ``K`` closest to zero, where a
linear programme over those rows alone (HiGHS) chooses it. ``K`` grows until
the bound is below ``tol`` or reaches ``_MAX_ROWS`` (all the rows of a smaller
data set). The programme's primal solution moves the coefficients so that as
many of those rows as there are coefficients are fitted exactly: the
minimiser, when the signs of the other residuals are those at the minimum;
the gradient solvers keep it when its objective is lower.

Either way ``a`` is then made exactly feasible (:func:`_bound`): the
constraints that must hold with equality are restored by a least-norm
correction on the rows free to move, and ``a`` is scaled towards zero (which
is feasible) until it is inside its box (and ball, and ``|v| <= l1``). The
bound holds to rounding.
"""

import numpy as np
import scipy.optimize
import torch

from ._optimality import pseudo_solve

# Rows per block of a pass over the data.
_BLOCK_ROWS = 4096
# Rows of the first linear programme (at least), and the most of the last.
_MIN_ROWS = 1000
_MAX_ROWS = 2**16
# Gaps are relative to the minimum, or to this fraction of the objective at
# zero coefficients when the minimum is smaller (see relative).
FLOOR = 1e-8
# Free rows at most whose correction is solved from the rows themselves.
_DIRECT_ROWS = 2000
# Least-norm corrections of the dual point at most (each one pass).
_CORRECTIONS = 3
# Feasibility of the dual point: the relative size of what is left of the
# constraints after the correction (rounding).
_FEASIBILITY = 1e-11


class Loss:
    """A robust loss of one target, in standardized units: its value and
    subgradient (absolute and quantile losses) and the box and ball of its dual
    point."""

    def __init__(self, kind, parameter):
        self.kind = kind
        # The bound of the mean square of the dual point (HuberRegressor's
        # objective, whose scale's dual is this constraint), or None.
        self.ball = None
        if kind == "scaled_huber":  # for the dual point only (see newton.py)
            self.lower, self.upper = -2.0 * parameter, 2.0 * parameter
            self.ball = 4.0
        elif kind == "quantile":
            self.lower, self.upper = parameter - 1.0, parameter
        else:  # absolute error
            self.lower, self.upper = -1.0, 1.0

    def value(self, r):
        return torch.maximum(self.upper * r, self.lower * r)

    def derivative(self, r):
        return torch.where(
            r > 0, torch.full_like(r, self.upper), torch.full_like(r, self.lower)
        )


def losses(objective, n_targets):
    """The loss of each target (its quantile, for several quantiles)."""
    if objective.loss == "absolute_error":
        return [Loss("absolute_error", None)] * n_targets
    quantiles = np.broadcast_to(np.asarray(objective.quantile, dtype=float), n_targets)
    return [Loss("quantile", float(q)) for q in quantiles]


class DualProblem:
    """One target's loss and penalty, with the passes over its rows (target ``k``
    of a :class:`~._passes.Passes`, with a column of ones always)."""

    def __init__(self, passes, k, loss, l1, l2):
        self.passes = passes
        self.t = passes.t[:, k]
        self.w = torch.ones_like(self.t) if passes.w is None else passes.w
        self.n = passes.n
        self.n_columns = passes.width - passes.bias + 1  # with the intercept
        self.loss, self.l1, self.l2, self.bias = loss, l1, l2, passes.bias

    def product(self, coef):
        """``Z~ coef``."""
        return self.passes.product(np.asarray(coef)[None], ones=True)[:, 0]

    def at_zero(self):
        """The objective at zero coefficients (and intercept)."""
        return float(self.w @ self.loss.value(self.t)) / self.n

    def residual(self, coef):
        """``t - Z~ coef`` for ``coef = [beta, b]``."""
        return self.t - self.product(coef)

    def rows(self, index):
        """``Z~`` of the rows ``index`` (a NumPy array), on the CPU."""
        z = self.passes.rows(torch.as_tensor(index), ones=True)
        return z.cpu().numpy()

    def cross(self, vector):
        """``Z~' vector / n`` (``vector`` of shape (n,) or (n, m))."""
        matrix = vector if vector.ndim == 2 else vector[:, None]
        total = self.passes.cross(matrix, ones=True).T / self.n
        return total if vector.ndim == 2 else total[:, 0]

    def gram(self, weight):
        """``Z~' diag(weight) Z~ / n``."""
        return self.passes.gram_and_product(weight[:, None], ones=True)[0][0] / self.n

    def penalty(self, beta):
        return self.l1 * np.abs(beta).sum() + 0.5 * self.l2 * beta @ beta

    def objective(self, coef, r=None):
        r = self.residual(coef) if r is None else r
        return float(self.w @ self.loss.value(r)) / self.n + self.penalty(coef[:-1])

    def variables(self):
        """The coordinates of ``[beta, b]`` that are free: all, or all but the
        intercept."""
        p = self.n_columns
        return np.arange(p) if self.bias else np.arange(p - 1)


def relative_gap(module, loss, passes, tol):
    """Bound the distance of the module's coefficients to the minimum, and
    offer better ones when the bound's work found them.

    Returns ``(gaps, coefficients)``: per target ``(f - d) / d``, an upper
    bound of ``(f - f*) / f*``, for the objective ``f`` at the better of the
    module's coefficients and the candidate minimiser found (the solution of
    the linear programme's primal), and a certified lower bound ``d`` of the
    minimum ``f*`` (floored at ``FLOOR`` of the objective at zero
    coefficients); and the better coefficients, ``(weight, bias)`` in the
    module's coordinates, or None when the module's are the better.

    ``loss`` is ``"quantile"`` or ``"absolute_error"``, with its parameter per
    target (the quantile).
    """
    kind, parameters = loss
    linear = module.linear
    weight = linear.weight.detach().cpu().double().numpy()
    bias = linear.bias is not None
    intercept = linear.bias.detach().cpu().double().numpy() if bias else None
    l1 = module.l1.cpu().double().numpy()
    l2 = module.l2.cpu().double().numpy()
    gaps, chosen, improved = [], [], False
    for k in range(weight.shape[0]):
        problem = DualProblem(passes, k, Loss(kind, parameters[k]), l1[k], l2[k])
        coef = np.append(weight[k], intercept[k] if bias else 0.0)
        r = problem.residual(coef)
        best = _Best(coef, problem.objective(coef, r), problem.at_zero())
        _linear_programme_bound(problem, coef, r, best, tol)
        gaps.append(best.gap())
        chosen.append(best.coef)
        improved |= best.coef is not coef
    gap = np.array(gaps)
    if not improved:
        return gap, None
    chosen = np.array(chosen)
    return gap, (chosen[:, :-1], chosen[:, -1])


class _Best:
    """The best coefficients found for one target, their objective, and the
    best lower bound of the minimum; ``at_zero`` is the objective at zero
    coefficients (the scale of the problem, for the floor of the gap)."""

    def __init__(self, coef, value, at_zero):
        self.coef, self.value, self.lower = coef, value, -np.inf
        self.at_zero = at_zero

    def offer(self, lower, coef=None, value=np.inf):
        self.lower = max(self.lower, lower)
        if value < self.value:
            self.coef, self.value = coef, value

    def gap(self):
        return relative(self.value, self.lower, self.at_zero)


def relative(value, lower, at_zero):
    """``(value - lower) / lower``, the lower bound floored at ``FLOOR`` of the
    objective ``at_zero`` (data fitted exactly have a minimum of zero; the
    rounding of their residuals is first order in a loss of degree one)."""
    floor = np.maximum(FLOOR * at_zero, np.finfo(float).tiny)
    return np.maximum(value - lower, 0.0) / np.maximum(lower, floor)


def _linear_programme_bound(problem, coef, r, best, tol):
    """The bound of the subgradient at ``coef``, re-chosen on the rows with
    the residuals closest to zero by a linear programme, and the solution of
    its primal (the minimiser when the signs of the other residuals are those
    at the minimum); more rows while the gap is above ``tol``. When no
    programme is feasible, the subgradient corrected on all the rows (a
    looser bound)."""
    n_rows = min(problem.n, max(_MIN_ROWS, 20 * len(coef)))
    while True:
        best.offer(*_restricted_bound(problem, coef, r, n_rows))
        if best.gap() <= tol or n_rows >= min(problem.n, _MAX_ROWS):
            break
        n_rows = min(problem.n, _MAX_ROWS, 4 * n_rows)
    if best.lower == -np.inf:  # no programme was feasible: far from the minimum
        everywhere = torch.ones_like(r)
        best.offer(_bound(problem, problem.loss.derivative(r), everywhere, coef[:-1]))


def _restricted_bound(problem, coef, r, n_rows):
    """The programme over the ``n_rows`` rows with the residuals closest to
    zero: the bound of its solution, and the coefficients of its primal
    (``coef`` moved so that the residuals of the rows it leaves inside the box,
    as many as there are free coefficients, are zero) with their objective.
    Returns ``(bound, coefficients, objective)``."""
    loss, w, n = problem.loss, problem.w, problem.n
    rows = torch.topk(r.abs(), n_rows, largest=False).indices
    a = loss.derivative(r)
    a[rows] = 0.0
    fixed = problem.cross(w * a)  # Z~' w a / n over the rows outside
    z = problem.rows(rows.cpu().numpy())
    w_rows = w[rows].cpu().numpy()
    r_rows = r[rows].cpu().numpy()
    # In the programme, a / unit (bounds of O(1)) and the constraints v = Z~' w
    # a / n as rows of O(1) entries (times n / K), for HiGHS's tolerances.
    unit = max(-loss.lower, loss.upper)
    scale = n / n_rows / unit
    coefficients = (w_rows[:, None] * z).T / n_rows
    beta = coef[:-1]
    equal, upper = [], []  # the columns of the constraints, in order
    equal_values, upper_values = [], []
    for j in problem.variables():
        if j == len(beta):
            target = 0.0  # the intercept: sum w a = 0
        elif problem.l1 > 0 and beta[j] == 0:  # |v_j| <= l1
            upper += [j, j]
            upper_values += [
                scale * (problem.l1 - fixed[j]),
                scale * (problem.l1 + fixed[j]),
            ]
            continue
        else:  # v_j in the subdifferential of the penalty at beta_j
            target = problem.l2 * beta[j] + problem.l1 * np.sign(beta[j])
        equal.append(j)
        equal_values.append(scale * (target - fixed[j]))
    signs = np.tile([1.0, -1.0], len(upper) // 2)
    gain = w_rows * r_rows
    largest = max(np.abs(gain).max(), np.finfo(float).tiny)
    solution = scipy.optimize.linprog(
        -gain / largest,
        A_ub=signs[:, None] * coefficients[upper] if upper else None,
        b_ub=np.array(upper_values) if upper else None,
        A_eq=coefficients[equal] if equal else None,
        b_eq=np.array(equal_values) if equal else None,
        bounds=(loss.lower / unit, loss.upper / unit),
        method="highs",
    )
    if solution.status != 0:
        return -np.inf, None, np.inf
    # Stationarity on the rows inside the box: r_i = z~_i' step, with step the
    # constraints' multipliers (sensitivities) times -largest / K.
    step = np.zeros_like(coef)
    if equal:
        step[equal] += solution.eqlin.marginals
    if upper:
        np.add.at(step, upper, signs * solution.ineqlin.marginals)
    moved = coef - largest / n_rows * step
    a[rows] = torch.as_tensor(unit * solution.x, dtype=a.dtype, device=a.device)
    free = torch.zeros_like(a)
    free[rows] = 1.0
    return _bound(problem, a, free, beta), moved, problem.objective(moved)


def _bound(problem, a, free, beta, gram=None):
    """``D`` of ``a`` made feasible: the equality constraints restored by the
    least-norm correction on the ``free`` rows (``gram``, when given, is
    ``Z~' diag(w free) Z~ / n``), then ``a`` scaled into its box. ``-inf``
    when the correction cannot restore them."""
    w, n, loss = problem.w, problem.n, problem.loss
    p = len(beta)
    equal = list(range(p)) if problem.l1 == 0 and problem.l2 == 0 else []
    if problem.bias:
        equal.append(p)
    correct = None
    if equal:
        correct = _correction(problem, w, free, equal, gram)
        v = problem.cross(w * a)
    for _ in range(_CORRECTIONS if equal else 1):
        if equal:  # (repeated: collinear columns may leave part of it)
            a = a - correct(v)
        # v, and the size of its terms for the rounding test, in one pass
        v, size = problem.cross(torch.stack([w * a, w * a.abs()], 1)).T
        if not equal or np.abs(v[equal]).max() <= _FEASIBILITY * (size.max() + 1e-300):
            break
    else:
        return -np.inf
    theta = 1.0
    top, bottom = float(a.max()), float(a.min())
    if top > loss.upper:
        theta = min(theta, loss.upper / top)
    if bottom < loss.lower:
        theta = min(theta, loss.lower / bottom)
    if loss.ball is not None:
        second = float(w @ a.square()) / n
        if second > loss.ball:
            theta = min(theta, (loss.ball / second) ** 0.5)
    v = v[:p]
    if problem.l2 == 0 and problem.l1 > 0 and np.abs(v).max() > problem.l1:
        theta = min(theta, problem.l1 / np.abs(v).max())
    linear = float(w @ (a * problem.t)) / n
    theta = _best_factor(linear, np.abs(v), problem.l1, problem.l2, theta)
    penalty = 0.0
    if problem.l2 > 0:
        excess = np.maximum(np.abs(theta * v) - problem.l1, 0.0)
        penalty = excess @ excess / (2 * problem.l2)
    return theta * linear - penalty


def _correction(problem, w, free, equal, gram):
    """The least-norm change of ``a`` on the ``free`` rows that removes ``v =
    Z~' w a / n`` on the columns ``equal``, as a function of ``v``: from the
    rows themselves by a backward-stable least-squares solve when they are
    few (a vertex: the Gram matrix would square their condition number, and
    near-collinear columns then leave the constraints unmet), else from their
    Gram matrix (``gram`` when given)."""
    index = torch.nonzero(free > 0)[:, 0]
    if len(index) <= _DIRECT_ROWS:
        z = problem.rows(index.cpu().numpy())[:, equal]
        matrix = (w[index].cpu().numpy()[:, None] * z).T / problem.n

        def correct(v):
            change = torch.zeros_like(free)
            step = np.linalg.lstsq(matrix, v[equal], rcond=None)[0]
            change[index] = torch.as_tensor(
                step, dtype=change.dtype, device=change.device
            )
            return change

        return correct
    gram = problem.gram(w * free) if gram is None else gram
    gram = gram[np.ix_(equal, equal)]

    def correct(v):
        multiplier = np.zeros(problem.n_columns)
        multiplier[equal] = pseudo_solve(gram, v[equal])
        return free * problem.product(multiplier)

    return correct


def _best_factor(linear, size, l1, l2, largest):
    """The factor ``theta`` in ``[0, largest]`` (every one keeps the dual
    point feasible) of the largest bound ``theta linear - P*(theta v)``, a
    concave function of ``theta``: the largest feasible one without an L2
    penalty (when ``linear > 0``), else the root of its derivative
    ``linear - sum_j |v_j| max(theta |v_j| - l1, 0) / l2`` (decreasing), by
    bisection. With an L2 penalty the dual point of a fit short of the
    minimum is best scaled down: the bound is then far tighter."""
    if linear <= 0:
        return 0.0
    if l2 == 0:
        return largest

    def slope(theta):
        return linear - size @ np.maximum(theta * size - l1, 0.0) / l2

    if slope(largest) >= 0:
        return largest
    low, high = 0.0, largest
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if slope(middle) > 0 else (low, middle)
    return low


def bound(problem, a, inside, free, beta):
    """The lower bound of ``problem``'s minimum from the dual point
    ``inside`` made feasible on the ``free`` rows, or from ``a`` on all the
    rows when those cannot restore it (:func:`_bound`); 0 at
    least (the objective is never negative)."""
    lower = _bound(problem, inside, free, beta)
    if lower == -np.inf:
        lower = _bound(problem, a, torch.ones_like(a), beta)
    return max(lower, 0.0)
