"""A parquet data set on disk fitted through Dask: on a LocalCluster, with Dask's
threaded scheduler and in memory, each fit in a fresh process."""

import tempfile
from pathlib import Path

import numpy as np

from .._common import max_abs_diff
from ._probe import run_probe
from ._rows import headline, row

DASK_MODES = {
    "exact-threads": "TorchLinearRegressor exact, Dask threads (one process)",
    "exact-cluster": "TorchLinearRegressor exact, LocalCluster (2 workers)",
    "exact-memory": "TorchLinearRegressor exact, in memory (files read first)",
    "quantile-cluster": "TorchLinearRegressor median, LocalCluster (2 workers)",
    "quantile-memory": "TorchLinearRegressor median, in memory (files read first)",
}


def dask_parquet(ctx):
    """Exact least squares and median regression of a parquet data set written
    to disk (full mode: 10 million rows x 20 columns, 1.6 GB of float64, in 40
    files), read by dask.dataframe: on a LocalCluster of two worker processes
    against Dask's threaded scheduler in one process, and the in-memory fits of
    the same rows (read first, not timed). Each fit runs once in a fresh
    process, with its peak memory above its baseline (on the cluster, the
    client's)."""
    n, p, n_files = ctx.sizes["dask"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="sktorch-linear-parquet-") as folder:
        data_bytes = _write_parquet(Path(folder), n, p, n_files, ctx.seed)
        for mode, name in DASK_MODES.items():
            ctx.log(f"  {name}")
            results[mode] = _dask_probe(mode, folder)
    rows = [_dask_row(ctx, mode, results, n, p, data_bytes) for mode in DASK_MODES]
    return rows, _dask_headlines(results, n, p, data_bytes)


def _dask_row(ctx, mode, results, n, p, data_bytes):
    """The row of one mode, its coefficients against the one-process fit's."""
    result = results[mode]
    extra = {
        "rows_per_s": n / result["seconds"],
        "peak_over_x": result["extra_bytes"] / data_bytes,
        "n_iter": result["n_iter"],
        "note": f"peak {result['extra_bytes'] / 2**20:.0f} MiB above baseline "
        f"({'client' if mode.endswith('cluster') else 'whole process'}) for "
        f"{data_bytes / 2**20:.0f} MiB of data; one run",
    }
    if mode.startswith("exact"):
        reference = results["exact-threads"]
        extra["max_abs_diff"] = max_abs_diff(result["coef"], reference["coef"])
        extra["diff_of"] = "coefficients against the one-process fit"
    else:
        extra["optimality_gap"] = result["optimality_gap"]
    return row(
        "dask_parquet",
        DASK_MODES[mode],
        [result["seconds"]],
        n=n,
        p=p,
        ctx=ctx,
        reference=mode == "exact-threads",
        **extra,
    )


def _dask_headlines(results, n, p, data_bytes):
    reference, cluster = results["exact-threads"], results["exact-cluster"]
    median, in_memory = results["quantile-cluster"], results["quantile-memory"]
    return [
        headline(
            "dask_parquet",
            f"exact fit rows per second, LocalCluster, {n} x {p} parquet",
            n / cluster["seconds"],
            f"{cluster['seconds'] / reference['seconds']:.2f}x the time of one "
            f"process with Dask threads; client peak "
            f"{cluster['extra_bytes'] / 2**20:.0f} MiB for "
            f"{data_bytes / 2**20:.0f} MiB of data",
        ),
        headline(
            "dask_parquet",
            f"median regression seconds, LocalCluster, {n} x {p} parquet",
            median["seconds"],
            f"{median['seconds'] / in_memory['seconds']:.2f}x the in-memory fit; "
            f"{median['n_iter']} interior-point iterations, certified gap "
            f"{median['optimality_gap']:.1e}; client peak "
            f"{median['extra_bytes'] / 2**20:.0f} MiB",
        ),
    ]


def _write_parquet(folder, n, p, n_files, seed):
    """Write ``n`` rows of ``p`` features and ``y`` (Student-t noise, 2
    degrees of freedom) in ``n_files`` parquet files, one at a time; the bytes
    of the float64 data."""
    import pandas as pd

    coef = np.random.default_rng(seed).normal(size=p)
    for index, rows in enumerate(np.array_split(np.arange(n), n_files)):
        rng = np.random.default_rng([seed, index])
        X = rng.normal(size=(len(rows), p))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
        frame["y"] = X @ coef + 1.0 + rng.standard_t(2, size=len(rows))
        frame.to_parquet(folder / f"part-{index:04d}.parquet", index=False)
    return n * (p + 1) * 8


def _dask_probe(mode, folder, timeout=3600):
    return run_probe(
        "benchmarks._dask_probe",
        [mode, str(folder)],
        timeout=timeout,
        label=f"Dask probe {mode}",
    )
