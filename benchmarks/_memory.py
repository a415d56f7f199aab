"""Peak host memory (RSS) of one fit, measured in a fresh process.

``python -m benchmarks._memory CONTENDER N P DEVICE`` prints one JSON line.
tracemalloc does not see torch's allocations, so the resident set size is used:
the peak RSS during the fit minus the RSS just before it, once ``X`` and ``y``
exist. A tiny fit runs first, to load lazily-initialised libraries, and freed
heap memory is handed back to the OS (``malloc_trim``) before the baseline is
read, so that the fit cannot reuse it unseen.

On Linux the peak is the kernel's high-water mark ``VmHWM`` of
``/proc/self/status``, reset to the current RSS just before the fit by writing
``5`` to ``/proc/self/clear_refs``. ``getrusage(...).ru_maxrss`` is not used
there because it cannot be reset and a child process inherits its parent's
value across ``fork``/``exec``: in a subprocess of a large parent it reports the
parent's size. Elsewhere ``ru_maxrss`` is the fallback (an upper bound).
"""

import ctypes
import gc
import json
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import (
    HuberRegressor,
    LinearRegression,
    QuantileRegressor,
    Ridge,
)

from sktorch_linear import TorchLinearRegressor

from ._common import QUANTILE, RIDGE_ALPHA, linear_data


def current_rss_bytes():
    """Resident set size now (Linux; None elsewhere)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * resource.getpagesize()


def release_free_heap():
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so that
    the baseline RSS does not include free memory the fit could reuse unseen."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak():
    """Reset the kernel's RSS high-water mark to the current RSS; return whether
    it could be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes():
    """Peak resident set size: ``VmHWM`` on Linux, else ``ru_maxrss`` (KiB on
    Linux, bytes on macOS)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def fitter(contender, device):
    if contender == "ours":
        return lambda X, y: TorchLinearRegressor(device=device).fit(X, y)
    if contender in ("adam", "lbfgs"):  # two epochs: the peak of training
        return lambda X, y: TorchLinearRegressor(
            solver=contender, max_iter=2, device=device
        ).fit(X, y)
    if contender == "quantile":  # the interior-point method
        return lambda X, y: TorchLinearRegressor(
            loss="quantile", quantile=QUANTILE, device=device
        ).fit(X, y)
    if contender == "quantile_highs":
        return lambda X, y: QuantileRegressor(
            quantile=QUANTILE, alpha=0.0, solver="highs"
        ).fit(X, y)
    if contender == "huber":  # Newton's method
        return lambda X, y: TorchLinearRegressor(loss="huber", device=device).fit(X, y)
    if contender == "huber_sklearn":
        return lambda X, y: HuberRegressor().fit(X, y)
    if contender == "LinearRegression":
        return lambda X, y: LinearRegression().fit(X, y)
    if contender == "Ridge":
        return lambda X, y: Ridge(alpha=RIDGE_ALPHA).fit(X, y)
    if contender == "floor":

        def floor(X, y):
            x = torch.from_numpy(X).to(device)
            return (x.T @ x).cpu()

        return floor
    raise ValueError(f"unknown contender {contender!r}")


def main(argv):
    contender, n, p, device = argv[0], int(argv[1]), int(argv[2]), argv[3]
    fit = fitter(contender, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        fit(*linear_data(200, min(p, 20), seed=1))  # load libraries, untimed
    X, y = linear_data(n, p, seed=0)
    gc.collect()
    release_free_heap()
    was_reset = reset_peak()
    baseline = current_rss_bytes()
    peak_before = peak_rss_bytes()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_after = peak_rss_bytes()
    result = {
        "contender": contender,
        "seconds": seconds,
        "x_bytes": int(X.nbytes),
        "baseline_rss_bytes": baseline,
        "peak_rss_before_fit_bytes": peak_before,
        "peak_rss_bytes": peak_after,
        "peak_was_reset": was_reset,
        # When the high-water mark was not reset and the fit never rose above
        # the earlier peak, the fit's own peak is not known: the extra memory
        # is an upper bound.
        "peak_exceeded_baseline_peak": was_reset or peak_after > peak_before,
    }
    if baseline is not None:
        result["extra_bytes"] = peak_after - baseline
        result["extra_over_x"] = (peak_after - baseline) / X.nbytes
    if device.startswith("cuda"):
        result["gpu_peak_bytes"] = int(torch.cuda.max_memory_allocated())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
