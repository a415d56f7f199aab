"""How far a gradient fit is from the optimum, from one pass over the data.

For squared error, a pass over the training data gives, per target, the
objective and its gradient at the current coefficients, and an R factor of the
weighted ``[z 1]`` (Householder QR of blocks of rows, stacked), whose Gram
matrix ``R'R`` is the Hessian. The objective is quadratic, so the decrease that
a Newton step promises, ``g' H^+ g / 2 = |R'^+ g|^2 / 2`` (with an L1 penalty,
the decrease of a proximal Newton step, found by coordinate descent on ``H``),
is its distance to the minimum, exactly. It is computed from the singular values
of ``R``, not the eigenvalues of ``H``: the Hessian squares the condition
number, and its eigenvalues below ``eps`` relative (those of columns whose
condition number exceeds about ``1e8``, such as NIST's Filip) are rounding, so a
gap measured from it missed the decrease along them (measured on Filip without
standardization: ``1e-15`` for a fit 3.2 times above its minimum). The gap is
reported relative to the optimal objective, the measure ``tol`` bounds.

The other losses are not quadratic, and their Newton model misjudges the
distance far from the optimum (measured 0.02 for a true 21.7 with Huber): they
are measured by duality (``_duality``).
"""

import numpy as np
import scipy.linalg
import torch

from .._device import float64_device
from .._linalg import eigh, svd
from ._elastic_net import solve_elastic_net

# Rows per block of the pass (each block is stacked into the R factor in
# float64).
_BLOCK_ROWS = 4096
# An estimated optimum below this fraction of the objective at zero coefficients
# counts as this much (a noise-free problem has an optimum of zero).
OPTIMUM_FLOOR = 1e-12


@torch.no_grad()
def relative_gap(module, inputs, target, factor=None):
    """``(f - f*) / f*`` of the squared-error training objective of each
    target at the module's coefficients (``f*`` floored at ``OPTIMUM_FLOOR``
    times the objective at zero coefficients), ``f`` (the sum over the
    targets), and the R factor of the loss's Hessian, which does not depend
    on the coefficients: pass it back to skip forming it again."""
    values, gradients, factor = _derivatives(module, inputs, target, factor)
    l1 = module.l1.cpu().double().numpy()
    l2 = module.l2.cpu().double().numpy()
    weight = module.linear.weight.detach().cpu().double().numpy()
    bias = module.linear.bias is not None
    n_coef = weight.shape[1]
    # Without an intercept, the leading block of R is the R factor of z alone.
    kept = factor if bias else factor[:n_coef, :n_coef]
    totals, decrease = np.zeros(weight.shape[0]), np.zeros(weight.shape[0])
    for k in range(weight.shape[0]):
        gradient = gradients[k] if bias else gradients[k][:-1]
        gradient[:n_coef] += l2[k] * weight[k]
        ridge = np.sqrt(l2[k]) * np.eye(n_coef, len(gradient))
        curvature = np.vstack([kept, ridge])  # its Gram matrix: H + l2
        totals[k] = values[k] + 0.5 * l2[k] * weight[k] @ weight[k]
        totals[k] += l1[k] * np.abs(weight[k]).sum()
        if l1[k] > 0:
            hessian = curvature.T @ curvature
            decrease[k] = _proximal_decrease(gradient, hessian, weight[k], l1[k], bias)
        else:
            decrease[k] = _newton_decrease(curvature, gradient)
    decrease = np.maximum(decrease, 0.0)
    at_zero = 0.5  # the objective of each target at zero, at most
    optimum = np.maximum(totals - decrease, OPTIMUM_FLOOR * at_zero)
    return decrease / optimum, float(totals.sum()), factor


def _newton_decrease(factor, gradient):
    """``g' (F'F)^+ g / 2 = |F'^+ g|^2 / 2`` from the singular values of ``F``;
    those at its rounding level (``10 q eps`` relative for ``q`` columns) are
    exact dependencies, such as constant columns, and left out."""
    _, singular, right_t = svd(factor)
    cutoff = 10 * factor.shape[1] * np.finfo(float).eps * singular.max(initial=0.0)
    kept = singular > cutoff
    return 0.5 * float(np.sum((right_t[kept] @ gradient / singular[kept]) ** 2))


