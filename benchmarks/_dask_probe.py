"""One fit of a parquet data set through Dask, measured in a fresh process.

``python -m benchmarks._dask_probe MODE FOLDER`` prints one JSON line: the
seconds of the fit (reading the files included), the peak resident memory of
this process above its baseline (see :mod:`._memory`), and the coefficients.

Modes:

- ``exact-cluster``: the exact least-squares fit on a ``distributed``
  LocalCluster of two worker processes (one thread each); the memory is the
  client's (this process), the data are read by the workers.
- ``exact-threads``: the same fit on Dask's threaded scheduler in this
  process: the memory is that of everything, reading included.
- ``quantile-cluster``: the median regression (quantile 0.5) on the cluster,
  with its parts held by the workers.
- ``exact-memory``, ``quantile-memory``: the files read into NumPy first (not
  timed), then the in-memory fit (timed), for the rows per second of one
  process.
"""

import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

from sktorch_linear import TorchLinearRegressor

from ._memory import current_rss_bytes, peak_rss_bytes, release_free_heap, reset_peak


def _frame(folder):
    import dask.dataframe as dd

    frame = dd.read_parquet(str(folder))
    features = [c for c in frame.columns if c != "y"]
    return frame[features], frame["y"]


def _warm_up(model, mode):
    """A tiny fit of the same kind, untimed: libraries load lazily."""
    import dask.dataframe as dd
    import pandas as pd

    from ._common import linear_data

    X, y = linear_data(400, 5, seed=1)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)]).assign(y=y)
    if not mode.endswith("memory"):
        frame = dd.from_pandas(frame, npartitions=2)
    features = [c for c in frame.columns if c != "y"]
    model.fit(frame[features], frame["y"])


def main(argv):
    mode, folder = argv[0], Path(argv[1])
    model = (
        TorchLinearRegressor(loss="quantile", quantile=0.5)
        if mode.startswith("quantile")
        else TorchLinearRegressor()
    )
    cluster = client = None
    if mode.endswith("cluster"):
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    if mode.endswith("memory"):
        import pandas as pd

        frame = pd.read_parquet(folder)
        X, y = frame.drop(columns="y").to_numpy(), frame["y"].to_numpy()
        del frame
    else:
        X, y = _frame(folder)
    if mode == "exact-threads":
        import dask

        dask.config.set(scheduler="threads")
    _warm_up(model, mode)
    gc.collect()
    release_free_heap()
    was_reset = reset_peak()
    baseline, peak_before = current_rss_bytes(), peak_rss_bytes()
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    result = {
        "mode": mode,
        "seconds": seconds,
        "extra_bytes": peak - baseline,
        "peak_exceeded_baseline_peak": was_reset or peak > peak_before,
        "coef": np.atleast_1d(model.coef_).tolist(),
        "intercept": float(model.intercept_),
        "n_iter": int(model.n_iter_),
        "optimality_gap": model.optimality_gap_,
    }
    if client is not None:
        client.close()
        cluster.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
