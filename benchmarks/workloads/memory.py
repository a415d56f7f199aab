"""Peak memory of exact and gradient fits, each contender in a fresh process."""

import subprocess

from ._context import FLOOR, OURS
from ._probe import run_probe
from ._rows import headline, row


def memory_exact(ctx):
    """Peak RSS of an exact fit on 1 000 000 x 100 float64, each contender in a
    fresh subprocess, as a multiple of the size of X."""
    contenders = {
        OURS: "ours",
        "LinearRegression": "LinearRegression",
        "Ridge": "Ridge",
        FLOOR: "floor",
    }
    return _memory("memory_exact", ctx, contenders, reference="LinearRegression")


def memory_gradient(ctx):
    """Peak RSS of two epochs of the gradient solvers (Adam, L-BFGS) on the data
    of memory_exact, each in a fresh subprocess, as a multiple of the size of X:
    the standardized copy on the device (here the host) is the floor."""
    contenders = {
        "TorchLinearRegressor adam": "adam",
        "TorchLinearRegressor lbfgs": "lbfgs",
        OURS: "ours",
    }
    return _memory("memory_gradient", ctx, contenders, reference=OURS)


def _memory(workload, ctx, contenders, *, reference):
    n, p = ctx.sizes["memory"]
    rows, results = [], {}
    for name, key in contenders.items():
        result = results[name] = memory_probe(ctx, key, n, p)
        rows.append(memory_row(workload, name, result, n, p, ctx, reference))
        ctx.log(f"  {name}: peak {result.get('extra_over_x', float('nan')):.2f} x X")
    heads = [
        headline(
            workload,
            f"peak RSS above baseline / size of X: {name}",
            results[name]["extra_over_x"],
            f"{results[name]['extra_bytes'] / 2**20:.0f} MiB for "
            f"{results[name]['x_bytes'] / 2**20:.0f} MiB of X",
        )
        for name in contenders
    ]
    return rows, heads


def memory_probe(ctx, key, n, p, timeout=1800):
    """The result of ``benchmarks._memory`` for one contender in a fresh process.

    Parameters
    ----------
    ctx : Context
        The run (its device).
    key : str
        The contender, as ``benchmarks._memory`` names it.
    n, p : int
        Rows and columns of the data.
    timeout : float, default=1800
        Seconds the process may run.

    Returns
    -------
    dict or None
        The probe's result; None when it ran out of ``timeout`` seconds.
    """
    try:
        return run_probe(
            "benchmarks._memory",
            [key, str(n), str(p), ctx.device],
            timeout=timeout,
            label=f"memory probe {key}",
        )
    except subprocess.TimeoutExpired:
        return None


def memory_row(workload, name, result, n, p, ctx, reference):
    """The row of a :func:`memory_probe` result (``reference``: the name of the
    workload's reference contender)."""
    note = (
        f"peak {result['extra_bytes'] / 2**20:.0f} MiB above the RSS with X "
        f"({result['x_bytes'] / 2**20:.0f} MiB) in memory; one run"
    )
    if not result["peak_exceeded_baseline_peak"]:
        note += "; the fit did not exceed the earlier peak (upper bound)"
    if "gpu_peak_bytes" in result:
        note += f"; GPU peak {result['gpu_peak_bytes'] / 2**20:.0f} MiB"
    return row(
        workload,
        name,
        [result["seconds"]],
        n=n,
        p=p,
        ctx=ctx,
        reference=name == reference,
        peak_over_x=result.get("extra_over_x"),
        note=note,
    )
