"""Huber regression with a concomitant scale (the objective of scikit-learn's
HuberRegressor) by Newton's method on weighted statistics.

Per target, on the standardized rows ``z~`` (with a 1 for the intercept),
targets ``t`` and weights ``w`` of mean one, the objective over ``x = [beta,
b]`` and the scale ``sigma > 0`` is

    F = 1/n sum_i w_i (sigma + sigma H(r_i / sigma)) + l1 |beta|_1 + l2/2 |beta|^2

with ``r = t - z~ x`` and ``H(u) = u^2`` for ``|u| <= epsilon``, else ``2
epsilon |u| - epsilon^2`` (Owen 2007). It is jointly convex, and of degree one
in ``(r, sigma)``: ``epsilon`` is free of the units of ``y``, and so is the fit
without a penalty.

Newton's method starts from the weighted least-squares fit, with ``sigma``
the root-mean-square residual. Each step forms the gradient and the Hessian
in ``(x, sigma)`` from one weighted Gram matrix of the rows inside ``epsilon
sigma`` and one product pass; with an L1 penalty it is a proximal Newton step
(coordinate descent on the quadratic model, with the intercept and the scale
eliminated first, as in glmnet and glum's IRLS-CD). A backtracking line search
on ``F`` keeps ``sigma`` positive. Newton stops when a step promises a
decrease at the rounding level of ``F``, and the fit is certified by the
duality bound of :mod:`._duality` at ``psi``, the derivative of the loss in
the residual: at the minimum the scale's own condition puts it on the dual's
ball ``mean(w psi^2) <= 4``.
"""

import numpy as np
import torch

from .._device import float64_device
from . import _boundary, _duality
from ._optimality import proximal_step
from ._robust import finished, least_squares_fit, prepare
from ._scale import best_scale

# A step promising a decrease below this fraction of the objective ends Newton.
_DECREASE_TOL = 1e-15
# The certified relative gap at which Newton stops, and the full steps it takes
# at most beyond the rounding level of the objective to reach it.
GAP_TOL = 1e-12
_POLISH = 3
# Newton's fit is short of the minimum, which may then be at a scale of 0
# (:mod:`._boundary`), when its certified gap is above this: above the
# certificate's own rounding (1e-12 to 1e-11 at small strengths, where the
# boundary's interior-point method, ten times Newton's time, found nothing
# lower), far below any tolerance.
_SHORT = 1e-9
# The inside rows' Gram matrix is updated with the rows that changed sides when
# they are at most this share of the rows (a pass over all rows costs as much
# as an update with about that many).
_UPDATE_SHARE = 0.1
# The smallest scale of Newton's steps, relative to the root mean square of
# the standardized targets (smaller ones are the boundary's, sigma = 0).
_SCALE_FLOOR = 1e-12
# Halvings of a step at most.
_MAX_HALVINGS = 40


def solve(problem, config):
    """Fit HuberRegressor's objective (see the module's docstring) to
    ``problem``'s data by Newton's method; ``n_iter`` counts the steps."""
    data, objective = problem.data, config.objective
    device = float64_device(config.device)
    moments, passes, l1, l2 = prepare(data, objective, device, full=True)
    scaling = passes.scaling
    huber, n_iter, gaps = minimise(
        passes,
        objective.epsilon,
        l1,
        l2,
        config.max_iter,
        statistics=_statistics(moments, passes),
    )
    fit = (*huber.coefficients(), gaps, n_iter, float(huber.value.sum()))
    return finished(
        problem,
        config,
        device,
        fit,
        method="Newton's method",
        step="step",
        path="newton",
        scaling=scaling,
        moments=moments,
        scale=huber.sigma * scaling.y_scale,
    )


