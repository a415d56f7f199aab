"""Dask input on a real distributed cluster (two worker processes, loopback):
exact least squares from statistics merged across the workers, lazy predict,
hyper-parameter search on the Dask joblib backend, and a worker killed mid-fit."""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import nist  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sktorch_linear import TorchLinearRegressor, TorchLinearRegressorCV  # noqa: E402

pytestmark = pytest.mark.slow

RNG = np.random.default_rng(0)
N, P = 4000, 6
X = RNG.normal(size=(N, P)) * [1, 10, 0.1, 1e3, 1, 5] + [0, 5, -3, 1e4, 0, 2]
COEF = np.array([[1.0, -2.0, 30.0, 0.01, 0.5, 3.0], [0.0, 1.0, -1.0, 0.02, 2.0, 0.0]])
Y = X @ COEF.T + [3.0, -1.0] + RNG.normal(size=(N, 2))
W = RNG.uniform(0.1, 3.0, size=N)
# 20 uneven parts of rows.
CHUNKS = tuple(np.diff(np.r_[0, np.sort(RNG.choice(np.arange(1, N), 19, False)), N]))


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _dask(array):
    chunks = (CHUNKS,) if array.ndim == 1 else (CHUNKS, array.shape[1])
    return da.from_array(array, chunks=chunks)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [1, 2])
@pytest.mark.parametrize("params", [{}, {"alpha": 0.1}, {"alpha": 0.01, "l1_ratio": 1}])
def test_fit_on_dask_array_equals_numpy_fit(client, params, targets, weighted):
    """Check that the exact fit of a Dask array in 20 uneven parts (Dask ``y``
    and weights) equals the fit of the same data in memory."""
    y = Y[:, 0] if targets == 1 else Y
    w = W if weighted else None
    reference = TorchLinearRegressor(device="cpu", **params).fit(X, y, sample_weight=w)
    reg = TorchLinearRegressor(device="cpu", **params).fit(
        _dask(X), _dask(y), sample_weight=None if w is None else _dask(w)
    )
    assert reg.coef_.shape == reference.coef_.shape
    # Coordinate descent (L1) stops on a change of 1e-12 of the largest
    # coefficient; least squares and ridge are refined against the parts of
    # the rows: the solution of the data.
    rtol = 1e-8 if "l1_ratio" in params else 1e-10
    assert_allclose(reg.coef_, reference.coef_, rtol=rtol, atol=1e-12)
    # The intercept is the mean of y less the means of X (up to 1e4) times the
    # coefficients: it agrees to the rounding of those terms.
    terms = np.abs(reference.intercept_) + np.abs(reference.coef_) @ np.abs(X.mean(0))
    assert np.all(np.abs(reg.intercept_ - reference.intercept_) <= rtol * terms)


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "quantile", "quantile": [0.1, 0.5]},
        {"loss": "huber"},
        {"loss": "huber", "alpha": 0.01, "l1_ratio": 1.0},
    ],
    ids=["quantiles", "huber", "huber-l1"],
)
def test_robust_fit_on_dask_array_equals_numpy_fit(client, params):
    """Check that the exact robust solvers, every pass of theirs one task per
    part merged up a tree, reach the in-memory fit's optimum (weights and 20
    uneven parts) with its certificate."""
    y = Y[:, 0] + RNG.standard_t(2, size=N)  # heavy tails
    reference = TorchLinearRegressor(**params).fit(X, y, sample_weight=W)
    reg = TorchLinearRegressor(**params).fit(_dask(X), _dask(y), sample_weight=_dask(W))
    assert reg.best_loss_ == pytest.approx(reference.best_loss_, rel=1e-8)
    assert np.all(reg.optimality_gap_ <= 1e-12)  # per target
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    if params["loss"] == "huber":
        assert_allclose(reg.scale_, reference.scale_, rtol=1e-8)
        assert_array_equal(reg.outliers_, reference.outliers_)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC3"])
