"""Threads: a fit runs on the threads its caller allows, never more, fewer
where other processes hold cores, and leaves the caller's count as it was.
Counts are observed, never timed."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from joblib.externals.loky import get_reusable_executor
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from sktorch_linear import TorchLinearRegressor, _threads

# Enough values (rows x features) for the fit to be large work.
LARGE = (6000, 30)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal(LARGE)
    return X, X @ rng.standard_normal(LARGE[1]) + rng.standard_normal(LARGE[0])


@pytest.fixture
def counts(monkeypatch):
    """The thread counts torch is given ("set") and runs products on ("mm")."""
    seen = []
    set_threads = torch.set_num_threads
    mm = torch.Tensor.__matmul__

    def spy_set(count):
        seen.append(("set", count))
        set_threads(count)

    def spy_mm(a, b):
        seen.append(("mm", torch.get_num_threads()))
        return mm(a, b)

    monkeypatch.setattr(torch, "set_num_threads", spy_set)
    monkeypatch.setattr(torch.Tensor, "__matmul__", spy_mm)
    return seen


@pytest.fixture
def idle(monkeypatch):
    """A machine where no other process runs."""
    monkeypatch.setattr(_threads, "_runnable_elsewhere", lambda: 0)
    monkeypatch.setattr(_threads, "_load", [-np.inf, 0])


needs_two_cores = pytest.mark.skipif(
    _threads._cores() < 2 or torch.get_num_threads() < 2,
    reason="needs two cores and two torch threads",
)


@needs_two_cores
@pytest.mark.parametrize("loss", ["squared_error", "quantile", "huber"])
def test_fit_follows_an_outer_threadpool_limit(data, counts, idle, loss):
    """Check that under ``threadpool_limits(1)`` every operation of a large
    fit runs on one thread, that the limit still holds after the fit, and
    that the count outside the limit is restored (MKL's included)."""
    before = torch.get_num_threads()
    with threadpool_limits(1):
        TorchLinearRegressor(loss=loss).fit(*data)
        assert torch.get_num_threads() == 1
    assert {count for _, count in counts} == {1}
    assert torch.get_num_threads() == before
    info = torch.__config__.parallel_info()
    mkl = re.search(r"mkl_get_max_threads\(\) : (\d+)", info)
    assert mkl is None or int(mkl.group(1)) == before


@needs_two_cores
def test_large_fit_uses_the_allowed_threads_on_an_idle_machine(data, counts, idle):
    TorchLinearRegressor().fit(*data)
    products = {count for kind, count in counts if kind == "mm"}
    assert max(products) == min(torch.get_num_threads(), _threads._cores())


@needs_two_cores
def test_small_fit_runs_on_one_thread(counts, idle):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 10))
    TorchLinearRegressor().fit(X, X.sum(axis=1))
    assert {count for kind, count in counts if kind == "mm"} == {1}


@needs_two_cores
def test_fit_leaves_the_cores_other_processes_use(data, counts, monkeypatch):
    """Check that with as many other runnable tasks as cores but one, a
    large fit runs on one thread, and the count is restored after."""
    cores = _threads._cores()
    monkeypatch.setattr(_threads, "_runnable_elsewhere", lambda: cores - 1)
    monkeypatch.setattr(_threads, "_load", [-np.inf, 0])
    before = torch.get_num_threads()
    TorchLinearRegressor().fit(*data)
    assert {count for kind, count in counts if kind == "mm"} == {1}
    assert torch.get_num_threads() == before


@needs_two_cores
def test_a_busy_process_is_seen():
    """Check that a process spinning on a core takes a core from the ones
    that a fit may use (Linux, where ``/proc/loadavg`` says)."""
    if sys.platform != "linux":
        pytest.skip("Linux only")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        _threads._load[0] = -np.inf
        assert _threads.free_cores() <= _threads._cores() - 1
    finally:
        busy.kill()
        busy.wait()


@needs_two_cores
def test_fit_in_a_grid_search_worker_keeps_to_the_worker_share(data, capfd):
    """Check that each fit in a loky worker of ``GridSearchCV(n_jobs=2)``
    reports (verbose) running on at most the worker's share of the cores."""
    get_reusable_executor().shutdown(wait=True)  # fresh workers write to capfd
    X, y = data
    search = GridSearchCV(
        TorchLinearRegressor(verbose=1), {"alpha": [0.0, 1.0]}, cv=2, n_jobs=2
    )
    search.fit(X, y)
    get_reusable_executor().shutdown(wait=True)
    printed = capfd.readouterr().out
    reported = [int(n) for n in re.findall(r"cpu \((\d+) threads?\)", printed)]
    share = max(_threads._cores() // 2, 1)
    assert len(reported) == 5  # 4 fits in the workers, the refit here
    assert max(reported[:-1]) <= share


@needs_two_cores
def test_numpy_blas_runs_on_one_thread_inside_a_fit(monkeypatch):
    """Check that the statistics-sized NumPy work of a fit (here the lasso
    path) sees NumPy's BLAS on one thread, and that the caller's count is
    back after the fit."""
    from threadpoolctl import threadpool_info

    from sktorch_linear.solvers import coordinate_descent

    def blas_threads():
        return {
            lib["filepath"]: lib["num_threads"]
            for lib in threadpool_info()
            if lib["user_api"] == "blas"
        }

    before = blas_threads()
    seen = []
    lars = coordinate_descent.lars_path_gram

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return lars(*args, **kwargs)

    monkeypatch.setattr(coordinate_descent, "lars_path_gram", spy)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 40))
    TorchLinearRegressor(alpha=0.1, l1_ratio=1.0).fit(X, X[:, 0] + rng.normal(size=300))
    assert seen and all(set(counts.values()) == {1} for counts in seen)
    assert blas_threads() == before