def minimise(passes, epsilon, l1, l2, max_iter, *, statistics=None, start=None):
    """Newton's method on ``passes`` from ``start`` (standardized coefficients
    and scales per target; the least-squares fit by default, from
    ``statistics`` when given), with the minimum at a scale of 0 where it may
    be: the :class:`ScaledHuber`, its steps and each target's certified
    relative gap."""
    x, sigma = (None, None) if start is None else start
    huber = ScaledHuber(passes, epsilon, l1, l2, x, sigma, statistics=statistics)
    if _boundary.plausible(huber).any():
        # the boundary first: where it is the minimum, Newton's steps only
        # crawl towards it (a scale going to 0; 200 steps and 16 s on 30 x 30
        # with an elastic net)
        no_short = np.zeros(len(huber.x), dtype=bool)
        bounds, n_iter = _boundary.minimise(huber, max_iter, no_short)
        gaps = huber.gaps(bounds)
        if np.all(gaps <= GAP_TOL):
            return huber, n_iter, gaps
        huber = ScaledHuber(passes, epsilon, l1, l2, x, sigma, statistics=statistics)
    n_iter, bounds = huber.minimise(max_iter)
    short = huber.gaps(bounds) > _SHORT
    at_boundary, more = _boundary.minimise(huber, max_iter, short)
    return huber, n_iter + more, huber.gaps(np.maximum(bounds, at_boundary))


def _statistics(moments, passes):
    """``Z~' diag(w) Z~`` and ``Z~' diag(w) t`` (each target) of the
    standardized rows, from the cross-products of the moments (the pass that
    gave the scaling): the least-squares start needs no pass of its own."""
    scaling, active = passes.scaling, passes.active
    p, q = len(scaling.x_scale), passes.width
    center = np.r_[scaling.x_center, scaling.y_center]
    products = moments.about(center)
    # weights of mean one, as the passes have them
    unit = moments.n_samples / moments.weight_sum
    divisor = np.r_[scaling.x_scale, scaling.y_scale]
    products = products / np.outer(divisor, divisor) * unit
    sums = moments.weight_sum * (moments.mean - center) / divisor * unit
    columns = np.r_[active, p + np.arange(len(scaling.y_scale))]
    products, sums = products[np.ix_(columns, columns)], sums[columns]
    k = len(active)
    gram = np.empty((q, q))
    gram[:k, :k] = products[:k, :k]
    cross = np.empty((len(scaling.y_scale), q))
    cross[:, :k] = products[k:, :k]
    if passes.bias:
        gram[k, :k] = gram[:k, k] = sums[:k]
        gram[k, k] = moments.n_samples
        cross[:, k] = sums[k:]
    return gram, cross


