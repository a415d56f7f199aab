"""Elastic net by cyclic coordinate descent on a Gram matrix: the kernel that
:mod:`.coordinate_descent`, :mod:`.newton` and :mod:`._optimality` share."""

import numpy as np

# Relative change of the coefficients below which coordinate descent has converged.
_CD_TOL = 1e-12


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
