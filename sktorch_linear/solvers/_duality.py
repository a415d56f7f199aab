"""Certified optimality gaps of the robust losses (Huber, absolute, quantile).

Per target, on the standardized data ``Z`` (with a column of ones for the
intercept: ``Z~``), targets ``t`` and weights ``w`` of mean one, the primal is

    F(beta, b) = 1/n sum_i w_i L(t_i - z_i beta - b) + l1 |beta|_1 + l2/2 |beta|^2

and every ``a`` with ``a_i`` in the domain of ``L*`` (the box ``[lower, upper]``:
``[-epsilon, epsilon]`` for Huber, ``[quantile - 1, quantile]`` for the
pinball loss, ``[-1, 1]`` for the absolute error) and ``sum_i w_i a_i = 0``
(with an intercept) gives the lower bound

    D(a) = 1/n sum_i w_i (a_i t_i - L*(a_i)) - P*(v),   v = Z' (w a) / n,

with ``L*(a) = a^2 / 2`` for Huber and 0 for the others, and ``P*`` the
conjugate of the penalty (it requires ``v = 0`` without a penalty, ``|v| <=
l1`` with a pure L1 penalty). ``F(beta) - D(a)`` bounds the distance to the
minimum from above, whatever ``a`` is: the work is to choose one that makes it
tight.

- Huber: damped Newton steps on the full data (each a pass for the Hessian over
  the residuals inside ``epsilon``) find the minimiser, and ``a`` is the
  derivative of the loss there.
- Absolute and quantile: the residuals far from zero keep their sign near the
  minimum, so ``a`` is the subgradient ``upper`` or ``lower`` on every row but
  the ``K`` closest to zero, where a linear programme over those rows alone
  (HiGHS) chooses it. ``K`` grows until the bound is below ``tol`` or reaches
  ``_MAX_ROWS`` (all the rows of a smaller data set). The programme's primal
  solution moves the coefficients so that as many of those rows as there are
  coefficients are fitted exactly: the minimiser, when the signs of the other
  residuals are those at the minimum.
- Huber, when Newton's bound is above ``tol`` (far from the minimum, where no
  residual is inside ``epsilon``, or with an ``epsilon`` so small that few are
  ever inside: nearly least absolute deviations), also takes the programme's
  bound (``L*`` ignored in choosing ``a``, at most ``epsilon^2 / 2`` a row),
  and Newton starts again from the programme's solution.

Either way ``a`` is then made exactly feasible: the constraints that must hold
with equality are restored by a least-norm correction on the rows free to
move, and ``a`` is scaled towards zero (which is feasible) until it is inside
its box (and ``|v| <= l1``). The bound holds to rounding. The minimisers found
on the way (Newton's last point, the programme's primal solution) are offered
to the caller when their objective is lower: the gradient solvers keep them.
"""

import numpy as np
import scipy.optimize
import torch

from .._device import float64_device
from ._optimality import pseudo_solve
from .coordinate_descent import solve_elastic_net

# Rows per block of a pass over the data.
_BLOCK_ROWS = 4096
# Rows of the first linear programme (at least), and the most of the last.
_MIN_ROWS = 1000
_MAX_ROWS = 2**16
# Newton steps for Huber, at most, and the relative decrease that ends them.
_MAX_NEWTON = 50
_NEWTON_TOL = 1e-15
# Feasibility of the dual point: the relative size of what is left of the
# constraints after the correction (rounding).
_FEASIBILITY = 1e-11


class Loss:
    """A robust loss of one target, in standardized units."""

    def __init__(self, kind, parameter):
        self.kind = kind
        if kind == "huber":
            self.lower, self.upper = -parameter, parameter
        elif kind == "quantile":
            self.lower, self.upper = parameter - 1.0, parameter
        else:  # absolute error
            self.lower, self.upper = -1.0, 1.0
        self.quadratic = kind == "huber"

    def value(self, r):
        if self.quadratic:
            inside = r.clamp(self.lower, self.upper)
            return inside * (r - 0.5 * inside)
        return torch.maximum(self.upper * r, self.lower * r)

    def derivative(self, r):
        if self.quadratic:
            return r.clamp(self.lower, self.upper)
        return torch.where(
            r > 0, torch.full_like(r, self.upper), torch.full_like(r, self.lower)
        )

    def conjugate(self, a):
        return 0.5 * a.square() if self.quadratic else torch.zeros_like(a)