def test_summary_of_a_dask_fit(client, cov_type):
    """Check that ``summary()`` of a fit on Dask input (the robust kinds with
    one more pass on the workers) equals that of the in-memory fit."""
    y = Y[:, 0]
    reference = TorchLinearRegressor().fit(X, y, sample_weight=W)
    reg = TorchLinearRegressor().fit(_dask(X), _dask(y), sample_weight=_dask(W))
    data = (_dask(X), _dask(y), _dask(W)) if cov_type == "HC3" else None
    table = reg.summary(cov_type=cov_type, data=data)
    expected = reference.summary(cov_type=cov_type, data=(X, y, W))
    # The residual sum of squares comes from the statistics (R^2 = 0.9999
    # here: 4 digits cancel), merged from the parts in another order: the
    # tolerance of the statsmodels comparison (tests/test_inference.py). The
    # p-values (down to 1e-195) amplify it in their tails.
    for column in ("coef", "std_err", "t", "ci_lower", "ci_upper"):
        assert_allclose(table.table[column], expected.table[column], rtol=1e-8)


def _weighted_mse(reg, y, w, rows=X):
    return np.average((reg.predict(rows) - y) ** 2, weights=w)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_gradient_fit_on_dask_array(client, solver):
    """Check that Adam and SGD moving from part to part reach R^2 within 1e-3
    of the exact fit (here far closer), with an optimality gap that equals the
    relative excess of the weighted training MSE computed independently."""
    y = Y[:, 0]
    exact = TorchLinearRegressor().fit(X, y, sample_weight=W)
    parts = (N // 5,) * 5
    dX = da.from_array(X, chunks=(parts, P))
    dy, dw = da.from_array(y, chunks=(parts,)), da.from_array(W, chunks=(parts,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = TorchLinearRegressor(solver=solver, random_state=0).fit(
            dX, dy, sample_weight=dw
        )
    assert reg.solver_ == solver and reg.n_iter_ == len(reg.loss_curve_)
    assert reg.score(X, y) > exact.score(X, y) - 1e-3
    excess = _weighted_mse(reg, y, W) / _weighted_mse(exact, y, W) - 1
    assert reg.optimality_gap_ == pytest.approx(excess, rel=1e-6, abs=1e-12)
    assert reg.optimality_gap_ <= reg.tol
    assert_allclose(reg.net_.predict(X)[:, 0], reg.predict(X), rtol=1e-10, atol=1e-10)


def test_gradient_fit_on_dask_warns_with_the_measured_gap(client):
    """Check that a Dask Adam fit stopped by max_iter warns with its gap."""
    y = Y[:, 0]
    exact = TorchLinearRegressor().fit(X, y)
    with pytest.warns(ConvergenceWarning, match="reached max_iter after 2 epoch"):
        reg = TorchLinearRegressor(solver="adam", max_iter=2, random_state=0).fit(
            _dask(X), _dask(y)
        )
    excess = _weighted_mse(reg, y, None) / _weighted_mse(exact, y, None) - 1
    assert reg.optimality_gap_ == pytest.approx(excess, rel=1e-6)
    assert reg.optimality_gap_ > reg.tol


def test_gradient_fit_on_dask_of_ill_conditioned_columns_warns(client):
    """Check that a Dask Adam fit of NIST's Filip, whose Gram matrix cannot
    resolve the columns (the gap from the statistics was 0 for a fit 1.3 times
    above the minimum, without a warning), warns with the true gap."""
    X_filip, y_filip = nist.load("Filip")
    exact = TorchLinearRegressor().fit(X_filip, y_filip)
    dX = da.from_array(X_filip, chunks=(20, X_filip.shape[1]))
    dy = da.from_array(y_filip, chunks=(20,))
    with pytest.warns(ConvergenceWarning, match="solver='exact'"):
        reg = TorchLinearRegressor(solver="adam", random_state=0).fit(dX, dy)
    excess = _weighted_mse(reg, y_filip, None, X_filip)
    excess = excess / _weighted_mse(exact, y_filip, None, X_filip) - 1
    assert reg.optimality_gap_ == pytest.approx(excess, rel=1e-6)
    assert reg.optimality_gap_ > 0.1


def test_numpy_targets_and_weights_follow_the_parts(client):
    """Check that NumPy ``y`` and weights are split as the parts of ``X``."""
    reference = TorchLinearRegressor().fit(X, Y, sample_weight=W)
    reg = TorchLinearRegressor().fit(_dask(X), Y, sample_weight=W)
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-10)


def test_dask_dataframe_keeps_feature_names(client):
    """Check that a Dask data frame (with ``y`` a column of it) fits as the
    pandas frame does, names kept, and predicts lazily from a frame."""
    names = [f"f{i}" for i in range(P)]
    frame = pd.DataFrame(X, columns=names).assign(target=Y[:, 0], weight=W)
    ddf = dd.from_pandas(frame, npartitions=7)
    reference = TorchLinearRegressor().fit(
        frame[names], frame["target"], sample_weight=frame["weight"]
    )
    reg = TorchLinearRegressor().fit(
        ddf[names], ddf["target"], sample_weight=ddf["weight"]
    )
    assert list(reg.feature_names_in_) == names
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-10)
    predicted = reg.predict(ddf[names])
    assert isinstance(predicted, da.Array)
    assert_allclose(predicted.compute(), reference.predict(frame[names]), rtol=1e-10)


def test_frames_partitioned_differently_are_aligned(client):
    """Check that ``X`` and ``y`` frames of other partitionings (as Dask makes
    them when it reads fewer columns of the same files) are aligned by Dask."""
    frame = pd.DataFrame(X).assign(y=Y[:, 0], w=W)
    X7 = dd.from_pandas(frame, npartitions=7).drop(columns=["y", "w"])
    three = dd.from_pandas(frame, npartitions=3)
    reference = TorchLinearRegressor().fit(X, Y[:, 0], sample_weight=W)
    reg = TorchLinearRegressor().fit(X7, three["y"], sample_weight=three["w"])
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-10)


