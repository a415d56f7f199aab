"""Dense linear algebra on matrices of the size of the statistics, on the CPU.

NumPy arrays in and out, computed with torch. After torch's parallel kernels
its OpenMP threads keep spinning for a while, and a second thread pool started
meanwhile on the same cores (OpenBLAS, behind NumPy and SciPy) ran QR and SVD
of 100 x 100 matrices 10 to 40 times slower (measured on 2 cores). Only
LAPACK's condition estimator comes from SciPy: it is unthreaded.
"""

import numpy as np
import scipy.linalg
import torch


def _tensor(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def matmul(a, b):
    return (_tensor(a) @ _tensor(b)).numpy()


def cholesky(matrix):
    """The lower Cholesky factor of a symmetric positive definite matrix and
    LAPACK's estimate of its reciprocal condition number (1-norm); ``(None,
    0.0)`` when the factorisation fails."""
    factor, info = torch.linalg.cholesky_ex(_tensor(matrix))
    if info.item() != 0:
        return None, 0.0
    factor = factor.numpy()
    rcond, info = scipy.linalg.lapack.dpocon(
        factor, np.linalg.norm(matrix, 1), uplo="L"
    )
    return factor, (rcond if info == 0 else 0.0)


def cholesky_solve(factor, rhs):
    return torch.cholesky_solve(_tensor(rhs), _tensor(factor)).numpy()


def qr_r(rows):
    """The R factor of a Householder QR of ``rows``, taken in decreasing order of
    their largest entry (which keeps QR stable for rows of very different
    weights; Powell and Reid)."""
    order = np.argsort(-np.abs(rows).max(axis=1), kind="stable")
    return torch.linalg.qr(_tensor(rows[order]), mode="r").R.numpy()


def svd(matrix):
    left, singular, right_t = torch.linalg.svd(_tensor(matrix), full_matrices=False)
    return left.numpy(), singular.numpy(), right_t.numpy()


def eigh(matrix):
    eigenvalues, vectors = torch.linalg.eigh(_tensor(matrix))
    return eigenvalues.numpy(), vectors.numpy()
