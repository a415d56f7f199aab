"""Elastic net on a Gram matrix: cyclic coordinate descent finished by an
exact solve on its active set, and the duality gap that certifies the result.
The kernel that :mod:`.coordinate_descent`, :mod:`.newton` and
:mod:`._optimality` share.

Coordinate descent finds the support and the signs of the minimiser in a few
sweeps, but converges to its values only linearly (slowly on correlated
columns: 200 sweeps left fits 3-10% above the minimum). Once the support and
signs are found, the minimiser solves one linear system, ``(G_SS + l2 I)
b_S = c_S - l1 s_S``: each few sweeps that system is solved and its solution
taken when it keeps the signs and the optimality conditions of the other
coordinates (``|c_j - G_jS b_S| <= l1``), which ends the descent at the
minimum to rounding.
"""

import warnings

import numpy as np
import scipy.linalg

# Relative change of the coefficients below which coordinate descent has converged.
_CD_TOL = 1e-12
# Sweeps between attempts of the exact solve on the active set.
_POLISH_EVERY = 2
# Most steps of the feature-sign search (each an exact solve on the support;
# it starts from the sweeps' support, which needs few changes).
_SIGN_STEPS = 64
# Slack of the optimality conditions of the coordinates outside the support,
# relative to l1 (with the rounding of the products).
_KKT_SLACK = 1e-9


def solve_elastic_net(gram, cross, l1, l2, *, max_sweeps, tol=_CD_TOL, start=None):
    """Minimise ``b' gram b / 2 - cross' b + l1 * ||b||_1 + l2 / 2 * ||b||^2`` per
    column of ``cross``: cyclic coordinate descent on the Gram matrix, with
    an exact solve on the active set every few sweeps (see the module's
    docstring).

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
        Convergence of the sweeps: the largest change of a coefficient in a
        sweep is at most ``tol`` times the largest coefficient.
    start : ndarray of shape (n_features, n_targets), default=None
        Coefficients to start from (zeros by default).

    Returns
    -------
    coef : ndarray of shape (n_features, n_targets)
    n_sweeps : int
        Sweeps of the slowest target.
    converged : bool
        Whether every target ended at an exact active-set solution or with
        the sweeps settled.
    """
    n_features, n_targets = cross.shape
    coef = np.zeros((n_features, n_targets)) if start is None else start.copy()
    curvature = np.diag(gram) + l2
    sweeps, converged = 0, True
    for target in range(n_targets):
        beta = coef[:, target]
        residual = cross[:, target] - gram @ beta  # cross - gram @ beta
        done, sweep = False, 0
        for sweep in range(1, max_sweeps + 1):
            largest_change = _sweep(gram, curvature, beta, residual, l1[target])
            settled = largest_change <= tol * np.max(np.abs(beta), initial=0.0)
            if settled or sweep % _POLISH_EVERY == 0 or sweep == max_sweeps:
                moved, exact = _active_set(gram, cross[:, target], beta, l1[target], l2)
                if not exact and sweep == _POLISH_EVERY:
                    moved, exact = _ridge_signs(
                        gram, cross[:, target], l1[target], l2, (moved, exact)
                    )
                if not exact and sweep == max_sweeps:  # crawling: search the signs
                    moved, exact = _feature_sign(
                        gram, cross[:, target], beta, l1[target], l2, (moved, exact)
                    )
                if moved is not None and (exact or not settled):
                    beta[:] = moved
                    residual[:] = cross[:, target] - gram @ beta
                if exact or settled:  # (settled: the solve is the finish)
                    done = True
                    break
        converged &= done
        sweeps = max(sweeps, sweep)
    return coef, sweeps, converged


def next_on_path(gram, cross, previous, l1, l2, *, max_sweeps):
    """:func:`solve_elastic_net` at the next strength of a decreasing path,
    from the minimiser at the previous one: first the exact solve on the
    previous support, with the signs it had, plus the coordinates whose
    optimality conditions the previous minimiser breaks at the new strength
    (with the signs of their gradients), taken per target where it is the
    minimiser (:func:`_active_set` checks); coordinate descent from the
    previous minimiser for the targets where it is not. Returns the
    minimisers and whether every target settled."""
    gradient = cross - gram @ previous - l2 * previous
    theta, missed = previous.copy(), []
    for k in range(cross.shape[1]):
        guess = previous[:, k].copy()
        entering = (guess == 0) & (np.abs(gradient[:, k]) > l1[k])
        guess[entering] = np.sign(gradient[entering, k])
        if not guess.any():  # the minimiser stays at zero
            continue
        solution, exact = _active_set(gram, cross[:, k], guess, l1[k], l2)
        if exact:
            theta[:, k] = solution
        else:
            missed.append(k)
    if not missed:
        return theta, True
    solved, _, settled = solve_elastic_net(
        gram,
        cross[:, missed],
        l1[missed],
        l2,
        max_sweeps=max_sweeps,
        start=previous[:, missed],
    )
    theta[:, missed] = solved
    return theta, settled


def _sweep(gram, curvature, beta, residual, l1):
    """One cyclic sweep, in place; the largest change of a coefficient."""
    largest_change = 0.0
    for j in range(len(beta)):
        if curvature[j] <= 0:
            continue
        old = beta[j]
        z = residual[j] + gram[j, j] * old
        new = np.sign(z) * max(abs(z) - l1, 0.0) / curvature[j]
        if new != old:
            residual -= gram[:, j] * (new - old)
            beta[j] = new
            largest_change = max(largest_change, abs(new - old))
    return largest_change


