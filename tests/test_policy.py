"""One place decides the solver: every combination of loss, penalty, solver
and input resolves, or is refused, exactly as the policy table says."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse

from sktorch_linear import TorchLinearRegressor
from sktorch_linear.solvers import _policy

LOSSES = ["squared_error", "huber", "absolute_error", "quantile"]
PENALTIES = {
    "none": {"alpha": 0.0, "l1_ratio": 0.0},
    "l2": {"alpha": 0.1, "l1_ratio": 0.0},
    "l1": {"alpha": 0.1, "l1_ratio": 1.0},
    "elastic_net": {"alpha": 0.1, "l1_ratio": 0.5},
}
SOLVERS = ["auto", "exact", "lbfgs", "adam", "sgd"]
INPUTS = ["dense", "sparse", "streaming", "dask"]

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = X @ [1.0, -2.0, 0.5] + 1.0 + RNG.normal(size=60)


def _fit(reg, kind):
    if kind == "dense":
        return reg.fit(X, Y)
    if kind == "sparse":
        return reg.fit(scipy.sparse.csr_matrix(X), Y)
    if kind == "streaming":
        reg.partial_fit(X[:30], Y[:30])
        return reg.partial_fit(X[30:], Y[30:])
    da = pytest.importorskip("dask.array")
    return reg.fit(da.from_array(X, chunks=20), da.from_array(Y, chunks=20))


def _expected(params, kind):
    """The table's answer: a route, or the exception it raises."""
    if kind == "streaming":
        try:
            _policy.check_streams(params["solver"])
        except AttributeError as error:
            return error
    try:
        return _policy.route(params, streaming=kind == "streaming", dask=kind == "dask")
    except ValueError as error:
        return error


@pytest.mark.parametrize(
    "loss, penalty, solver, kind",
    list(itertools.product(LOSSES, PENALTIES, SOLVERS, INPUTS)),
)
def test_the_table_decides(loss, penalty, solver, kind):
    """Check that the estimator's resolved solver and solver_path_, or its
    error, are the policy table's for this combination."""
    if kind == "dask":
        dask = pytest.importorskip("dask")
    reg = TorchLinearRegressor(
        loss=loss,
        solver=solver,
        max_iter=3,
        device="cpu",
        random_state=0,
        **PENALTIES[penalty],
    )
    expected = _expected(reg.get_params(), kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three iterations do not converge
        context = dask.config.set(scheduler="synchronous") if kind == "dask" else None
        try:
            if context is not None:
                context.__enter__()
            if isinstance(expected, Exception):
                with pytest.raises(type(expected)) as raised:
                    _fit(reg, kind)
                error = raised.value.__cause__ or raised.value  # available_if's
                assert str(error) == str(expected)
                return
            _fit(reg, kind)
        finally:
            if context is not None:
                context.__exit__(None, None, None)
    assert reg.solver_ == expected.solver
    assert reg.solver_path_ in expected.paths


def test_the_table_covers_every_family():
    """Check that every family the table names is reached by some combination
    and that the table refuses some (its errors are exercised above)."""
    families, refused = set(), 0
    for loss, penalty, solver, kind in itertools.product(
        LOSSES, PENALTIES, SOLVERS, INPUTS
    ):
        params = {
            **TorchLinearRegressor(loss=loss, solver=solver).get_params(),
            **PENALTIES[penalty],
        }
        result = _expected(params, kind)
        if isinstance(result, Exception):
            refused += 1
        else:
            families.add(result.family)
    assert families == {
        "least_squares",
        "coordinate_descent",
        "newton",
        "interior_point",
        "gradient",
        "dask_gradient",
    }
    assert refused > 0


def test_streaming_after_an_exact_robust_fit_goes_on_with_adam():
    """Check the table's route for partial_fit after an exact fit of a robust
    loss, and that the estimator takes it."""
    reg = TorchLinearRegressor(loss="absolute_error", device="cpu", max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, Y).partial_fit(X, Y)
    route = _policy.route(reg.get_params(), streaming=True, fitted="exact")
    assert route.solver == reg.solver_ == "adam"
