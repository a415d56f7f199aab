"""The interior-point solver of the quantile and absolute-error losses, against
scikit-learn's QuantileRegressor (HiGHS), an independent convex solver (cvxpy)
and the properties of quantile regression (scikit-learn's test_quantile.py,
with their tolerances)."""

import warnings

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor
from sklearn.metrics import mean_pinball_loss

from sktorch_linear import TorchLinearRegressor

RNG = np.random.default_rng(0)
# Columns on different scales and heavy-tailed noise: the LP solutions are
# unique (continuous data) and the scaling matters.
X = RNG.normal(size=(300, 6)) * RNG.uniform(0.1, 10, size=6)
Y = X @ RNG.normal(size=6) + 3 * RNG.standard_t(2, size=300) + 5
WEIGHT = RNG.integers(0, 4, size=300).astype(float)


def _pinball(X, y, coef, intercept, quantile, sample_weight=None):
    r = y - X @ coef - intercept
    return np.average(
        np.maximum(quantile * r, (quantile - 1) * r), weights=sample_weight
    )


def _quantile(**params):
    """The estimator with the objective of QuantileRegressor (L1 penalty on the
    coefficients in the units of X)."""
    params = {"l1_ratio": 1.0, **params}
    return TorchLinearRegressor(
        loss="quantile", standardize=False, device="cpu", **params
    )


CASES = [
    # quantile, sample weights, alpha, fit_intercept
    (0.05, False, 0.0, True),
    (0.5, False, 0.0, True),
    (0.95, False, 0.0, True),
    (0.05, True, 0.0, True),
    (0.95, True, 0.0, False),
    (0.5, False, 0.05, True),
    (0.95, True, 0.05, True),
    (0.05, False, 0.05, False),
    (0.3, True, 0.2, False),
]


@pytest.mark.parametrize("quantile, weighted, alpha, fit_intercept", CASES)
def test_matches_quantile_regressor(quantile, weighted, alpha, fit_intercept):
    """Check that the default (interior-point) fit reaches HiGHS's objective to
    1e-8 and its unique solution to 1e-6, and certifies its gap."""
    weight = WEIGHT if weighted else None
    params = {"quantile": quantile, "alpha": alpha, "fit_intercept": fit_intercept}
    ours = _quantile(**params).fit(X, Y, sample_weight=weight)
    ref = QuantileRegressor(solver="highs", **params).fit(X, Y, sample_weight=weight)

    def objective(model):
        loss = _pinball(X, Y, model.coef_, model.intercept_, quantile, weight)
        return loss + alpha * np.abs(model.coef_).sum()

    assert ours.solver_ == "exact" and ours.solver_path_ == "interior_point"
    assert objective(ours) <= objective(ref) * (1 + 1e-8)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    assert ours.optimality_gap_ <= 1e-12


def test_multi_output_and_absolute_error_match_quantile_regressor():
    """Check that each target of a multi-output absolute-error fit is the
    median regression of that target (twice the pinball loss of 0.5)."""
    Y2 = np.c_[Y, -2 * Y + X[:, 0] ** 2]
    ours = TorchLinearRegressor(loss="absolute_error", device="cpu").fit(X, Y2)
    for k in range(2):
        ref = QuantileRegressor(quantile=0.5, alpha=0, solver="highs").fit(X, Y2[:, k])
        assert_allclose(ours.coef_[k], ref.coef_, rtol=1e-6, atol=1e-8)
        assert_allclose(ours.intercept_[k], ref.intercept_, rtol=1e-6)
    assert np.all(ours.optimality_gap_ <= 1e-12)  # per target


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_l2_and_elastic_net_match_a_convex_solver(l1_ratio, weighted):
    """Check the quadratic programmes (L2 and elastic-net penalties) against
    cvxpy's conic solver: objective within 1e-8."""
    cp = pytest.importorskip("cvxpy")
    weight = np.ones(len(Y)) if not weighted else WEIGHT
    quantile, alpha = 0.3, 0.1
    ours = _quantile(quantile=quantile, alpha=alpha, l1_ratio=l1_ratio).fit(
        X, Y, sample_weight=weight
    )
    beta, b = cp.Variable(X.shape[1]), cp.Variable()
    r = Y - X @ beta - b
    pinball = cp.sum(cp.multiply(weight, cp.maximum(quantile * r, (quantile - 1) * r)))

    def penalty(coef, norm1, square):
        return alpha * l1_ratio * norm1(coef) + alpha * (1 - l1_ratio) / 2 * square(
            coef
        )

    problem = cp.Problem(
        cp.Minimize(pinball / weight.sum() + penalty(beta, cp.norm1, cp.sum_squares))
    )
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12)
    value = _pinball(X, Y, ours.coef_, ours.intercept_, quantile, weight) + penalty(
        ours.coef_, lambda c: np.abs(c).sum(), lambda c: c @ c
    )
    assert value <= problem.value * (1 + 1e-8)
    assert ours.optimality_gap_ <= 1e-12