def test_predict_is_lazy(client):
    """Check that ``predict`` of a Dask array builds a Dask array, part by part,
    computed only when asked, equal to NumPy predict."""
    reg = TorchLinearRegressor().fit(X, Y)
    dX = _dask(X)
    predicted = reg.predict(dX)
    assert isinstance(predicted, da.Array)
    assert predicted.chunks == (CHUNKS, (2,))
    assert_allclose(predicted.compute(), reg.predict(X), rtol=1e-12)
    reg1 = TorchLinearRegressor().fit(X, Y[:, 0])
    assert reg1.predict(dX).chunks == (CHUNKS,)


def test_partial_fit_of_dask_chunks_equals_fit(client):
    """Check that streaming Dask arrays through ``partial_fit`` merges their
    statistics into those of ``fit`` on all rows."""
    reference = TorchLinearRegressor().fit(X, Y)
    reg = TorchLinearRegressor()
    for rows in np.array_split(np.arange(N), 3):
        reg.partial_fit(_dask(X)[rows], _dask(Y)[rows])
    assert_allclose(reg.coef_, reference.coef_, rtol=1e-10)


@pytest.mark.parametrize("name", ["Filip", "Wampler5", "Longley"])
def test_nist_in_parts_keeps_certified_digits(client, name):
    """Check that NIST sets split into parts across the workers keep >= 7
    certified digits (as ``partial_fit`` does; refined against the parts)."""
    Xn, yn = nist.load(name)
    parts = np.diff(np.linspace(0, len(yn), 6).astype(int))
    reg = TorchLinearRegressor(fit_intercept=nist.DATASETS[name]["intercept"])
    reg.fit(
        da.from_array(Xn, chunks=(tuple(parts), Xn.shape[1])),
        da.from_array(yn, chunks=(tuple(parts),)),
    )
    certified = np.array(nist.DATASETS[name]["certified_coef"])
    assert nist.log_relative_error(nist.coefficients(reg, name), certified) >= 7


