"""What the statistics of a least-squares fit tell about its data: singular
values and numerical rank of the standardized design."""

import numpy as np

from .solvers._least_squares import LeastSquares


def singular_values(moments, scaling, *, fit_intercept):
    """Singular values, in decreasing order, of the standardized (centred,
    weighted) ``X`` of the statistics (zeros for constant columns), and its
    numerical rank: the number of singular values of its R factor above the
    rounding level of that factor."""
    lsq = LeastSquares.of(moments, scaling, 0.0, fit_intercept=fit_intercept)
    solver = lsq.solver()
    values = solver.singular_values()  # fewer with fewer rows than columns
    singular = np.zeros(lsq.n_features)
    singular[: values.size] = values * np.sqrt(moments.weight_sum)
    return singular, solver.rank