def _derivatives(module, inputs, target, factor):
    """Per target the loss and its gradient in ``(weight, bias)``, and the R
    factor of the Hessian (the same for every target), unless given."""
    X, w = inputs["X"], inputs.get("sample_weight")
    n_rows, n_targets = target.shape
    n_columns = module.linear.weight.shape[1] + 1
    values = np.zeros(n_targets)
    gradients = np.zeros((n_targets, n_columns))
    work = float64_device(target.device)
    known = factor is not None
    stacked = torch.zeros((0, n_columns), dtype=torch.float64, device=work)
    for start in range(0, n_rows, _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        z = X[rows]
        residual = (target[rows] - module.standardized(z)).to(work, torch.float64)
        z = z.to(work, torch.float64)
        z = torch.cat([z, torch.ones_like(z[:, :1])], 1)
        weight = torch.ones_like(residual[:, 0])
        if w is not None:
            weight = w[rows].to(work, torch.float64)
        if not known:
            stacked = _stack(stacked, torch.sqrt(weight / n_rows)[:, None] * z)
        for k in range(n_targets):
            r = residual[:, k]
            values[k] += float(weight @ (0.5 * r.square()))
            gradients[k] -= (z.T @ (weight * r)).cpu().numpy()
    if not known:
        factor = stacked.cpu().numpy()
    return values / n_rows, gradients / n_rows, factor


def _stack(factor, rows):
    """The R factor of ``factor`` stacked on ``rows``, rows taken in decreasing
    order of their largest entry (stable for rows of very different weights)."""
    rows = torch.cat([factor, rows])
    order = torch.argsort(rows.abs().amax(1), descending=True, stable=True)
    return torch.linalg.qr(rows[order], mode="r").R


def pseudo_solve(matrix, vector):
    """``matrix^+ vector`` (``vector`` a vector or a matrix) for a symmetric
    positive semi-definite matrix
    (directions without curvature, such as constant columns, are left out)."""
    eigenvalues, vectors = eigh(matrix)
    cutoff = eigenvalues.max(initial=0.0) * matrix.shape[0] * np.finfo(float).eps
    safe = np.where(eigenvalues > cutoff, eigenvalues, 1.0)
    inverse = np.where(eigenvalues > cutoff, 1.0 / safe, 0.0)
    inverse = inverse.reshape(-1, *[1] * (np.ndim(vector) - 1))  # matrix too
    return vectors @ (inverse * (vectors.T @ vector))


def _proximal_decrease(gradient, hessian, weight, l1, bias):
    """Decrease of the objective that a proximal Newton step promises: ``m(beta)
    - min_v m(v)`` for ``m(v) = g'(v - beta) + (v - beta)' H (v - beta) / 2 +
    l1 ||v_weight||_1``; the intercept (last coordinate, when present) is
    unpenalised."""
    beta = np.append(weight, 0.0) if bias else weight.copy()
    return max(proximal_step(hessian, gradient, beta, l1, len(weight))[1], 0.0)


def proximal_step(hessian, gradient, current, l1, n_penalised):
    """The step from ``current`` to the minimiser of the quadratic model
    ``g'd + d'Hd/2`` plus ``l1 |current + d|_1`` over the first
    ``n_penalised`` coordinates, and the decrease it promises."""
    if l1 == 0:
        step = -pseudo_solve(hessian, gradient)
        return step, -0.5 * gradient @ step
    penalised = np.arange(n_penalised)
    free = np.arange(n_penalised, len(current))
    linear = hessian @ current - gradient  # model(v) = v'Hv/2 - linear'v + l1|v_P|
    h_ff = hessian[np.ix_(free, free)]
    h_fp = hessian[np.ix_(free, penalised)]
    # The free coordinates at their best for each v_P:
    # v_F = h_ff^+ (linear_F - h_fp v_P).
    eliminate_h = pseudo_solve(h_ff, h_fp)
    eliminate_l = pseudo_solve(h_ff, linear[free])
    reduced = hessian[np.ix_(penalised, penalised)] - h_fp.T @ eliminate_h
    cross = linear[penalised] - h_fp.T @ eliminate_l
    best, _, _ = solve_elastic_net(
        reduced, cross[:, None], np.array([l1]), 0.0, max_sweeps=1000, tol=1e-15
    )
    new = np.empty_like(current)
    new[penalised] = best[:, 0]
    new[free] = eliminate_l - eliminate_h @ new[penalised]

    def model(v):
        return 0.5 * v @ hessian @ v - linear @ v + l1 * np.abs(v[penalised]).sum()

    return new - current, model(current) - model(new)


def solve_psd(matrix, rhs):
    """Solve the symmetric positive (semi-)definite Newton system: Cholesky, or
    the pseudo-inverse when it fails (collinear columns)."""
    try:
        factor = scipy.linalg.cho_factor(matrix)
        return scipy.linalg.cho_solve(factor, rhs)
    except (scipy.linalg.LinAlgError, ValueError):
        return pseudo_solve(matrix, rhs)