def test_grid_search_on_the_dask_joblib_backend(client):
    """Check that GridSearchCV over 3 x 3 parameters on the Dask backend finds
    the parameters and scores of a sequential search."""
    import joblib

    grid = {"alpha": [1e-3, 1e-1, 10.0], "l1_ratio": [0.0, 0.5, 1.0]}
    y = Y[:, 0]
    sequential = GridSearchCV(TorchLinearRegressor(), grid, cv=3, n_jobs=1).fit(X, y)
    with joblib.parallel_config(backend="dask"):
        distributed_search = GridSearchCV(TorchLinearRegressor(), grid, cv=3, n_jobs=-1)
        distributed_search.fit(X, y)
    assert distributed_search.best_params_ == sequential.best_params_
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_allclose(
            distributed_search.cv_results_[key], sequential.cv_results_[key], rtol=1e-12
        )


@pytest.mark.parametrize("cv", [5, None])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_validation_on_dask_equals_numpy(client, cv, weighted):
    """Check TorchLinearRegressorCV on a Dask array in 20 uneven parts against
    the same search on NumPy arrays: k-fold over an elastic-net grid (one task
    per part gathers every atom's statistics) and ridge's leave-one-out, one
    choice for both targets or one each."""
    weight = W if weighted else None
    params = {"alphas": 5, "cv": cv, "l1_ratio": 0.0 if cv is None else [0.0, 0.5]}
    params["alpha_per_target"] = weighted
    ours = TorchLinearRegressorCV(**params).fit(
        _dask(X), _dask(Y), sample_weight=None if weight is None else _dask(weight)
    )
    numpy = TorchLinearRegressorCV(**params).fit(X, Y, sample_weight=weight)
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        numpy.cv_results_["mean_test_score"],
        rtol=1e-12,
        atol=1e-12,  # R² is unitless; the largest strengths explain nothing
    )
    # the same choice (the automatic grids agree to the rounding of the statistics)
    assert_array_equal(ours.best_index_, numpy.best_index_)
    assert_array_equal(ours.l1_ratio_, numpy.l1_ratio_)
    largest = np.max(numpy.alpha_)
    assert_allclose(ours.alpha_, numpy.alpha_, rtol=1e-12, atol=1e-12 * largest)
    scale = np.abs(numpy.coef_).max()  # (the elastic net zeroes some)
    assert_allclose(ours.coef_, numpy.coef_, rtol=0, atol=1e-12 * scale)
    predictions = ours.predict(_dask(X)).compute()
    assert_allclose(predictions, numpy.predict(X), rtol=0, atol=1e-12 * np.abs(Y).max())


