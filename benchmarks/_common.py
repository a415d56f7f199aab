"""Timing, data generation and machine description shared by the workloads."""

import contextlib
import datetime
import gc
import importlib.metadata
import os
import platform
import re
import resource
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
# A contender whose warm-up call takes longer than heavy[0] seconds runs at most
# heavy[1] timed repeats (recorded per row), to keep a run bounded.
HEAVY = {"full": (10.0, 3), "quick": (1.0, 1)}
# Ridge with a negligible penalty solves (nearly) the same least-squares problem;
# its speed (Cholesky on X.T@X) does not depend on alpha.
RIDGE_ALPHA = 1e-10
# The quantile of the quantile-regression workloads.
QUANTILE = 0.9
# Environment variables that change how the BLAS / OpenMP libraries behave.
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_ENABLE_INSTRUCTIONS",
    "NVPL_BLAS_DEBUG_CPU_TYPE",
    "CUDA_VISIBLE_DEVICES",
)


def resolve_device(name):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was requested but torch sees no CUDA device")
    return name


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_once(call, device="cpu"):
    """Seconds taken by ``call()`` (``time.perf_counter``), with the device
    synchronised before and after and the garbage collector paused."""
    synchronize(device)
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        call()
        synchronize(device)
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def measure(calls, repeats, *, device="cpu", warmup=1, heavy=HEAVY["full"]):
    """Time every callable of ``calls`` (name -> callable) in the same process.

    Each contender first runs ``warmup`` untimed calls; then the timed repeats
    are interleaved round-robin (one call of each contender per round), so that
    a slow drift of the machine (other load, thermal state) affects all of them
    alike. A contender whose warm-up took more than ``heavy[0]`` seconds runs at
    most ``heavy[1]`` repeats (``heavy=None``: no cap). Returns name -> list of
    seconds.
    """
    warm = {}
    for name, call in calls.items():
        warm[name] = 0.0
        for _ in range(warmup):
            gc.collect()
            warm[name] = time_once(call, device)
    planned = {
        name: (
            min(repeats, heavy[1])
            if heavy is not None and warm[name] > heavy[0]
            else repeats
        )
        for name in calls
    }
    times = {name: [] for name in calls}
    for round_ in range(max(planned.values(), default=0)):
        for name, call in calls.items():
            if round_ >= planned[name]:
                continue
            # Collecting costs milliseconds; do it before every call that is
            # not itself that short, and every 50 rounds otherwise.
            if warm[name] > 0.01 or round_ % 50 == 0:
                gc.collect()
            times[name].append(time_once(call, device))
    return times


def linear_data(n_samples, n_features, *, dtype=np.float64, seed=0, noise=1.0):
    """Gaussian ``X`` (filled in chunks: no temporary of the size of ``X``) and
    ``y = X @ coef + 3 + noise``."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, n_features), dtype=dtype)
    chunk = max(1, 2**22 // n_features)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        X[start:stop] = rng.standard_normal((stop - start, n_features), dtype=dtype)
    coef = rng.uniform(-2.0, 2.0, n_features).astype(dtype)
    y = X @ coef + dtype(3.0)
    y += rng.standard_normal(n_samples, dtype=dtype) * dtype(noise)
    return X, y


def r2_score(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - residual / total)


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))


@contextlib.contextmanager
def quiet_warnings(*categories):
    """Silence the given warning categories (e.g. ConvergenceWarning when
    max_iter is capped on purpose)."""
    with warnings.catch_warnings():
        for category in categories:
            warnings.simplefilter("ignore", category)
        yield


# -- machine description -------------------------------------------------------


def cpu_model():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def _mem_total_gib():
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s*(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def _versions():
    names = {
        "torch": "torch",
        "scikit-learn": "scikit-learn",
        "skorch": "skorch",
        "numpy": "numpy",
        "scipy": "scipy",
        "sktorch-linear": "sktorch-linear",
        "threadpoolctl": "threadpoolctl",
        "matplotlib": "matplotlib",
    }
    out = {"python": platform.python_version()}
    for key, dist in names.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = None
    return out


def _threadpools():
    # Import everything that loads a BLAS or OpenMP runtime first, so that
    # threadpoolctl sees the libraries the contenders actually use.
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl is not installed"
    return threadpool_info()


def _git():
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(dirty)}


def machine_info(device):
    """Everything a reader needs to interpret the numbers."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "device": device,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
        "memory_gib": _mem_total_gib(),
        "platform": platform.platform(),
        "versions": _versions(),
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "torch_parallel_info": torch.__config__.parallel_info(),
        "threadpoolctl": _threadpools(),
        "environment": {name: os.environ.get(name) for name in ENV_VARS},
        "load_average_at_start": _loadavg(),
        "git": _git(),
    }
    if device.startswith("cuda"):
        index = torch.cuda.current_device()
        info["gpu"] = torch.cuda.get_device_name(index)
        info["cuda_version"] = torch.version.cuda
    return info


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_counters():
    """(CPU seconds used by all processes of the machine, CPU seconds used by
    this process and its children) now; the first is None off Linux."""
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None, own
    # user nice system idle iowait irq softirq steal ...: busy = all but idle, iowait
    ticks = [int(x) for x in fields[:8]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK"), own


def wait_for_quiet(max_wait, *, threshold=0.3, window=2.0, log=print):
    """Wait (up to ``max_wait`` seconds) until other processes use fewer than
    ``threshold`` cores over a ``window``-second sample. Returns the seconds
    waited and the last sample (None when it cannot be measured)."""
    if max_wait <= 0:
        return 0.0, None
    start = time.perf_counter()
    told = False
    while True:
        before = cpu_counters()
        time.sleep(window)
        load = other_load(before, cpu_counters(), window)
        waited = time.perf_counter() - start
        if load is None or load < threshold or waited >= max_wait:
            return round(waited, 1), load
        if not told:
            log(f"  other processes use {load} cores: waiting up to {max_wait:.0f} s")
            told = True


def other_load(before, after, wall):
    """Average number of cores that other processes kept busy between two
    :func:`cpu_counters` readings (None when unknown)."""
    if before[0] is None or after[0] is None or wall <= 0:
        return None
    foreign = (after[0] - before[0]) - (after[1] - before[1])
    return round(max(foreign, 0.0) / wall, 2)


def default_name(device):
    """A file-name-safe name for this machine and device."""
    if device.startswith("cuda"):
        label = torch.cuda.get_device_name(torch.cuda.current_device())
    else:
        label = f"{cpu_model()} {os.cpu_count()}c"
    slug = re.sub(r"\((r|tm)\)", "", label.lower())
    slug = re.sub(r"(cpu|processor|@.*$)", "", slug)
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")
    return f"{device.split(':')[0]}-{slug}"