@pytest.mark.parametrize(
    "quantile, alpha, intercept, coef",
    [
        (0.5, 0, 1, None),  # any slope in [1, 10] is a minimum
        (0.51, 0, 1, 10),
        (0.49, 0, 1, 1),
        (0.5, 0.01, 1, 1),
        (0.5, 100, 2, 0),
    ],
)
def test_toy_example(quantile, alpha, intercept, coef):
    """Check scikit-learn's toy example of three rows, where the penalty and the
    asymmetry of the loss choose the slope."""
    model = _quantile(quantile=quantile, alpha=alpha).fit([[0], [1], [1]], [1, 2, 11])
    assert_allclose(model.intercept_, intercept, atol=1e-2)
    if coef is not None:
        assert_allclose(model.coef_[0], coef, atol=1e-2)
    if alpha < 100:
        assert model.coef_[0] >= 1
    assert model.coef_[0] <= 10


@pytest.mark.parametrize("quantile", [0.05, 0.95])
def test_calibration(quantile):
    """Check that the fitted quantile leaves the share ``quantile`` of the rows
    below it, on 1,000 rows (scikit-learn's tolerance)."""
    X_, y = make_regression(n_samples=1000, n_features=20, random_state=0, noise=1.0)
    model = TorchLinearRegressor(loss="quantile", quantile=quantile, device="cpu")
    assert np.mean(y < model.fit(X_, y).predict(X_)) == pytest.approx(
        quantile, abs=1e-2
    )


@pytest.mark.parametrize("quantile", [0.2, 0.5, 0.8])
def test_asymmetric_error(quantile):
    """Check quantile regression of exponential targets (scikit-learn's test):
    the parameters of the generating quantile, and, with an L1 penalty, the
    minimum that Nelder-Mead finds."""
    rng = np.random.RandomState(42)
    n = 1000
    X_ = np.c_[np.abs(rng.randn(n)), -rng.randint(2, size=n)]
    intercept, coef = 1.23, np.array([0.5, -2])
    y = rng.exponential(scale=-(X_ @ coef + intercept) / np.log(1 - quantile), size=n)
    model = _quantile(quantile=quantile).fit(X_, y)
    assert model.intercept_ == pytest.approx(intercept, rel=0.2)
    assert_allclose(model.coef_, coef, rtol=0.6)
    assert_allclose(np.mean(model.predict(X_) > y), quantile, atol=1e-2)

    alpha = 0.01
    model.set_params(alpha=alpha).fit(X_, y)

    def objective(params):
        loss = mean_pinball_loss(y, X_ @ params[1:] + params[0], alpha=quantile)
        return loss + alpha * np.abs(params[1:]).sum()

    best = minimize(
        objective,
        x0=[1, 0, -1],
        method="Nelder-Mead",
        tol=1e-12,
        options={"maxiter": 2000},
    )
    assert objective(np.r_[model.intercept_, model.coef_]) == pytest.approx(best.fun)
    assert_allclose(model.intercept_, best.x[0])
    assert_allclose(model.coef_, best.x[1:])


