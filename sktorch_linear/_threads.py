"""How many CPU threads torch's work runs on: one for small operations, and for
large ones the threads the caller allows that other processes leave free.

Two measured facts drive it (2-core machines, torch 2.13 with OpenMP):

- Splitting microseconds of work over threads costs more in synchronisation
  than it saves: diabetes' statistics took 25 ms instead of microseconds on
  two threads while another process was busy.
- Every parallel region waits for its slowest thread. With one other process
  spinning on one of two cores, two torch threads ran the interior-point
  method on 20 000 x 50 rows 5 to 20 times slower than one thread, and an
  exact fit of 1 000 000 x 100 rows 2 times slower: a thread that the
  scheduler takes off its core holds up the region for its time slice.

So work on fewer than ``PARALLEL_MIN_ELEMENTS`` values runs on one thread;
larger work on the threads the caller allows (torch's count when the
outermost scope was entered, which follows ``OMP_NUM_THREADS``, joblib's and
loky's worker limits, ``threadpoolctl.threadpool_limits`` and
``torch.set_num_threads``), and no more than the cores of this process's
affinity that other processes are not running on (Linux: the runnable tasks
of ``/proc/loadavg`` less this process's own, read at most every
``_LOAD_TTL`` seconds). Counts are scoped and restored; a count is only set
where it changes, so a caller's limits are never overwritten.
"""

import contextlib
import math
import os
import time

import torch
from threadpoolctl import ThreadpoolController

# Below this many values (rows x features) per operation, torch runs on one thread.
PARALLEL_MIN_ELEMENTS = 2**17
# How long a reading of the other processes' load is used (seconds).
_LOAD_TTL = 0.1

# Thread counts outside the innermost threads_for that changed them.
_outside = []
# (time of the last reading, runnable tasks of other processes then)
_load = [-math.inf, 0]
# The BLAS libraries of NumPy and SciPy, found at the first fit.
_blas = []


def _cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _runnable_elsewhere():
    """The tasks of other processes that were runnable a moment ago (0 where
    the system does not say)."""
    try:
        with open("/proc/loadavg") as file:
            running = int(file.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                with open(f"/proc/self/task/{task}/stat") as file:
                    stat = file.read()
                own += stat[stat.rindex(")") + 2] == "R"
    except (OSError, ValueError, IndexError):
        return 0
    return max(running - own, 0)


def free_cores():
    """The cores of this process that no other process is running on (at
    least 1), from a reading at most ``_LOAD_TTL`` seconds old."""
    now = time.monotonic()
    if now - _load[0] > _LOAD_TTL:
        _load[:] = [now, _runnable_elsewhere()]
    return max(_cores() - _load[1], 1)


def threads(elements):
    """The threads that work on ``elements`` values gets inside the current
    scope."""
    if elements < PARALLEL_MIN_ELEMENTS:
        return 1
    allowed = _outside[-1] if _outside else torch.get_num_threads()
    return min(allowed, free_cores())


@contextlib.contextmanager
def threads_for(elements):
    """Run the work inside on :func:`threads` ``(elements)`` torch threads,
    restoring the count on the way out. Large work inside small work (the
    gathering of shuffled rows between small training steps) gets the
    allowed threads back while it runs."""
    current = torch.get_num_threads()
    wanted = threads(elements)
    if wanted == current:
        yield
        return
    _outside.append(_outside[-1] if _outside else current)
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(current)
        _outside.pop()


def where(device):
    """``device`` as verbose output names it: a CPU with the threads torch
    runs on in the current scope."""
    if device.type != "cpu":
        return str(device)
    count = torch.get_num_threads()
    return f"{device} ({count} thread{'s' if count > 1 else ''})"


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's and SciPy's BLAS (OpenBLAS, MKL) on one thread meanwhile, as
    scikit-learn's estimators limit it in their inner loops.

    Inside a fit they only see matrices of the size of the statistics, and
    after each call OpenBLAS's worker threads keep spinning on a core for up
    to a tenth of a second, which torch's next parallel region then waits
    for: back-to-back exact lasso fits of 5 000 x 1 000 took 0.17 s with
    them and 0.11 s without (measured on 2 cores).
    """
    if not _blas:
        _blas.append(ThreadpoolController())
    with _blas[0].limit(limits=1, user_api="blas"):
        yield
