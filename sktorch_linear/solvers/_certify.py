"""How far a fit is from the minimum of its training objective.

The gradient solvers (in memory and over Dask parts) measure their fits here,
against one reference minimum each:

- :class:`TrainingGap`: the optimality measure of the training data that the
  stopping rule calls after a stall, exact for squared error (the Newton
  decrease from an R factor of the data, :mod:`._optimality`), a certified
  bound from a dual point for the other losses (:mod:`.newton`'s steps for
  Huber, :mod:`._duality`'s linear programme for the absolute and quantile
  losses), whose work finds a minimiser that the fit takes when it is better;
- :func:`left_out`: the check of a whitened fit against the exact
  least-squares fit, where whitening dropped directions that the data
  determine;
- :class:`StatisticsMinimum`: the minimum of penalised least squares from the
  statistics of all the rows (the exact solve without an L1 term, coordinate
  descent with one, settled when its duality gap certifies it; its
  ``converged`` flag travels with every gap measured against it);
- :func:`warn_short` and :func:`warn_left_out`: the warnings that report a fit
  short of the minimum, with advice that was measured to help.
"""

import warnings
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .._device import float64_device
from .._warnings import warn
from . import (
    _boundary,
    _duality,
    _optimality,
    interior_point,
    least_squares,
    newton,
)
from ._base import Problem
from ._passes import Passes
from .coordinate_descent import minimise, relative_gaps

# Whitened directions of variance below this fraction of the largest: a gap
# measured from the Gram matrix may miss what they give (see left_out).
ILL_CONDITIONED = 1e-8
# Sweeps of coordinate descent for the minimum of the statistics with an L1
# penalty.
SWEEPS = 10_000
# Gaps from the statistics are relative to the minimum, or to this fraction of
# the objective when the minimum is smaller (data fitted exactly).
_STATISTICS_FLOOR = 1e-12
# The certified relative gap (duality) of a settled minimum of the statistics.
_SETTLED = 1e-10
# Gaps of the linear programme's bound above this fraction of tol are resolved
# by the interior-point method at the end of a gradient fit.
_RESOLVED = 0.01
# Iterations of the interior-point method of the final check, at most.
_INTERIOR_POINT_ITERATIONS = 200
# Newton steps of the optimality check of Huber fits, at most.
_NEWTON_STEPS = 50