@pytest.mark.parametrize("quantile", [0.2, 0.5, 0.8])
def test_equivariance(quantile):
    """Check the equivariance of quantile regression (Koenker 2005, 2.2.3) with
    scikit-learn's tolerances: scaling y, reversing it, adding a linear function
    of X to it, and reparametrising X."""
    rng = np.random.RandomState(42)
    X_, y = make_regression(
        n_samples=100,
        n_features=5,
        n_informative=5,
        noise=0,
        random_state=rng,
        shuffle=False,
    )
    y += rng.exponential(scale=100, size=y.shape)

    def fit(q, X_, y):
        return TorchLinearRegressor(loss="quantile", quantile=q, device="cpu").fit(
            X_, y
        )

    one = fit(quantile, X_, y)
    a = 2.5
    two = fit(quantile, X_, a * y)
    assert two.intercept_ == pytest.approx(a * one.intercept_, rel=1e-5)
    assert_allclose(two.coef_, a * one.coef_, rtol=1e-5)
    two = fit(1 - quantile, X_, -a * y)
    assert two.intercept_ == pytest.approx(-a * one.intercept_, rel=1e-5)
    assert_allclose(two.coef_, -a * one.coef_, rtol=1e-5)
    g_intercept, g_coef = rng.randn(), rng.randn(5)
    two = fit(quantile, X_, y + X_ @ g_coef + g_intercept)
    assert two.intercept_ == pytest.approx(one.intercept_ + g_intercept)
    assert_allclose(two.coef_, one.coef_ + g_coef, rtol=1e-6)
    A = rng.randn(5, 5)
    two = fit(quantile, X_ @ A, y)
    assert two.intercept_ == pytest.approx(one.intercept_, rel=1e-5)
    assert_allclose(two.coef_, np.linalg.solve(A, one.coef_), rtol=1e-5)


@pytest.mark.parametrize("c", [1e-6, 1e3])
@pytest.mark.parametrize(
    "params",
    [
        {"loss": "absolute_error"},
        {"loss": "quantile", "quantile": 0.9},
        {"loss": "quantile", "quantile": 0.2, "alpha": 0.05, "l1_ratio": 1.0},
        {
            "loss": "absolute_error",
            "alpha": 0.05,
            "l1_ratio": 1.0,
            "standardize": False,
        },
    ],
)
def test_units_of_y(params, c):
    """Check that fitting ``c * y`` gives ``c`` times the coefficients and
    intercept, without a penalty and with an L1 penalty (both the loss and the
    L1 norm are of degree one)."""
    one = TorchLinearRegressor(device="cpu", **params).fit(X, Y)
    scaled = TorchLinearRegressor(device="cpu", **params).fit(X, c * Y)
    assert_allclose(scaled.coef_, c * one.coef_, rtol=1e-9, atol=1e-12 * c)
    assert_allclose(scaled.intercept_, c * one.intercept_, rtol=1e-9)