def _ridge_signs(gram, cross, l1, l2, fallback):
    """The solution on the support and signs of the L2-only solution, where it
    is the minimiser: with a small L1 strength against ill-conditioned
    columns, where coordinate descent crawls (a polynomial basis at an L1
    strength of 1e-10 stayed 140 times its objective above the minimum after
    20 000 sweeps); ``fallback`` elsewhere."""
    matrix = gram + l2 * np.eye(len(gram))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            guess = scipy.linalg.solve(
                matrix, cross, assume_a="pos", check_finite=False
            )
    except (scipy.linalg.LinAlgError, ValueError):
        return fallback
    if not (np.all(np.isfinite(guess)) and guess.any()):
        return fallback
    solution, exact = _active_set(gram, cross, guess, l1, l2)
    return (solution, True) if exact else fallback


def _feature_sign(gram, cross, beta, l1, l2, fallback):
    """Feature-sign search (Lee, Battle, Raina and Ng, 2006) from ``beta``:
    exact solves on the support with its signs (to the first sign change when
    one changes), adding the coordinate whose optimality condition is broken
    most, until the minimiser; each step lowers the objective. What
    coordinate descent ends with when it crawls (ill-conditioned columns);
    ``fallback`` if the steps (``_SIGN_STEPS``) run out."""
    current = beta.copy()
    for _ in range(_SIGN_STEPS):
        if not current.any():
            gradient = cross.copy()
        else:
            moved, exact = _active_set(gram, cross, current, l1, l2)
            if exact:
                return moved, True
            if moved is None:
                return fallback
            shrank = np.count_nonzero(moved) < np.count_nonzero(current)
            current = moved
            if shrank:  # a sign changed: solve again on the smaller support
                continue
            gradient = cross - gram @ current - l2 * current
        violation = np.where(current == 0, np.abs(gradient) - l1, -np.inf)
        entering = int(np.argmax(violation))
        if violation[entering] <= 0:
            return fallback
        current[entering] = np.sign(gradient[entering]) * np.finfo(float).tiny
    return fallback


def _active_set(gram, cross, beta, l1, l2):
    """The solution of the optimality conditions on the support of ``beta``
    with its signs, and whether it is the minimiser (signs kept, the other
    coordinates' conditions hold). When a sign changes on the way, the point
    where the first one reaches zero instead (the objective decreases along
    the way: it is the signs' quadratic until then), not the minimiser; None
    when the system is singular."""
    support = np.flatnonzero(beta)
    if not support.size:
        return None, False
    signs = np.sign(beta[support])
    matrix = gram[np.ix_(support, support)] + l2 * np.eye(support.size)
    try:
        with warnings.catch_warnings():
            # (ill conditioned: the checks below decide)
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            values = scipy.linalg.solve(
                matrix, cross[support] - l1 * signs, assume_a="pos", check_finite=False
            )
    except (scipy.linalg.LinAlgError, ValueError):
        return None, False
    if not np.all(np.isfinite(values)):
        return None, False
    current = beta[support]
    flipped = np.sign(values) != signs
    solution = np.zeros_like(beta)
    if flipped.any():  # to the first sign change, which becomes a zero
        fraction = current[flipped] / (current[flipped] - values[flipped])
        first = np.argmin(fraction)
        values = current + fraction[first] * (values - current)
        values[np.flatnonzero(flipped)[first]] = 0.0
        solution[support] = values
        return solution, False
    solution[support] = values
    others = beta == 0
    correlation = cross[others] - gram[others][:, support] @ values
    # (the rounding of the products, and a relative slack of l1: a penalty at
    # the rounding level of the data is then checked as strictly as it can be)
    slack = _KKT_SLACK * l1 + 64 * np.finfo(float).eps * np.abs(cross).max(initial=0.0)
    return solution, not np.any(np.abs(correlation) > l1 + slack)


def duality_gap(gram, cross, yy, l1, l2, coef):
    """The duality gap of ``coef`` per target for the objective ``yy / 2 -
    cross' b + b' gram b / 2 + l1 ||b||_1 + l2 / 2 ||b||^2`` (``yy`` the
    targets' second moments), an upper bound of its distance to the
    minimum: the dual point is the residual scaled into the dual's feasible
    set (as scikit-learn's coordinate descent measures it); and the objective
    itself."""
    gaps, values = [], []
    for k in range(cross.shape[1]):
        b, c, t = coef[:, k], cross[:, k], float(yy[k])
        gb = gram @ b
        residual_norm2 = max(t - 2 * c @ b + b @ gb, 0.0)  # |y - X b|^2
        correlation = c - gb - l2 * b  # X' r - l2 b
        dual_norm = np.max(np.abs(correlation), initial=0.0)
        l1_norm, l2_norm = np.abs(b).sum(), b @ b
        value = 0.5 * residual_norm2 + l1[k] * l1_norm + 0.5 * l2 * l2_norm
        # the dual objective of the residual scaled by ``const``, concave in
        # it: its best in [0, the largest feasible]
        curvature, linear = residual_norm2 + l2 * l2_norm, t - c @ b
        largest = l1[k] / dual_norm if dual_norm > l1[k] else 1.0
        const = min(largest, max(linear, 0.0) / curvature) if curvature > 0 else largest
        dual = -0.5 * const**2 * curvature + const * linear
        gaps.append(max(value - dual, 0.0))
        values.append(value)
    return np.array(gaps), np.array(values)
