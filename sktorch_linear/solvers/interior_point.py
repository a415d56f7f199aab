"""Quantile and absolute-error regression by a primal-dual interior-point method.

Per target ``k`` (or quantile), on the standardized rows ``z_i`` (with a 1 for
the intercept: ``z~_i``), targets ``t`` and weights ``w`` of mean one, the
objective times ``n`` is the programme

    min  sum_i w_i (upper u_i - lower v_i) + sum_j h(beta_j)
    s.t. z~_i x + u_i - v_i = t_i,   u, v >= 0,   x = [beta, b],

with ``[lower, upper]`` the box of the loss's subgradient (``[q - 1, q]`` for
the quantile ``q``, ``[-1, 1]`` for the absolute error) and ``h(beta) = n (l1
|beta| + l2 / 2 beta^2)``. Without an L1 penalty ``beta`` is free; with one it
is split as ``beta = p - m``, ``p, m >= 0``, each costing ``n (l1 + l2 / 2
(.))`` (at the minimum one of them is zero, which gives ``h``). It is a linear
programme, quadratic with an L2 penalty.

Mehrotra's predictor-corrector method solves it from the first-order
conditions, whose Newton steps reduce, after eliminating the variables of the
rows (diagonal), to one system with ``z~' D z~ + diag(e)`` for a diagonal ``D``
of the rows and ``e`` of the coefficients (Frisch-Newton, as in Koenker's
``rq.fit.fnb``). Each iteration forms that weighted Gram matrix in one pass over
the rows, a block at a time on the device, and reads the rows four more times
for products with vectors; the rest is elementwise work on vectors of length
``n`` and ``(p + 1) x (p + 1)`` solves. All targets share the passes.

When its own measure of the gap is small, the method's dual point is made
exactly feasible and gives a certified lower bound of the minimum
(:mod:`._duality`). Without an L2 penalty the minimum is attained at a vertex:
the coefficients that fit exactly the rows with the smallest residuals, as
many as there are non-zero coefficients, replace the method's when their
objective is not larger (the solution of the programme itself, not a point
within rounding of it). The method stops when the certified relative gap is
at most ``GAP_TOL``.
"""

import numpy as np
import torch

from .._device import float64_device
from . import _duality, _vertex
from ._optimality import solve_psd
from ._robust import finished, least_squares_fit, prepare

# The certified relative gap at which the method stops.
GAP_TOL = 1e-12
# The method's own relative measure of the gap below which the certificate is
# computed (a few passes over the data).
_CERTIFY_BELOW = 1e-10
# Below this measure, the certificate is also computed every 5 iterations
# (ill-conditioned columns can keep the measure from reaching _CERTIFY_BELOW
# while the vertex already certifies the minimum).
_CERTIFY_EVERY_BELOW = 1e-6
# A dual value whose distances to both ends of its box exceed this fraction of
# the box is inside it (at the minimum the others are at an end, within
# rounding).
_INSIDE = 1e-8
# Objectives within this relative distance are the same to rounding.
_SAME = 1e-12
# Fraction of the distance to the boundary that a step goes.
_STEP = 0.99


def solve(problem, config):
    """Fit the quantile or absolute-error objective of ``config`` to
    ``problem``'s data by the interior-point method; ``n_iter`` counts its
    iterations."""
    data, objective = problem.data, config.objective
    device = float64_device(config.device)
    moments, passes, l1, l2 = prepare(data, objective, device)
    losses = _duality.losses(objective, data.shape[2])
    method, n_iter, gaps = minimise(passes, losses, l1, l2, config.max_iter)
    fit = (*coefficients(method), gaps, n_iter, method.value)
    return result(problem, config, device, fit, moments, passes.scaling)


def result(problem, config, device, fit, moments, scaling):
    """:func:`._robust.finished` of the interior-point method's ``fit``."""
    return finished(
        problem,
        config,
        device,
        fit,
        method="the interior-point method",
        step="iteration",
        path="interior_point",
        scaling=scaling,
        moments=moments,  # what partial_fit streams on from (with Adam)
    )