def test_several_quantiles_are_the_separate_fits():
    """Check that ``quantile=[...]`` fits one model per quantile, each that of
    a separate fit, with one column of predictions per quantile, and that the
    gradient solvers fit the same."""
    quantiles = [0.1, 0.5, 0.9]
    together = TorchLinearRegressor(loss="quantile", quantile=quantiles, device="cpu")
    together.fit(X, Y, sample_weight=WEIGHT)
    assert together.coef_.shape == (3, X.shape[1])
    assert together.predict(X[:4]).shape == (4, 3)
    for k, q in enumerate(quantiles):
        alone = TorchLinearRegressor(loss="quantile", quantile=q, device="cpu")
        alone.fit(X, Y, sample_weight=WEIGHT)
        assert_allclose(together.coef_[k], alone.coef_, rtol=1e-9, atol=1e-12)
        assert_allclose(together.intercept_[k], alone.intercept_, rtol=1e-9)
    adam = TorchLinearRegressor(
        loss="quantile", quantile=quantiles, solver="adam", device="cpu", random_state=0
    ).fit(X, Y, sample_weight=WEIGHT)
    assert_allclose(adam.predict(X), together.predict(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "quantile, y, message",
    [
        ([0.1, 1.5], Y, "must be a float in"),
        ([[0.1, 0.2]], Y, "must be a float in"),
        ([], Y, "must be a float in"),
        ([0.1, 0.9], np.c_[Y, Y], "fitted to one target"),
    ],
)
def test_several_quantiles_errors(quantile, y, message):
    """Check the errors for invalid lists of quantiles and several targets."""
    reg = TorchLinearRegressor(loss="quantile", quantile=quantile, device="cpu")
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_sparse_equals_dense():
    """Check that sparse X (read a block of rows at a time) gives the fit of the
    dense X."""
    dense = X * (RNG.random(X.shape) < 0.3)
    params = {
        "loss": "quantile",
        "quantile": 0.7,
        "alpha": 0.01,
        "l1_ratio": 0.5,
        "device": "cpu",
    }
    a = TorchLinearRegressor(**params).fit(dense, Y, sample_weight=WEIGHT)
    b = TorchLinearRegressor(**params).fit(
        scipy.sparse.csr_matrix(dense), Y, sample_weight=WEIGHT
    )
    assert_allclose(b.coef_, a.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(b.intercept_, a.intercept_, rtol=1e-9)


@pytest.mark.parametrize(
    "X_, weight",
    [
        (RNG.normal(size=(5, 10)), None),  # more coefficients than rows
        (RNG.normal(size=(50, 3)), np.r_[1.0, 2.0, np.zeros(48)]),  # two rows
    ],
)
def test_data_fitted_exactly(X_, weight):
    """Check the documented answer when the model can fit every row of positive
    weight: a minimum of zero, found and certified without a warning."""
    y = RNG.normal(size=len(X_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = TorchLinearRegressor(loss="absolute_error", device="cpu")
        reg.fit(X_, y, sample_weight=weight)
    residual = (y - reg.predict(X_)) * (1 if weight is None else weight)
    assert np.abs(residual).max() <= 1e-12 * np.abs(y).max()
    assert reg.optimality_gap_ <= 1e-4


def test_constant_target_and_columns():
    """Check that a constant y is fitted by its value, and constant columns get
    zero coefficients."""
    X_ = np.c_[RNG.normal(size=40), np.full(40, 3.0)]
    reg = TorchLinearRegressor(loss="quantile", quantile=0.3, device="cpu")
    reg.fit(X_, np.full(40, 2.0))
    assert_allclose(reg.coef_, 0.0, atol=1e-15)
    assert reg.intercept_ == pytest.approx(2.0)
    ref = QuantileRegressor(quantile=0.3, alpha=0).fit(X_[:, :1], Y[:40])
    reg.fit(X_, Y[:40])
    assert reg.coef_[1] == 0.0
    assert_allclose(reg.coef_[0], ref.coef_[0], rtol=1e-6)


def test_max_iter_warns_with_the_gap():
    """Check that an interior-point fit stopped by max_iter warns with its
    certified gap, and that more iterations bring it to the minimum."""
    with pytest.warns(ConvergenceWarning, match="certified relative gap of"):
        reg = TorchLinearRegressor(loss="quantile", max_iter=3, device="cpu").fit(X, Y)
    assert reg.optimality_gap_ > reg.tol
    reg.set_params(max_iter=200).fit(X, Y)
    assert reg.optimality_gap_ <= 1e-12


def test_non_finite_and_streaming_errors():
    """Check the errors for non-finite X and for partial_fit with the exact
    solver of a robust loss; auto streams with Adam."""
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TorchLinearRegressor(loss="quantile", device="cpu").fit(bad, Y)
    reg = TorchLinearRegressor(loss="quantile", solver="exact", device="cpu")
    with pytest.raises(ValueError, match="streams loss='squared_error' only"):
        reg.partial_fit(X, Y)
    reg = TorchLinearRegressor(loss="quantile", device="cpu").partial_fit(X, Y)
    assert reg.solver_ == "adam"


@pytest.mark.parametrize("loss", ["quantile", "huber"])
def test_rows_held_on_the_device_give_the_same_fit(loss, monkeypatch):
    """Check that the exact robust solvers fit the same from rows standardized
    once and held on the device (what they do on CUDA) as from rows read a
    block at a time (the CPU), sparse X included."""
    params = {"loss": loss, "alpha": 0.01, "l1_ratio": 0.5, "device": "cpu"}
    for data in (X, scipy.sparse.csr_matrix(X * (RNG.random(X.shape) < 0.5))):
        streamed = TorchLinearRegressor(**params).fit(data, Y, sample_weight=WEIGHT)
        monkeypatch.setattr("sktorch_linear.solvers._passes.RESIDENT_TYPES", ("cpu",))
        held = TorchLinearRegressor(**params).fit(data, Y, sample_weight=WEIGHT)
        monkeypatch.undo()
        assert_allclose(held.coef_, streamed.coef_, rtol=1e-9, atol=1e-12)
        assert held.optimality_gap_ <= 1e-12