class TrainingGap:
    """The optimality measure of the training data: exact for squared error
    (``_optimality``; the R factor of the Hessian, formed at the first
    measurement, serves the later ones), a certified bound for the other
    losses, whose work finds a minimiser that the module takes when its
    objective is lower (Newton's for Huber, :mod:`.newton`; a linear
    programme's for the absolute and quantile losses, :mod:`._duality`): a
    gradient fit of those losses ends at the minimum once it is near enough
    for that step to find it."""

    def __init__(self, inputs, target, config, scaling):
        self.inputs, self.target, self.factor = inputs, target, None
        self.objective = objective = config.objective
        self.tol = config.tol
        self.scaling = scaling
        self.loss = None
        if objective.loss == "quantile":
            quantiles = np.asarray(objective.quantile, dtype=np.float64)
            self.loss = ("quantile", np.broadcast_to(quantiles, target.shape[1]))
        elif objective.loss == "absolute_error":
            self.loss = ("absolute_error", np.zeros(target.shape[1]))

    def __call__(self, net, final=False):
        """The gaps per target of the net's module (which may take a better
        minimiser, see the class); ``final``, at the end of training: for the
        absolute and quantile losses, targets whose linear programme leaves a
        gap above ``tol * _RESOLVED`` (far from the minimum, data it can
        interpolate, or a penalty with an L2 term, where that bound is first
        order in the distance to the minimum: 10-1000 times the true gap) are
        solved by the interior-point method, whose certified minimiser the
        module takes when better."""
        if self.objective.loss == "huber":
            return self._huber(net.module_)
        if self.loss is not None:
            bias = net.module_.linear.bias is not None
            passes = Passes.of_training(self.inputs, self.target, bias)
            gap, better = _duality.relative_gap(
                net.module_, self.loss, passes, self.tol
            )
            if better is not None:
                net.module_.load_solution(*better)
            if final and gap.max() > self.tol * _RESOLVED:
                gap = self._interior_point(net.module_, passes, gap)
            return gap
        gap, _, self.factor = _optimality.relative_gap(
            net.module_, self.inputs, self.target, self.factor
        )
        return gap

    def _interior_point(self, module, passes, gap):
        """The interior-point method's certified minimiser of the targets
        whose ``gap`` exceeds ``tol * _RESOLVED``, taken by the module where
        its objective is lower; the gaps of the coefficients kept (the
        method's lower bounds hold whatever the coefficients)."""
        linear = module.linear
        x = linear.weight.detach().cpu().double().numpy()
        if linear.bias is not None:
            x = np.c_[x, linear.bias.detach().cpu().double().numpy()]
        l1 = module.l1.cpu().double().numpy()
        l2 = module.l2.cpu().double().numpy()
        losses = _duality.losses(self.objective, len(x))
        method = interior_point.InteriorPoint(passes, losses, l1, l2)
        interpolant = method.interpolant()
        if interpolant is not None and interpolant[1].all():
            exact_gap = np.zeros(len(x))
        else:
            _, exact_gap = method.run(_INTERIOR_POINT_ITERATIONS)
        if interpolant is not None:
            method.take(*interpolant, exact_gap)
        problems = [
            _duality.DualProblem(passes, k, losses[k], l1[k], l2[k])
            for k in range(len(x))
        ]

        def objectives(x):
            bias = x[:, method.p] if passes.bias else np.zeros(len(x))
            coef = np.c_[x[:, : method.p], bias]
            return np.array(
                [problem.objective(c) for problem, c in zip(problems, coef)]
            )

        current, candidate = objectives(x), objectives(method.x)
        take = (gap > self.tol * _RESOLVED) & (candidate <= current)
        x[take] = method.x[take]
        kept = np.where(take, candidate, current)
        bounded = _duality.relative(kept, method.bounds, method.at_zero)
        gap = np.where(gap > self.tol * _RESOLVED, np.minimum(gap, bounded), gap)
        intercept = x[:, -1] if linear.bias is not None else np.zeros(len(x))
        module.load_solution(x[:, : method.p], intercept)
        return gap

    def _huber(self, module):
        """The certified gaps of Newton's minimiser from the module's
        coefficients and scale (and, where the minimum may be at a scale of
        0, of the boundary's, :mod:`._boundary`), which the module takes when
        its objective is lower (the certificate is first order in the
        gradient: tight only at the minimum); else those of the module's own.

        Newton's is taken when its objective is lower or equal within
        rounding."""
        linear = module.linear
        weight = linear.weight.detach().cpu().double().numpy()
        bias = linear.bias is not None
        x = (
            np.c_[weight, linear.bias.detach().cpu().double().numpy()]
            if bias
            else weight
        )
        passes = Passes.of_training(self.inputs, self.target, bias)
        l1 = module.l1.cpu().double().numpy()
        l2 = module.l2.cpu().double().numpy()

        def at_module():
            return newton.ScaledHuber(
                passes, self.objective.epsilon, l1, l2, x=x, sigma=module.scale()
            )

        huber = at_module()
        start = huber.value.sum()
        _, bounds = huber.minimise(_NEWTON_STEPS)
        short = huber.gaps(bounds) > newton.GAP_TOL
        at_boundary, _ = _boundary.minimise(huber, _NEWTON_STEPS, short)
        bounds = np.maximum(bounds, at_boundary)
        if huber.value.sum() > start * (1 + 4 * np.finfo(float).eps):
            return at_module().gaps(bounds)  # (lower within rounding: Newton's)
        intercept = huber.x[:, -1] if bias else np.zeros(len(x))
        module.load_solution(huber.x[:, : huber.p], intercept, huber.sigma)
        return huber.gaps(bounds)


