"""Iterative refinement of a least-squares solution against the data.

The normal-equation residual ``X' W (y - X coef - intercept)`` is computed from
the data as given (in twice the working precision where that is what it takes,
see :func:`refine`) and corrections are solved with the factorisation of the
statistics. The refined coefficients are those of the data as given, to the
rounding of the result, whatever BLAS kernels or thread counts computed the
statistics.
"""

from functools import partial

import numpy as np
import torch

from .. import _extended as ext
from .._device import accumulation_dtype, to_numpy
from .._threads import threads_for
from ._penalised import EPS

# Problems with at most this many values in the active columns of X are always
# refined in twice the working precision (it costs little there).
SMALL_PROBLEM = 2**16
# Larger problems are refined in working precision when that leaves an estimated
# relative error of the coefficients below this; in twice the precision otherwise.
_WORKING_PRECISION_ERROR = 1e-12
# Most refinement steps in twice the working precision (each is one pass over X).
_MAX_REFINEMENTS = 10


def refine(source, lsq, solver, coef, intercept):
    """Iterative refinement of ``(coef, intercept)`` against the data.

    Each step is one pass over ``X``: the residual ``r = y - intercept - X coef``
    and the normal-equation residual ``X' W r`` are computed from the data as
    given, and the correction is solved with ``solver``'s factorisation. In
    working precision one step reaches a backward-stable solution. In twice the
    working precision (error-free transformations) the steps converge to the
    solution of the data as given, rounded, for condition numbers up to about
    ``1 / eps``: digits that do not depend on the kernels that computed the
    statistics. That is done for small problems (``SMALL_PROBLEM``), where it
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
    error (of the fitted values for a rank-deficient lsq), the number of
    steps, and per target the estimated decrease of the objective that is
    left (the Newton decrease of the last correction computed: of the
    iterate kept when it was rejected, times the squared contraction when it
    was taken).
    """
    if not lsq.n_active:
        return coef, intercept, 0.0, 0, np.zeros(len(intercept))
    working_error = solver.stable_error(lsq.equilibrated(coef))
    extended = source.always_extended(lsq) or working_error > _WORKING_PRECISION_ERROR
    floor = source.floor(solver, working_error)
    previous = np.inf
    for passes in range(1, (_MAX_REFINEMENTS if extended else 1) + 1):
        refined, size, decrease = _refinement_step(
            source, lsq, solver, coef, intercept, extended
        )
        if size > previous / 2:
            error = size  # no longer contracting: keep the last iterate
            break
        (coef, intercept), previous = refined, size
        error = max(solver.contraction * size, floor)
        decrease = decrease * min(solver.contraction, 1.0) ** 2
        if error <= floor:
            break
    return coef, intercept, (error if extended else working_error), passes, decrease


def needed(source, lsq, solver, gamma):
    """Whether refining the solution ``gamma`` of the statistics against
    ``source`` is needed: always for small problems and exact statistics,
    otherwise only where the solution's estimated relative error exceeds what
    working precision is taken for (a well-conditioned large problem has its
    digits from the statistics already; a pass would only cost time)."""
    if source.always_extended(lsq):
        return True
    return solver.unrefined_error(gamma) > _WORKING_PRECISION_ERROR


def _refinement_step(source, lsq, solver, coef, intercept, extended):
    """One correction: the refined ``(coef, intercept)``, the relative size
    of the correction (``_relative_change``) and the decrease of the
    objective it promises per target (the Newton decrease ``r' delta / 2``,
    exact for the quadratic)."""
    x_center = lsq.scaling.x_center
    g_x, g_1 = source(coef, intercept, x_center, extended=extended)
    active, x_center = lsq.active, x_center[lsq.active]
    y_scale = lsq.scaling.y_scale
    gamma = lsq.equilibrated(coef)
    # The normal-equation residual about the centre, in equilibrated coordinates.
    residual = g_x[active] / (lsq.moments.weight_sum * np.outer(lsq.unit, y_scale))
    residual -= lsq.l2 * lsq.penalty_scale[:, None] ** 2 * gamma
    delta = solver.correct(residual)
    decrease = np.maximum(0.5 * np.sum(residual * delta, axis=0), 0.0)
    if solver.rank < lsq.n_active:
        size = _relative(solver.fitted_norm(delta), solver.fitted_norm(gamma))
    else:
        size = _relative_change(delta, gamma)
    delta_coef = (delta * y_scale).T / lsq.unit
    coef = coef.copy()
    coef[:, active] += delta_coef
    if lsq.fit_intercept:
        shift = g_1 / lsq.moments.weight_sum
        decrease = decrease + 0.5 * (shift / y_scale) ** 2  # (exact: centring)
        intercept = intercept + shift - delta_coef @ x_center
    return (coef, intercept), size, decrease


def _relative(change, norm):
    return change / norm if norm > 0 else change


def _relative_change(delta, gamma):
    """The largest change of a coefficient relative to itself, or to 1e-4 of the
    norm of its target's coefficients if smaller (a coefficient near zero is
    refined to the rounding of the others)."""
    floor = 1e-4 * np.linalg.norm(gamma, axis=0)
    scale = np.maximum(np.abs(gamma), floor)
    return float(np.max(np.abs(delta) / np.where(scale > 0, scale, 1.0), initial=0.0))


class DataPass:
    """Normal-equation residuals from a pass over the data."""

    def __init__(self, data, device):
        self.data, self.device = data, device

    @staticmethod
    def always_extended(lsq):
        """Whether the problem is small enough (``SMALL_PROBLEM``) to refine in
        twice the working precision whatever the working precision reaches."""
        return lsq.moments.n_samples * lsq.n_active <= SMALL_PROBLEM

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
        )


class ExactStatistics:
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
    def always_extended(lsq):
        return True

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
        return to_numpy(ext.value(g_x), torch.float64), to_numpy(
            ext.value(g_1), torch.float64
        )


def normal_residual(data, coef, intercept, center, *, extended, device):
    """``(X - center)' W r`` and ``1' W r`` for the residuals ``r = Y - intercept -
    X coef.T`` of the data, in one pass over ``X``; with ``extended``, every
    difference, sum and product in twice the working precision (the results are
    rounded once, at the end: the sums of the parts of the rows, on a cluster,
    are added as pairs).

    Returns arrays of shapes (n_features, n_targets) and (n_targets,).
    """
    part = partial(
        _normal_residual_part,
        coef=coef,
        intercept=intercept,
        center=center,
        extended=extended,
    )
    g_x, g_1 = data.map_reduce(part, _add_sums, device)
    return to_numpy(ext.value(g_x), torch.float64), to_numpy(
        ext.value(g_1), torch.float64
    )


def _add_sums(a, b):
    return ext.add(a[0], b[0]), ext.add(a[1], b[1])


def _normal_residual_part(data, device, *, coef, intercept, center, extended):
    """:func:`normal_residual` of some rows, as pairs of float64 CPU tensors."""
    dtype = accumulation_dtype(device, warn=False)
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
    g_x, g_1 = (_pair(g_x), _pair(g_1))
    if not shifted:
        g_x = ext.add(g_x, ext.pair(-torch.outer(torch.as_tensor(center), g_1[0])))
    return g_x, g_1


def _pair(pair):
    hi = pair[0].detach().to("cpu", torch.float64)
    lo = torch.as_tensor(pair[1], dtype=torch.float64).cpu()
    return hi, lo.expand_as(hi).clone()


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
