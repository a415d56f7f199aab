"""Weighted sufficient statistics of least squares, and the exact solve.

The statistics are centred moments accumulated chunk by chunk on the chosen
device and merged with the pairwise update of Chan, Golub and LeVeque, so that
moments of any partition of the rows merge into the moments of the whole.
"""

from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg
import scipy.sparse
import torch

from ._device import as_tensor, threads_for

# Rows per chunk are chosen so that one chunk of X and Y holds about this many bytes.
_CHUNK_BYTES = 32 * 2**20
# Below this reciprocal condition number of the standardised Gram matrix the
# Cholesky solve is not trusted (it would keep fewer than about ten correct
# digits); the exact solver then solves on the data by SVD.
_MIN_RCOND = 1e-6
# Largest mean^2 / variance of a column for which a chunk's centred cross-products
# are formed from its raw ones (losing at most log10(1 + 4) ~ 0.7 digits).
_MAX_CANCELLATION = 4.0
# Relative change of the coefficients below which coordinate descent has converged.
_CD_TOL = 1e-12


@dataclass(frozen=True)
class Moments:
    """Weighted, centred first and second moments of ``(X, Y)``.

    Attributes
    ----------
    n_samples : int
        Number of rows seen.
    weight_sum : float
        Sum of the sample weights.
    mean_x, mean_y : ndarray of shape (n_features,), (n_targets,)
        Weighted means.
    cxx : ndarray of shape (n_features, n_features) or (n_features,)
        Weighted centred cross-products of X, or only their diagonal.
    cxy : ndarray of shape (n_features, n_targets) or None
        Weighted centred cross-products of X and Y (None with the diagonal only).
    cyy : ndarray of shape (n_targets, n_targets) or (n_targets,)
        Weighted centred cross-products of Y, or only their diagonal.
    """

    n_samples: int
    weight_sum: float
    mean_x: np.ndarray
    mean_y: np.ndarray
    cxx: np.ndarray
    cxy: np.ndarray | None
    cyy: np.ndarray

    @property
    def full(self):
        """Whether the moments hold the full cross-product matrices."""
        return self.cxy is not None

    def merge(self, other):
        """Return the moments of the union of the rows of ``self`` and ``other``."""
        if other.weight_sum == 0:
            return replace(self, n_samples=self.n_samples + other.n_samples)
        if self.weight_sum == 0:
            return replace(other, n_samples=self.n_samples + other.n_samples)
        total = self.weight_sum + other.weight_sum
        share = other.weight_sum / total
        factor = self.weight_sum * share
        dx = other.mean_x - self.mean_x
        dy = other.mean_y - self.mean_y
        outer = np.outer if self.full else np.multiply
        return Moments(
            n_samples=self.n_samples + other.n_samples,
            weight_sum=total,
            mean_x=self.mean_x + share * dx,
            mean_y=self.mean_y + share * dy,
            cxx=self.cxx + other.cxx + factor * outer(dx, dx),
            cxy=(
                self.cxy + other.cxy + factor * np.outer(dx, dy) if self.full else None
            ),
            cyy=self.cyy + other.cyy + factor * outer(dy, dy),
        )

    def second_moments_about(self, center_x, center_y):
        """Return ``X'WX / sum(w)`` and ``X'WY / sum(w)`` about the given centres."""
        dx = self.mean_x - center_x
        dy = self.mean_y - center_y
        gram = self.cxx / self.weight_sum + np.outer(dx, dx)
        cross = self.cxy / self.weight_sum + np.outer(dx, dy)
        return gram, cross


