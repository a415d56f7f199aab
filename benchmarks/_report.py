"""Writing the results: JSON, CSV, a markdown table and PNG plots."""

import csv
import json
import math
from collections import defaultdict

# Average cores used by other processes above which a workload is flagged.
CONTENDED_CORES = 0.25

# Columns of the CSV, in order (the JSON rows have the same keys).
ROW_COLUMNS = [
    "workload",
    "contender",
    "reference",
    "n_samples",
    "n_features",
    "dtype",
    "device",
    "repeats",
    "median_s",
    "min_s",
    "ratio_to_reference",
    "max_abs_diff",
    "diff_of",
    "r2",
    "r2_gap",
    "reached_target",
    "epochs",
    "peak_over_x",
    "rows_per_s",
    "n_iter",
    "optimality_gap",
    "objective_vs_reference",
    "note",
]


def add_ratios(rows):
    """Set ``ratio_to_reference``: the median time of each row over that of the
    reference row of the same workload and problem size (same run)."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["workload"], r["n_samples"], r["n_features"])].append(r)
    for group in groups.values():
        refs = [r for r in group if r.get("reference")]
        for r in group:
            r["ratio_to_reference"] = (
                r["median_s"] / refs[0]["median_s"] if refs else None
            )
    return rows


def write_json(path, meta, rows, headlines, workloads):
    payload = {
        "meta": meta,
        "workloads": workloads,
        "headlines": headlines,
        "results": [{c: r.get(c) for c in ROW_COLUMNS} for r in rows],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def write_csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({c: _csv_value(r.get(c)) for c in ROW_COLUMNS})


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def format_seconds(seconds):
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _fmt(column, value):
    if value is None or value == "":
        return ""
    if column in ("median_s", "min_s"):
        return format_seconds(value)
    if column == "ratio_to_reference":
        return f"{value:.3g}"
    if column in ("max_abs_diff", "r2_gap"):
        return f"{value:.2g}"
    if column == "r2":
        return f"{value:.6f}"
    if column == "peak_over_x":
        return f"{value:.3g}"
    if column == "rows_per_s":
        return f"{value:,.0f}"
    if column == "reached_target":
        return "yes" if value else "**no**"
    if column == "reference":
        return "*" if value else ""
    return str(value)


_MD_COLUMNS = {
    "contender": "contender",
    "reference": "ref",
    "size": "n × p",
    "dtype": "dtype",
    "repeats": "repeats",
    "median_s": "median",
    "min_s": "min",
    "ratio_to_reference": "ratio to ref",
    "max_abs_diff": "max abs diff",
    "diff_of": "diff of",
    "r2": "R²",
    "r2_gap": "R² gap",
    "reached_target": "reached",
    "epochs": "epochs",
    "peak_over_x": "peak / X",
    "rows_per_s": "rows / s",
    "note": "note",
}


def _blas_summary(meta):
    info = meta.get("threadpoolctl")
    if not isinstance(info, list):
        return str(info)
    parts = []
    for lib in info:
        name = lib.get("internal_api")
        version = lib.get("version")
        arch = lib.get("architecture")
        where = lib.get("prefix")
        text = f"{name} {version or ''} ({where}, {lib.get('num_threads')} threads"
        text += f", {arch})" if arch else ")"
        parts.append(" ".join(text.split()))
    return "; ".join(parts)


def write_markdown(path, meta, rows, headlines, workloads):
    v = meta["versions"]
    env = ", ".join(f"{k}={val}" for k, val in meta["environment"].items() if val)
    lines = [
        f"# Benchmarks: {meta['name']}",
        "",
        f"- date: {meta['date']}; mode: {meta['mode']}; device: {meta['device']}"
        + (f" ({meta['gpu']})" if meta.get("gpu") else ""),
        f"- CPU: {meta['cpu_model']}, {meta['cpu_count']} logical cores, "
        f"{meta['memory_gib']} GiB; load average at start "
        f"{meta['load_average_at_start']}, at end {meta.get('load_average_at_end')}; "
        f"other processes kept {meta.get('other_processes_cores')} cores busy on "
        "average (the machine may be shared: see each workload)",
        f"- torch {v['torch']} ({meta['torch_num_threads']} threads), scikit-learn "
        f"{v['scikit-learn']}, skorch {v['skorch']}, numpy {v['numpy']}, scipy "
        f"{v['scipy']}, sktorch-linear {v['sktorch-linear']}, Python {v['python']}",
        f"- BLAS/OpenMP (threadpoolctl): {_blas_summary(meta)}",
        f"- environment: {env or 'none of ' + ', '.join(meta['environment'])} "
        "(OPENBLAS_CORETYPE and friends are recorded, never changed)",
        f"- git: {meta.get('git')}",
        f"- total wall time: {meta.get('wall_s', 0):.0f} s",
        "",
        "Times are the median and minimum over the timed repeats, after one "
        "untimed warm-up call per contender, with the repeats of all contenders "
        "of a workload interleaved in the same process. `ratio to ref` is the "
        "median time over the median time of the reference contender (`*`) of "
        "the same workload and size, measured in the same run: below 1 is "
        "faster than the reference.",
        "",
        "## Headline ratios",
        "",
        "| workload | quantity | value | reading |",
        "|---|---|---|---|",
    ]
    for h in headlines:
        lines.append(
            f"| {h['workload']} | {h['quantity']} | {h['value']:.4g} | {h['reading']} |"
        )
    by_workload = defaultdict(list)
    for r in rows:
        by_workload[r["workload"]].append(r)
    for name, description in workloads.items():
        group = by_workload.get(name)
        if not group:
            continue
        lines += ["", f"## {name}", "", description, ""]
        info = meta.get("workloads", {}).get(name, {})
        if info:
            others = info.get("other_processes_cores")
            flag = ""
            if others is not None and others >= CONTENDED_CORES:
                flag = (
                    " **Contended: other processes competed for the CPU, so "
                    "these times are pessimistic (BLAS with one thread per core "
                    "suffers most).**"
                )
            lines += [
                f"Wall time {info['wall_s']:.0f} s; other processes kept "
                f"{others} cores busy meanwhile (load average "
                f"{info.get('load_average_before')} -> "
                f"{info.get('load_average_after')}).{flag}",
                "",
            ]
        columns = [
            c
            for c in _MD_COLUMNS
            if c in ("contender", "size", "median_s", "min_s")
            or any(r.get(c) not in (None, "", False) for r in group)
        ]
        lines.append("| " + " | ".join(_MD_COLUMNS[c] for c in columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for r in group:
            cells = []
            for c in columns:
                if c == "size":
                    cells.append(f"{r['n_samples']:,} × {r['n_features']:,}")
                else:
                    cells.append(_fmt(c, r.get(c)))
            lines.append("| " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


# -- plots -------------------------------------------------------------------------

TIME_VS_N_CONTENDERS = [
    "TorchLinearRegressor exact",
    "LinearRegression",
    "Ridge",
    "floor: torch X.T@X",
]


def write_plots(out_dir, name, rows, log=print):
    """Write ``<name>-time_vs_n.png`` and ``<name>-accuracy.png``; return the
    paths written. Without matplotlib, say so and write nothing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: skipping the plots (pip install matplotlib)")
        return []
    written = []
    path = _plot_time_vs_n(plt, out_dir / f"{name}-time_vs_n.png", rows, log)
    if path:
        written.append(path)
    path = _plot_accuracy(plt, out_dir / f"{name}-accuracy.png", rows, log)
    if path:
        written.append(path)
    return written