def test_refusals_are_clear(client):
    """Check the errors for what Dask input cannot do, and for bad parts."""
    message = "Dask input is fitted by the exact solvers .*; {}.* needs the rows"
    for reg, what in [
        (TorchLinearRegressor(solver="lbfgs"), "solver='lbfgs'"),
        (TorchLinearRegressor(solver="adam", loss="huber"), "solver='adam' with"),
        (TorchLinearRegressor(solver="adam", early_stopping=True), "early_stop"),
    ]:
        with pytest.raises(ValueError, match=message.format(what)):
            reg.fit(_dask(X), _dask(Y[:, 0]))
    with pytest.raises(ValueError, match=message.format("partial_fit with a grad")):
        TorchLinearRegressor(solver="adam").partial_fit(_dask(X), _dask(Y[:, 0]))
    frame = pd.DataFrame(X).assign(y=Y[:, 0])
    X7 = dd.from_pandas(frame, npartitions=7).drop(columns="y")
    y3 = dd.from_pandas(frame, npartitions=3)["y"]
    with pytest.raises(ValueError, match="y is in 3 parts but X in 7"):
        TorchLinearRegressor().fit(X7.to_dask_array(), y3.to_dask_array())
    with pytest.raises(ValueError, match="y is not a Dask collection, and the"):
        TorchLinearRegressor().fit(X7, Y[:, 0])
    bad = X.copy()
    bad[N - 3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        TorchLinearRegressor().fit(_dask(bad), _dask(Y[:, 0]))
    reg = TorchLinearRegressor().fit(X, Y)
    with pytest.raises(ValueError, match="X has 5 features"):
        reg.predict(_dask(X[:, :5]))
    with pytest.raises(ValueError, match="loss='quantile' solves each candidate"):
        TorchLinearRegressorCV(loss="quantile").fit(_dask(X), _dask(Y[:, 0]))


def _slow_part(block, block_info=None):
    """Rows generated from the part's index, after a pause: deterministic, so a
    lost part is recomputed identically."""
    time.sleep(0.1)
    index = block_info[None]["chunk-location"][0]
    rng = np.random.default_rng(index)
    x = rng.normal(size=block.shape[:1] + (P,))
    return np.c_[x, x @ COEF[0] + rng.normal(size=len(x))]


@pytest.mark.parametrize("loss", ["squared_error", "huber"])
def test_worker_killed_mid_fit(client, loss):
    """Check that killing a worker process during a fit gives the right answer
    (Dask recomputes the lost parts, also those the robust solvers hold) or a
    clear error, never a wrong answer."""
    template = da.zeros((40 * 200, P + 1), chunks=(200, P + 1))
    data = template.map_blocks(_slow_part, dtype=np.float64)
    reference = TorchLinearRegressor(loss=loss).fit(*_columns(data.compute()))
    pids = list(client.run(os.getpid).values())
    killer = threading.Timer(1.0, os.kill, (pids[0], signal.SIGKILL))
    killer.start()
    try:
        reg = TorchLinearRegressor(loss=loss).fit(*_columns(data))
    except distributed.KilledWorker as error:  # Dask gave up: a clear error
        assert "died" in str(error) or "KilledWorker" in repr(error)
    else:
        assert_allclose(reg.coef_, reference.coef_, rtol=1e-10)
    finally:
        killer.cancel()
    client.wait_for_workers(2, timeout=60)
    assert pids[0] not in client.run(os.getpid).values()  # it was killed


def _columns(array):
    return array[:, :P], array[:, P]


def test_no_dask_import_without_dask_input():
    """Check that fitting NumPy data does not import Dask."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from sktorch_linear import TorchLinearRegressor;"
        "TorchLinearRegressor().fit(np.eye(3), np.ones(3)).predict(np.eye(3));"
        "assert 'dask' not in sys.modules, 'dask imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pickled_dask_fit_predicts_numpy(client):
    """Check that a model fitted on Dask input is an ordinary model."""
    import pickle

    reg = TorchLinearRegressor().fit(_dask(X), _dask(Y))
    loaded = pickle.loads(pickle.dumps(reg))
    assert_array_equal(loaded.predict(X), reg.predict(X))


def test_dask_gap_against_an_unsettled_minimum_is_not_convergence(monkeypatch):
    """Check that a Dask gradient fit measured against a minimum of the
    statistics that coordinate descent did not settle is neither reported as
    converged nor silent."""
    import dask

    from sktorch_linear.solvers._elastic_net import solve_elastic_net

    def one_sweep(lsq, l1, max_sweeps):
        """One sweep of coordinate descent from zero, without the least-angle
        start or the exact finish: a minimum that did not settle."""
        gram, xy, _ = lsq.products()
        scale = lsq.penalty_scale
        theta, sweeps, converged = solve_elastic_net(
            gram / np.outer(scale, scale), xy / scale[:, None], l1, lsq.l2, max_sweeps=1
        )
        return *lsq.original(theta / scale[:, None]), sweeps, converged

    monkeypatch.setattr("sktorch_linear.solvers._certify.minimise", one_sweep)
    monkeypatch.setattr(
        "sktorch_linear.solvers._elastic_net._active_set", lambda *args: (None, False)
    )
    collinear = np.c_[X[:200], X[:200, 0] + 1e-3 * X[:200, 1]]
    reg = TorchLinearRegressor(
        solver="adam", alpha=0.01, l1_ratio=0.5, tol=10.0, device="cpu"
    )
    with dask.config.set(scheduler="synchronous"):
        with pytest.warns(Warning, match="did not settle"):
            reg.fit(
                da.from_array(collinear, chunks=20),
                da.from_array(Y[:200, 0], chunks=20),
            )
    assert not reg._result.converged
