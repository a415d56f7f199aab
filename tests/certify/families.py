"""Families of data for the certification matrix: each a function of a seed
giving ``(X, y, sample_weight)``, with the fit parameters it stands for.

They cover the shapes (n from 1 to 200 000, p from 1 to 500, n < p, n = p,
n = p + 1), the columns (duplicate, collinear, constant, one-hot, scales
1e-8..1e8), the targets (scales 1e-10..1e10, integers, constant, exactly
linear, heavy tails, outliers, several of different scales), the weights
(zeros, log-normal with sigma 3, a ratio of 1e12) and the inputs (float32,
CSR, pandas, negative strides, Fortran order, read-only arrays).
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from sklearn.datasets import load_diabetes


@dataclass(frozen=True)
class Family:
    """A family of data: ``make(rng)`` gives ``(X, y, sample_weight)``;
    ``params`` are fit parameters it stands for (e.g. ``standardize=False``);
    ``gradient`` is False for sizes fitted by the exact solvers only;
    ``losses`` limits the losses (None: all), where the independent minimum
    of the others would take minutes (a conic programme of 200 000 rows)."""

    name: str
    make: object
    params: dict = field(default_factory=dict)
    gradient: bool = True
    losses: tuple = None

    def data(self, seed=0):
        return self.make(np.random.default_rng(seed))


def _linear(rng, n, p, noise=1.0, coef=None, intercept=3.0):
    X = rng.normal(size=(n, p))
    coef = rng.normal(size=p) if coef is None else coef
    return X, X @ coef + intercept + noise * rng.normal(size=n)


def _gaussian(n, p, noise=1.0):
    def make(rng):
        X, y = _linear(rng, n, p, noise)
        return X, y, None

    return make


def _scaled_columns(low, high):
    def make(rng):
        X, y = _linear(rng, 300, 6)
        scales = np.logspace(low, high, 6)
        return X * scales, y, None

    return make


def _scaled_y(scale):
    def make(rng):
        X, y = _linear(rng, 300, 5)
        return X, y * scale, None

    return make


def _duplicate(rng):
    X, y = _linear(rng, 200, 5)
    return np.c_[X, X[:, :2]], y, None


def _collinear(rng):
    X, y = _linear(rng, 200, 5)
    near = X[:, 0] + X[:, 1] + 1e-7 * rng.normal(size=200)
    return np.c_[X, near], y, None


def _constant_column(rng):
    X, y = _linear(rng, 200, 4)
    return np.c_[X, np.full(200, 7.0)], y, None


def _one_hot(rng):
    levels = rng.integers(0, 5, size=300)
    X = np.c_[np.eye(5)[levels], rng.normal(size=(300, 2))]
    y = levels * 1.5 + X[:, 5] + rng.standard_t(3, size=300)
    return X, y, None


def _integer_y(rng):
    X = rng.normal(size=(300, 4))
    return X, rng.poisson(np.exp(0.3 * X[:, 0] + 1)).astype(np.int64), None


def _constant_y(rng):
    return rng.normal(size=(100, 3)), np.full(100, 2.5), None


def _exactly_linear(rng):
    X, y = _linear(rng, 100, 4, noise=0.0)
    return X, y, None


def _noise(kind):
    def make(rng):
        X = rng.normal(size=(500, 5))
        noise = {
            "t2": lambda: rng.standard_t(2, size=500),
            "cauchy": lambda: rng.standard_cauchy(size=500),
            "heteroskedastic": lambda: np.exp(X[:, 0]) * rng.normal(size=500),
        }[kind]()
        return X, X @ [1.0, -2.0, 0.5, 0.0, 3.0] + 1.0 + noise, None

    return make


def _outliers(rng):
    X, y = _linear(rng, 400, 5)
    rows = rng.choice(400, 40, replace=False)
    y[rows] += rng.choice([-1, 1], 40) * 50
    return X, y, None


def _leverage(rng):
    X, y = _linear(rng, 400, 5)
    X[:8] *= 30  # far from the others, with targets off the model
    y[:8] = rng.normal(size=8) * 5
    return X, y, None


def _multi_output(rng):
    X = rng.normal(size=(300, 4))
    coef = rng.normal(size=(4, 3))
    Y = X @ coef + rng.standard_t(4, size=(300, 3))
    return X, Y * [1e-3, 1.0, 1e4], None


def _weights(kind):
    def make(rng):
        X, y = _linear(rng, 400, 5)
        w = {
            "zeros": lambda: np.where(rng.random(400) < 0.3, 0.0, 1.0),
            "lognormal": lambda: np.exp(rng.normal(0, 3, 400)),
            "ratio_1e12": lambda: np.where(rng.random(400) < 0.5, 1e-6, 1e6),
            "integers": lambda: rng.integers(1, 5, 400).astype(float),
        }[kind]()
        return X, y, w

    return make


def _heavy_weights(rng):
    # Newton's steps with heavy-tailed weights (t3 noise, exp(N(0, 3))).
    X = rng.normal(size=(1000, 6))
    y = X @ rng.normal(size=6) + rng.standard_t(3, size=1000)
    return X, y, np.exp(rng.normal(0, 3, 1000))


def _float32(rng):
    X, y = _linear(rng, 400, 8)
    return X.astype(np.float32), y, None


def _csr(density):
    def make(rng):
        X = scipy.sparse.random(500, 30, density=density, random_state=rng)
        X = X.tocsr()
        y = X @ rng.normal(size=30) + 1 + 0.5 * rng.normal(size=500)
        return X, y, None

    return make


def _csr_one_hot(rng):
    levels = rng.integers(0, 8, size=400)
    X = scipy.sparse.csr_matrix(np.eye(8)[levels])
    return X, levels % 3 + rng.normal(size=400), None


def _pandas(rng):
    import pandas as pd

    X, y = _linear(rng, 300, 4)
    return pd.DataFrame(X, columns=list("abcd")), pd.Series(y), None


def _reversed(rng):
    X, y = _linear(rng, 300, 4)
    w = rng.uniform(0.5, 2, 300)
    return X[::-1], y[::-1], w[::-1]


def _fortran(rng):
    X, y = _linear(rng, 300, 4)
    return np.asfortranarray(X), y, None


def _read_only(rng):
    X, y = _linear(rng, 300, 4)
    for array in (X, y):
        array.setflags(write=False)
    return X, y, None


def _polynomial(rng):
    t = np.sort(rng.uniform(0, 1, 200))
    X = np.vander(t, 7, increasing=True)[:, 1:]
    return X, np.sin(6 * t) + 0.05 * rng.normal(size=200), None


def _correlated(n, p, rho):
    def make(rng):
        shared = rng.normal(size=(n, 1))
        X = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=(n, p))
        y = X @ rng.normal(size=p) + rng.normal(size=n)
        return X, y, None

    return make


def _diabetes(rng):
    X, y = load_diabetes(return_X_y=True)
    return X, y, None


FAMILIES = {
    family.name: family
    for family in [
        Family("gaussian_200x5", _gaussian(200, 5)),
        Family("gaussian_2000x50", _gaussian(2000, 50)),
        Family("one_row", _gaussian(1, 1)),
        Family("two_rows", _gaussian(2, 1)),
        Family("tiny_5x3", _gaussian(5, 3)),
        Family("n_less_p_20x50", _gaussian(20, 50)),
        Family("n_equals_p_20x20", _gaussian(20, 20)),
        Family("interpolating_20x19", _gaussian(20, 19)),
        Family("interpolating_50x49", _gaussian(50, 49)),
        Family("wide_50x200", _gaussian(50, 200)),
        Family("wide_100x500", _gaussian(100, 500), gradient=False),
        Family("duplicate_columns", _duplicate),
        Family("near_collinear", _collinear),
        Family("constant_column", _constant_column),
        Family("one_hot", _one_hot),
        Family("column_scales_1e-8_1e8", _scaled_columns(-8, 8)),
        Family("tiny_columns_1e-8", _scaled_columns(-8, -8)),
        Family("huge_columns_1e8", _scaled_columns(8, 8)),
        Family("y_scale_1e-10", _scaled_y(1e-10)),
        Family("y_scale_1e10", _scaled_y(1e10)),
        Family("integer_y", _integer_y),
        Family("constant_y", _constant_y),
        Family("exactly_linear_y", _exactly_linear),
        Family("noise_t2", _noise("t2")),
        Family("noise_cauchy", _noise("cauchy")),
        Family("heteroskedastic", _noise("heteroskedastic")),
        Family("outliers_10pct", _outliers),
        Family("leverage_points", _leverage),
        Family("multi_output_scales", _multi_output),
        Family("weights_with_zeros", _weights("zeros")),
        Family("weights_lognormal_3", _weights("lognormal")),
        Family("weights_ratio_1e12", _weights("ratio_1e12")),
        Family("weights_integers", _weights("integers")),
        Family("heavy_weights_1000x6", _heavy_weights),
        Family("float32", _float32),
        Family("csr_5pct", _csr(0.05)),
        Family("csr_one_hot", _csr_one_hot),
        Family("pandas", _pandas),
        Family("negative_strides", _reversed),
        Family("fortran_order", _fortran),
        Family("read_only", _read_only),
        Family("polynomial_degree_6", _polynomial),
        Family("correlated_0.99", _correlated(5000, 20, 0.99), gradient=False),
        Family("diabetes", _diabetes),
        Family("diabetes_raw", _diabetes, {"standardize": False}),
        Family("no_intercept", _gaussian(200, 5), {"fit_intercept": False}),
        Family(
            "large_200000x20",
            _gaussian(200_000, 20),
            gradient=False,
            losses=("squared_error",),
        ),
    ]
}

# The fast slice (make test): every solver, loss and penalty on these.
FAST = [
    "gaussian_200x5",
    "interpolating_20x19",
    "n_less_p_20x50",
    "duplicate_columns",
    "constant_y",
    "exactly_linear_y",
    "y_scale_1e10",
    "outliers_10pct",
    "multi_output_scales",
    "weights_lognormal_3",
    "csr_one_hot",
    "negative_strides",
]