class ScaledHuber:
    """The objective of every target, its minimisation and its certificate.

    ``x`` (K, width) and ``sigma`` (K,) are the coefficients (standardized,
    the intercept last) and scales; ``r`` (n, K) the residuals; ``value`` (K,)
    the objective. A target that the model fits exactly has ``sigma = 0``
    and is left out of the minimisation and the certificate.
    """

    def __init__(self, passes, epsilon, l1, l2, x=None, sigma=None, statistics=None):
        self.passes, self.epsilon = passes, float(epsilon)
        self.l1, self.l2 = np.asarray(l1, dtype=float), np.asarray(l2, dtype=float)
        n, K = passes.t.shape
        self.n, self.p = n, passes.width - passes.bias
        self.w = (
            torch.ones_like(passes.t[:, :1]) if passes.w is None else passes.w[:, None]
        )
        self.exact = np.zeros(K, dtype=bool)
        self._gram_all = None  # Z~' diag(w) Z~ of all rows, when formed
        self._inside = self._gram_in = None  # the rows inside and their Gram
        self.spread = self._spread()
        if x is None:
            x, sigma = self._least_squares(statistics)
        else:  # (a scale that Newton's steps can divide by)
            sigma = np.maximum(sigma, _SCALE_FLOOR * self.spread)
        self.x, self.sigma = np.array(x, dtype=float), np.array(sigma, dtype=float)
        self.r = passes.t - passes.product(self.x)
        self.value = self._objective(self.r, self.x, self.sigma)
        no_coef = np.zeros_like(self.x)
        self.at_zero = self._objective(passes.t, no_coef, np.zeros(K))

    def _least_squares(self, statistics=None):
        """The weighted (ridge) least-squares fit, and the root-mean-square
        of its residuals as the scale (see :func:`._robust.least_squares_fit`);
        a target it fits exactly without a penalty is at its minimum."""
        x, self._gram_all, rms, exact = least_squares_fit(
            self.passes, self.l2, statistics
        )
        spread = self.spread
        # (targets of zero are fitted exactly by zero, whatever the penalty)
        self.exact = exact & (((self.l1 == 0) & (self.l2 == 0)) | (spread == 0))
        # (penalised, an exact fit is a start: Newton's from a small scale)
        rms = np.where(exact & ~self.exact, 1e-3 * spread, rms)
        return x, np.where(self.exact, 0.0, rms)

    def _spread(self):
        w, t = self.w, self.passes.t
        return torch.sqrt((w * t.square()).mean(0)).cpu().numpy()

    def _objective(self, r, x, sigma):
        """``F`` per target at residuals ``r`` (n, K), coefficients ``x`` and
        scales ``sigma``."""
        s = torch.as_tensor(sigma, device=r.device)
        size = r.abs()
        inside = torch.minimum(size, self.epsilon * s)
        per_row = s + inside.square() / torch.where(s > 0, s, 1.0)
        per_row = per_row + 2 * self.epsilon * (size - inside)
        loss = (self.w * per_row).mean(0).cpu().numpy()
        beta = x[:, : self.p]
        penalty = self.l1 * np.abs(beta).sum(1) + 0.5 * self.l2 * (beta**2).sum(1)
        return loss + penalty

    def derivative(self, r=None, sigma=None):
        """``psi``: the derivative of the loss in the residual, (n, K)."""
        r = self.r if r is None else r
        s = torch.as_tensor(self.sigma if sigma is None else sigma, device=r.device)
        z = r / torch.where(s > 0, s, 1.0)
        return 2 * z.clamp(-self.epsilon, self.epsilon)

    def minimise(self, max_iter):
        """Newton steps until a step promises a decrease at the rounding level
        of ``F``, or ``max_iter``; then full steps (each squares the gradient)
        until the certified gap is at most ``GAP_TOL`` or stops shrinking (the
        certificate is first order in the gradient, the decrease second
        order). Return the number of steps and the certified lower bounds of
        each target's minimum (the best of those computed: each holds
        whatever the point)."""
        active = self._movable()
        steps, fresh = 0, False  # fresh: ``step`` is from the current point
        while steps < max_iter and active.any():
            self._best_scale(active)
            step, decrease = self._step()
            fresh = True
            active &= decrease > _DECREASE_TOL * np.abs(self.value)
            if active.any():
                moved = self._line_search(step, decrease, active)
                active &= moved
                fresh = not moved.any()
                steps += 1
        best, lower = None, np.zeros(len(self.sigma))
        for _ in range(_POLISH):
            if steps < max_iter and self._movable().any():
                if not fresh:
                    self._best_scale(self._movable())
                    step, _ = self._step()
                self._move(step, self._movable())
                fresh = False
                steps += 1
            bounds = self.bounds()
            lower = np.maximum(lower, bounds)
            gap = float(self.gaps(bounds).max())
            if best is not None and gap >= best[0]:
                break
            best = (gap, self._state())
            if gap <= GAP_TOL or steps >= max_iter:
                break
        self._restore(best[1])
        return steps, lower

    def coefficients(self):
        """The coefficients and intercepts in the original units."""
        scaling = self.passes.scaling
        weight = np.zeros((len(self.x), len(scaling.x_scale)))
        weight[:, self.passes.active] = self.x[:, : self.p]
        intercept = self.x[:, -1] if self.passes.bias else np.zeros(len(weight))
        return scaling.unstandardize(weight, intercept)

    def take(self, k, x, value):
        """Take coefficients ``x`` with a scale of 0 for target ``k`` (a
        minimiser on the boundary, :mod:`._boundary`), of objective
        ``value``."""
        self.x[k], self.sigma[k], self.value[k] = x, 0.0, value
        self.r = self.passes.t - self.passes.product(self.x)

    def _movable(self):
        """The targets Newton's steps move: not fitted exactly, not zero, with a
        positive scale (a scale of 0 is the boundary's, :mod:`._boundary`)."""
        return ~self.exact & (self.spread > 0) & (self.sigma > 0)

    def _state(self):
        return self.x.copy(), self.sigma.copy(), self.r, self.value.copy()

    def _restore(self, state):
        self.x, self.sigma, self.r, self.value = state

    def _move(self, step, which):
        """Take the full steps of the targets ``which``."""
        x = np.where(which[:, None], self.x + step[:, :-1], self.x)
        sigma = np.where(which, self.sigma + step[:, -1], self.sigma)
        sigma = np.where(sigma > 0, sigma, self.sigma)
        self.x, self.sigma = x, sigma
        self.r = self.passes.t - self.passes.product(x)
        self.value = self._objective(self.r, x, sigma)

    def _best_scale(self, active):
        """Set the scale of every active target to its best for the current
        coefficients (:func:`._scale.best_scale`, from the current scale), and
        update the objective. A Newton step from there never collapses the
        scale, and has rows inside ``epsilon sigma`` to curve with (a share of
        the weight of at least ``1 - 1 / epsilon^2``)."""
        for k in np.flatnonzero(active):
            size, w = self.r[:, k].abs(), self.w[:, 0]
            best = best_scale(size, w, self.epsilon, float(self.sigma[k]))
            if best is not None:
                self.sigma[k] = max(best, _SCALE_FLOOR * self.spread[k])
        self.value = self._objective(self.r, self.x, self.sigma)

    def _step(self):
        """The (proximal) Newton step of every target in ``[x, sigma]``, (K,
        width + 1), and the decrease of the model it promises (K,)."""
        passes, n, eps = self.passes, self.n, self.epsilon
        r, K = self.r, len(self.sigma)
        s = torch.as_tensor(np.where(self.exact, 1.0, self.sigma), device=r.device)
        inside = (r.abs() <= eps * s).double() * (self.w > 0)
        psi = self.derivative(r, s.cpu().numpy())
        crosses = passes.cross(torch.cat([self.w * psi, self.w * inside * r], 1)) / n
        gram = self._inside_gram(inside > 0)
        z2 = (r / s).square()
        scale_gradient = (self.w * (1 - inside * z2 - (1 - inside) * eps**2)).mean(0)
        curvature = (self.w * inside * r.square()).sum(0) / n
        scale_gradient = scale_gradient.cpu().numpy()
        curvature = curvature.cpu().numpy()
        q = passes.width
        steps, decreases = np.zeros((K, q + 1)), np.zeros(K)
        for k in np.flatnonzero(~self.exact):
            sigma = self.sigma[k]
            gradient = np.append(-crosses[k], scale_gradient[k])
            gradient[: self.p] += self.l2[k] * self.x[k, : self.p]
            hessian = np.zeros((q + 1, q + 1))
            hessian[:q, :q] = 2 * gram[k] / (n * sigma)
            hessian[: self.p, : self.p] += self.l2[k] * np.eye(self.p)
            hessian[:q, q] = hessian[q, :q] = 2 * crosses[K + k] / sigma**2
            hessian[q, q] = 2 * curvature[k] / sigma**3
            current = np.append(self.x[k], sigma)
            steps[k], decreases[k] = proximal_step(
                hessian, gradient, current, self.l1[k], self.p
            )
        return steps, decreases

    def _line_search(self, step, decrease, active):
        """Backtrack every active target's step until ``F`` decreases enough
        (Armijo) with ``sigma`` positive; take the accepted steps. Return
        which targets moved."""
        length = np.ones(len(self.sigma))
        shrinking = step[:, -1] < 0  # no further than 0.99 of the way to 0
        length[shrinking] = np.minimum(
            1.0, -0.99 * self.sigma[shrinking] / step[shrinking, -1]
        )
        moved = np.zeros(len(self.sigma), dtype=bool)
        pending = active.copy()
        for _ in range(_MAX_HALVINGS):
            x = self.x + length[:, None] * step[:, :-1]
            sigma = self.sigma + length * step[:, -1]
            x = np.where(pending[:, None], x, self.x)
            sigma = np.where(pending, sigma, self.sigma)
            r = self.passes.t - self.passes.product(x)
            value = self._objective(r, x, sigma)
            accepted = pending & (value <= self.value - 1e-4 * length * decrease)
            if accepted.any():
                index = torch.as_tensor(accepted, device=r.device)
                self.r = torch.where(index, r, self.r)
                self.x[accepted], self.sigma[accepted] = x[accepted], sigma[accepted]
                self.value[accepted] = value[accepted]
                moved |= accepted
            pending &= ~accepted
            if not pending.any():
                break
            length = np.where(pending, length / 2, length)
        return moved

    def _inside_gram(self, inside):
        """``Z~' diag(w inside) Z~`` per target (K, width, width) for the rows
        ``inside`` (n, K): from the Gram matrix of the previous step by adding
        the rows that came inside and subtracting those that left, when they
        are few (near the minimum, none), or from that of all rows minus the
        rows outside, when those are the fewer; else by a pass over the rows.
        The gradient is always formed from the data; an update's rounding only
        perturbs the Newton direction."""
        live = self.w > 0
        if self._gram_in is not None:
            entered, left = inside & ~self._inside, self._inside & ~inside
            if (entered | left).sum(0).max() <= self.n * _UPDATE_SHARE:
                gram = self._gram_in + self._rows_gram(entered) - self._rows_gram(left)
                self._inside, self._gram_in = inside, gram
                return gram
        outside = live & ~inside
        if (
            self._gram_all is not None
            and outside.sum(0).max() <= self.n * _UPDATE_SHARE
        ):
            gram = self._gram_all[None] - self._rows_gram(outside)
        else:
            gram, _ = self.passes.gram_and_product(self.w * inside)
        self._inside, self._gram_in = inside, gram
        return gram

    def _rows_gram(self, mask):
        """``Z~' diag(w) Z~`` of the rows ``mask`` (n, K) of each target."""
        K, q = mask.shape[1], self.passes.width
        gram = np.zeros((K, q, q))
        for k in range(K):
            index = torch.nonzero(mask[:, k]).flatten()
            if len(index):
                z = self.passes.rows(index)
                w = self.w[index]
                gram[k] = (z.T @ (w * z)).cpu().numpy()
        return gram

    def bounds(self):
        """The certified lower bound of each target's minimum, from the dual
        point ``psi`` (the objective itself for targets fitted exactly)."""
        passes = self.passes
        psi = self.derivative()
        bounds = np.array(self.value, dtype=float)
        loss = _duality.Loss("scaled_huber", self.epsilon)
        for k in np.flatnonzero(~self.exact):
            problem = _duality.DualProblem(passes, k, loss, self.l1[k], self.l2[k])
            a = psi[:, k]
            lower = _duality._bound(
                problem, a, torch.ones_like(a), self.x[k, : self.p], self._free_gram()
            )
            bounds[k] = max(lower, 0.0)
        return bounds

    def gaps(self, bounds):
        """The relative gap of each target above the lower bounds ``bounds``
        of its minimum (:func:`._duality.relative`; at zero coefficients and
        scale the objective is ``2 epsilon mean(w |t|)``)."""
        return _duality.relative(self.value, bounds, self.at_zero)

    def _free_gram(self):
        """``Z~' diag(w) Z~ / n`` in the layout of ``_duality`` (a column of
        ones last, even without an intercept), when formed; else None."""
        if self._gram_all is None:
            return None
        q, p = self.passes.width, self.p
        gram = np.zeros((p + 1, p + 1))
        gram[:q, :q] = self._gram_all / self.n
        return gram