def compute_moments(X, Y, sample_weight, *, device, dtype, full=True):
    """Accumulate the weighted centred moments of ``(X, Y)`` on ``device``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    device : torch.device
        Where the cross-products are computed.
    dtype : torch.dtype
        Accumulation dtype (float64 except on MPS).
    full : bool, default=True
        Whether to form the full cross-product matrices or only the diagonals
        (all that scaling needs).

    Returns
    -------
    Moments
    """
    n_samples, n_features = X.shape
    rows = max(1, _CHUNK_BYTES // (8 * (n_features + Y.shape[1])))
    with threads_for(min(rows, n_samples) * n_features):
        return _accumulate(
            X, Y, sample_weight, rows, device=device, dtype=dtype, full=full
        )


def _accumulate(X, Y, sample_weight, rows, *, device, dtype, full):
    total = None
    for start in range(0, X.shape[0], rows):
        stop = min(start + rows, X.shape[0])
        weights = None if sample_weight is None else sample_weight[start:stop]
        chunk = _chunk_moments(
            X[start:stop], Y[start:stop], weights, device=device, dtype=dtype, full=full
        )
        total = chunk if total is None else total.merge(chunk)
    return total


def _chunk_moments(X, Y, sample_weight, *, device, dtype, full):
    if scipy.sparse.issparse(X):
        X = X.toarray()  # one chunk at a time: a sparse X is never dense whole
    x = as_tensor(X, device=device, dtype=dtype)
    y = as_tensor(Y, device=device, dtype=dtype)
    moments = None
    if sample_weight is None:
        weight_sum = torch.tensor(float(x.shape[0]), dtype=dtype, device=device)
        if full:
            mean_x, mean_y, moments = _uncentred_products(x, y)
        else:
            mean_x, mean_y = x.mean(dim=0), y.mean(dim=0)
    else:
        w = as_tensor(sample_weight, device=device, dtype=dtype)
        weight_sum = w.sum()
        if weight_sum.item() == 0:
            return _zero_moments(x.shape[0], x.shape[1], y.shape[1], full)
        mean_x, mean_y = (w @ x) / weight_sum, (w @ y) / weight_sum
    if moments is None:
        xc, yc = x - mean_x, y - mean_y
        if sample_weight is not None:
            root = w.sqrt().unsqueeze(1)
            xc.mul_(root)
            yc.mul_(root)
        if full:
            moments = xc.T @ xc, xc.T @ yc, yc.T @ yc
        else:
            moments = (xc * xc).sum(dim=0), None, (yc * yc).sum(dim=0)
    cxx, cxy, cyy = moments
    return Moments(
        n_samples=x.shape[0],
        weight_sum=float(weight_sum),
        mean_x=_numpy(mean_x),
        mean_y=_numpy(mean_y),
        cxx=_numpy(cxx),
        cxy=None if cxy is None else _numpy(cxy),
        cyy=_numpy(cyy),
    )


def _uncentred_products(x, y):
    """Means and centred cross-products of an unweighted chunk from its raw
    products, ``X'X - n m m'``: two reads of the chunk (``X'X`` and ``X'[y, 1]``)
    and no centred copy.

    Subtracting ``n m m'`` cancels digits in proportion to ``mean^2 / variance``
    of a column; when that exceeds ``_MAX_CANCELLATION`` for any column or
    target, the products are None and the caller centres the chunk first.
    """
    n_rows = x.shape[0]
    side = torch.cat([y, torch.ones_like(y[:, :1])], dim=1)
    xs = x.T @ side
    mean_x, mean_y = xs[:, -1] / n_rows, y.mean(dim=0)
    xx, yy = x.T @ x, y.T @ y
    x_var = torch.diagonal(xx) / n_rows - mean_x.square()
    y_var = torch.diagonal(yy) / n_rows - mean_y.square()
    mean_square = torch.cat([mean_x.square(), mean_y.square()])
    var = torch.cat([x_var, y_var])
    # Constant columns (variance zero, or rounding noise) are centred exactly.
    if not bool(((var > 0) & (mean_square <= _MAX_CANCELLATION * var)).all()):
        return mean_x, mean_y, None
    cxx = xx.sub_(torch.outer(mean_x, mean_x), alpha=n_rows)
    cxy = xs[:, :-1].sub(torch.outer(mean_x, mean_y), alpha=n_rows)
    cyy = yy.sub_(torch.outer(mean_y, mean_y), alpha=n_rows)
    return mean_x, mean_y, (cxx, cxy, cyy)


def _zero_moments(n_samples, n_features, n_targets, full):
    def square(size):
        return np.zeros((size, size) if full else size)

    return Moments(
        n_samples=n_samples,
        weight_sum=0.0,
        mean_x=np.zeros(n_features),
        mean_y=np.zeros(n_targets),
        cxx=square(n_features),
        cxy=np.zeros((n_features, n_targets)) if full else None,
        cyy=square(n_targets),
    )


def _numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def solve_cholesky(gram, cross, alpha):
    """Solve ``(gram + alpha * I) B = cross`` by Cholesky, if that is accurate.

    Returns None when the factorisation fails or LAPACK's estimate of the
    reciprocal condition number is below ``_MIN_RCOND`` (the solution would then
    keep fewer than about ten correct digits).
    """
    system = gram + alpha * np.eye(gram.shape[0])
    try:
        factor = scipy.linalg.cho_factor(system, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    rcond, info = scipy.linalg.lapack.dpocon(
        factor[0], np.linalg.norm(system, 1), uplo="L" if factor[1] else "U"
    )
    if info != 0 or rcond < _MIN_RCOND:
        return None
    return scipy.linalg.cho_solve(factor, cross, check_finite=False)


def solve_eigh(gram, cross, alpha):
    """Minimum-norm solution of ``(gram + alpha * I) B = cross`` through a
    symmetric eigen-decomposition; eigenvalues below ``n_features * eps *
    max(eigenvalue)`` count as zero. For when only the statistics are at hand:
    forming ``gram`` squared the condition number of the data, so an
    ill-conditioned problem keeps about ``16 - 2 * log10(cond(X))`` digits.
    """
    system = gram + alpha * np.eye(gram.shape[0])
    eigenvalues, eigenvectors = scipy.linalg.eigh(system, check_finite=False)
    cutoff = gram.shape[0] * np.finfo(np.float64).eps * max(eigenvalues[-1], 0.0)
    keep = eigenvalues > cutoff
    basis = eigenvectors[:, keep]
    return basis @ ((basis.T @ cross) / eigenvalues[keep, None])


def solve_lstsq(Z, T, penalty):
    """Minimum-norm solution of ``min ||T - Z B||^2 + sum_j (penalty_j B_j)^2`` by
    an SVD of the data (LAPACK gelsd, the penalty as extra rows), followed by one
    step of iterative refinement.

    Working on the data rather than on ``Z' Z`` keeps the condition number
    unsquared: the accuracy orthogonal methods have on ill-conditioned data.

    Returns
    -------
    coef : ndarray of shape (n_features, n_targets)
    """
    if np.any(penalty > 0):
        Z = np.vstack([Z, np.diag(penalty)])
        T = np.vstack([T, np.zeros((Z.shape[1], T.shape[1]))])
    # Singular values below this share of the largest are rounding noise: the
    # rule of numpy.linalg.lstsq (LAPACK's default would keep them).
    cond = np.finfo(np.float64).eps * max(Z.shape)
    coef = scipy.linalg.lstsq(Z, T, cond=cond, lapack_driver="gelsd")[0]
    residual = T - Z @ coef
    return coef + scipy.linalg.lstsq(Z, residual, cond=cond, lapack_driver="gelsd")[0]


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


def objective(gram, cross, second_moment, coef, l1, l2):
    """Value of ``sum_k [y_k'y_k / 2 - b_k' cross_k + b_k' gram b_k / 2
    + l1_k ||b_k||_1 + l2 / 2 ||b_k||^2]`` (per unit weight)."""
    fit = 0.5 * second_moment - np.sum(coef * cross, axis=0)
    fit += 0.5 * np.sum(coef * (gram @ coef), axis=0)
    penalty = l1 * np.abs(coef).sum(axis=0) + 0.5 * l2 * np.square(coef).sum(axis=0)
    return float(np.sum(fit + penalty))