def minimise(passes, losses, l1, l2, max_iter):
    """Run the method on ``passes`` (targets fitted exactly without a penalty
    taken as such); return it, its iterations and the certified relative gap
    of each target."""
    method = InteriorPoint(passes, losses, l1, l2)
    interpolant = method.interpolant()
    if interpolant is not None and interpolant[1].all():
        n_iter, gaps = 0, np.zeros(len(losses))
    else:
        n_iter, gaps = method.run(max_iter)
    if interpolant is not None:
        method.take(*interpolant, gaps)
    return method, n_iter, gaps


def coefficients(method):
    """The coefficients and intercepts that ``method`` found, in the original
    units (its vertices, solved from the rows as given, where it took them)."""
    scaling, active = method.passes.scaling, method.passes.active
    weight = np.zeros((len(method.x), len(scaling.x_scale)))
    weight[:, active] = method.beta
    coef, intercept = scaling.unstandardize(weight, method.b)
    for k, (vertex_coef, vertex_intercept) in method.vertices.items():
        coef[k], intercept[k] = vertex_coef, vertex_intercept
    return coef, intercept


class InteriorPoint:
    """Mehrotra's predictor-corrector method for the programme of every target
    (see the module's docstring), with its state: the coefficients, the
    variables of the rows (``u``, ``v``, their slacks ``su``, ``sv`` and the
    dual ``a``, all (n, K)) and, under an L1 penalty, the split ``p``, ``m`` of
    the coefficients and their slacks."""

    def __init__(self, passes, losses, l1, l2):
        self.passes = passes
        n, q, K = passes.n, passes.width, len(losses)
        self.p = q - passes.bias
        self.l1, self.l2 = l1, l2
        self.losses = losses
        lower = [loss.lower for loss in losses]
        upper = [loss.upper for loss in losses]
        device = passes.t.device

        def tensor(array):
            return torch.as_tensor(array, device=device, dtype=torch.float64)

        w = torch.ones(n, 1, device=device) if passes.w is None else passes.w[:, None]
        self.live = (w > 0).double()
        self.n_live = self.live.sum().item()
        self.cu = w * tensor(upper)  # the costs of u and v
        self.cv = -w * tensor(lower)
        # Scaled by n: the penalties of the programme.
        self.L1, self.L2 = n * l1, n * l2
        self.split = bool(np.any(self.L1 > 0))
        self.x = np.zeros((K, q))
        r = passes.t.clone()
        self.u = r.clamp(min=0) + 1.0
        self.v = (-r).clamp(min=0) + 1.0
        self.a = 0.5 * (self.cu - self.cv)
        half = torch.where(self.live > 0, 0.5 * (self.cu + self.cv), 1.0)
        self.su, self.sv = half.clone(), half.clone()
        if self.split:
            self.pp = np.ones((K, self.p))
            self.mm = np.ones((K, self.p))
            self.sp = np.repeat(np.maximum(self.L1, 1.0)[:, None], self.p, 1)
            self.sm = self.sp.copy()
        self.value, self.vertices = np.inf, {}
        self.bounds = np.zeros(K)  # certified lower bounds of the minima
        # per target, the objective at zero (the scale of gaps' floors)
        self.at_zero = self._objective(passes.t) / n

    @property
    def beta(self):
        return self.x[:, : self.p]

    @property
    def b(self):
        return self.x[:, self.p] if self.passes.bias else np.zeros(len(self.x))

    def run(self, max_iter):
        """Iterate until the certified gap is at most ``GAP_TOL``, the method
        stalls, or ``max_iter`` iterations; leave the best certified
        coefficients in ``x`` and their objective (per row) in ``value``, and
        return the iterations and the certified gap of each target."""
        self.vertices = {}
        if not self.at_zero.any():  # the zero model fits exactly
            self.value = 0.0
            return 0, np.zeros(len(self.x))
        best = None
        for iteration in range(1, max_iter + 1):
            estimate, stalled = self.iterate()
            final = estimate <= _CERTIFY_BELOW or stalled or iteration == max_iter
            if final or (estimate <= _CERTIFY_EVERY_BELOW and iteration % 5 == 0):
                certified = self.certify()
                improved = best is None or certified[0].max() < best[0].max()
                best = certified if improved else best
                if best[0].max() <= GAP_TOL or stalled or (final and not improved):
                    break  # (not improved: at the limit of the steps' precision)
        gap, self.x, self.value, self.vertices, self.bounds = best
        return iteration, gap

    def interpolant(self):
        """Without a penalty, rows as few as the coefficients (and the
        intercept) can be fitted exactly: a minimum of zero, which the method
        approaches only to its tolerance and its vertices do not reach (more
        unknowns than rows). The least-squares fit of the rows and whether it
        fits each unpenalised target exactly; None when the rows are more."""
        passes = self.passes
        unpenalised = (np.asarray(self.l1) == 0) & (np.asarray(self.l2) == 0)
        if not unpenalised.any() or self.n_live > passes.width:
            return None
        x, _, _, exact = least_squares_fit(passes, np.zeros(len(self.x)))
        return x, exact & unpenalised

    def take(self, x, exact, gaps):
        """Take the rows of ``x`` of the targets ``exact`` (fitted exactly:
        their gaps, in place, are 0)."""
        self.x[exact], gaps[exact] = x[exact], 0.0
        for k in np.flatnonzero(exact):
            self.vertices.pop(k, None)
        residual = self.passes.t - self.passes.product(self.x)
        self.value = float(self._objective(residual).sum()) / self.passes.n

    # -- one iteration ---------------------------------------------------------

    def iterate(self):
        """One predictor-corrector step; return the method's relative measure
        of the gap before the step and whether the step stalled."""
        passes = self.passes
        D = self.live / (self.u / self.su + self.v / self.sv)
        M, fitted = passes.gram_and_product(D, self.x)
        r = self.r = passes.t - fitted
        rP = r - self.u + self.v
        ru = self.cu - self.a - self.su
        rv = self.cv + self.a - self.sv
        mu = self._mu()
        # the predictor; z~' a in the same pass
        rcu, rcv = -self.u * self.su, -self.v * self.sv
        g = self._g(ru, rv, rcu, rcv)
        zh, za = np.split(passes.cross(torch.cat([D * (rP - g), self.a], 1)), 2)
        step = self._direction(M, D, zh, za, rP, g, ru, rv, rcu, rcv)
        alpha = self._step_length(step)
        mu_aff = self._mu(step, alpha)
        sigma = np.clip(mu_aff / np.maximum(mu, 1e-300), 0.0, 1.0) ** 3
        # the corrector (centring and second-order terms)
        target = torch.as_tensor(sigma * mu, device=r.device)
        rcu = target - self.u * self.su - step["u"] * step["su"]
        rcv = target - self.v * self.sv - step["v"] * step["sv"]
        coef_terms = None
        if self.split:
            centre = (sigma * mu)[:, None]
            coef_terms = (
                centre - self.pp * self.sp - step["pp"] * step["sp"],
                centre - self.mm * self.sm - step["mm"] * step["sm"],
            )
        g = self._g(ru, rv, rcu, rcv)
        zh = passes.cross(D * (rP - g))
        step = self._direction(M, D, zh, za, rP, g, ru, rv, rcu, rcv, coef_terms)
        alpha = np.minimum(1.0, _STEP * self._step_length(step))
        self._move(step, alpha)
        return self._estimate(mu), bool(np.all(alpha < 1e-12))

    def _mu(self, step=None, alpha=None):
        """The mean complementarity per target, at the current point or after
        a step of length ``alpha`` (K,)."""

        def moved(name):
            value = getattr(self, name)
            if step is None:
                return value
            if isinstance(value, np.ndarray):
                return value + alpha[:, None] * step[name]
            return value + self._t(alpha) * step[name]

        rows = moved("u") * moved("su") + moved("v") * moved("sv")
        total, count = (self.live * rows).sum(0).cpu().numpy(), 2 * self.n_live
        if self.split:
            coef = moved("pp") * moved("sp") + moved("mm") * moved("sm")
            total, count = total + coef.sum(1), count + 2 * self.p
        return total / count

    def _t(self, values):
        return torch.as_tensor(values, device=self.passes.t.device)

    def _g(self, ru, rv, rcu, rcv):
        """``g`` of the rows for the complementarity targets ``rcu``, ``rcv``:
        the right-hand side of the Newton system is ``z~' D (rP - g)`` and
        the coefficients' terms."""
        return (rcu - self.u * ru) / self.su - (rcv - self.v * rv) / self.sv

    def _direction(self, M, D, zh, za, rP, g, ru, rv, rcu, rcv, coef_terms=None):
        """The Newton direction for the complementarity targets ``rcu``,
        ``rcv`` (and ``coef_terms`` for ``p``, ``m``), given their ``g``,
        ``zh = z~' D (rP - g)`` and ``za = z~' a``."""
        passes = self.passes
        K, q = self.x.shape
        rhs = zh + za
        diag = np.zeros((K, q))
        if self.split:
            cp, cm = (
                coef_terms if coef_terms else (-self.pp * self.sp, -self.mm * self.sm)
            )
            zab = za[:, : self.p]
            L1, L2 = self.L1[:, None], self.L2[:, None]
            r_p = zab + self.sp - L1 - L2 * self.pp
            r_m = self.sm - L1 - L2 * self.mm - zab
            fp, fm = self.sp + L2 * self.pp, self.sm + L2 * self.mm
            e0 = (cp + self.pp * r_p) / fp - (cm + self.mm * r_m) / fm
            E = self.pp / fp + self.mm / fm
            diag[:, : self.p] = 1.0 / E
            rhs = zh.copy()
            rhs[:, : self.p] += e0 / E
            if passes.bias:
                rhs[:, self.p] += za[:, self.p]
        else:
            diag[:, : self.p] = self.L2[:, None]
            rhs[:, : self.p] -= self.L2[:, None] * self.beta
        dx = np.array([solve_psd(M[k] + np.diag(diag[k]), rhs[k]) for k in range(K)])
        zdx = passes.product(dx)
        live = self.live  # rows of zero weight stay where they are
        da = D * (rP - g - zdx)
        dsu = (ru - da) * live
        dsv = (rv + da) * live
        step = {
            "x": dx,
            "a": da,
            "su": dsu,
            "sv": dsv,
            "u": (rcu - self.u * dsu) / self.su * live,
            "v": (rcv - self.v * dsv) / self.sv * live,
        }
        if self.split:
            q_ = (dx[:, : self.p] - e0) / E  # z' da
            step["pp"] = (cp + self.pp * r_p + self.pp * q_) / fp
            step["mm"] = (cm + self.mm * r_m - self.mm * q_) / fm
            step["sp"] = -r_p + L2 * step["pp"] - q_
            step["sm"] = -r_m + L2 * step["mm"] + q_
        return step

    def _step_length(self, step):
        """The longest step (per target, at most 1) that keeps the variables
        and slacks non-negative."""
        names = ("u", "v", "su", "sv")
        value = torch.stack([getattr(self, name) for name in names])
        change = torch.stack([step[name] for name in names])
        ratio = torch.where((change < 0) & (self.live > 0), -value / change, torch.inf)
        longest = np.minimum(1.0, ratio.amin((0, 1)).cpu().numpy())
        if self.split:
            for name in ("pp", "mm", "sp", "sm"):
                value, change = getattr(self, name), step[name]
                with np.errstate(divide="ignore"):
                    ratio = np.where(change < 0, -value / change, np.inf)
                longest = np.minimum(longest, ratio.min(1))
        return longest

    def _move(self, step, alpha):
        length = self._t(alpha)
        self.x = self.x + alpha[:, None] * step["x"]
        for name in ("u", "v", "su", "sv", "a"):
            setattr(self, name, getattr(self, name) + length * step[name])
        if self.split:
            for name in ("pp", "mm", "sp", "sm"):
                setattr(self, name, getattr(self, name) + alpha[:, None] * step[name])

    def _estimate(self, mu):
        """The method's relative measure of the gap: the complementarity and
        the violation of the constraints, relative to the objective."""
        value = self._objective(self.r)
        live = self.n_live
        count = 2 * live + (2 * self.p if self.split else 0)
        violation = ((self.r - self.u + self.v).abs() * self.live).amax(0).cpu().numpy()
        scale = np.maximum(value, _duality.FLOOR * self.passes.n * self.at_zero)
        return float(np.max((mu * count + violation * live) / scale))

    def _objective(self, r):
        """The programme's objective (times ``n``) per target at residuals ``r``."""
        loss = torch.maximum(self.cu * r, -self.cv * r).sum(0).cpu().numpy()
        beta = self.beta
        return loss + self.L1 * np.abs(beta).sum(1) + 0.5 * self.L2 * (beta**2).sum(1)

    # -- the certificate ---------------------------------------------------------

    def certify(self):
        """Polish (without an L2 penalty) and bound every target's objective
        from below; return the certified relative gap of each target, the
        coefficients (K, width), their objective per row, the vertices
        taken, in the original units, by target, and the lower bounds."""
        passes = self.passes
        w = torch.ones_like(passes.t[:, 0]) if passes.w is None else passes.w
        solution, exact = self.x.copy(), {}
        values, bounds = np.zeros(len(self.x)), np.zeros(len(self.x))
        for k in range(len(self.x)):
            problem = _duality.DualProblem(
                passes, k, self.losses[k], self.l1[k], self.l2[k]
            )
            coef = self._coefficients(k)
            r = problem.residual(coef)
            value = problem.objective(coef, r)
            vertex = None
            if self.l2[k] == 0:
                vertex = _vertex.vertex(self, k, r)
                if vertex is not None:
                    vertex_value = problem.objective(vertex[0])
                    # the programme's own solution, taken within the rounding
                    # of objectives evaluated in another order
                    if vertex_value <= value + _SAME * abs(value):
                        coef, value = vertex[0], vertex_value
                        exact[k] = vertex[1]
            solution[k, : self.p] = coef[: self.p]
            if passes.bias:
                solution[k, self.p] = coef[-1]
            values[k], bounds[k] = value, self._bound(problem, k, w, coef)
            if vertex is not None:  # the dual of its basis (collinear columns)
                basis = _vertex.basis_bound(problem, vertex[0], vertex[2])
                bounds[k] = max(bounds[k], basis)
        gaps = _duality.relative(values, bounds, self.at_zero)
        return gaps, solution, float(values.sum()), exact, bounds

    def _coefficients(self, k):
        """Target ``k``'s ``[beta, b]`` as ``_duality`` takes them."""
        return np.append(self.beta[k], self.b[k])

    def _bound(self, problem, k, w, coef):
        """The lower bound of target ``k``'s minimum from the method's dual
        point (:meth:`dual_point`): restored to feasibility on the rows free
        to move; from all the rows when those few cannot restore it; 0 at
        least."""
        a, inside, free = self.dual_point(k, w)
        return _duality.bound(problem, a, inside, free, coef[:-1])

    def dual_point(self, k, w, factor=1.0):
        """Target ``k``'s dual point times ``factor``: as the method has it,
        and exactly at an end of its box on the rows where it is at one
        (within rounding); and which rows are free (inside the box, as few
        as the coefficients at the minimum of a linear programme)."""
        loss = self.losses[k]
        scale = torch.where(w > 0, w, 1.0)
        a = torch.where(w > 0, self.a[:, k] / scale, 0.0)
        su, sv = self.su[:, k] / scale, self.sv[:, k] / scale
        width = loss.upper - loss.lower
        free = ((su > _INSIDE * width) & (sv > _INSIDE * width) & (w > 0)).double()
        snapped = torch.where(
            su < sv, torch.full_like(a, loss.upper), torch.full_like(a, loss.lower)
        )
        inside = torch.where(free > 0, a, snapped * (w > 0))
        return factor * a, factor * inside, free