def left_out(data, config, scaling, coef, intercept, dtype):
    """Check a whitened fit of ``(coef, intercept)`` (original units) against
    the exact least-squares fit, when whitening left out directions of ``X``
    (variance below the resolution of the training ``dtype`` relative to the
    largest, see :meth:`Scaling.whitened`) or kept some of variance below
    ``ILL_CONDITIONED`` relative: then the gap measured in the whitened
    coordinates, or from a Gram matrix, can miss what those directions give
    (measured on NIST's Filip: ``1e-15`` or 0 for least-squares fits 40% to
    10 times above the minimum).

    The exact fit's rank, from an R factor of the data, counts the directions
    the data determine; more than whitening kept means the fit could not reach
    the minimum (``"left_out"`` in the diagnostics). For squared error the
    exact fit also gives the minimum, and a pass over the data the true gap;
    for the other losses, whose minimum it does not give, the gap of a fit that
    left directions out is unknown (``inf``). Returns diagnostics to update,
    None when there is nothing to check."""
    if scaling.whitening is None:
        return None
    variances = scaling.whitened_variances
    kept = int(np.count_nonzero(variances))
    smallest = variances[variances > 0].min() / variances.max() if kept else 1.0
    if kept == int(np.sum(~scaling.constant)) and smallest >= ILL_CONDITIONED:
        return None
    lsq = replace(config.objective, loss="squared_error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its accuracy is not the question
        exact_fit = least_squares.solve(Problem(data), replace(config, objective=lsq))
    missing = exact_fit.diagnostics["rank"] - kept
    diagnostics = {"optimality_gap": np.inf}
    if config.objective.loss == "squared_error":
        fitted, minimum = objectives(
            data,
            config.device,
            scaling,
            [(coef, intercept), (exact_fit.coef, exact_fit.intercept)],
        )
        at_zero = 0.5 * len(intercept)  # as _optimality floors it
        floor = _optimality.OPTIMUM_FLOOR * at_zero
        diagnostics["optimality_gap"] = max(fitted - minimum, 0.0) / max(minimum, floor)
    elif missing <= 0:
        return None  # the gap measured in training stands
    if missing > 0 and diagnostics["optimality_gap"] > config.tol:
        diagnostics["left_out"] = missing
        diagnostics["dtype"] = str(dtype).removeprefix("torch.")
    return diagnostics


def warn_left_out(config, diagnostics):
    """The warning of a fit that :func:`left_out` diagnosed."""
    gap = diagnostics["optimality_gap"]
    how_far = (
        f"stops {gap:.2g} (relative) above the minimum of the training objective"
        if np.isfinite(gap)
        else "cannot reach the minimum, and its distance to it is not measured"
    )
    # Both measured to help on NIST's Filip; the exact robust solvers do not
    # resolve those directions either.
    advice = (
        "Use solver='exact' for the optimum."
        if config.objective.loss == "squared_error"
        else "Make the columns less collinear (for powers of one variable, an "
        "orthogonal basis such as Legendre polynomials fits the same model): "
        "the fit then reaches the minimum."
    )
    warn(
        f"solver={config.solver!r}: X has {diagnostics['left_out']} "
        "direction(s) that the data determine (not exact dependencies between "
        "the columns) but whose variance, relative to the largest, is too "
        f"small for training in {diagnostics['dtype']} to resolve. The fit "
        f"leaves them out and {how_far}. {advice}",
        ConvergenceWarning,
    )


def objectives(data, device, scaling, solutions):
    """The squared-error training objective of each ``(coef, intercept)``
    (original units) on the standardized problem, from one pass over the data
    in float64 (one task per part for rows held by Dask): ``sum_k mean_w ((y_k
    - x coef_k - b_k) / y_scale_k)^2 / 2``."""
    part = partial(_squared_residual_part, solutions=solutions, scaling=scaling)
    sums = data.map_reduce(part, np.add, device)
    return 0.5 * sums[:-1] / sums[-1]


def _squared_residual_part(data, device, *, solutions, scaling):
    """``sum_i w_i sum_k r_ik^2`` of the standardized residuals of each
    solution, then ``sum_i w_i``."""
    work = float64_device(torch.device(device))
    y_scale = torch.as_tensor(scaling.y_scale, device=work)
    solutions = [
        (torch.as_tensor(coef, device=work).T, torch.as_tensor(b, device=work))
        for coef, b in solutions
    ]
    # Summed on the device, read once at the end (no sync per block).
    sums = torch.zeros(len(solutions) + 1, dtype=torch.float64, device=work)
    for x, y, w in data.blocks(device=work, dtype=torch.float64):
        w = torch.ones_like(y[:, 0]) if w is None else w
        for i, (coef, b) in enumerate(solutions):
            sums[i] += w @ ((y - x @ coef - b) / y_scale).square().sum(1)
        sums[-1] += w.sum()
    return sums.cpu().numpy()


def warn_short(config, status, n_epochs, gap, rows):
    """Warn that a gradient fit ended (``status``: ``"max_iter"``, or
    ``"stalled"``) ``gap`` (relative) above the minimum measured on ``rows``,
    with what brings it to the optimum (each piece of advice measured to
    help)."""
    more = status == "max_iter"
    why = "reached max_iter" if more else "stopped improving"
    if config.objective.loss == "squared_error":
        advice = " Use solver='exact' for the optimum" + (
            ", or increase max_iter." if more else "."
        )
    else:
        advice = " Increase max_iter." if more else ""
    warn(
        f"solver={config.solver!r} {why} after {n_epochs} epoch(s) with a "
        f"training objective {gap:.2g} (relative) above its minimum, measured on "
        f"{rows} (tol={config.tol:g}).{advice}",
        ConvergenceWarning,
    )


def warn_unsettled(config, gap):
    """Warn that a gap within ``tol`` was measured against a minimum of the
    statistics that coordinate descent did not settle: a lower bound only."""
    warn(
        f"solver={config.solver!r}: the training objective is {gap:.2g} "
        "(relative) above the minimum of the statistics, but coordinate descent "
        f"did not settle that minimum in {SWEEPS} sweeps, so the true gap may be "
        f"larger than tol={config.tol:g}.",
        ConvergenceWarning,
    )


class StatisticsMinimum:
    """The minimum of the penalised least-squares objective of ``objective``
    on the standardized problem of the statistics ``moments`` (all the rows),
    and the objective and relative gap of any solution, from the statistics
    alone.

    Without an L1 term the minimum is the exact solve of the statistics
    (:mod:`.least_squares`); with one, coordinate descent run to ``SWEEPS``
    sweeps, whose ``converged`` flag is kept: a gap measured against a minimum
    that did not settle is a lower bound only.
    """

    def __init__(self, moments, objective):
        self.lsq, self.l1 = least_squares.penalised(moments, objective)
        if np.any(self.l1 > 0):
            coef, intercept, _, _ = minimise(self.lsq, self.l1, SWEEPS)
            gaps = relative_gaps(self.lsq, self.l1, coef)
            self.converged = bool(gaps.max() <= _SETTLED)
        else:
            coef, intercept = self.lsq.original(self.lsq.solver().initial())
            self.converged = True
        self.scaling = self.lsq.scaling
        self.values = self.objectives(coef, intercept)

    def objectives(self, coef, intercept):
        """The objective of each target of ``(coef, intercept)`` (original
        units): that of ``coef`` with its best intercept, plus what the
        intercept's distance from it adds."""
        values = self.lsq.objectives(coef, self.l1)
        if self.lsq.fit_intercept:
            scaling = self.scaling
            best = scaling.y_center - coef @ scaling.x_center
            values = values + 0.5 * ((intercept - best) / scaling.y_scale) ** 2
        return values

    def gaps(self, values):
        """The relative gap of each target's objective (``values``) above its
        minimum."""
        floor = _STATISTICS_FLOOR * values
        return np.maximum(values - self.values, 0.0) / np.maximum(self.values, floor)
