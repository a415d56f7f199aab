"""The vertex of the linear programme of :mod:`.interior_point` near the
method's point: the exact solution of the programme (exact zeros with an L1
penalty, rows fitted exactly), not a point within rounding of it."""

import warnings

import numpy as np
import scipy.linalg
import torch

from .._data import host
from . import _duality


def vertex(method, k, r):
    """The vertex near the point of ``method`` (an :class:`InteriorPoint`) for
    target ``k`` whose residuals are ``r``: the coefficients, in the
    original units, that fit exactly the rows with the smallest residuals,
    as many as the non-zero coefficients (and the intercept), solved from
    those rows as given (no rounding by the scaling: the solution of the
    programme itself); and the same in the standardized units, as
    ``_duality`` takes them, and those rows. None when the rows do not
    determine them."""
    passes = method.passes
    if getattr(passes, "X", None) is None:  # rows of a gradient fit's tensors
        return None
    support = np.arange(method.p)
    if method.split:
        # a part above its slack (complementarity) is away from zero
        support = np.flatnonzero(
            (method.pp[k] > method.sp[k]) | (method.mm[k] > method.sm[k])
        )
    n_unknowns = len(support) + passes.bias
    if not n_unknowns or n_unknowns > method.n_live:
        return None
    size = torch.where(method.live[:, 0] > 0, r.abs(), torch.inf)
    rows = torch.topk(size, n_unknowns, largest=False).indices.cpu().numpy()
    rows.sort()
    columns = passes.active[support]
    x = host(passes.X[rows])[:, columns]
    matrix = np.c_[x, np.ones(len(rows))] if passes.bias else x
    try:
        with warnings.catch_warnings():
            # An ill-conditioned system (duplicated or one-hot columns)
            # still gives a candidate: its objective decides if it is taken.
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            solution = scipy.linalg.solve(matrix, passes.Y[rows, k])
    except (scipy.linalg.LinAlgError, ValueError):
        return None
    if not np.all(np.isfinite(solution)):
        return None
    coef = np.zeros(len(passes.scaling.x_scale))
    coef[columns] = solution[: len(support)]
    intercept = solution[-1] if passes.bias else 0.0
    scaling = passes.scaling
    standardized = np.zeros(method.p + 1)
    standardized[: method.p] = (coef * scaling.x_scale / scaling.y_scale[k])[
        passes.active
    ]
    standardized[-1] = (
        intercept - scaling.y_center[k] + coef @ scaling.x_center
    ) / scaling.y_scale[k]
    return standardized, (coef, intercept), rows


def basis_bound(problem, coef, rows):
    """The bound of the dual point of the vertex ``coef`` that fits ``rows``
    exactly: the subgradient on the other rows, the rows of the basis solved
    for the constraints (backward stable, however collinear the columns)."""
    r = problem.residual(coef)
    a = problem.loss.derivative(r)
    free = torch.zeros_like(a)
    free[torch.as_tensor(rows, device=a.device)] = 1.0
    a = a * (1 - free)
    return _duality.bound(problem, a, a, free, coef[:-1])