def _plot_time_vs_n(plt, path, rows, log):
    sweep = [
        r
        for r in rows
        if r["workload"] in ("exact_vs_n", "exact_tall")
        and r["contender"] in TIME_VS_N_CONTENDERS
    ]
    if not sweep:
        log("no exact_vs_n / exact_tall results: skipping time_vs_n.png")
        return None
    p = sweep[0]["n_features"]
    fig, ax = plt.subplots(figsize=(7, 5))
    for contender in TIME_VS_N_CONTENDERS:
        points = sorted(
            (r["n_samples"], r["median_s"], r["min_s"])
            for r in sweep
            if r["contender"] == contender
        )
        if not points:
            continue
        n, median, low = zip(*points, strict=True)
        ax.plot(n, median, marker="o", label=contender)
        ax.fill_between(n, low, median, alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_samples")
    ax.set_ylabel("fit time, s (median; shaded down to min)")
    ax.set_title(f"Exact least-squares fit time vs n (p={p}, float64)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_accuracy(plt, path, rows, log):
    coef = [
        r
        for r in rows
        if r.get("max_abs_diff") is not None
        and str(r.get("diff_of", "")).startswith("coef")
        and r["workload"] != "exact_vs_n"
        and not r.get("reference")  # the reference against itself
    ]
    gaps = [r for r in rows if r["workload"].startswith("to_accuracy")]
    panels = [p for p in (coef, gaps) if p]
    if not panels:
        log("no accuracy figures: skipping accuracy.png")
        return None
    height = 2.0 + 0.4 * sum(len(p) for p in panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, height), squeeze=False)
    axes = list(axes[:, 0])
    tiny = 1e-17
    if coef:
        ax = axes.pop(0)
        labels = [f"{r['workload']}: {r['contender']}" for r in coef]
        values = [max(r["max_abs_diff"], tiny) for r in coef]
        ax.barh(labels, values, color="tab:blue")
        ax.set_xscale("log")
        ax.set_xlabel("max |coef − coef of the reference| (ties plotted at 1e-17)")
        ax.set_title(
            "Exact solvers: distance to LinearRegression (partial_fit: to fit)"
        )
        ax.invert_yaxis()
    if gaps:
        ax = axes.pop(0)
        labels = [f"{r['workload']}: {r['contender']}" for r in gaps]
        values = [max(r["r2_gap"], tiny) for r in gaps]
        colors = ["tab:green" if r["reached_target"] else "tab:red" for r in gaps]
        ax.barh(labels, values, color=colors)
        ax.axvline(1e-3, color="black", linestyle="--", label="target gap 1e-3")
        ax.set_xscale("log")
        ax.set_xlabel("test R² gap to the optimum (≤ 0 plotted at 1e-17)")
        ax.set_title("Training to accuracy (green: reached the target, red: not)")
        ax.legend(loc="upper right")
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def render(json_path, *, plots=True, log=print):
    """Write the markdown (and the plots) again from a results JSON file."""
    payload = json.loads(json_path.read_text())
    meta, rows = payload["meta"], payload["results"]
    stem = json_path.with_suffix("")
    write_markdown(
        stem.with_suffix(".md"), meta, rows, payload["headlines"], payload["workloads"]
    )
    written = [stem.with_suffix(".md")]
    if plots:
        written += write_plots(json_path.parent, meta["name"], rows, log=log)
    return written


def summary_lines(rows):
    """Short console summary: median time and ratio per row."""
    out = []
    for r in rows:
        ratio = r.get("ratio_to_reference")
        ratio_text = "" if ratio is None else f"  ratio {ratio:.3g}"
        out.append(
            f"  {r['workload']:<18} {r['contender'][:52]:<52} "
            f"{format_seconds(r['median_s']):>10}{ratio_text}"
        )
    return out
