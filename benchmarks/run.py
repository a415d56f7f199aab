"""Run the benchmark suite: ``python -m benchmarks.run [--quick] [--device ...]``.

Every workload runs every contender in this one process (the memory workload
starts one fresh subprocess per contender), with a warm-up call, interleaved
timed repeats and medians, and writes ``<out>/<name>.json``, ``.csv``, ``.md``
and ``<name>-time_vs_n.png``, ``<name>-accuracy.png``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import _report
from ._common import (
    cpu_counters,
    default_name,
    machine_info,
    other_load,
    resolve_device,
    wait_for_quiet,
)
from .workloads import SIZES, WORKLOADS, Context

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmarks of TorchLinearRegressor against scikit-learn, "
        "skorch and bare torch.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes (n about 10-20x smaller) and fewer repeats; results "
        "are written under <name>-quick so they never overwrite a full run",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=["cpu", "cuda", "auto"],
        help="device of TorchLinearRegressor and of the torch contenders "
        "(auto: cuda when available, else cpu); scikit-learn always runs on the CPU",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repeats per contender (default: "
        f"{SIZES['full']['repeats']}, quick {SIZES['quick']['repeats']}); "
        "contenders whose warm-up takes over 10 s run at most 3",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder (default: benchmarks/results)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="base name of the output files (default: device and CPU/GPU model, "
        "plus -quick in quick mode)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated workloads to run (default: all); see --list",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the workloads and exit"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="before each workload, wait up to this many seconds for other "
        "processes to use under 0.3 cores (default: 30 in full mode, 0 in quick "
        "mode); the load during each workload is recorded either way",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="run nothing: write the markdown and plots again from a results JSON",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _log(message):
    print(message, flush=True)


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def select(only):
    if only is None:
        return list(WORKLOADS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {w.name: w for w in WORKLOADS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {sorted(known)}")
    return [w for w in WORKLOADS if w.name in names]


def main(argv=None, sizes=None):
    """Run the benchmarks; ``sizes`` overrides entries of ``workloads.SIZES``
    (for tests)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for w in WORKLOADS:
            _log(f"{w.name:<18} {w.description}")
        return 0
    if args.render is not None:
        written = _report.render(args.render, plots=not args.no_plots, log=_log)
        _log(f"wrote {', '.join(str(p) for p in written)}")
        return 0
    np.seterr(all="ignore")
    selected = select(args.only)
    device = resolve_device(args.device)
    name = args.name or default_name(device)
    if args.quick and not name.endswith("-quick"):
        name += "-quick"
    args.out.mkdir(parents=True, exist_ok=True)
    meta = machine_info(device)
    meta.update(name=name, mode="quick" if args.quick else "full")
    ctx = Context(
        device=device,
        quick=args.quick,
        repeats=args.repeats,
        log=_log,
        overrides=dict(sizes or {}),
    )
    meta["repeats"] = ctx.n_repeats
    quiet_wait = args.quiet_wait
    if quiet_wait is None:
        quiet_wait = 0.0 if args.quick else 30.0
    meta["quiet_wait_s"] = quiet_wait
    meta["sizes"] = ctx.sizes
    _log(
        f"benchmarks '{name}' on {device} ({meta['cpu_model']}, torch "
        f"{meta['torch_num_threads']} threads, load {meta['load_average_at_start']})"
    )
    started = time.perf_counter()
    rows, headlines, descriptions, per_workload = [], [], {}, {}
    all_counters = cpu_counters()
    for index, workload in enumerate(selected):
        _log(f"[{index + 1}/{len(selected)}] {workload.name}: {workload.description}")
        waited, load_seen = wait_for_quiet(quiet_wait, log=_log)
        begin, load_before, counters = time.perf_counter(), _loadavg(), cpu_counters()
        new_rows, new_heads = workload.function(ctx)
        seconds = time.perf_counter() - begin
        others = other_load(counters, cpu_counters(), seconds)
        rows += new_rows
        headlines += new_heads
        descriptions[workload.name] = workload.description
        per_workload[workload.name] = {
            "description": workload.description,
            "wall_s": round(seconds, 2),
            "load_average_before": load_before,
            "load_average_after": _loadavg(),
            "other_processes_cores": others,
            "waited_for_quiet_s": waited,
            "other_processes_cores_at_start": load_seen,
        }
        _log(f"  done in {seconds:.1f} s (other processes kept {others} cores busy)")
        ctx.release({use for later in selected[index + 1 :] for use in later.uses})
    _report.add_ratios(rows)
    meta["wall_s"] = time.perf_counter() - started
    meta["load_average_at_end"] = _loadavg()
    meta["other_processes_cores"] = other_load(
        all_counters, cpu_counters(), meta["wall_s"]
    )
    meta["workloads"] = per_workload
    stem = args.out / name
    _report.write_json(stem.with_suffix(".json"), meta, rows, headlines, descriptions)
    _report.write_csv(stem.with_suffix(".csv"), rows)
    _report.write_markdown(stem.with_suffix(".md"), meta, rows, headlines, descriptions)
    written = [stem.with_suffix(s) for s in (".json", ".csv", ".md")]
    if not args.no_plots:
        written += _report.write_plots(args.out, name, rows, log=_log)
    _log("\n".join(_report.summary_lines(rows)))
    for h in headlines:
        _log(f"  {h['workload']}: {h['quantity']} = {h['value']:.4g} ({h['reading']})")
    _log(f"wrote {', '.join(str(p) for p in written)} in {meta['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