class _Problem:
    """One target's data, loss and penalty, with the passes over the data."""

    def __init__(self, inputs, target, loss, l1, l2, bias):
        work = float64_device(target.device)
        self.X, self.t = inputs["X"], target.to(work, torch.float64)
        weight = inputs.get("sample_weight")
        if weight is not None:
            weight = weight.to(work, torch.float64)
        self.w = torch.ones_like(self.t) if weight is None else weight
        self.n = len(self.t)
        self.n_columns = len(self.rows(np.arange(1))[0])  # with the intercept
        self.loss, self.l1, self.l2, self.bias = loss, l1, l2, bias
        self._inside = self._inside_gram = None

    def blocks(self):
        for start in range(0, self.n, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            z = self.X[rows].to(self.t.device, torch.float64)
            yield rows, torch.cat([z, z.new_ones((len(z), 1))], 1)

    def product(self, coef):
        """``Z~ coef``."""
        coef = torch.as_tensor(coef, device=self.t.device)
        out = torch.empty_like(self.t)
        for rows, z in self.blocks():
            out[rows] = z @ coef
        return out

    def residual(self, coef):
        """``t - Z~ coef`` for ``coef = [beta, b]``."""
        return self.t - self.product(coef)

    def rows(self, index):
        """``Z~`` of the rows ``index`` (a NumPy array), on the CPU."""
        z = torch.as_tensor(self.X[index]).cpu().double().numpy()
        return np.c_[z, np.ones(len(index))]

    def cross(self, vector):
        """``Z~' vector / n`` (``vector`` of shape (n,) or (n, m))."""
        shape = (self.n_columns, *vector.shape[1:])
        total = torch.zeros(shape, dtype=torch.float64, device=self.t.device)
        for rows, z in self.blocks():
            total += z.T @ vector[rows]
        return total.cpu().numpy() / self.n

    def gram(self, weight):
        """``Z~' diag(weight) Z~ / n``."""
        p = self.n_columns
        total = torch.zeros((p, p), dtype=torch.float64, device=self.t.device)
        for rows, z in self.blocks():
            total += z.T @ (weight[rows, None] * z)
        return total.cpu().numpy() / self.n

    def inside_gram(self, r):
        """The rows whose residuals are inside Huber's ``epsilon`` (1 or 0),
        and ``Z~' diag(w inside) Z~ / n``, formed again only when those rows
        change (near the minimum they stay the same)."""
        inside = (r.abs() < self.loss.upper).double()
        if self._inside is None or not torch.equal(inside, self._inside):
            self._inside, self._inside_gram = inside, self.gram(self.w * inside)
        return inside, self._inside_gram.copy()

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


def relative_gap(module, loss, inputs, target, tol):
    """Bound the distance of the module's coefficients to the minimum, and
    offer better ones when the bound's work found them.

    Returns ``(gap, coefficients)``: ``gap = (f - d) / d``, an upper bound of
    ``(f - f*) / f*``, for the objective ``f`` at the better of the module's
    coefficients and the candidate minimiser found per target (Newton's last
    point, or the solution of the linear programme's primal), and a certified
    lower bound ``d`` of the minimum ``f*``, summed over the targets; and the
    better coefficients, ``(weight, bias)`` in the module's coordinates, or
    None when the module's are the better.

    ``loss`` is ``"huber"``, ``"quantile"`` or ``"absolute_error"``, with its
    parameter per target (``epsilon`` in standardized units, or the quantile).
    """
    kind, parameters = loss
    linear = module.linear
    weight = linear.weight.detach().cpu().double().numpy()
    bias = linear.bias is not None
    intercept = linear.bias.detach().cpu().double().numpy() if bias else None
    l1 = module.l1.cpu().double().numpy()
    l2 = module.l2.cpu().double().numpy()
    total, bound, chosen, improved = 0.0, 0.0, [], False
    for k in range(weight.shape[0]):
        problem = _Problem(
            inputs, target[:, k], Loss(kind, parameters[k]), l1[k], l2[k], bias
        )
        coef = np.append(weight[k], intercept[k] if bias else 0.0)
        r = problem.residual(coef)
        best = _Best(coef, problem.objective(coef, r))
        if kind == "huber":
            _huber_bound(problem, best, r)
        if best.gap() > tol:
            start = best.coef
            _linear_programme_bound(problem, coef, r, best, tol)
            if kind == "huber" and best.coef is not start and best.gap() > tol:
                _huber_bound(problem, best)  # Newton from the programme's point
        total += best.value
        bound += best.lower
        chosen.append(best.coef)
        improved |= best.coef is not coef
    gap = max(total - bound, 0.0) / max(bound, 1e-12 * total)
    if not improved:
        return gap, None
    chosen = np.array(chosen)
    return gap, (chosen[:, :-1], chosen[:, -1])


class _Best:
    """The best coefficients found for one target, their objective, and the
    best lower bound of the minimum."""

    def __init__(self, coef, value):
        self.coef, self.value, self.lower = coef, value, -np.inf

    def offer(self, lower, coef=None, value=np.inf):
        self.lower = max(self.lower, lower)
        if value < self.value:
            self.coef, self.value = coef, value

    def gap(self):
        return (self.value - self.lower) / max(self.lower, 1e-12 * self.value)


def _huber_bound(problem, best, r=None):
    """Newton to the minimiser from the best coefficients (``r``: their
    residuals, when known), and the bound of the derivative of the loss
    there."""
    coef, r, value = _newton(problem, best.coef, best.value, r)
    inside, gram = problem.inside_gram(r)
    a = problem.loss.derivative(r)
    best.offer(_bound(problem, a, inside, coef[:-1], gram), coef, value)


def _newton(problem, coef, value, r=None):
    """Damped (proximal, with an L1 penalty) Newton steps with a backtracking
    line search on the objective; return the last coefficients, residuals and
    objective."""
    free = problem.variables()
    r = problem.residual(coef) if r is None else r
    for _ in range(_MAX_NEWTON):
        gradient = -problem.cross(problem.w * problem.loss.derivative(r))
        gradient[:-1] += problem.l2 * coef[:-1]
        _, hessian = problem.inside_gram(r)
        hessian[:-1, :-1] += problem.l2 * np.eye(len(coef) - 1)
        step, decrease = _newton_step(problem, coef, gradient, hessian, free)
        if not decrease > _NEWTON_TOL * abs(value):
            break
        for _ in range(30):
            trial = coef + step
            trial_r = problem.residual(trial)
            trial_value = problem.objective(trial, trial_r)
            if trial_value <= value - 1e-4 * decrease:
                break
            step, decrease = step / 2, decrease / 2
        else:
            break
        coef, r, value = trial, trial_r, trial_value
    return coef, r, value


def _newton_step(problem, coef, gradient, hessian, free):
    """The step to the minimiser of the quadratic model (plus the L1 penalty)
    over the free coordinates, and the decrease it promises."""
    step = np.zeros_like(coef)
    g, h = gradient[free], hessian[np.ix_(free, free)]
    if problem.l1 == 0:
        step[free] = -pseudo_solve(h, g)
        return step, -0.5 * g @ step[free]
    beta = coef[free]
    linear = h @ beta - g  # the model: v'hv/2 - linear'v + l1|v_weights|
    n_weights = len(coef) - 1
    if problem.bias:  # the intercept, unpenalised, at its best for each v
        h_bb = max(hessian[-1, -1], np.finfo(float).tiny)
        coupling = h[:-1, -1] / h_bb
        reduced = h[:-1, :-1] - np.outer(coupling, h[-1, :-1])
        cross = linear[:-1] - coupling * linear[-1]
    else:
        reduced, cross = h, linear
    best, _, _ = solve_elastic_net(
        reduced, cross[:, None], np.array([problem.l1]), 0.0, max_sweeps=1000
    )
    new = np.zeros_like(coef)
    new[:n_weights] = best[:, 0]
    if problem.bias:
        new[-1] = (linear[-1] - h[-1, :-1] @ new[:n_weights]) / h_bb
    step[free] = new[free] - beta

    def model(v):
        return 0.5 * v @ h @ v - linear @ v + problem.l1 * np.abs(v[:n_weights]).sum()

    return step, model(beta) - model(new[free])


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
    if equal:
        v = problem.cross(w * a)
        gram = problem.gram(w * free) if gram is None else gram
        gram = gram[np.ix_(equal, equal)]
        multiplier = np.zeros(p + 1)
        multiplier[equal] = pseudo_solve(gram, v[equal])
        a = a - free * problem.product(multiplier)
    # v, and the size of its terms for the rounding test, in one pass
    v, size = problem.cross(torch.stack([w * a, w * a.abs()], 1)).T
    if equal and np.abs(v[equal]).max() > _FEASIBILITY * (size.max() + 1e-300):
        return -np.inf
    theta = 1.0
    top, bottom = float(a.max()), float(a.min())
    if top > loss.upper:
        theta = min(theta, loss.upper / top)
    if bottom < loss.lower:
        theta = min(theta, loss.lower / bottom)
    v = v[:p]
    if problem.l2 == 0 and problem.l1 > 0 and np.abs(v).max() > problem.l1:
        theta = min(theta, problem.l1 / np.abs(v).max())
    linear = float(w @ (a * problem.t)) / n
    conjugate = float(w @ loss.conjugate(a)) / n
    penalty = 0.0
    if problem.l2 > 0:
        excess = np.maximum(np.abs(theta * v) - problem.l1, 0.0)
        penalty = excess @ excess / (2 * problem.l2)
    return theta * linear - theta**2 * conjugate - penalty
